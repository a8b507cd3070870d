#!/usr/bin/env bash
# Installs a built emotiond Debian package the way a user would, `apt install ./emotiond_….deb`, on fresh Debian
# roots of its release (deploy/platform/root.sh, cached; each run in a throw-away overlay), and checks it:
#   amd64  1. cold: a root with systemd and mosquitto but nothing of emotiond's and an empty apt cache: apt install
#             (it downloads what the package depends on), then `emotiond demo` until its first face_appeared event:
#             the time from apt install to that event, the packages apt pulled and their size, and that none is a
#             compiler, a -dev package, Python or npm. The demo is run again with the deterministic flags below,
#             and its labels kept as the x86 reference for the arm64 packages.
#          2. warm: the same in a fresh overlay, apt's package cache filled.
#          3. service: the root booted with systemd-nspawn (private network, its own mosquitto), and
#             deploy/package/service-checks.sh in it: an older version installed, enabled and started; the config
#             edited; the upgrade keeping it; deploy/live/checks.sh's live checks; remove; purge. The time from
#             apt install (warm, with the service started by it) to the demo's first face_appeared, again.
#          --quick (CI): 1 only, on a minimal root (no systemd); the demo must print face_appeared.
#   arm64  under qemu-user, in a minimal root: apt install, then the demo under each --cpu (default: cortex-a72, a
#          Pi 4; cortex-a53, a Pi 3 / Zero 2 W) with the deterministic flags; its labels must equal the amd64
#          package's of the same release (test that one first). Emulated timings mean nothing for a real Pi.
# The deterministic demo: `emotiond demo --source-pace none --detector-budget-ms 1000 --http-enabled false` (every
# frame, the whole sweep each time: no result depends on how fast the CPU is). Its labels: each event's type, track
# and emotion (face events) or dominant emotion (room summaries).
# Ends with one summary line: "package RELEASE/ARCH: ok | …" or "… FAILED: why".
# Usage: sudo deploy/package/test.sh --deb FILE [--prev-deb FILE] [--quick] [--cpu NAME]... [--cache DIR]
#   --prev-deb  an older version of the same package, for the upgrade check (amd64, not --quick)
set -uo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=deploy/lib/package-names.sh
. "$SRC/deploy/lib/package-names.sh"
DEB="" PREV_DEB="" QUICK=0 CPUS=() CACHE=/var/cache/emotiond-package
usage() { sed -n '/^# Usage:/,/^#   --prev-deb/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 64; }
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) DEB="${2:-}"; shift 2 ;;
    --prev-deb) PREV_DEB="${2:-}"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --cpu) CPUS+=("${2:-}"); shift 2 ;;
    --cache) CACHE="${2:-}"; shift 2 ;;
    *) usage ;;
  esac
done
[ -f "$DEB" ] || usage
DEB="$(readlink -f "$DEB")"
ARCH="$(dpkg-deb -f "$DEB" Architecture)"
VERSION="$(dpkg-deb -f "$DEB" Version)"
RELEASE="$(deb_release "$VERSION")" || { echo "test.sh: $VERSION names no release (+deb12, +deb13)" >&2; exit 64; }
[ "${#CPUS[@]}" -gt 0 ] || CPUS=(cortex-a72 cortex-a53)
DEMO_FLAGS="--source-pace none --detector-budget-ms 1000 --http-enabled false"

# shellcheck disable=SC2034 # read by lib.sh
KEEP=0 TESTS_PID="" BUILDS=() CO=/root M=""
# shellcheck source=deploy/platform/lib.sh
. "$SRC/deploy/platform/lib.sh"
# shellcheck source=deploy/lib/nspawn.sh
. "$SRC/deploy/lib/nspawn.sh"
HOSTARCH="$(dpkg --print-architecture)"
START=$SECONDS
RESULT="not run" FIGURES=()
summary() {
  local f
  f="$(printf ' | %s' "${FIGURES[@]}")"
  echo "package $RELEASE/$ARCH $(basename "$DEB"): $RESULT$f | total $((SECONDS - START)) s"
}
# A check that fails before there is anything to tear down still prints its summary line (check.sh reads it).
trap summary EXIT

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, mounts, chroot, systemd-nspawn)"
for tool in debootstrap chroot unshare ip node; do command -v "$tool" >/dev/null || die "$tool not found"; done
if [ "$ARCH" = arm64 ] && [ "$HOSTARCH" != arm64 ]; then binfmt_arm64 || die "cannot run arm64 binaries: $BINFMT_WHY"; fi
LOGS="$CACHE/logs/test-$RELEASE-$ARCH"
ARCHIVES="$CACHE/downloads/apt-$RELEASE-$ARCH"
mkdir -p "$LOGS" "$ARCHIVES" "$CACHE/labels"
WORK="$(mktemp -d /var/tmp/emotiond-pkgtest.XXXXXX)"
# shellcheck disable=SC2034
NSPAWN_PID="" # set by nspawn_boot, read by nspawn_stop
# The booted container first (nspawn powers it off), then lib.sh's teardown (processes, mounts, the summary line).
trap 'nspawn_stop; teardown' EXIT
trap 'RESULT="interrupted"; exit 130' INT
trap 'RESULT="terminated"; exit 143' TERM

