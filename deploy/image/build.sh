#!/usr/bin/env bash
# npm run image: emotiond's OCI container images, made of the project's own Debian package in a minimal Debian root
# (no base image from a registry: everything comes from Debian's archive and the .deb).
#   1. the .deb for each CPU: deploy/package/build.sh (its cached build roots; about a minute warm), or --deb FILE;
#   2. a root: mmdebstrap --variant=apt of the release from the host's mirror and sources (deploy/lib/debian-root.sh),
#      then `apt-get install --no-install-recommends ./emotiond_….deb` in it (arm64 under qemu-user, binfmt_misc);
#      apt's downloads are shared with deploy/package/test.sh (CACHE/downloads/apt-RELEASE-ARCH, hard links);
#      no docs, man pages, locales, apt lists or caches; the user emotiond (uid/gid 10001, in the video group);
#   3. the image with umoci: one layer, config (user 10001:10001, entrypoint emotiond, cmd run, volume
#      /var/lib/emotiond, STOPSIGNAL SIGTERM, JSON logs), written as an OCI archive per CPU, and the two in one OCI
#      archive under a multi-arch image index.
# OCI image configs have no HEALTHCHECK field (it is Docker's): the image carries the command,
# /usr/local/bin/emotiond-healthcheck (GET /healthz when http.enabled), which docker-compose.yml and
# `podman run --health-cmd emotiond-healthcheck` name.
# Last lines: "image RELEASE/ARCH: ok, SIZE uncompressed (N files), SIZE compressed | PATH | TIME" per CPU, then the index.
# Usage: sudo deploy/image/build.sh [--release bookworm|trixie] [--arch amd64|arm64]... [--deb FILE]... [--out DIR] [--cache DIR]
#   --deb   a built emotiond .deb of that release (one per --arch, in the same order) instead of build.sh
#   --out   where the archives go (default deploy/image/out)
set -uo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=deploy/lib/package-names.sh
. "$SRC/deploy/lib/package-names.sh"
RELEASE=bookworm ARCHES=() DEBS=() OUTDIR="$SRC/deploy/image/out" CACHE=/var/cache/emotiond-package
usage() { sed -n '/^# Usage:/,/^#   --out/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 64; }
while [ $# -gt 0 ]; do
  case "$1" in
    --release) RELEASE="${2:-}"; shift 2 ;;
    --arch) ARCHES+=("${2:-}"); shift 2 ;;
    --deb) DEBS+=("${2:-}"); shift 2 ;;
    --out) OUTDIR="${2:-}"; shift 2 ;;
    --cache) CACHE="${2:-}"; shift 2 ;;
    *) usage ;;
  esac
done
DEBN="$(deb_suffix "$RELEASE")" || usage
[ "${#ARCHES[@]}" -gt 0 ] || ARCHES=(amd64 arm64)
for a in "${ARCHES[@]}"; do case "$a" in amd64 | arm64) ;; *) usage ;; esac; done
[ "${#DEBS[@]}" -eq 0 ] || [ "${#DEBS[@]}" -eq "${#ARCHES[@]}" ] || { echo "build.sh: one --deb per --arch" >&2; exit 64; }

# The image's user: the package runs the service with DynamicUser=, which a container has no use for.
IMAGE_UID=10001
VIDEO_GID=44 # Debian's video group (base-passwd)

# deploy/platform/lib.sh: die, mounts, binfmt for arm64, teardown (its globals set here).
# shellcheck disable=SC2034 # read by lib.sh
KEEP=0 TESTS_PID="" BUILDS=() CO=/ M=""
# shellcheck source=deploy/platform/lib.sh
. "$SRC/deploy/platform/lib.sh"
# shellcheck source=deploy/lib/debian-root.sh
. "$SRC/deploy/lib/debian-root.sh"
HOSTARCH="$(dpkg --print-architecture)"
START=$SECONDS
RESULT="not built" LINES=()
summary() {
  [ "${#LINES[@]}" -eq 0 ] || printf '%s\n' "${LINES[@]}"
  echo "image $RELEASE ${ARCHES[*]}: $RESULT | $((SECONDS - START)) s"
}
say() { echo "image: $*" >&2; }
# A check that fails before there is anything to tear down still prints its summary line.
trap summary EXIT

