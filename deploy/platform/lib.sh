# shellcheck shell=bash disable=SC2034 # sets globals that deploy/check-platform.sh reads
# Functions of deploy/check-platform.sh (sourced; uses its globals SRC, RELEASE, ARCH, CACHE, LOGS, WORK, M,
# CO, CROSS and the summary fields).

say() { echo "# $*" >&2; }
now() { date +%s.%N; }
# Seconds from epoch time $1 to $2, one decimal.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# wait_line LIMIT PATTERN FILE [PID]: waits at most LIMIT s for PATTERN in FILE while process PID (if given) runs.
# When it came: AT (epoch seconds) and WAITED (whole seconds) are set. Returns 1 when PID ended first, 2 at the limit.
wait_line() {
  local t0=$SECONDS
  until grep -q "$2" "$3" 2>/dev/null; do
    [ -z "${4:-}" ] || kill -0 "$4" 2>/dev/null || return 1
    [ $((SECONDS - t0)) -lt "$1" ] || return 2
    sleep 0.1
  done
  AT="$(now)"
  WAITED=$((SECONDS - t0))
}
# The CPU an emulated arm64 binary runs as: a Raspberry Pi 4's (qemu's default, `max`, has every extension a Pi
# lacks, so an "illegal instruction" on a Pi would pass unseen). QEMU_CPU=cortex-a53 (Pi 3, Zero 2 W) or
# cortex-a76 (Pi 5) names another. Native binaries ignore it.
EMU_CPU="${QEMU_CPU:-cortex-a72}"
export QEMU_CPU="$EMU_CPU"
die() {
  RESULT="FAILED: $*"
  exit 1
}

summary() {
  echo "platform $RELEASE/$ARCH ($MODE${EMULATED_AS:+ as $EMULATED_AS}): $RESULT | setup $SETUP_S | first event $EVENT_S after the demo started | OpenCV $OPENCV | Node $NODEV | $CC_V | tests: $TESTS | eval: $EVAL | roots $ROOTS | total $((SECONDS - START)) s"
}

MOUNTS=() # in mount order; teardown unmounts them in reverse
# The roots are built by deploy/platform/root.sh in the background, and waited for with `wait`, during which
# an INT or TERM trap runs at once (not after a foreground child ends). Each build's path goes to a file.
TESTS_PID=""
BUILDS=() # the root.sh processes; teardown stops those still running (their own traps clean up after them)
root_build() {
  nice -n 10 bash "$SRC/deploy/platform/root.sh" "$CACHE" "$RELEASE" "$1" "$2" "$SRC" >"$WORK/root-$1-$2" &
  BUILD_PID=$!
  BUILDS+=("$BUILD_PID")
}
# Sets ROOT_MADE.
root_wait() {
  wait "$1" || die "could not build the $RELEASE/$2 $3 root (see $CACHE/logs/root-$RELEASE-$2-$3.log)"
  ROOT_MADE="$(cat "$WORK/root-$2-$3")"
}
teardown() {
  local i r p
  # The test command's processes are in their own mount namespace, where stop_inside cannot see their root.
  [ -z "$TESTS_PID" ] || kill_tree "$TESTS_PID"
  for p in "${BUILDS[@]}"; do
    kill -0 "$p" 2>/dev/null || continue
    # Its apt or debootstrap first: root.sh's TERM trap runs once they have ended, and removes its build.
    kill_tree "$p"
    wait "$p" 2>/dev/null
  done
  if [ "$KEEP" -eq 1 ] && [ "${#MOUNTS[@]}" -gt 0 ]; then
    say "kept: chroot ${M:-?} bash   (then: umount -R each of ${MOUNTS[*]}; rm -rf $WORK)"
  else
    for r in "${ROOTS_UP[@]}"; do stop_inside "$r"; done
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
      umount -R "${MOUNTS[$i]}" 2>/dev/null || umount -R -l "${MOUNTS[$i]}" 2>/dev/null
    done
    if grep -qs " $WORK/" /proc/mounts; then
      say "still mounted under $WORK; leaving it"
    else
      rm -rf --one-file-system "$WORK"
    fi
  fi
  summary
}

