#!/usr/bin/env bash
# Builds emotiond's Debian binary package from a prepared tree, inside the build environment that
# deploy/package/build.sh gives it (a cached Debian root of the target release, or this machine with --host):
#   1. node_modules: `npm ci --omit=dev` through deploy/npm-ci.sh, the native add-ons compiled against the pinned
#      Node's headers and the release's OpenCV (cross-compiled for arm64), then trimmed: the add-ons' build files,
#      C++ sources and other platforms' onnxruntime binaries go. Kept in MODULES (a cache folder) once made.
#   2. the package tree: /usr/lib/emotiond (program, node_modules, the pinned Node, model, cascades, demo clip and
#      config), /usr/bin/emotiond, /etc/emotiond/config.json (a conffile), the units, docs, man page;
#   3. debhelper, as dh would run it for a prebuilt tree: the units' maintainer-script snippets (dh_installsystemd:
#      enabled and started on install, restarted on upgrade, stopped on remove, forgotten on purge), strip,
#      Depends from the ELF files (dh_shlibdeps: dpkg-shlibdeps), conffiles, md5sums, the .deb;
#   4. lintian: fails on any error or warning not overridden (each override says why).
# Everything it is given comes in environment variables (see the checks below). Run as root (or fakeroot).
set -euo pipefail

: "${ARCH:?amd64 or arm64}" "${RELEASE:?bookworm or trixie}" "${VERSION:?package version}" "${APP:?prepared checkout files}"
: "${MODULES:?node_modules cache folder}" "${NODE_TARGET:?node-linux-<arch> folder}" "${OUT:?output folder}" "${WORK_DIR:?scratch folder}"
: "${BUILD_NODE:?a node that runs here (npm, node-gyp and this script use it)}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { echo "binary.sh: $*" >&2; }
die() {
  echo "binary.sh: error: $*" >&2
  exit 1
}

case "$ARCH" in
  amd64) ELF_MACHINE="x86-64" ORT_ARCH=x64 ;;
  arm64) ELF_MACHINE="ARM aarch64" ORT_ARCH=arm64 ;;
  *) die "ARCH must be amd64 or arm64, not $ARCH" ;;
esac
NODE_VERSION="$("$BUILD_NODE" -p 'require(process.argv[1]).version' "$NODE_TARGET/package.json")"
PACKAGED_NODE="$("$BUILD_NODE" -p 'require(process.argv[1]).name' "$NODE_TARGET/package.json")"

# --- 1. production node_modules for the target (deploy/package/modules.sh; cached by build.sh) -----------------

if [ -n "${REUSE_MODULES:-}" ]; then
  say "production node_modules from $REUSE_MODULES (npm prune --omit=dev)"
  bash "$HERE/modules.sh" || die "pruning $REUSE_MODULES failed"
elif [ ! -f "$MODULES/.complete" ]; then
  say "npm ci --omit=dev for $ARCH (the OpenCV binding: about 10 minutes on 2 cores; once per lockfile and root)"
  bash "$HERE/modules.sh" || die "building node_modules failed"
fi


# --- 2. the package tree ------------------------------------------------------------------------------------------

