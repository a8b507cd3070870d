#!/usr/bin/env bash
# Install emotiond from this checkout as a systemd service.
# Debian 12, Ubuntu 22.04+, Raspberry Pi OS (arm64) and Jetson (JetPack's own OpenCV).
# Safe to run again: it updates the program, keeps /etc/emotiond and the state, restarts the service.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: sudo deploy/install.sh [options]

  --prefix DIR           install the program here (default /opt/emotiond)
  --root DIR             install everything under DIR (a staging root for tests or images):
                         no apt, no systemctl start; units are enabled with systemctl --root
  --skip-deps            do not install apt packages
  --skip-build           do not run npm ci / npm run build; install the existing dist/ and node_modules/
  --no-start             install and enable, but do not (re)start the service
  --config-example FILE  example config copied to /etc/emotiond/config.json when that file is missing
                         (default: config/emotiond.example.json of this checkout)
  -h, --help             this text
EOF
}

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/opt/emotiond
ROOT=""
SKIP_DEPS=0
SKIP_BUILD=0
START=1
START_FAILED=0
EXAMPLE="$SRC/config/emotiond.example.json"

die() {
  echo "install.sh: error: $*" >&2
  exit 1
}
warn() { echo "install.sh: warning: $*" >&2; }
DONE=()
did() {
  DONE+=("$*")
  echo "  - $*"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) PREFIX="${1#*=}"; shift ;;
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) ROOT="${1#*=}"; shift ;;
    --skip-deps) SKIP_DEPS=1; shift ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    --no-start) START=0; shift ;;
    --config-example) EXAMPLE="${2:?--config-example needs a file}"; shift 2 ;;
    --config-example=*) EXAMPLE="${1#*=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

# --- checks -----------------------------------------------------------------------------------------

