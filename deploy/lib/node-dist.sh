# shellcheck shell=bash
# Node.js from the npm registry's node-linux-<arch> package, pinned and checked by deploy/node.lock. Source it;
# it defines functions only. Needs npm (to download: it uses the registry, proxy and CA settings npm is given)
# and a node (any version) to check the digest.

# node_dist_arch [DEBIAN_OR_UNAME_ARCH]: the npm name of an architecture (x64, arm64), or nothing.
node_dist_arch() {
  case "${1:-$(uname -m)}" in
    x86_64 | amd64 | x64) echo x64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) return 1 ;;
  esac
}

# node_dist ARCH DEST [CACHE]: makes DEST a Node of deploy/node.lock's version for ARCH (x64 or arm64): DEST/bin/node
# and DEST/include/node. The download is kept in CACHE (default: DEST's parent) and checked against the recorded
# sha512 before it is unpacked; a DEST that already holds that version is kept. Prints what it did to stderr.
node_dist() {
  local arch="$1" dest="$2" lock version want tgz cache have
  lock="$(dirname "${BASH_SOURCE[0]}")/../node.lock"
  version="$(sed -n 's/^NODE_VERSION=//p' "$lock")"
  want="$(sed -n "s/^NODE_INTEGRITY_$arch=//p" "$lock")"
  if [ -z "$version" ] || [ -z "$want" ]; then echo "node_dist: no version or integrity for $arch in $lock" >&2; return 1; fi
  have="$(cat "$dest/.node-dist" 2>/dev/null || true)"
  if [ "$have" = "node-linux-$arch@$version $want" ] && [ -x "$dest/bin/node" ]; then return 0; fi
  cache="${3:-$(dirname "$dest")}"
  mkdir -p "$cache"
  tgz="$cache/node-linux-$arch-$version.tgz"
  if [ ! -f "$tgz" ] || ! node_dist_check "$tgz" "$want"; then
    rm -f "$tgz"
    echo "node_dist: downloading node-linux-$arch@$version from the npm registry" >&2
    (cd "$cache" && npm pack --silent "node-linux-$arch@$version" >/dev/null) || { echo "node_dist: npm pack node-linux-$arch@$version failed" >&2; return 1; }
    node_dist_check "$tgz" "$want" || { echo "node_dist: $tgz does not match the sha512 in $lock; removed" >&2; rm -f "$tgz"; return 1; }
  fi
  rm -rf "$dest.tmp"
  mkdir -p "$dest.tmp"
  tar -xzf "$tgz" -C "$dest.tmp" --strip-components=1 || { rm -rf "$dest.tmp"; return 1; }
  echo "node-linux-$arch@$version $want" >"$dest.tmp/.node-dist"
  rm -rf "$dest"
  mv "$dest.tmp" "$dest"
  echo "node_dist: Node $version ($arch) in $dest" >&2
}

# node_dist_check FILE SRI: the file's sha512, as a subresource-integrity string, is SRI.
node_dist_check() {
  [ "$(node -e 'const h = require("crypto").createHash("sha512"); require("fs").createReadStream(process.argv[1]).on("data", (d) => h.update(d)).on("end", () => console.log("sha512-" + h.digest("base64")))' "$1" 2>/dev/null)" = "$2" ]
}
