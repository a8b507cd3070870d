#!/usr/bin/env bash
# Sets up a checkout of emotiond on Debian 12 / Ubuntu 22.04+ / Raspberry Pi OS:
# Debian packages, npm dependencies (OpenCV bindings built against the system OpenCV), the face
# cascades, and a demo clip with real faces composed from the portrait beside this script.
# Where the system's Node.js is older than 20.10 (Debian 12 and Pi OS Bookworm ship 18), Node 20 from the npm
# registry (node-linux-<arch>, pinned and checked by deploy/node.lock) goes into deploy/node/ and this checkout
# uses it (node_modules/.bin/node: npm run finds it first); the system's node is not touched.
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

# shellcheck source=deploy/lib/checkout.sh
. "$here/deploy/lib/checkout.sh"
own_node=0
if [ "$print_pkgs" -eq 0 ] && ! node_ok node; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup.sh: Node.js and npm are needed (found: node $(node --version 2>/dev/null || echo none)): apt install nodejs npm" >&2
    exit 1
  fi
  # shellcheck source=deploy/lib/node-dist.sh
  . "$here/deploy/lib/node-dist.sh"
  node_arch=$(node_dist_arch "$(uname -m)") || { echo "setup.sh: the npm registry has no Node for $(uname -m); install Node 20 LTS first" >&2; exit 1; }
  say "Node $(node --version) is older than 20.10: using Node $(sed -n 's/^NODE_VERSION=//p' deploy/node.lock) from the npm registry (node-linux-$node_arch) in deploy/node"
  download=$(mktemp -d "${TMPDIR:-/tmp}/emotiond-node.XXXXXX")
  node_dist "$node_arch" "$here/deploy/node" "$download" || { rm -rf "$download"; exit 1; }
  rm -rf "$download"
  export PATH="$here/deploy/node/bin:$PATH"
  # The add-ons are built against its headers, for its ABI.
  export npm_config_nodedir="$here/deploy/node"
  own_node=1
fi

pkgs=(build-essential python3 pkg-config patchelf opencv-data ffmpeg)
# JetPack ships its own OpenCV under /usr; do not replace it with Debian's.
[ -f /etc/nv_tegra_release ] || pkgs+=(libopencv-dev)
if [ "$with_test" -eq 1 ]; then
  # debootstrap, systemd-container: deploy/test-live.sh boots a Debian 12 container with systemd as PID 1.
  # chromium: the dashboard tests drive Debian's browser (playwright-core, nothing downloaded).
  # faketime: the clock tests and the soak move the daemon's wall clock (libfaketime).
  # python3-skimage: the detector tests' astronaut.png. debhelper, lintian: the package test builds and checks the .deb.
  pkgs+=(python3-skimage debhelper lintian mosquitto openssl python3-torch python3-onnx python3-numpy python3-matplotlib python3-opencv systemd gstreamer1.0-plugins-base
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
# deploy/npm-ci.sh builds the add-ons against the installed headers of this node (never a download).
if ! modules_built "$here"; then
  say "Installing npm dependencies (builds the OpenCV bindings: about 10 minutes on 2 cores)"
  bash deploy/npm-ci.sh
fi
# npm run puts node_modules/.bin first on the PATH of its scripts: there `node` is the checkout's own.
if [ "$own_node" -eq 1 ]; then ln -sfn ../../deploy/node/bin/node node_modules/.bin/node; fi

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
