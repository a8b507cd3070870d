#!/usr/bin/env bash
# Sets up a checkout of emotiond on Debian 12 / Ubuntu 22.04+ / Raspberry Pi OS:
# Debian packages, npm dependencies (OpenCV bindings built against the system OpenCV), the face
# cascades, and a demo clip with real faces composed from a Debian package's sample photo.
#   deploy/setup.sh          what the daemon and the demo need
#   deploy/setup.sh --test   also what the tests need (mosquitto, python3-torch/onnx, systemd tools)
#   deploy/setup.sh --packages [--test]   only print the Debian packages it would install
# Run as root or with sudo available. Idempotent.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
with_test=0
print_pkgs=0
for a in "$@"; do
  case "$a" in
    --test) with_test=1 ;;
    --packages) print_pkgs=1 ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 64 ;;
  esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# JSON import attributes (`with { type: 'json' }`) need Node 20.10.
if [ "$print_pkgs" -eq 0 ] && ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 10) ? 0 : 1)' 2>/dev/null; then
  echo "setup.sh: Node.js 20.10 or newer is needed (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "  Debian 13 / Ubuntu 24.04: apt install nodejs npm; otherwise install Node 20 LTS first." >&2
  exit 1
fi

pkgs=(build-essential python3 pkg-config patchelf opencv-data ffmpeg python3-skimage)
# JetPack ships its own OpenCV under /usr; do not replace it with Debian's.
[ -f /etc/nv_tegra_release ] || pkgs+=(libopencv-dev)
if [ "$with_test" -eq 1 ]; then
  # debootstrap, systemd-container: deploy/test-live.sh boots a Debian 12 container with systemd as PID 1.
  # chromium: the dashboard tests drive Debian's browser (playwright-core, nothing downloaded).
  # faketime: the clock tests and the soak move the daemon's wall clock (libfaketime).
  pkgs+=(mosquitto openssl python3-torch python3-onnx python3-numpy python3-matplotlib python3-opencv systemd gstreamer1.0-plugins-base
    debootstrap systemd-container chromium faketime)
fi
if [ "$print_pkgs" -eq 1 ]; then echo "${pkgs[*]}"; exit 0; fi
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  say "Installing Debian packages: ${missing[*]}"
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian's mosquitto package starts a broker on port 1883; the tests start their own on free ports.

multiarch=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH)
export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
export OPENCV_INCLUDE_DIR=/usr/include/opencv4
export OPENCV_LIB_DIR=/usr/lib/$multiarch
export OPENCV_BIN_DIR=/usr/bin
export ONNXRUNTIME_NODE_INSTALL=skip
export JOBS=max
# node-gyp compiles the binding against Node's headers: the installed ones when they match this node (Debian's
# libnode-dev, which `apt install nodejs npm` brings; NodeSource's nodejs package), rather than a download from nodejs.org.
if [ -z "${npm_config_nodedir:-}" ] && nodedir=$(node -e '
  const fs = require("fs"), path = require("path");
  for (const p of [process.config.variables.node_prefix, path.dirname(path.dirname(process.execPath))]) {
    let h = "";
    try { h = fs.readFileSync(path.join(p, "include/node/node_version.h"), "utf8"); } catch {}
    const v = ["MAJOR", "MINOR", "PATCH"].map((k) => (h.match(new RegExp(`define NODE_${k}_VERSION (\\d+)`)) ?? [])[1]).join(".");
    if (v === process.versions.node) { console.log(p); process.exit(0); }
  }
  process.exit(1);' 2>/dev/null); then
  export npm_config_nodedir="$nodedir"
fi
if [ ! -f node_modules/@u4/opencv4nodejs/build/Release/opencv4nodejs.node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "Installing npm dependencies (builds the OpenCV bindings: about 10 minutes on 2 cores)"
  bash deploy/npm-ci.sh
fi

say "Copying the face cascades from OpenCV's data into cascades/"
mkdir -p cascades
for f in haarcascades/haarcascade_frontalface_default.xml lbpcascades/lbpcascade_frontalface_improved.xml; do
  for d in /usr/share/opencv4 /usr/share/opencv /usr/local/share/opencv4; do
    if [ -f "$d/$f" ]; then cp -f "$d/$f" cascades/; break; fi
  done
done

bash deploy/make-demo-clip.sh

say "Building (tsc)"
npm run --silent build

say "Done. Try: npm run demo"
