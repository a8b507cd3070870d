#!/usr/bin/env bash
# Remove emotiond: stop and disable the service and its instances, remove the units, the wrapper and
# the program. /etc/emotiond (config, credentials) and the state stay unless --purge.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: sudo deploy/uninstall.sh [options]

  --prefix DIR   where the program was installed (default /opt/emotiond)
  --root DIR     remove a staged installation under DIR (no systemctl stop)
  --purge        also remove /etc/emotiond and the state (/var/lib/emotiond, /var/lib/emotiond-NAME)
  -h, --help     this text
EOF
}

PREFIX=/opt/emotiond
ROOT=""
PURGE=0

die() {
  echo "uninstall.sh: error: $*" >&2
  exit 1
}
warn() { echo "uninstall.sh: warning: $*" >&2; }
did() { echo "  - $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) PREFIX="${1#*=}"; shift ;;
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) ROOT="${1#*=}"; shift ;;
    --purge) PURGE=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

case "$PREFIX" in
  /*) ;;
  *) die "--prefix must be an absolute path: $PREFIX" ;;
esac
PREFIX="${PREFIX%/}"
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root $ROOT does not exist"
  ROOT="$(cd "$ROOT" && pwd)"
  [ "$ROOT" != / ] || ROOT=""
fi
if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
  die "run as root (sudo $0), or use --root DIR for a staged installation"
fi

UNITDIR="$ROOT/etc/systemd/system"
echo "emotiond uninstall: ${ROOT:-/}${ROOT:+ (staging root)}"

# Instances are enabled as symlinks named emotiond@NAME.service in some *.wants directory.
INSTANCES=()
for link in "$UNITDIR"/*.wants/emotiond@*.service; do
  [ -L "$link" ] || continue
  INSTANCES+=("$(basename "$link")")
done

if [ -n "$ROOT" ]; then
  if command -v systemctl >/dev/null; then
    for unit in emotiond.service "${INSTANCES[@]}"; do
      systemctl --root="$ROOT" -q disable "$unit" 2>/dev/null || true
    done
  fi
  # Whatever systemctl left (or all of it when there is no systemctl).
  for link in "$UNITDIR"/*.wants/emotiond.service "$UNITDIR"/*.wants/emotiond@*.service; do
    [ -L "$link" ] && rm -f "$link"
  done
  did "disabled emotiond.service${INSTANCES[0]:+ and ${INSTANCES[*]}}"
elif [ -d /run/systemd/system ]; then
  systemctl stop emotiond.service 'emotiond@*.service' 2>/dev/null || true
  for unit in emotiond.service "${INSTANCES[@]}"; do
    systemctl -q disable "$unit" 2>/dev/null || true
  done
  did "stopped and disabled emotiond.service${INSTANCES[0]:+ and ${INSTANCES[*]}}"
fi

for unit in emotiond.service emotiond@.service; do
  if [ -e "$UNITDIR/$unit" ]; then
    rm -f "$UNITDIR/$unit"
    did "removed /etc/systemd/system/$unit"
  fi
done
# Drop-ins made with systemctl edit are configuration: they go with --purge only.
if [ "$PURGE" -eq 1 ]; then
  for d in "$UNITDIR/emotiond.service.d" "$UNITDIR"/emotiond@*.service.d; do
    [ -d "$d" ] || continue
    rm -rf "$d"
    did "removed ${d#"$ROOT"}"
  done
fi
if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl reset-failed 'emotiond*' 2>/dev/null || true
fi

if [ -f "$ROOT/usr/local/bin/emotiond" ]; then
  rm -f "$ROOT/usr/local/bin/emotiond"
  did "removed /usr/local/bin/emotiond"
fi

DEST="${ROOT}${PREFIX}"
if [ -d "$DEST" ]; then
  # Only a directory install.sh made: never rm -rf a --prefix typed by mistake.
  [ -f "$DEST/.emotiond-install" ] || die "$DEST was not installed by install.sh (no .emotiond-install); not removing it"
  rm -rf "$DEST"
  did "removed $PREFIX"
fi

if [ "$PURGE" -eq 1 ]; then
  # DynamicUser= keeps the real state under /var/lib/private and links /var/lib/emotiond (emotiond-NAME
  # for the instance NAME) to it.
  for p in "$ROOT/etc/emotiond" "$ROOT/var/lib/emotiond" "$ROOT/var/lib/private/emotiond" \
    "$ROOT"/var/lib/emotiond-* "$ROOT"/var/lib/private/emotiond-*; do
    if [ -e "$p" ] || [ -L "$p" ]; then
      rm -rf "$p"
      did "removed ${p#"$ROOT"}"
    fi
  done
else
  [ ! -d "$ROOT/etc/emotiond" ] || did "kept /etc/emotiond (config, credentials); --purge removes it"
  for p in "$ROOT/var/lib/emotiond" "$ROOT"/var/lib/emotiond-*; do
    [ ! -e "$p" ] || did "kept ${p#"$ROOT"} (state); --purge removes it"
  done
fi
echo "emotiond uninstall: done"