# apt_figures LOG: what an apt-get install said it would do, as "PACKAGES|DOWNLOAD|DISK" ("253|165 MB|814 MB").
apt_figures() {
  printf '%s|%s|%s\n' \
    "$(sed -n 's/^\([0-9]*\) upgraded, \([0-9]*\) newly installed.*/\2/p' "$1")" \
    "$(sed -n 's/^Need to get \([^ ]* [kMG]*B\).*/\1/p' "$1" | tail -n 1)" \
    "$(sed -n 's/^After this operation, \([^ ]* [kMG]*B\) of additional.*/\1/p' "$1" | tail -n 1)"
}

# A fresh overlay over the cached root of KIND; the package (and the older one) at /root. Sets R.
N=0
fresh() {
  local kind="$1" root
  root="$(bash "$SRC/deploy/platform/root.sh" "$CACHE" "$RELEASE" "$ARCH" "$kind" "$SRC")" || die "could not build the $RELEASE/$ARCH $kind root (see $CACHE/logs)"
  N=$((N + 1))
  overlay_chroot "$root" "r$N" "$ARCH"
  R="$OVL"
  cp "$DEB" "$R/root/"
  [ -z "$PREV_DEB" ] || cp "$PREV_DEB" "$R/root/"
}
# apt-get in root $1 (non-interactive, as `apt install` with its defaults: Recommends too).
apt_in() {
  local r="$1"
  shift
  in_root "$r" "DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 $*" </dev/null
}
# `emotiond ARGS` in root $1 as CPU $2, in a network namespace of its own (the demo's broker and page ports stay
# inside), output to file $3; in the background (sets PID).
emotiond_in() {
  local r="$1" cpu="$2" out="$3"
  shift 3
  unshare --net -- bash -c 'ip link set lo up && exec nice -n 10 chroot "$1" /usr/bin/env -i QEMU_CPU="$2" PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 emotiond "${@:3}"' \
    _ "$r" "$cpu" "$@" >"$out" 2>&1 &
  PID=$!
}
# The labels of a demo's output: type, track and emotion of each event (emotion_changed: the new one) (file $2); and the probabilities and shares
# they carry (file $3), which are compared too but only reported.
labels_of() {
  node -e 'const fs = require("fs"); const labels = [], numbers = [];
  for (const l of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
    if (!l.startsWith("{")) continue;
    let e; try { e = JSON.parse(l); } catch { continue; }
    if (!e.type || e.type === "camera" || e.level !== undefined) continue;
    labels.push([e.type, e.track ?? "-", e.emotion ?? e.after ?? e.dominant ?? "-"].join(" "));
    numbers.push(e.scores ?? e.shares ?? {});
  }
  fs.writeFileSync(process.argv[2], labels.map((l) => l + "\n").join(""));
  fs.writeFileSync(process.argv[3], JSON.stringify(numbers) + "\n");' "$1" "$2" "$3"
}
# "equal", or the largest difference between two files of labels_of's numbers.
numbers_diff() {
  node -e 'const [a, b] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
  if (a.length !== b.length) { console.log(`${a.length} against ${b.length} events`); process.exit(); }
  let d = 0; a.forEach((x, i) => { for (const k of new Set([...Object.keys(x), ...Object.keys(b[i])])) d = Math.max(d, Math.abs((x[k] ?? NaN) - (b[i][k] ?? NaN))); });
  console.log(d === 0 ? "equal" : `differ by at most ${+d.toFixed(6)}`);' "$1" "$2"
}
# The deterministic demo in root $1 as CPU $2, to its end; its labels into file $3.
demo_labels() {
  local out="$LOGS/demo-labels-$2.log"
  emotiond_in "$1" "$2" "$out" demo $DEMO_FLAGS
  wait "$PID" || { DEMO_WHY="emotiond demo exited $? (see $out)"; return 1; }
  labels_of "$out" "$3" "${3%.txt}.numbers.json"
  grep -q '^face_appeared ' "$3" || { DEMO_WHY="no face_appeared in the demo (see $out)"; return 1; }
}

# apt install ./DEB in root $1 and the plain `emotiond demo` to its first face_appeared. Sets TTF (seconds) and
# leaves apt's log in $2.
install_to_face() {
  local r="$1" log="$2" t0
  t0="$(now)"
  apt_in "$r" "install ./$(basename "$DEB")" >"$log" 2>&1 || die "apt install failed: $(tail -n 5 "$log" | tr '\n' ' ')"
  emotiond_in "$r" "$ARCH" "$log.demo" demo
  wait_line 300 '"type":"face_appeared"' "$log.demo" "$PID" || die "emotiond demo printed no face_appeared (see $log.demo)"
  TTF="$(secs "$t0" "$AT")"
  stop_inside "$r"
}

