#!/usr/bin/env bash
# npm run check:packages: builds the four Debian packages (bookworm and trixie, amd64 and arm64; cached, see
# build.sh) and installs each on fresh roots as a user would (test.sh): amd64 with the service under systemd and an
# upgrade from an older build of the same tree (UPSTREAM~prev: the version the upgrade starts from), arm64 under
# qemu as a Pi 4 and a Pi 3 CPU, labels compared with the amd64 package's. The amd64 package of a release is tested
# before its arm64 one (the labels' reference). Ends with one summary line per package; exits non-zero when any
# failed. Logs: CACHE/logs. Needs root.
# Usage: sudo deploy/package/check.sh [--release bookworm|trixie]... [--arch amd64|arm64]... [--cache DIR]
set -uo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=deploy/lib/package-names.sh
. "$SRC/deploy/lib/package-names.sh"
RELEASES=() ARCHES=() CACHE=/var/cache/emotiond-package
while [ $# -gt 0 ]; do
  case "$1" in
    --release) RELEASES+=("${2:-}"); shift 2 ;;
    --arch) ARCHES+=("${2:-}"); shift 2 ;;
    --cache) CACHE="${2:-}"; shift 2 ;;
    *) sed -n 's/^# Usage: //p' "${BASH_SOURCE[0]}" >&2; exit 64 ;;
  esac
done
[ "${#RELEASES[@]}" -gt 0 ] || RELEASES=(bookworm trixie)
[ "${#ARCHES[@]}" -gt 0 ] || ARCHES=(amd64 arm64)
UPSTREAM="$(node -p 'require(process.argv[1]).version' "$SRC/package.json")"
LINES=()
rc=0
for release in "${RELEASES[@]}"; do
  for arch in "${ARCHES[@]}"; do
    log="$CACHE/logs/check-$release-$arch.log"
    mkdir -p "$CACHE/logs"
    echo "# $release/$arch: building (log $log)" >&2
    built="$(bash "$SRC/deploy/package/build.sh" --release "$release" --arch "$arch" --cache "$CACHE" 2>>"$log" | tail -n 1)"
    DEB="$(built_deb "$built")"
    if [[ "$built" != *": ok"* ]] || [ -z "$DEB" ]; then
      LINES+=("emotiond $release/$arch: ${built:-build.sh printed nothing (see $log)}")
      rc=1
      continue
    fi
    args=(--deb "$DEB" --cache "$CACHE")
    if [ "$arch" = amd64 ]; then
      prev="$(bash "$SRC/deploy/package/build.sh" --release "$release" --arch "$arch" --cache "$CACHE" --version "$UPSTREAM~prev" \
        --out "$CACHE/prev" 2>>"$log" | tail -n 1)"
      PREV="$(built_deb "$prev")"
      if [ -z "$PREV" ]; then
        LINES+=("$(basename "$DEB"): the older build for the upgrade check failed: $prev")
        rc=1
        continue
      fi
      args+=(--prev-deb "$PREV")
    fi
    echo "# $release/$arch: installing $(basename "$DEB") on fresh roots (log $log)" >&2
    tested="$(bash "$SRC/deploy/package/test.sh" "${args[@]}" 2>>"$log" | tail -n 1)"
    [[ "$tested" == *": ok |"* ]] || rc=1
    LINES+=("$(basename "$DEB"): ${built#*: } || ${tested#*: }")
  done
done
printf '%s\n' "${LINES[@]}"
exit "$rc"