# TERM to a process's descendants, deepest first, then to the process.
kill_tree() {
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$c"; done
  kill -TERM "$1" 2>/dev/null
}

# Registers qemu-user for arm64 ELF binaries (binfmt_misc), once per boot.
binfmt_arm64() {
  BINFMT_WHY=""
  local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [ -f "$conf" ] || { BINFMT_WHY="$conf missing (apt install qemu-user-static binfmt-support)"; return 1; }
  if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || { BINFMT_WHY="cannot mount binfmt_misc"; return 1; }
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    cat "$conf" >/proc/sys/fs/binfmt_misc/register || { BINFMT_WHY="cannot register $conf"; return 1; }
  fi
  grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || { BINFMT_WHY="qemu-aarch64 is registered but disabled"; return 1; }
}

# Every mount this script makes is under $WORK (the overlays): never on the host's own paths.
mount_() {
  case "${!#}" in
    "$WORK"/?*) ;;
    *) echo "check-platform: refusing to mount on ${!#} (not under $WORK)" >&2; return 1 ;;
  esac
  mount "$@" && MOUNTS+=("${!#}")
}

# A throw-away overlay over a cached root: the run changes nothing in the cache. Sets OVL.
ROOTS_UP=()
overlay() {
  local lower="$1" name="$2"
  mkdir -p "$WORK/$name/upper" "$WORK/$name/work" "$WORK/$name/root"
  OVL="$WORK/$name/root"
  mount_ -t overlay overlay -o "lowerdir=$lower,upperdir=$WORK/$name/upper,workdir=$WORK/$name/work" "$OVL" || return 1
  ROOTS_UP+=("$OVL")
}

# overlay_chroot ROOT NAME ARCH: a throw-away overlay over ROOT with chroot_mounts and the host's resolv.conf: a
# fresh copy of a cached root to run commands in. Sets OVL.
overlay_chroot() {
  overlay "$1" "$2" || die "could not mount an overlay over $1"
  chroot_mounts "$OVL" "$3"
  cp /etc/resolv.conf "$OVL/etc/resolv.conf"
}

# /proc and /dev; /sys only for a native root (under qemu, ONNX Runtime's cpuinfo reads the host's x86
# topology there and segfaults).
chroot_mounts() {
  local r="$1" arch="$2"
  mount_ -t proc proc "$r/proc" || die "mounting /proc in $r failed"
  mount_ --bind /dev "$r/dev" || die "binding /dev in $r failed"
  mount_ --bind /dev/pts "$r/dev/pts" || die "binding /dev/pts in $r failed"
  if [ -d /dev/shm ]; then mount_ --bind /dev/shm "$r/dev/shm" || die "binding /dev/shm in $r failed"; fi
  if [ "$arch" = "$HOSTARCH" ]; then
    # With its submounts: systemd-nspawn (the live test) reads the cgroup hierarchy under /sys/fs/cgroup.
    mount_ --rbind /sys "$r/sys" || die "binding /sys in $r failed"
    mount --make-rslave "$r/sys"
  fi
  # /var/tmp on the host's file system, not the overlay: the live test mounts an overlay of its own there, and
  # overlayfs cannot take an upper directory on overlayfs.
  bind_dir "$WORK/var-tmp-$(basename "$(dirname "$r")")" "$r/var/tmp"
}

bind_dir() {
  case "$2" in "$WORK"/?*) ;; *) die "bind_dir: $2 is not under $WORK" ;; esac
  mkdir -p "$1" "$2"
  mount_ --bind "$1" "$2" || die "binding $1 at $2 failed"
}