if [ "$ARCH" = amd64 ]; then
  KIND=boot ROOT_DESC="debootstrap minbase + systemd, dbus, mosquitto"
  [ "$QUICK" -eq 0 ] || KIND=bare ROOT_DESC="debootstrap minbase"
  # 1. cold: nothing cached.
  say "cold: apt install ./$(basename "$DEB") in a fresh $RELEASE root ($KIND), then emotiond demo"
  fresh "$KIND"
  C="$R"
  apt_in "$C" update >"$LOGS/apt-update.log" 2>&1 || die "apt-get update failed (see $LOGS/apt-update.log)"
  in_root "$C" "dpkg-query -W -f='\${Package}\n' | sort" >"$WORK/before"
  # What it would pull without Recommends (apt asks, is told no, and says what it would have done).
  in_root "$C" "DEBIAN_FRONTEND=noninteractive apt-get -q --no-install-recommends --assume-no install ./$(basename "$DEB")" >"$LOGS/apt-norecommends.log" 2>&1 </dev/null
  install_to_face "$C" "$LOGS/apt-cold.log"
  COLD="$TTF"
  IFS="|" read -r pulled get disk < <(apt_figures "$LOGS/apt-cold.log")
  in_root "$C" "dpkg-query -W -f='\${Package}\n' | sort" >"$WORK/after"
  comm -13 "$WORK/before" "$WORK/after" >"$LOGS/pulled.txt"
  bad="$(grep -E '^(gcc|g\+\+|cpp|clang|binutils|make|python3|libpython|npm|nodejs|node-)|-dev$' "$LOGS/pulled.txt" | tr '\n' ' ')"
  [ -z "$bad" ] || die "apt install pulled $bad"
  IFS="|" read -r nr nr_get nr_disk < <(apt_figures "$LOGS/apt-norecommends.log")
  FIGURES+=("apt install pulled $pulled packages (emotiond + $((pulled - 1)); download $get, +$disk on disk; no compiler, -dev, Python or npm; root: $ROOT_DESC; --no-install-recommends: $nr packages, $nr_get, +$nr_disk)")
  FIGURES+=("apt install -> first face_appeared: cold $COLD s")
  TIMES=$((${#FIGURES[@]} - 1))
  # Copies of what apt downloaded: the warm runs and the arm64 tests' cache.
  cp -n "$C"/var/cache/apt/archives/*.deb "$ARCHIVES/" 2>/dev/null
  say "the deterministic demo, labels as the x86 reference"
  demo_labels "$C" "$ARCH" "$CACHE/labels/$RELEASE-amd64.txt" || die "$DEMO_WHY"
  FIGURES+=("demo labels kept as x86's reference ($(wc -l <"$CACHE/labels/$RELEASE-amd64.txt") events, $(grep -c '^face_appeared' "$CACHE/labels/$RELEASE-amd64.txt") face_appeared)")
  stop_inside "$C"

  if [ "$QUICK" -eq 0 ]; then
    # 2. warm: apt's cache filled.
    say "warm: the same in a fresh overlay with apt's cache filled"
    fresh "$KIND"
    bind_dir "$ARCHIVES" "$R/var/cache/apt/archives"
    apt_in "$R" update >"$LOGS/apt-update.log" 2>&1 || die "apt-get update failed"
    install_to_face "$R" "$LOGS/apt-warm.log"
    FIGURES[TIMES]="${FIGURES[TIMES]}, warm $TTF s (chroot, no systemd)"

    # 3. the service under systemd.
    [ -n "$PREV_DEB" ] || die "--prev-deb is needed for the service checks (the upgrade)"
    say "service: the root booted with systemd-nspawn, deploy/package/service-checks.sh"
    fresh "$KIND"
    S="$R"
    bind_dir "$ARCHIVES" "$S/var/cache/apt/archives"
    # The container has no network (its own mosquitto on 1883 stays inside): apt's lists and every package are
    # fetched before it boots, as if the machine had been online.
    apt_in "$S" update >"$LOGS/apt-update.log" 2>&1 || die "apt-get update failed"
    apt_in "$S" "install --download-only ./$(basename "$DEB") ./$(basename "$PREV_DEB")" >"$LOGS/apt-download.log" 2>&1 || die "apt download failed"
    mkdir -p "$S/root/live"
    cp "$SRC/deploy/live/checks.sh" "$SRC/deploy/package/service-checks.sh" "$S/root/live/"
    # nspawn boots the overlay itself: the chroot mounts go first.
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
      case "${MOUNTS[$i]}" in "$S"/?*) umount -R "${MOUNTS[$i]}" 2>/dev/null || umount -R -l "${MOUNTS[$i]}" ;; esac
    done
    rm -f "$S/etc/resolv.conf"
    nspawn_boot "$S" "$LOGS/nspawn.log" "emotiond-pkg-$$" --bind="$ARCHIVES:/var/cache/apt/archives" || die "$NSPAWN_WHY"
    inside_s() { nspawn_inside "$@"; }
    # The time from apt install to the first face_appeared here includes the service's start (postinst).
    t0="$(now)"
    inside_s bash -c "cd /root && DEBIAN_FRONTEND=noninteractive apt-get -y -q install ./$(basename "$DEB") </dev/null" >"$LOGS/apt-booted.log" 2>&1 \
      || die "apt install in the booted container failed (see $LOGS/apt-booted.log)"
    inside_s timeout 300 emotiond demo >"$LOGS/apt-booted.log.demo" 2>&1 &
    PID=$!
    wait_line 300 '"type":"face_appeared"' "$LOGS/apt-booted.log.demo" "$PID" || die "emotiond demo printed no face_appeared in the container"
    BOOTED_TTF="$(secs "$t0" "$AT")"
    # The clip is 20 s long: the demo ends with it.
    wait "$PID" 2>/dev/null
    inside_s bash -c "DEBIAN_FRONTEND=noninteractive apt-get -y -q purge emotiond </dev/null" >>"$LOGS/apt-booted.log" 2>&1 || die "purge before the service checks failed"
    FIGURES[TIMES]="${FIGURES[TIMES]}, warm $BOOTED_TTF s (booted, with the service started by apt)"
    inside_s timeout 1200 env DEB="/root/$(basename "$DEB")" PREV_DEB="/root/$(basename "$PREV_DEB")" bash /root/live/service-checks.sh \
      | tee "$LOGS/service-checks.log" >&2 &
    wait $!
    passed="$(grep -c '^ok ' "$LOGS/service-checks.log")"
    failed="$(grep -c '^not ok ' "$LOGS/service-checks.log")"
    grep -q '^checks done$' "$LOGS/service-checks.log" || failed=$((failed + 1))
    nspawn_stop
    FIGURES+=("service checks under $(grep -o 'systemd [0-9]*' "$LOGS/service-checks.log" | head -n 1): $passed passed, $failed failed")
    [ "$failed" -eq 0 ] || die "service checks: $(grep '^not ok' "$LOGS/service-checks.log" | head -n 3 | tr '\n' ' ')"
  fi
else
  # arm64 under qemu-user: the minimal root, apt's cache kept between runs (unpacking is the slow part).
  say "apt install ./$(basename "$DEB") in a fresh emulated $RELEASE/arm64 root (QEMU_CPU=$EMU_CPU)"
  ref="$CACHE/labels/$RELEASE-amd64.txt"
  [ -f "$ref" ] || die "no x86 labels $ref: test the $RELEASE amd64 package first"
  fresh bare
  bind_dir "$ARCHIVES" "$R/var/cache/apt/archives"
  t0="$(now)"
  apt_in "$R" update >"$LOGS/apt-update.log" 2>&1 || die "apt-get update failed (see $LOGS/apt-update.log)"
  apt_in "$R" "install ./$(basename "$DEB")" >"$LOGS/apt.log" 2>&1 || die "apt install failed (see $LOGS/apt.log)"
  IFS="|" read -r pulled _ < <(apt_figures "$LOGS/apt.log")
  FIGURES+=("apt install (emulated, $EMU_CPU) $(secs "$t0" "$(now)") s, $pulled packages")
  for cpu in "${CPUS[@]}"; do
    say "emotiond demo $DEMO_FLAGS as $cpu"
    t0="$(now)"
    demo_labels "$R" "$cpu" "$LOGS/labels-$cpu.txt" || die "$cpu: $DEMO_WHY"
    if cmp -s "$LOGS/labels-$cpu.txt" "$ref"; then
      FIGURES+=("$cpu: demo labels equal x86's ($(wc -l <"$ref") events: $(cut -d' ' -f1,3 "$ref" | sort | uniq -c | awk '{ printf "%s%s %s x%s", (NR > 1 ? ", " : ""), $2, $3, $1 }'); probabilities $(numbers_diff "$LOGS/labels-$cpu.numbers.json" "${ref%.txt}.numbers.json"); $(secs "$t0" "$(now)") s emulated)")
    else
      FIGURES+=("$cpu: demo labels DIFFER from x86's (diff $LOGS/labels-$cpu.txt $ref)")
      RESULT="FAILED: $cpu labels differ from x86's"
    fi
  done
fi
[ "$RESULT" = "not run" ] && RESULT=ok
[ "$RESULT" = ok ]