[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap, chroot, file ownership in the layers)"
for tool in mmdebstrap umoci node tar gzip; do command -v "$tool" >/dev/null || die "$tool not found (apt install mmdebstrap umoci)"; done
mkdir -p "$OUTDIR" "$CACHE/logs"
OUTDIR="$(cd "$OUTDIR" && pwd)"
WORK="$(mktemp -d /var/tmp/emotiond-image.XXXXXX)"
trap teardown EXIT
trap 'RESULT="interrupted"; exit 130' INT
trap 'RESULT="terminated"; exit 143' TERM

# mmdebstrap's hooks: apt's sources as the host's (the .deb was built against them), apt's downloads from the shared
# cache (hard links: the root's cleanup removes only the links), the package installed, the root made small.
write_hooks() {
  cat >"$WORK/setup-hook.sh" <<EOF
set -e
. "$SRC/deploy/lib/debian-root.sh"
debian_sources "\$1" "$RELEASE"
debian_hosts "\$1"
mkdir -p "\$1/var/cache/apt/archives"
find "\$ARCHIVES" -maxdepth 1 -name '*.deb' -exec cp -l -n -t "\$1/var/cache/apt/archives/" {} +
EOF
  cat >"$WORK/customize-hook.sh" <<EOF
set -e
cp "\$DEB" "\$1/tmp/"
chroot "\$1" dpkg-query -W -f='\${Package}\n' >"$WORK/before.txt"
chroot "\$1" env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 "/tmp/\$(basename "\$DEB")"
rm -f "\$1/tmp/\$(basename "\$DEB")"
find "\$1/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec cp -l -n -t "\$ARCHIVES/" {} +
rm -f "\$1"/var/cache/apt/archives/*.deb
# The packages apt pulled that own none of the libraries emotiond loads (deploy/image/prune.mjs) go.
node "$SRC/deploy/image/prune.mjs" "\$1" "$WORK/before.txt" >"$WORK/prune.txt"
echo "pruned: \$(tr '\n' ' ' <"$WORK/prune.txt")"
[ ! -s "$WORK/prune.txt" ] || chroot "\$1" env DEBIAN_FRONTEND=noninteractive dpkg --purge --force-depends \$(cat "$WORK/prune.txt")
# The user the image runs as, in the video group (a camera's device node is root:video 0660).
grep -q '^emotiond:' "\$1/etc/group" || echo "emotiond:x:$IMAGE_UID:" >>"\$1/etc/group"
grep -q '^emotiond:' "\$1/etc/passwd" || echo "emotiond:x:$IMAGE_UID:$IMAGE_UID:emotiond:/var/lib/emotiond:/usr/sbin/nologin" >>"\$1/etc/passwd"
grep -q '^emotiond:' "\$1/etc/shadow" || echo "emotiond:!:19700::::::" >>"\$1/etc/shadow"
sed -i 's/^\(video:x:$VIDEO_GID:\)\$/\1emotiond/' "\$1/etc/group"
grep -q '^video:x:$VIDEO_GID:emotiond' "\$1/etc/group"
# State: the volume's mount point, the user's own (podman copies it into a new named volume).
install -d -o $IMAGE_UID -g $IMAGE_UID -m 0700 "\$1/var/lib/emotiond"
# The config stays root's and readable; the MQTT password file (postinst: root 0600) readable by the group.
chgrp $IMAGE_UID "\$1/etc/emotiond/mqtt_password" && chmod 0640 "\$1/etc/emotiond/mqtt_password"
install -m 0755 "$SRC/deploy/image/emotiond-healthcheck" "\$1/usr/local/bin/emotiond-healthcheck"
# The data of libraries that OpenCV links but emotiond never calls into: GDAL's and PROJ's tables, poppler's maps.
rm -rf "\$1"/usr/share/gdal "\$1"/usr/share/proj "\$1"/usr/share/poppler
# Nothing a container needs: apt's lists and caches, logs, dpkg's backups.
rm -rf "\$1"/var/lib/apt/lists/* "\$1"/var/cache/apt/*.bin "\$1"/var/cache/debconf/*-old "\$1"/var/lib/dpkg/*-old "\$1"/var/log/* "\$1"/tmp/* "\$1"/var/tmp/*
EOF
}
# merged-usr hook: /usr merged, as the release's own installer does, without usrmerge (and Perl) in the image.
# dpkg leaves out docs, man pages and translations (copyright files stay; directories stay: a package's
# subdirectory of an excluded one would fail to unpack).
DPKG_EXCLUDE=('/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*' '/usr/share/lintian/*' '/usr/share/locale/*/LC_MESSAGES/*.mo')

# The root of CPU $1 with .deb $2 at $3 (an empty folder). Logs to $4.
make_root() {
  local arch="$1" deb="$2" dir="$3" log="$4" args=() p
  for p in "${DPKG_EXCLUDE[@]}"; do args+=("--dpkgopt=path-exclude=$p"); done
  args+=("--dpkgopt=path-include=/usr/share/doc/*/copyright")
  [ "$arch" = "$HOSTARCH" ] || args+=("--dpkgopt=force-unsafe-io")
  ARCHIVES="$CACHE/downloads/apt-$RELEASE-$arch" DEB="$deb" nice -n 10 mmdebstrap --mode=root --variant=apt --architectures="$arch" \
    --include=ca-certificates --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr "${args[@]}" --aptopt='APT::Install-Recommends "false"' \
    --setup-hook="bash $WORK/setup-hook.sh \"\$1\"" --customize-hook="bash $WORK/customize-hook.sh \"\$1\"" \
    "$RELEASE" "$dir" "$(debian_mirror)" >"$log" 2>&1
}