# bookworm's Debian Node is 18: the host's Node 20 (standalone build), its npm and its headers (setup.sh
# points node-gyp at them), as a user who installs Node 20 (NodeSource's package) before setup.sh.
host_node() {
  local r="$1" node npm_dir
  node="$(readlink -f "$(command -v node)")" || die "no node on the host to bind into the $RELEASE root"
  node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || die "the host's node is older than 20"
  npm_dir="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)" || die "no npm on the host"
  [ -f /usr/include/node/node.h ] || die "the host's Node headers (/usr/include/node) are missing"
  case "$r" in "$WORK"/?*) ;; *) die "host_node: $r is not under $WORK" ;; esac
  touch "$r/usr/bin/node"
  mount_ --bind -o ro "$node" "$r/usr/bin/node" || die "binding node failed"
  bind_dir "$npm_dir" "$r/usr/lib/node_modules/npm"
  bind_dir /usr/include/node "$r/usr/include/node"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/bin/npx"
}

# Runs a shell command in a root, as root, with a clean environment.
in_root() {
  local r="$1"
  shift
  nice -n 10 chroot "$r" env -i QEMU_CPU="$EMU_CPU" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
    bash -c "cd $CO 2>/dev/null; $*"
}
inside() { in_root "$M" "$@"; }
# The same, with the root as its own mount namespace's root (unshare, pivot_root) rather than under chroot: the
# kernel refuses user namespaces to a chrooted process, and the test command needs them (the live test's
# systemd-nspawn, the unit's PrivateUsers=, the sandbox test's unshare). The root must be a mount point (an overlay).
in_root_pivoted() {
  local r="$1"
  shift
  nice -n 10 unshare --mount --propagation private -- bash -c 'cd "$1" && mkdir -p .pivot-old && pivot_root . .pivot-old \
    && exec /usr/bin/env -i QEMU_CPU="$4" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
      /bin/bash -c "umount -l /.pivot-old && rmdir /.pivot-old && cd $2 && $3"' _ "$r" "$CO" "$*" "$EMU_CPU"
}

# Every process whose root is $1: TERM, then KILL after 10 s.
procs_in() {
  local p
  case "$1" in "$WORK"/?*) ;; *) return 0 ;; esac
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
  done
}
stop_inside() {
  local pids
  pids="$(procs_in "$1")"
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null
  for _ in $(seq 1 20); do
    [ -n "$(procs_in "$1")" ] || return 0
    sleep 0.5
  done
  # shellcheck disable=SC2046
  kill -KILL $(procs_in "$1") 2>/dev/null
  sleep 0.5
}

# Waits (at most $1 s) for pattern $2 in file $3 while process $4 runs. Sets WAITED to the seconds taken.
# `deploy/setup.sh && npm run demo`, stopped at the first face_appeared event.
run_demo() {
  local limit="$1" log="$LOGS/demo.log" pid rc t0=$SECONDS
  DEMO_WHY=""
  inside "deploy/setup.sh && npm run demo" >"$log" 2>&1 &
  pid=$!
  wait_line "$limit" 'Done. Try: npm run demo' "$log" "$pid"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    SETUP_S="${WAITED} s"
    wait_line $((limit - WAITED)) '"type":"face_appeared"' "$log" "$pid"
    rc=$?
    [ "$rc" -ne 0 ] || EVENT_S="${WAITED} s"
    case "$rc" in
      1) DEMO_WHY="npm run demo ended without a face_appeared event: $(tail -n 5 "$log" | tr '\n' ' ')" ;;
      2) DEMO_WHY="no face_appeared event within $((SECONDS - t0)) s of the start" ;;
    esac
  else
    case "$rc" in
      1) DEMO_WHY="deploy/setup.sh failed: $(tail -n 8 "$log" | tr '\n' ' ')" ;;
      2) DEMO_WHY="deploy/setup.sh did not finish within $limit s" ;;
    esac
  fi
  [ "$rc" -ne 0 ] || grep -m 1 '"type":"face_appeared"' "$log" >&2
  stop_inside "$M"
  wait "$pid" 2>/dev/null
  return "$rc"
}