[ "$(uname -s)" = Linux ] || die "emotiond runs on Linux only"
case "$PREFIX" in
  /*) ;;
  *) die "--prefix must be an absolute path: $PREFIX" ;;
esac
PREFIX="${PREFIX%/}"
case "$PREFIX" in
  "" | /usr | /usr/local | /opt | /etc | /var | /home | /root | /srv | /tmp)
    die "--prefix must be a directory of its own (it is replaced on update): $PREFIX" ;;
esac
if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT="$(cd "$ROOT" && pwd)"
  [ "$ROOT" != / ] || ROOT=""
fi
if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
  die "run as root (sudo $0), or use --root DIR to stage an installation"
fi

PLATFORM=unknown
JETSON=0
if [ -f /etc/nv_tegra_release ]; then
  JETSON=1
  PLATFORM="jetson ($(head -n 1 /etc/nv_tegra_release | cut -c1-40))"
elif [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  PLATFORM="${PRETTY_NAME:-${ID:-unknown}}"
  case "${ID:-}:${VERSION_ID:-}" in
    debian:1[2-9]* | raspbian:1[2-9]*) ;;
    ubuntu:2[2-9].* | ubuntu:[3-9][0-9].*) ;;
    *) warn "untested platform '$PLATFORM'; supported: Debian 12+, Ubuntu 22.04+, Raspberry Pi OS, Jetson" ;;
  esac
fi
ARCH="$(uname -m)"
case "$ARCH" in
  aarch64 | x86_64) ;;
  *) warn "untested architecture $ARCH (onnxruntime-node ships linux arm64 and x64 only)" ;;
esac

# node_ok, modules_built
# shellcheck source=deploy/lib/checkout.sh
. "$SRC/deploy/lib/checkout.sh"
NODE="$(command -v node || true)"
# The checkout's own Node 20 (deploy/setup.sh fetched it where the system's is older, as on Debian 12): it is
# installed with the program, in $PREFIX/node, and the service and the command use that copy.
OWN_NODE=""
if { [ -z "$NODE" ] || ! node_ok "$NODE"; } && [ -x "$SRC/deploy/node/bin/node" ] && node_ok "$SRC/deploy/node/bin/node"; then
  OWN_NODE="$SRC/deploy/node"
  NODE="$OWN_NODE/bin/node"
  export PATH="$OWN_NODE/bin:$PATH"
fi
[ -n "$NODE" ] || die "Node.js 20.10 or newer is required: run deploy/setup.sh first (it fetches Node 20 where the system's is older)"
node_ok "$NODE" || die "Node.js 20.10 or newer is required, found $("$NODE" --version) at $NODE: run deploy/setup.sh first (it fetches Node 20)"
if [ -z "$OWN_NODE" ]; then
  case "$NODE" in
    /home/* | /root/*) die "node is under a home directory ($NODE, nvm?), which the service cannot see (ProtectHome=yes); install Node.js system-wide" ;;
  esac
fi

echo "emotiond install: platform $PLATFORM, $ARCH, node $("$NODE" --version) at $NODE"
echo "  source $SRC -> ${ROOT}${PREFIX}${ROOT:+ (staging root $ROOT)}"

# --- apt dependencies -----------------------------------------------------------------------------

# An existing build is reused (deploy/setup.sh made one): npm ci, which compiles the OpenCV binding again (10 minutes
# and more), only where node_modules lacks the binding or is older than package-lock.json; tsc only where dist/ is
# older than a source file.
NEED_MODULES=0
NEED_DIST=0
if [ "$SKIP_BUILD" -eq 0 ]; then
  modules_built "$SRC" || NEED_MODULES=1
  if [ ! -f "$SRC/dist/src/cli/main.js" ] || [ -n "$(find "$SRC/src" "$SRC/package.json" -newer "$SRC/dist/src/cli/main.js" -print -quit 2>/dev/null)" ]; then
    NEED_DIST=1
  fi
fi

if [ "$SKIP_DEPS" -eq 0 ] && [ -z "$ROOT" ]; then
  command -v apt-get >/dev/null || die "apt-get not found; install the dependencies yourself and use --skip-deps"
  PKGS=(ca-certificates v4l-utils)
  # The compiler only where the binding is to be built.
  [ "$NEED_MODULES" -eq 0 ] || PKGS+=(build-essential python3 pkg-config patchelf)
  if [ "$JETSON" -eq 1 ]; then
    # JetPack installs its own OpenCV (with CUDA) under /usr; Debian's libopencv-dev would conflict.
    [ -d /usr/include/opencv4 ] || die "Jetson without JetPack's OpenCV headers in /usr/include/opencv4: sudo apt install nvidia-opencv"
  else
    PKGS+=(libopencv-dev opencv-data)
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${PKGS[@]}"
  did "apt packages: ${PKGS[*]}"
fi

# --- build ----------------------------------------------------------------------------------------

if [ "$NEED_MODULES" -eq 1 ]; then
  command -v npm >/dev/null || die "npm not found (it comes with Node.js)"
  MULTIARCH="$(gcc -print-multiarch 2>/dev/null || echo "$ARCH-linux-gnu")"
  # Build opencv4nodejs against the system OpenCV instead of compiling OpenCV itself (hours on a Pi),
  # linked to the OpenCV modules the daemon uses only; against this node's installed headers.
  (
    cd "$SRC"
    export OPENCV_LIB_DIR="/usr/lib/$MULTIARCH"
    [ -z "$OWN_NODE" ] || export npm_config_nodedir="$OWN_NODE"
    bash "$SRC/deploy/npm-ci.sh"
  )
  did "built node_modules in $SRC (npm ci)"
elif [ "$SKIP_BUILD" -eq 0 ]; then
  did "reused node_modules of $SRC (built after package-lock.json changed last)"
fi
if [ "$NEED_DIST" -eq 1 ]; then
  (cd "$SRC" && npm run build)
  did "built dist/ in $SRC (npm run build)"
elif [ "$SKIP_BUILD" -eq 0 ]; then
  did "reused dist/ of $SRC (newer than every file in src/)"
fi

[ -d "$SRC/dist/src" ] || die "$SRC/dist/src is missing: build first (npm run build) or drop --skip-build"
[ -d "$SRC/node_modules" ] || die "$SRC/node_modules is missing: run npm ci first or drop --skip-build"
[ -f "$SRC/dist/src/cli/main.js" ] || warn "dist/src/cli/main.js is missing: the build is incomplete, the service will not start"

# --- program: staged next to the prefix, then swapped in, so a running service never sees half a tree

DEST="${ROOT}${PREFIX}"
STAGE="${DEST}.new.$$"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$(dirname "$DEST")"
rm -rf "$STAGE"
mkdir -p "$STAGE/models" "$STAGE/cascades" "$STAGE/config"
cp -a "$SRC/dist" "$STAGE/dist"
rm -rf "$STAGE/dist/test"
# tsc does not copy the dashboard's page, script and style (src/http/static): they go beside the compiled server.
rm -rf "$STAGE/dist/src/http/static"
mkdir -p "$STAGE/dist/src/http"
cp -a "$SRC/src/http/static" "$STAGE/dist/src/http/static"
cp -a "$SRC/package.json" "$STAGE/"
[ ! -f "$SRC/package-lock.json" ] || cp -a "$SRC/package-lock.json" "$STAGE/"
cp -a "$SRC/node_modules" "$STAGE/node_modules"
# The checkout's own Node (see above) goes with the program; node_modules/.bin/node pointed to it.
rm -f "$STAGE/node_modules/.bin/node"
if [ -n "$OWN_NODE" ]; then
  mkdir -p "$STAGE/node/bin"
  cp -a "$OWN_NODE/bin/node" "$STAGE/node/bin/node"
  [ ! -f "$OWN_NODE/LICENSE" ] || cp -a "$OWN_NODE/LICENSE" "$STAGE/node/"
fi
(cd "$STAGE" && npm prune --omit=dev --no-audit --no-fund >/dev/null 2>&1) || warn "npm prune --omit=dev failed; dev dependencies stay installed"
# onnxruntime-node carries binaries for every OS; keep only this machine's (saves ~200 MB on an SD card).
case "$ARCH" in
  aarch64) ORT_ARCH=arm64 ;;
  x86_64) ORT_ARCH=x64 ;;
  *) ORT_ARCH="" ;;
esac
if [ -n "$ORT_ARCH" ]; then
  for d in "$STAGE"/node_modules/onnxruntime-node/bin/napi-v*/*; do
    [ -d "$d" ] || continue
    if [ "$(basename "$d")" != linux ]; then
      rm -rf "$d"
      continue
    fi
    for a in "$d"/*; do
      [ "$(basename "$a")" = "$ORT_ARCH" ] || rm -rf "$a"
    done
  done
fi

MODELS=0
for m in "$SRC"/models/*.onnx "$SRC"/models/*.onnx.json; do
  [ -f "$m" ] || continue
  cp -a "$m" "$STAGE/models/"
  MODELS=$((MODELS + 1))
done
[ "$MODELS" -gt 0 ] || warn "no models/*.onnx in $SRC: set classifier.model to the model file"

CASCADES=0
for dir in /usr/share/opencv4 /usr/local/share/opencv4 /usr/share/opencv; do
  for kind in haarcascades lbpcascades; do
    for f in "$dir/$kind"/*.xml; do
      [ -f "$f" ] || continue
      [ -f "$STAGE/cascades/$(basename "$f")" ] && continue
      cp "$f" "$STAGE/cascades/"
      CASCADES=$((CASCADES + 1))
    done
  done
done
for f in "$SRC"/cascades/*.xml; do
  [ -f "$f" ] || continue
  cp "$f" "$STAGE/cascades/"
  CASCADES=$((CASCADES + 1))
done
[ "$CASCADES" -gt 0 ] || warn "no OpenCV cascades found (install opencv-data): set detector.cascade to a cascade file"

[ ! -f "$EXAMPLE" ] || cp "$EXAMPLE" "$STAGE/config/emotiond.example.json"
[ ! -f "$SRC/deploy/README-ops.md" ] || cp "$SRC/deploy/README-ops.md" "$STAGE/"
# Marks the directory as ours: uninstall.sh removes a prefix only when it carries this file.
printf 'emotiond %s installed %s from %s\n' \
  "$("$NODE" -p 'require(process.argv[1]).version' "$SRC/package.json")" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$SRC" \
  >"$STAGE/.emotiond-install"
chmod -R u=rwX,go=rX "$STAGE"
# A clone belongs to the user who made it; this code runs as the service and, through the wrapper, as root.
# -h: a link is changed itself, never what it points to.
if [ "$(id -u)" -eq 0 ]; then
  chown -R -h 0:0 "$STAGE"
else
  warn "not root: the staged files keep their owner ($(id -un)); chown -R root: them before use"
fi

if [ -e "$DEST" ]; then
  [ -f "$DEST/.emotiond-install" ] || die "$DEST exists and was not installed by this script; choose another --prefix"
  rm -rf "$DEST.old"
  mv "$DEST" "$DEST.old"
  mv "$STAGE" "$DEST"
  rm -rf "$DEST.old"
  did "updated $PREFIX (dist, node_modules, $MODELS model file(s), $CASCADES cascade(s))"
else
  mv "$STAGE" "$DEST"
  did "installed $PREFIX (dist, node_modules, $MODELS model file(s), $CASCADES cascade(s))"
fi
trap - EXIT

# --- command-line wrapper --------------------------------------------------------------------------

# The service and the command run the copy installed with the program, not the checkout's.
[ -z "$OWN_NODE" ] || NODE="$PREFIX/node/bin/node"

mkdir -p "$ROOT/usr/local/bin"
cat >"$ROOT/usr/local/bin/emotiond.new.$$" <<EOF
#!/bin/sh
# emotiond command line (installed by deploy/install.sh): emotiond run | devices | --help
# As in the service: no onnxruntime telemetry; OpenCV bindings usable from any working directory.
export ORT_DISABLE_TELEMETRY=1
export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
exec "$NODE" "$PREFIX/dist/src/cli/main.js" "\$@"
EOF
chmod 0755 "$ROOT/usr/local/bin/emotiond.new.$$"
mv -f "$ROOT/usr/local/bin/emotiond.new.$$" "$ROOT/usr/local/bin/emotiond"
did "wrote /usr/local/bin/emotiond"

# --- configuration: created once, never overwritten ---------------------------------------------------

ETC="$ROOT/etc/emotiond"
mkdir -p "$ETC"
chmod 0755 "$ETC"
if [ -e "$ETC/config.json" ]; then
  did "kept /etc/emotiond/config.json"
elif [ -f "$EXAMPLE" ]; then
  # World-readable: the service runs as a dynamic user. Secrets go in credentials, not here.
  install -m 0644 "$EXAMPLE" "$ETC/config.json"
  did "created /etc/emotiond/config.json from $(basename "$EXAMPLE")"
else
  warn "no example config ($EXAMPLE): create /etc/emotiond/config.json yourself"
fi
if [ ! -e "$ETC/mqtt_password" ]; then
  # LoadCredential= fails the start when its file is missing; an empty password means none.
  (umask 077 && : >"$ETC/mqtt_password")
  chmod 0600 "$ETC/mqtt_password"
  did "created an empty /etc/emotiond/mqtt_password (0600; put the broker password in it)"
fi

# --- systemd units ---------------------------------------------------------------------------------

UNITDIR="$ROOT/etc/systemd/system"
# Units already there: an update. Then the admin's choice stays (emotiond.service, or emotiond@NAME
# instances instead of it): nothing disabled is enabled or started again.
UPDATE=0
[ ! -e "$UNITDIR/emotiond.service" ] || UPDATE=1
mkdir -p "$UNITDIR"
for unit in emotiond.service emotiond@.service; do
  sed -e "s#/opt/emotiond#$PREFIX#g" -e "s#/usr/bin/node #$NODE #g" "$SRC/deploy/$unit" >"$UNITDIR/$unit.new.$$"
  chmod 0644 "$UNITDIR/$unit.new.$$"
  mv -f "$UNITDIR/$unit.new.$$" "$UNITDIR/$unit"
done
did "installed /etc/systemd/system/emotiond.service and emotiond@.service"

# Instances are enabled as links named emotiond@NAME.service in some *.wants directory.
enabled_instances() {
  local link
  for link in "$UNITDIR"/*.wants/emotiond@*.service; do
    [ -L "$link" ] && basename "$link"
  done
  return 0
}

# Before 0.2 an instance kept its state in /var/lib/emotiond/NAME (DynamicUser: a link to
# /var/lib/private/emotiond/NAME), a directory emotiond.service's link cannot take: move it to emotiond-NAME.
old_instance_state() { [ -d "$ROOT/var/lib/emotiond" ] && [ ! -L "$ROOT/var/lib/emotiond" ]; }
migrate_instance_state() {
  local lib="$ROOT/var/lib" d name
  for d in "$lib/private/emotiond"/*/; do
    [ -d "$d" ] || continue
    name="$(basename "$d")"
    if [ -e "$lib/private/emotiond-$name" ] || [ -e "$lib/emotiond-$name" ]; then
      warn "both $lib/private/emotiond/$name and emotiond-$name exist: kept the old one where it is"
      continue
    fi
    mv "$d" "$lib/private/emotiond-$name"
    rm -f "$lib/emotiond/$name"
    did "moved the state of emotiond@$name to /var/lib/emotiond-$name"
  done
  if rmdir "$lib/emotiond" 2>/dev/null; then
    rmdir "$lib/private/emotiond" 2>/dev/null || true
  else
    warn "/var/lib/emotiond is still a directory (not empty): emotiond.service cannot start until it is moved away"
  fi
}