# What the daemon does not load at run time goes: build files, sources, type declarations, package docs and dotfiles
# (package.json, licences and the code stay). Scripts run with the packaged Node; nothing else is executable.
tidy_modules() {
  local nm="$1" d p f
  # The add-ons' object files and makefiles: only build/Release/*.node is loaded.
  for d in $(cd "$nm" && { compgen -G '*/binding.gyp'; compgen -G '@*/*/binding.gyp'; } | xargs -r -n 1 dirname); do
    [ -d "$nm/$d/build" ] || continue
    find "$nm/$d/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
    find "$nm/$d/build/Release" -mindepth 1 -maxdepth 1 ! -name '*.node' -exec rm -rf {} +
  done
  # The OpenCV binding's C++ and TypeScript sources (compiled into build/Release, cjs/ and esm/).
  rm -rf "$nm/@u4/opencv4nodejs/cc" "$nm/@u4/opencv4nodejs/src"
  # node-gyp builds add-ons (the binding's install script, which never runs here): with its Python gyp, it would be
  # the package's only Python.
  rm -rf "$nm/node-gyp"
  # onnxruntime-node ships every OS and CPU (near 300 MB): this one's only.
  for p in "$nm"/onnxruntime-node/bin/napi-v*/*; do
    [ -d "$p" ] || continue
    if [ "$(basename "$p")" != linux ]; then rm -rf "$p"; continue; fi
    find "$p" -mindepth 1 -maxdepth 1 ! -name "$ORT_ARCH" -exec rm -rf {} +
  done
  [ -f "$nm/onnxruntime-node/bin/napi-v6/linux/$ORT_ARCH/libonnxruntime.so.1" ] || die "no onnxruntime for linux/$ORT_ARCH"
  # Command links (.bin), links out of the tree (a build folder), Python caches, dotfiles (.eslintrc, .npmignore,
  # .gitattributes, ...), type declarations and source maps, docs and tests of packages.
  find "$nm" -depth -type d \( -name '.*' -o -name __pycache__ \) -exec rm -rf {} +
  find "$nm" -type l -lname '/*' -delete
  find "$nm" -type f \( -name '.*' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.html' \
    -o -iname 'README*' -o -iname 'CHANGELOG*' -o -iname 'HISTORY*' -o -name '*.markdown' -o -name '*.sh' -o -name '*.py' \) -delete
  find "$nm" -depth -type d \( -name test -o -name tests -o -name benchmarks -o -name docs \) -path '*/node_modules/*/*' -exec rm -rf {} +
  find "$nm" -type d -empty -delete
  # Nothing in the tree is run directly: the packages' command-line scripts lose their #! line (the line stays, empty,
  # so that line numbers hold), and no file is executable.
  find "$nm" -type f -exec chmod 0644 {} +
  unshebang "$nm"
  return 0
}
# Empties the #! line of the JavaScript files under $1 that have one.
unshebang() {
  local f
  while IFS= read -r -d '' f; do
    if head -c 2 "$f" | grep -q '^#!'; then sed -i '1s|^#!.*$||' "$f"; fi
  done < <(find "$1" -type f \( -name '*.js' -o -name '*.mjs' -o -name '*.cjs' -o ! -name '*.*' \) -print0)
}

SRCDIR="$WORK_DIR/emotiond-$VERSION"
rm -rf "$SRCDIR"
mkdir -p "$SRCDIR/debian"
PKG="$SRCDIR/debian/emotiond"
L="$PKG/usr/lib/emotiond"
mkdir -p "$L/models" "$L/cascades" "$L/config" "$L/deploy/demo" "$L/node/bin" "$PKG/usr/bin" "$PKG/etc/emotiond"
cp -a "$APP/dist" "$L/dist"
# /usr/bin/emotiond runs the CLI with the packaged Node: its #! line (/usr/bin/env node) would name another.
unshebang "$L/dist"
rm -rf "$L/dist/test" "$L/dist/src/http/static"
# tsc does not copy the dashboard's page, script and style: they go beside the compiled server.
cp -a "$APP/src/http/static" "$L/dist/src/http/static"
cp "$APP/package.json" "$L/"
cp -a "$MODULES/node_modules" "$L/node_modules"
tidy_modules "$L/node_modules"
# What must not be in the package: the development tools.
for p in typescript tsx ava playwright-core esbuild @esbuild @types/convict; do
  [ ! -e "$L/node_modules/$p" ] || die "node_modules/$p is in the production tree"
done
cp "$APP"/models/*.onnx "$L/models/"
for f in "$APP"/models/*.onnx.json; do [ ! -f "$f" ] || cp "$f" "$L/models/"; done
for f in haarcascades/haarcascade_frontalface_default.xml lbpcascades/lbpcascade_frontalface_improved.xml; do
  [ -f "/usr/share/opencv4/$f" ] || die "/usr/share/opencv4/$f missing (opencv-data)"
  cp "/usr/share/opencv4/$f" "$L/cascades/"
done
cp "$APP/config/demo.json" "$APP/config/emotiond.example.json" "$L/config/"
cp "$APP/deploy/demo/demo-faces.avi" "$L/deploy/demo/"
cp "$NODE_TARGET/bin/node" "$L/node/bin/node"
install -m 0755 "$HERE/debian/emotiond.wrapper" "$PKG/usr/bin/emotiond"
# The service's configuration: a conffile (dh_installdeb marks what is under /etc), so an upgrade keeps the admin's edits.
install -m 0644 "$APP/config/emotiond.example.json" "$PKG/etc/emotiond/config.json"
find "$L" -type d -exec chmod 0755 {} +
find "$L" -type f -exec chmod go-w {} +
chmod 0755 "$L/node/bin/node"

# Every ELF file is for the target CPU.
wrong="$(find "$L" -type f -exec file -b -e text {} + 2>/dev/null | sed -n 's/^ELF.*, \([^,]*\), version.*/\1/p' | sort -u | grep -vx "$ELF_MACHINE" || true)"
[ -z "$wrong" ] || die "ELF files for another CPU in the package: $wrong"

# --- 3. debian/ and debhelper -------------------------------------------------------------------------------------

D="$SRCDIR/debian"
sed -e "s/@NODE_VERSION@/$NODE_VERSION/" "$HERE/debian/control" >"$D/control"
cp "$HERE/debian/emotiond.postinst" "$HERE/debian/emotiond.postrm" "$HERE/debian/emotiond.1" "$D/"
# The overrides of tags this release's lintian knows (each with the comment line above it, its reason): an override
# of a tag it does not know is an error (trixie's has no package-supports-alternative-init-but-no-init.d-script).
lintian-explain-tags --list-tags >"$WORK_DIR/tags"
awk 'NR == FNR { known[$1] = 1; next } /^#/ { why = $0; next } /^emotiond: / { if ($2 in known) { print why; print } }' \
  "$WORK_DIR/tags" "$HERE/debian/emotiond.lintian-overrides" >"$D/emotiond.lintian-overrides"
cat >"$D/changelog" <<EOF
emotiond ($VERSION) $RELEASE; urgency=medium

  * Built from ${SOURCE_REV:-an emotiond checkout}, with Node.js $NODE_VERSION.

 -- emotiond developers <emotiond@users.noreply.github.com>  $(date -R -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")
EOF
# The licence of each bundled npm package, from its package.json.
licenses="$(cd "$L/node_modules" && find . -name package.json -print0 \
  | xargs -0 "$BUILD_NODE" -e '
    const seen = new Set();
    for (const f of process.argv.slice(1)) {
      let p; try { p = JSON.parse(require("fs").readFileSync(f, "utf8")); } catch { continue; }
      if (!p.name || !p.version || seen.has(p.name + "@" + p.version)) continue;
      const dir = require("path").dirname(f).replace(/^\.\//, "");
      if (!dir.endsWith(p.name)) continue;
      seen.add(p.name + "@" + p.version);
      const l = typeof p.license === "string" ? p.license : (p.license && p.license.type) || (p.licenses || []).map((x) => x.type || x).join(" OR ") || "see its folder";
      console.log(` ${p.name} ${p.version}: ${l}`);
    }' 2>/dev/null | sort -u)"
[ -n "$licenses" ] || die "no npm licences found"
awk -v list="$licenses" -v nv="$NODE_VERSION" -v np="$PACKAGED_NODE" '{ gsub(/@NODE_VERSION@/, nv); gsub(/@NODE_PACKAGE@/, np); if ($0 == "@NPM_LICENSES@") print list; else print }' \
  "$HERE/debian/copyright.in" >"$D/copyright"
cp "$NODE_TARGET/LICENSE" "$D/node-LICENSE"
cp "$APP/deploy/README-ops.md" "$SRCDIR/README-ops.md"
printf 'README-ops.md\ndebian/node-LICENSE\n' >"$D/emotiond.docs"
echo "debian/emotiond.1" >"$D/emotiond.manpages"
# The units, from the ones deploy/install.sh installs: the packaged Node and paths.
for unit in emotiond.service emotiond@.service; do
  {
    echo "# Installed by the emotiond Debian package: deploy/$unit with the package's paths (deploy/package/binary.sh)."
    sed -e 's#^ExecStart=/usr/bin/node /opt/emotiond/#ExecStart=/usr/lib/emotiond/node/bin/node /usr/lib/emotiond/#' \
      -e 's#^Documentation=file:/opt/emotiond/README-ops.md#Documentation=man:emotiond(1) file:/usr/share/doc/emotiond/README-ops.md#' \
      -e 's#/opt/emotiond#/usr/lib/emotiond#g' "$APP/deploy/$unit"
  } >"$D/$unit"
  grep -q '^ExecStart=/usr/lib/emotiond/node/bin/node /usr/lib/emotiond/dist/src/cli/main.js run ' "$D/$unit" || die "$unit: ExecStart not rewritten"
done
# debian/emotiond.service and debian/emotiond@.service: dh_installsystemd installs them, enables and starts the
# first (a template has no instance to start) and writes the maintainer-script snippets.

say "debhelper for $ARCH ($RELEASE)"
cd "$SRCDIR"
# As dh's binary sequence would run them on this tree (no build system: the tree is already built).
dh_() { dpkg-architecture -a"$ARCH" -f -c "$@"; }
# dpkg-architecture checks the C compiler against the target.
[ "$ARCH" = "$(dpkg --print-architecture)" ] || export CC=aarch64-linux-gnu-gcc
export DH_QUIET=1
dh_ dh_installdocs
dh_ dh_installchangelogs
dh_ dh_installman
dh_ dh_installsystemd
dh_ dh_lintian
dh_ dh_perl
dh_ dh_link
dh_ dh_strip_nondeterminism 2>/dev/null || true
dh_ dh_compress -X README-ops.md
dh_ dh_fixperms
dh_ dh_strip --no-automatic-dbgsym
# Depends from the ELF files; onnxruntime's library comes with the package (found by the binding's $ORIGIN rpath).
dh_ dh_shlibdeps -l"$L/node_modules/onnxruntime-node/bin/napi-v6/linux/$ORT_ARCH"
dh_ dh_installdeb
dh_ dh_gencontrol
dh_ dh_md5sums
mkdir -p "$OUT"
dh_ dh_builddeb --destdir="$OUT"
DEB="$OUT/emotiond_${VERSION}_$ARCH.deb"
[ -f "$DEB" ] || die "no $DEB"

# --- 4. lintian -----------------------------------------------------------------------------------------------------

say "lintian $(basename "$DEB")"
# Errors and warnings fail; info tags are listed (lintian -I) for the report.
lintian --allow-root -I --fail-on error,warning "$DEB" >"$OUT/$(basename "$DEB" .deb).lintian" 2>&1 || {
  cat "$OUT/$(basename "$DEB" .deb).lintian" >&2
  die "lintian found errors or warnings in $DEB"
}
echo "$DEB"