# `deploy/setup.sh --test && npm test`, the README's test command.
run_tests() {
  local log="$LOGS/tests.log" rc t0=$SECONDS counts
  say "running 'deploy/setup.sh --test && npm test' (log $log)"
  # In the background: a TERM to this script is handled at once (wait returns), and teardown stops the tests.
  in_root_pivoted "$M" "deploy/setup.sh --test && npm test" >"$log" 2>&1 &
  TESTS_PID=$!
  wait "$TESTS_PID"
  rc=$?
  TESTS_PID=""
  # ava prints "N tests passed" only when none failed: count the ✔ lines.
  counts="$(grep -c '✔' "$log") passed$(grep -E '^\s*[0-9]+ (tests? (failed|skipped|todo)|known failures?|uncaught exceptions?|unhandled rejections?)' "$log" | sed 's/^ */, /' | tr -d '\n')"
  if [ "$rc" -eq 0 ]; then TESTS="passed ($counts; ../shared/data $SHARED; $((SECONDS - t0)) s)"; else TESTS="failed, exit $rc (${counts:-see $log}; ../shared/data $SHARED; $((SECONDS - t0)) s)"; fi
  say "tests: $TESTS"
}

# The smoke set: 60 FER2013 PublicTest rows and 4 labelled CK+ sequences, cut once from the evaluation data
# (models/data, or an export of ../shared/data). Sets SMOKE, or SMOKE_WHY when there is no data.
smoke_data() {
  SMOKE="$CACHE/eval/smoke" SMOKE_WHY=""
  [ -f "$SMOKE/.complete" ] && return 0
  local from="" d tmp
  for d in "$SRC/models/data" /tmp/emotiond-eval-data; do
    if [ -f "$d/fer2013.csv" ] && [ -d "$d/CK+/Emotion" ]; then from="$d"; break; fi
  done
  if [ -z "$from" ] && [ -f "$SRC/../shared/data/export_public.py" ]; then
    tmp="$WORK/export"
    python3 "$SRC/../shared/data/export_public.py" "$tmp" >"$LOGS/export.log" 2>&1 && from="$tmp"
  fi
  [ -n "$from" ] || { SMOKE_WHY="no evaluation data (models/data or ../shared/data)"; return 1; }
  rm -rf "$SMOKE" && mkdir -p "$SMOKE/CK+/Emotion" "$SMOKE/CK+/cohn-kanade-images"
  awk -F, 'NR == 1 || ($3 ~ /^PublicTest/ && n++ < 60)' "$from/fer2013.csv" >"$SMOKE/fer2013.csv"
  # One sequence each of anger (1), fear (4), happy (5), surprise (7): the first in sorted order.
  local code want f seq
  for want in 1 4 5 7; do
    for f in $(cd "$from/CK+/Emotion" && find . -name '*_emotion.txt' | sort); do
      code="$(awk '{ printf "%d", $1 }' "$from/CK+/Emotion/$f")"
      [ "$code" = "$want" ] || continue
      seq="$(dirname "$f")"
      mkdir -p "$SMOKE/CK+/Emotion/$seq" "$SMOKE/CK+/cohn-kanade-images/$seq"
      cp "$from/CK+/Emotion/$f" "$SMOKE/CK+/Emotion/$seq/"
      cp "$from/CK+/cohn-kanade-images/$seq"/* "$SMOKE/CK+/cohn-kanade-images/$seq/"
      break
    done
  done
  touch "$SMOKE/.complete"
}

# `npm run eval -- --quick` on the smoke set; the labels it gives (FER2013 confusion matrix, the CK+
# sequences' per-frame label traces) are kept for amd64 and compared for arm64.
run_eval() {
  local log="$LOGS/eval.log" mine="$LOGS/eval-labels.json" ref="$CACHE/eval/labels-$RELEASE-amd64.json"
  if ! smoke_data; then EVAL="skipped: $SMOKE_WHY"; return; fi
  rm -rf "$M/root/smoke" "$M/root/eval-out"
  cp -a "$SMOKE" "$M/root/smoke"
  say "npm run eval -- --quick on the smoke set (log $log)"
  if ! inside "npm run eval -- --quick --limit 60 --compare none --data /root/smoke --out /root/eval-out" >"$log" 2>&1; then
    EVAL="failed: npm run eval (see $log)"
    return
  fi
  inside "node -e 'const r = JSON.parse(require(\"fs\").readFileSync(\"/root/eval-out/eval-report.json\", \"utf8\")); console.log(JSON.stringify({ fer2013: { n: r.fer2013.n, confusion: r.fer2013.confusion.matrix }, ckplus: r.ckplus.sequences.map((s) => s.trace) }))'" >"$mine" \
    || { EVAL="failed: no labels in the report"; return; }
  local n
  n="$(node -e 'const l = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`${l.fer2013.n} FER images, ${l.ckplus.length} CK+ sequences / ${l.ckplus.reduce((s, t) => s + t.length, 0)} frames`)' "$mine")"
  if [ "$ARCH" = amd64 ]; then
    cp "$mine" "$ref"
    EVAL="labels kept as the x64 reference ($n)"
  elif [ ! -f "$ref" ]; then
    EVAL="failed: no x64 reference $ref (run --release $RELEASE --arch amd64 first)"
  elif cmp -s "$mine" "$ref"; then
    EVAL="labels equal x64's ($n)"
  else
    EVAL="differ from x64's ($n; compare $mine with $ref)"
  fi
  say "eval: $EVAL"
}

# The native addons for arm64, built once per package-lock.json and cross root: `npm ci --ignore-scripts` in the
# amd64 cross root, then each package with a binding.gyp at its top (what npm would build with node-gyp) is
# compiled with aarch64-linux-gnu-g++ against libopencv-dev:arm64 and Debian's Node headers (libnode-dev, the
# same Node version as the arm64 root's). Sets ADDONS (a folder with each addon's build/ under its package
# path) and CROSS_CC. Not in a subshell: the mounts it makes must reach teardown.
cross_addons() {
  local key dir log="$LOGS/cross.log" C pkgs p old
  CROSS_CC="aarch64-linux-gnu-g++ $(chroot "$CROSS" aarch64-linux-gnu-g++ -dumpfullversion 2>/dev/null) (cross-compiled on $HOSTARCH)"
  key="$(cat "$SRC/package-lock.json" "$SRC/deploy/npm-ci.sh" <(echo "$CROSS") <(declare -f cross_addons) | sha256sum | cut -c1-12)"
  dir="$CACHE/addons/$RELEASE-$ARCH-$key"
  ADDONS="$dir"
  if [ -f "$dir/.complete" ]; then return 0; fi
  say "cross-compiling the native addons for arm64 (once; log $log)"
  for old in "$CACHE/addons/$RELEASE-$ARCH"-*; do [ -e "$old" ] && rm -rf "$old"; done
  mkdir -p "$dir.tmp"
  : >"$log"
  overlay_chroot "$CROSS" cross "$HOSTARCH"
  C="$OVL"
  bind_dir "$CACHE/downloads/npm" "$C/root/.npm"
  mkdir -p "$C/root/modules"
  cp "$SRC/package.json" "$SRC/package-lock.json" "$C/root/modules/"
  in_root "$C" "cd /root/modules && npm ci --ignore-scripts --no-audit --no-fund" >>"$log" 2>&1 || return 1
  # As deploy/npm-ci.sh builds it: the OpenCV binding sees (and links) only the modules the daemon uses.
  local mods m
  mods="$(sed -n 's/^MODULES=(\(.*\))$/\1/p' "$SRC/deploy/npm-ci.sh")"
  [ -n "$mods" ] || { echo "no MODULES=(...) in deploy/npm-ci.sh" >>"$log"; return 1; }
  mkdir -p "$C/root/opencv-libs" "$C/root/node-libs"
  for m in $mods; do ln -s "/usr/lib/aarch64-linux-gnu/libopencv_$m.so" "$C/root/opencv-libs/"; done
  # Debian's node-gyp links add-ons with -lnode: the arm64 libnode (root.sh installs it) as libnode.so.
  local libnode
  libnode="$(cd "$C/usr/lib/aarch64-linux-gnu" && compgen -G 'libnode.so.*' | sort | head -n 1)"
  [ -n "$libnode" ] || { echo "no arm64 libnode.so.* in the cross root" >>"$log"; return 1; }
  ln -s "/usr/lib/aarch64-linux-gnu/$libnode" "$C/root/node-libs/libnode.so"
  pkgs="$(cd "$C/root/modules" && { compgen -G 'node_modules/*/binding.gyp'; compgen -G 'node_modules/@*/*/binding.gyp'; } | xargs -r -n 1 dirname | sort -u)"
  for p in $pkgs; do
    echo "== $p" >>"$log"
    nice -n 10 chroot "$C" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
      OPENCV4NODEJS_DISABLE_AUTOBUILD=1 OPENCV_INCLUDE_DIR=/usr/include/opencv4 OPENCV_LIB_DIR=/root/opencv-libs \
      OPENCV_BIN_DIR=/usr/bin JOBS=max LDFLAGS=-L/root/node-libs \
      bash -c "cd /root/modules/$p && node-gyp rebuild --arch=arm64 --nodedir=/usr" >>"$log" 2>&1 || return 1
    mkdir -p "$dir.tmp/$p"
    cp -a "$C/root/modules/$p/build" "$dir.tmp/$p/" || return 1
    file -b "$dir.tmp/$p/build/Release/"*.node >>"$log" 2>&1
  done
  local binding="$dir.tmp/node_modules/@u4/opencv4nodejs/build/Release/opencv4nodejs.node" linked
  patchelf --remove-rpath "$binding" || return 1
  linked="$(readelf -d "$binding" | sed -n 's/.*NEEDED.*\[libopencv_\([a-z0-9_]*\)\.so.*/\1/p' | sort | tr '\n' ' ')"
  echo "OpenCV binding linked to: $linked" >>"$log"
  [ "$linked" = "$(printf '%s\n' $mods | sort | tr '\n' ' ')" ] || { echo "expected $mods" >>"$log"; return 1; }
  stop_inside "$C"
  echo "$pkgs" >"$dir.tmp/addons"
  touch "$dir.tmp/.complete"
  mv "$dir.tmp" "$dir"
}

