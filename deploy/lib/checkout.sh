# shellcheck shell=bash
# What deploy/setup.sh, deploy/install.sh and deploy/package/build.sh ask of a checkout. Source it; it defines
# functions only.

# node_ok NODE: NODE runs and is Node.js 20.10 or newer (JSON import attributes, used for the payload schemas).
node_ok() { "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 10) ? 0 : 1)' 2>/dev/null; }

# modules_built DIR: DIR/node_modules holds the built OpenCV binding and is not older than DIR/package-lock.json
# (deploy/npm-ci.sh made it for this lockfile).
modules_built() { [ -f "$1/node_modules/@u4/opencv4nodejs/build/Release/opencv4nodejs.node" ] && [ ! "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; }