# umoci config of the image in layout $1 (tag $2) for CPU $3.
IMAGE_ENV=(
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  LANG=C.UTF-8
  NODE_ENV=production
  # As the unit: a smaller V8 young generation and one malloc arena (memory), no onnxruntime telemetry.
  NODE_OPTIONS=--max-semi-space-size=1
  MALLOC_ARENA_MAX=1
  ORT_DISABLE_TELEMETRY=1
  # JSON lines even on a terminal (podman run -t): the container's log is read by machines.
  EMOTIOND_LOG_PRETTY=no
)
configure_image() {
  local layout="$1" tag="$2" arch="$3" version="$4" args=() e
  for e in "${IMAGE_ENV[@]}"; do args+=(--config.env="$e"); done
  umoci config --image "$layout:$tag" --os linux --architecture "$arch" --author "emotiond developers" \
    "${args[@]}" --config.user "$IMAGE_UID:$IMAGE_UID" --config.workingdir /var/lib/emotiond \
    --config.entrypoint /usr/bin/emotiond --config.cmd run --config.volume /var/lib/emotiond --config.stopsignal SIGTERM \
    --config.exposedports 8787/tcp \
    --config.label org.opencontainers.image.title=emotiond \
    --config.label org.opencontainers.image.version="$version" \
    --config.label org.opencontainers.image.description="camera emotion events to MQTT, for edge devices (the Debian package emotiond $version)" \
    --config.label org.opencontainers.image.licenses=MIT \
    --config.label "io.emotiond.healthcheck=emotiond-healthcheck" \
    --history.created_by "deploy/image/build.sh: mmdebstrap $RELEASE --variant=apt + apt-get install --no-install-recommends ./emotiond_${version}_$arch.deb" \
    --history.comment "$(cd "$SRC" && git describe --always --dirty 2>/dev/null || echo unknown)"
}