# The checkout's node_modules for arm64, once per package-lock.json, arm64 root and addons: `npm ci
# --ignore-scripts` in the arm64 root (npm picks arm64's optional packages: esbuild's binary), with the
# cross-compiled addons' build/ folders put in. Sets MODS (the folder that holds node_modules).
arm64_modules() {
  local key dir log="$LOGS/modules.log" p old
  key="$(cat "$SRC/package-lock.json" <(echo "$ROOT" "$ADDONS") <(declare -f arm64_modules) | sha256sum | cut -c1-12)"
  dir="$CACHE/modules/$RELEASE-$ARCH-$key"
  MODS="$dir"
  if [ -f "$dir/.complete" ]; then return 0; fi
  say "npm ci --ignore-scripts in the arm64 root (once; log $log)"
  for old in "$CACHE/modules/$RELEASE-$ARCH"-*; do [ -e "$old" ] && rm -rf "$old"; done
  mkdir -p "$dir.tmp" "$M/root/modules"
  cp "$SRC/package.json" "$SRC/package-lock.json" "$M/root/modules/"
  in_root "$M" "cd /root/modules && npm ci --ignore-scripts --no-audit --no-fund" >"$log" 2>&1 || return 1
  for p in $(cat "$ADDONS/addons"); do
    [ -d "$M/root/modules/$p" ] || { echo "$p is not in the arm64 tree" >>"$log"; return 1; }
    cp -a "$ADDONS/$p/build" "$M/root/modules/$p/" || return 1
  done
  mv "$M/root/modules/node_modules" "$dir.tmp/" && rm -rf "$M/root/modules" || return 1
  touch "$dir.tmp/.complete"
  mv "$dir.tmp" "$dir"
}