if [ -n "$ROOT" ]; then
  ! old_instance_state || migrate_instance_state
  if [ "$UPDATE" -eq 1 ]; then
    did "kept which units are enabled (update)"
  elif command -v systemctl >/dev/null; then
    if systemctl --root="$ROOT" -q enable emotiond.service 2>/dev/null; then
      did "enabled emotiond.service in $ROOT"
    else
      warn "systemctl --root could not enable emotiond.service"
    fi
  fi
elif [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if [ "$UPDATE" -eq 0 ]; then
    systemctl -q enable emotiond.service
    did "enabled emotiond.service"
  fi
  # The new program goes to what is enabled or running, and only there.
  UNITS=()
  if systemctl -q is-enabled emotiond.service 2>/dev/null || systemctl -q is-active emotiond.service; then
    UNITS+=(emotiond.service)
  fi
  mapfile -t RUNNING < <(systemctl list-units --plain --no-legend --state=active 'emotiond@*.service' | awk '{ print $1 }')
  mapfile -t INSTANCES < <({ enabled_instances; printf '%s\n' "${RUNNING[@]}"; } | grep . | sort -u)
  UNITS+=("${INSTANCES[@]}")
  if old_instance_state; then
    if [ "$START" -eq 1 ] || [ "${#RUNNING[@]}" -eq 0 ]; then
      # Stopped while their state moves; restarted below with the rest.
      [ "${#RUNNING[@]}" -eq 0 ] || systemctl stop "${RUNNING[@]}"
      migrate_instance_state
    else
      warn "instances keep their state in /var/lib/emotiond/NAME until install.sh runs without --no-start"
    fi
  fi
  if [ "$START" -eq 0 ]; then
    [ "${#UNITS[@]}" -eq 0 ] || did "not restarted (--no-start): ${UNITS[*]}"
  elif [ "${#UNITS[@]}" -eq 0 ]; then
    did "no emotiond unit is enabled or running: none started"
  else
    # A start limit hit before the update would refuse the restart; the new program deserves a try.
    systemctl reset-failed "${UNITS[@]}" 2>/dev/null || true
    # Type=notify: this waits for READY (model loaded, first frame, MQTT; at most system.ready_timeout_s).
    echo "  (re)starting ${UNITS[*]} (waits until the daemons report ready)..."
    systemctl restart "${UNITS[@]}" || true
    for unit in "${UNITS[@]}"; do
      if systemctl -q is-active "$unit"; then
        did "(re)started $unit: $(systemctl show --property=StatusText --value "$unit")"
      else
        START_FAILED=1
        warn "$unit did not start; see: journalctl -u $unit -n 50 --no-pager"
      fi
    done
  fi
else
  warn "systemd is not running here: units installed but not enabled or started"
fi

if [ "$START_FAILED" -eq 1 ]; then
  echo "emotiond install: installed, but the service failed to start (fix the config: emotiond check-config)" >&2
  exit 1
fi
echo "emotiond install: done"
if [ -z "$ROOT" ]; then
  cat <<EOF
Next:
  edit /etc/emotiond/config.json (camera: emotiond devices; broker: mqtt.url)
  sudo systemctl restart emotiond && journalctl -u emotiond -f
EOF
fi