write_hooks
VERSION="" TAGS=()
for i in "${!ARCHES[@]}"; do
  arch="${ARCHES[$i]}" t0=$SECONDS
  log="$CACHE/logs/image-$RELEASE-$arch.log"
  : >"$log"
  # 1. The package.
  if [ "${#DEBS[@]}" -gt 0 ]; then
    deb="$(readlink -f "${DEBS[$i]}")"
    [ -f "$deb" ] || die "no $deb"
  else
    say "$arch: the .deb (deploy/package/build.sh --release $RELEASE --arch $arch; log $CACHE/logs/package-$RELEASE-$arch.log)"
    built="$(bash "$SRC/deploy/package/build.sh" --release "$RELEASE" --arch "$arch" --cache "$CACHE" 2>>"$log" | tail -n 1)"
    deb="$(built_deb "$built")"
    [[ "$built" == *": ok"* ]] && [ -f "$deb" ] || die "deploy/package/build.sh: $built"
  fi
  [ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || die "$deb is not for $arch"
  v="$(dpkg-deb -f "$deb" Version)"
  [[ "$v" == *"+$DEBN" ]] || die "$deb ($v) is not a $RELEASE package (+$DEBN)"
  [ -z "$VERSION" ] || [ "$VERSION" = "$v" ] || die "the packages' versions differ ($VERSION, $v)"
  VERSION="$v"
  TAG="$(tr "+~" "--" <<<"$VERSION")-$arch" # OCI tags take no + or ~
  if [ "$arch" != "$HOSTARCH" ]; then binfmt_arm64 || die "cannot run $arch binaries: $BINFMT_WHY"; fi

  # 2. The root, in the bundle umoci packs (bundle/rootfs).
  say "$arch: mmdebstrap $RELEASE + apt-get install ./$(basename "$deb") (log $log)"
  layout="$WORK/oci-$arch"
  umoci init --layout "$layout" && umoci new --image "$layout:$TAG" && umoci unpack --image "$layout:$TAG" "$WORK/bundle-$arch" >>"$log" 2>&1 \
    || die "umoci could not start the layout (see $log)"
  rmdir "$WORK/bundle-$arch/rootfs" || die "umoci's rootfs is not empty"
  make_root "$arch" "$deb" "$WORK/bundle-$arch/rootfs" "$log.mmdebstrap" || { cat "$log.mmdebstrap" >>"$log"; die "mmdebstrap failed: $(grep -v '^I: ' "$log.mmdebstrap" | tail -n 3 | cut -c1-200 | tr '\n' ' ')(see $log)"; }
  cat "$log.mmdebstrap" >>"$log" && rm -f "$log.mmdebstrap"
  ! grep -qs " $WORK/bundle-$arch/rootfs/" /proc/mounts || die "mmdebstrap left mounts in the root"
  # A container's /dev is the runtime's.
  find "$WORK/bundle-$arch/rootfs/dev" -xdev -mindepth 1 -delete
  rootfs="$WORK/bundle-$arch/rootfs"
  size_kb="$(du -sk --apparent-size "$rootfs" | cut -f1)"
  files="$(find "$rootfs" -xdev | wc -l)"
  [ -x "$rootfs/usr/bin/emotiond" ] || die "the root has no /usr/bin/emotiond"

  # 3. The image.
  say "$arch: umoci repack (one layer, gzip) and the config"
  umoci repack --image "$layout:$TAG" "$WORK/bundle-$arch" >>"$log" 2>&1 || die "umoci repack failed (see $log)"
  configure_image "$layout" "$TAG" "$arch" "$VERSION" >>"$log" 2>&1 || die "umoci config failed (see $log)"
  umoci gc --layout "$layout" >>"$log" 2>&1
  # The name podman load and skopeo give it: emotiond:TAG (umoci's tags take no repository).
  sed -i "s|\"org.opencontainers.image.ref.name\":\"$TAG\"|\"org.opencontainers.image.ref.name\":\"emotiond:$TAG\"|" "$layout/index.json"
  grep -q "\"emotiond:$TAG\"" "$layout/index.json" || die "could not name the image emotiond:$TAG in $layout/index.json"
  out="$OUTDIR/emotiond_${VERSION}_$arch.oci.tar"
  tar -C "$layout" -cf "$out.tmp" oci-layout index.json blobs && mv "$out.tmp" "$out" || die "could not write $out"
  LINES+=("image $RELEASE/$arch: ok, $((size_kb / 1024)) MB uncompressed ($files files), $(numfmt --to=iec --suffix=B "$(stat -c %s "$out")") compressed | $out | $((SECONDS - t0)) s")
  [ $((size_kb / 1024)) -le 250 ] || LINES[-1]="${LINES[-1]/: ok,/: ok (OVER 250 MB),}"
  TAGS+=("$TAG")
  # The bundle's root is not needed again (the layer has it): free the disk before the next CPU.
  rm -rf --one-file-system "$WORK/bundle-$arch"
done

# 4. The multi-arch archive: the CPUs' blobs in one layout, and an image index naming each manifest with its platform.
if [ "${#ARCHES[@]}" -gt 1 ]; then
  say "the multi-arch index"
  multi="$WORK/oci-multi"
  mkdir -p "$multi/blobs/sha256"
  layouts=()
  for a in "${ARCHES[@]}"; do cp -l -n "$WORK/oci-$a"/blobs/sha256/* "$multi/blobs/sha256/" && layouts+=("$WORK/oci-$a"); done
  echo '{"imageLayoutVersion":"1.0.0"}' >"$multi/oci-layout"
  node "$SRC/deploy/image/index.mjs" "$multi" "emotiond:$(tr "+~" "--" <<<"$VERSION")" "${layouts[@]}" >>"$CACHE/logs/image-$RELEASE-index.log" 2>&1 \
    || die "could not write the image index (see $CACHE/logs/image-$RELEASE-index.log)"
  out="$OUTDIR/emotiond_${VERSION}_multiarch.oci.tar"
  tar -C "$multi" -cf "$out.tmp" oci-layout index.json blobs && mv "$out.tmp" "$out" || die "could not write $out"
  LINES+=("image $RELEASE index (${ARCHES[*]}): ok, $(numfmt --to=iec --suffix=B "$(stat -c %s "$out")") | $out")
fi
RESULT=ok
