#!/usr/bin/env bash
# npm run check:image: runs the images deploy/image/build.sh wrote, with Debian's podman (runc, cgroupfs: crun refuses
# the hybrid cgroups of these machines; the ulimits below: podman's defaults are above what they allow), in a podman
# storage of its own (nothing is left in the host's):
#   1. the amd64 archive loaded; its size, user, entrypoint, volume and stop signal; the multi-arch index's platforms;
#   2. `podman run IMAGE demo` (network none): the events it prints, and the time from `podman run` to the first;
#   3. the daemon (`run` on the demo clip, looped) hardened as docker-compose.yml runs it (video group, read-only root, /tmp a
#      tmpfs, the state a named volume, every capability dropped, no-new-privileges), publishing to a mosquitto
#      started on the host's loopback (a free port): events arrive; `podman healthcheck run` says healthy; the state
#      volume is writable by its user, the root is not; `podman stop -t 2` (SIGTERM) ends it within 2 s, exit 0, with the
#      retained availability `offline`; its logs are JSON lines;
#   4. the arm64 image (from the multi-arch archive, --arch arm64) runs the demo under qemu-user as a Pi 4's CPU
#      (QEMU_CPU=cortex-a72) until its first face_appeared.
# Ends with "image check: ok | figures…" or "… FAILED: why"; "image check: skipped: why" (exit 0) when it cannot run
# here (not root, no podman, no image built).
# Usage: sudo deploy/image/test.sh [--dir DIR (default deploy/image/out)] [--no-arm64] [--keep]
set -uo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="$SRC/deploy/image/out" ARM64=1 KEEP_STORE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR="${2:-}"; shift 2 ;;
    --no-arm64) ARM64=0; shift ;;
    --keep) KEEP_STORE=1; shift ;;
    *) sed -n 's/^# Usage: //p' "${BASH_SOURCE[0]}" >&2; exit 64 ;;
  esac
done
skip() { echo "image check: skipped: $*"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip "needs root (podman with runc and cgroupfs, as these machines run it)"
for tool in podman runc mosquitto mosquitto_sub skopeo python3; do command -v "$tool" >/dev/null || skip "$tool not found (apt install podman runc skopeo mosquitto mosquitto-clients)"; done
AMD64="$(compgen -G "$DIR/emotiond_*_amd64.oci.tar" | sort | tail -n 1)"
MULTI="$(compgen -G "$DIR/emotiond_*_multiarch.oci.tar" | sort | tail -n 1)"
[ -n "$AMD64" ] || skip "no $DIR/emotiond_*_amd64.oci.tar (sudo npm run image)"

# shellcheck disable=SC2034 # read by lib.sh
KEEP=0 TESTS_PID="" BUILDS=() CO=/ M=""
# shellcheck source=deploy/platform/lib.sh
. "$SRC/deploy/platform/lib.sh"
HOSTARCH="$(dpkg --print-architecture)"
START=$SECONDS
RESULT="not run" FIGURES=()
WORK="$(mktemp -d /var/tmp/emotiond-imagetest.XXXXXX)"
LOGS="$WORK/logs"
mkdir -p "$LOGS"
BROKER_PID="" SUB_PID="" CONTAINERS=()
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --tmpdir "$WORK/tmp" --runtime runc --cgroup-manager=cgroupfs --events-backend=file)
RUN=(run --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
cleanup() {
  local c
  for c in "${CONTAINERS[@]}"; do "${P[@]}" rm -f -t 0 "$c" >/dev/null 2>&1; done
  [ -z "$SUB_PID" ] || kill "$SUB_PID" 2>/dev/null
  [ -z "$BROKER_PID" ] || kill "$BROKER_PID" 2>/dev/null
  wait 2>/dev/null
  if [ "$KEEP_STORE" -eq 1 ]; then
    say "kept: ${P[*]} (logs $LOGS)"
  else
    # podman's own mounts (the overlay storage, its shm) go before its folders.
    "${P[@]}" system reset -f >/dev/null 2>&1
    for m in $(awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do umount "$m" 2>/dev/null || umount -l "$m"; done
    mkdir -p /var/tmp/emotiond-imagetest-logs && cp -a "$LOGS/." /var/tmp/emotiond-imagetest-logs/
  fi
  teardown
}
trap cleanup EXIT
trap 'RESULT="interrupted"; exit 130' INT
trap 'RESULT="terminated"; exit 143' TERM
summary() {
  local f
  f="$(printf ' | %s' "${FIGURES[@]}")"
  echo "image check $(basename "$AMD64"): $RESULT$f | total $((SECONDS - START)) s"
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# 1. The image.
say "loading $(basename "$AMD64")"
"${P[@]}" load -i "$AMD64" >"$LOGS/load.log" 2>&1 || die "podman load failed: $(tail -n 3 "$LOGS/load.log" | tr '\n' ' ')"
IMAGE="$(sed -n 's/^Loaded image: //p' "$LOGS/load.log" | tail -n 1)"
[ -n "$IMAGE" ] || die "podman load named no image: $(tail -n 3 "$LOGS/load.log" | tr '\n' ' ')"
cfg="$("${P[@]}" image inspect --format '{{.Config.User}} | {{.Config.Entrypoint}} | {{.Config.Cmd}} | {{.Config.Volumes}} | {{.Config.StopSignal}} | {{.Architecture}}' "$IMAGE")"
size="$("${P[@]}" image inspect --format '{{.Size}}' "$IMAGE")"
FIGURES+=("$IMAGE: $((size / 1000000)) MB uncompressed (podman), config: $cfg")
[ $((size / 1000000)) -le 250 ] || FIGURES[-1]="${FIGURES[-1]} (OVER the 250 MB target)"
[[ "$cfg" == "10001:10001 | [/usr/bin/emotiond] | [run] | map[/var/lib/emotiond:{}] | SIGTERM | amd64" ]] || die "unexpected image config: $cfg"
if [ -n "$MULTI" ]; then
  platforms="$(skopeo inspect --raw "oci-archive:$MULTI" | node -e 'const i = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(i.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? "/" + m.platform.variant : ""}`).join(" "))')"
  FIGURES+=("$(basename "$MULTI"): index of $platforms")
  [ "$platforms" = "linux/amd64 linux/arm64/v8" ] || die "the multi-arch index lists $platforms"
fi

# 2. podman run IMAGE demo.
say "podman run $IMAGE demo (network none)"
t0="$(now)"
"${P[@]}" "${RUN[@]}" --name emotiond-demo --network none "$IMAGE" demo >"$LOGS/demo.log" 2>&1 &
demo_pid=$!
CONTAINERS+=(emotiond-demo)
wait_line 120 '"type":"face_appeared"' "$LOGS/demo.log" "$demo_pid" || die "podman run $IMAGE demo printed no face_appeared in 120 s: $(tail -n 5 "$LOGS/demo.log" | tr '\n' ' ')"
FIRST="$(secs "$t0" "$AT")"
# The clip is 20 s: the demo ends with it.
timeout 120 tail --pid="$demo_pid" -f /dev/null
wait "$demo_pid"
rc=$?
counts="$(grep -o '"type":"[a-z_]*"' "$LOGS/demo.log" | sort | uniq -c | awk '{ sub(/"type":/, "", $2); gsub(/"/, "", $2); printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')"
FIGURES+=("podman run IMAGE demo: exit $rc, first face_appeared $FIRST s after podman run; printed $counts")
[ "$rc" -eq 0 ] || die "the demo exited $rc (see $LOGS/demo.log)"
awk -v f="$FIRST" 'BEGIN { exit !(f <= 10) }' || FIGURES[-1]="${FIGURES[-1]} (OVER the 10 s target)"
"${P[@]}" rm -f emotiond-demo >/dev/null 2>&1

# 3. The hardened daemon against a mosquitto on the host's loopback.
PORT="$(free_port)" HPORT="$(free_port)"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$PORT" >"$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" >"$LOGS/mosquitto.log" 2>&1 &
BROKER_PID=$!
wait_line 10 'running' "$LOGS/mosquitto.log" || die "mosquitto did not start on 127.0.0.1:$PORT: $(tail -n 3 "$LOGS/mosquitto.log")"
mosquitto_sub -h 127.0.0.1 -p "$PORT" -v -t 'emotiond/image-test/#' >"$LOGS/mqtt.log" 2>&1 &
SUB_PID=$!
say "podman run (hardened, network host) $IMAGE run on the demo clip -> mqtt://127.0.0.1:$PORT"
DAEMON=(--source /usr/lib/emotiond/deploy/demo/demo-faces.avi --source-loop true --device-id image-test
  --mqtt-url "mqtt://127.0.0.1:$PORT" --http-enabled true --http-port "$HPORT")
t0="$(now)"
"${P[@]}" "${RUN[@]}" -d --name emotiond-hardened --network host --read-only --tmpfs /tmp --volume emotiond-test-state:/var/lib/emotiond \
  --cap-drop ALL --security-opt no-new-privileges --group-add 44 --health-cmd emotiond-healthcheck --health-interval disable \
  "$IMAGE" run "${DAEMON[@]}" >"$LOGS/hardened.id" 2>&1 || die "podman run -d failed: $(cat "$LOGS/hardened.id")"
CONTAINERS+=(emotiond-hardened)
wait_line 60 'emotiond/image-test/events .*"type":"face_appeared"' "$LOGS/mqtt.log" \
  || die "no face_appeared on emotiond/image-test/events in 60 s: $("${P[@]}" logs --tail 5 emotiond-hardened 2>&1 | tr '\n' ' ')"
FIGURES+=("hardened run -> mosquitto: first face_appeared on MQTT $(secs "$t0" "$AT") s after podman run")
grep -q '^emotiond/image-test/availability {"state":"online"}' "$LOGS/mqtt.log" || die "no availability online on MQTT"
sleep 3 # /healthz is refreshed every second
health="$("${P[@]}" healthcheck run emotiond-hardened 2>&1)"
hc=$?
detail="$("${P[@]}" exec emotiond-hardened emotiond-healthcheck 2>&1 | cut -c1-160)"
FIGURES+=("podman healthcheck run: exit $hc ${health:-healthy} ($detail)")
[ "$hc" -eq 0 ] || die "podman healthcheck run: $health $detail"
ids="$("${P[@]}" exec emotiond-hardened sh -c 'id; grep ^Cap[EPB] /proc/1/status | tr "\n" " "; touch /usr/x 2>&1; touch /var/lib/emotiond/probe && ls -ln /var/lib/emotiond && rm /var/lib/emotiond/probe; grep NoNewPrivs /proc/1/status' 2>&1)"
echo "$ids" >"$LOGS/inside.log"
grep -q 'uid=10001(emotiond) gid=10001(emotiond) groups=.*44(video)' <<<"$ids" || die "the container's user: $ids"
grep -q 'Read-only file system' <<<"$ids" || die "the root file system is writable: $ids"
grep -q 'CapEff:.0000000000000000' <<<"$ids" || die "capabilities left: $ids"
grep -q ' 10001 10001 .* probe$' <<<"$ids" || die "the state volume is not writable by the image's user: $ids"
grep -q 'NoNewPrivs:.1' <<<"$ids" || die "no-new-privileges is off: $ids"
FIGURES+=("inside: $(head -n 1 <<<"$ids"); root file system read-only; CapEff 0; NoNewPrivs 1; /var/lib/emotiond (volume) writable by uid 10001")
say "podman stop -t 2 (SIGTERM)"
t0="$(now)"
"${P[@]}" stop -t 2 emotiond-hardened >/dev/null 2>&1
STOP="$(secs "$t0" "$(now)")"
code="$("${P[@]}" inspect --format '{{.State.ExitCode}}' emotiond-hardened)"
sleep 1
last="$(grep '^emotiond/image-test/availability ' "$LOGS/mqtt.log" | tail -n 1)"
retained="$(timeout 5 mosquitto_sub -h 127.0.0.1 -p "$PORT" -C 1 -t emotiond/image-test/availability 2>&1)"
FIGURES+=("podman stop -t 2: $STOP s, exit $code, availability last published ${last#* }, retained $retained")
[ "$code" -eq 0 ] || die "the daemon exited $code on SIGTERM (137: killed after the 2 s)"
awk -v s="$STOP" 'BEGIN { exit !(s <= 2) }' || die "podman stop took $STOP s"
[ "$retained" = '{"state":"offline"}' ] || die "retained availability after the stop: $retained"
"${P[@]}" logs emotiond-hardened >"$LOGS/hardened.log" 2>&1
jl="$(grep -c '^{"level"' "$LOGS/hardened.log")"
bad="$(grep -v '^{' "$LOGS/hardened.log" | head -n 3)"
FIGURES+=("podman logs: $jl JSON log lines$([ -z "$bad" ] || echo ", and non-JSON: $bad")")
[ "$jl" -gt 0 ] || die "no JSON log lines in podman logs"

# 4. The arm64 image under qemu-user as a Pi 4.
if [ "$ARM64" -eq 1 ] && [ -n "$MULTI" ]; then
  if [ "$HOSTARCH" != arm64 ]; then binfmt_arm64 || die "cannot run arm64 binaries: $BINFMT_WHY"; fi
  say "the arm64 image from $(basename "$MULTI"), demo under QEMU_CPU=$EMU_CPU"
  "${P[@]}" pull --arch arm64 "oci-archive:$MULTI" >"$LOGS/pull-arm64.log" 2>&1 || die "podman pull --arch arm64 failed: $(tail -n 3 "$LOGS/pull-arm64.log")"
  ARM_IMAGE="$(tail -n 1 "$LOGS/pull-arm64.log")"
  arch="$("${P[@]}" image inspect --format '{{.Architecture}} {{.Size}}' "$ARM_IMAGE")"
  t0="$(now)"
  # Under qemu-user, ONNX Runtime's cpuinfo reads the host's x86 CPU topology in /sys and segfaults (lib.sh does not
  # mount /sys in emulated roots for the same reason): masked here. A real arm64 machine needs no such thing.
  "${P[@]}" "${RUN[@]}" --name emotiond-arm64 --network none --security-opt mask=/sys/devices/system/cpu --env QEMU_CPU="$EMU_CPU" "$ARM_IMAGE" demo >"$LOGS/demo-arm64.log" 2>&1 &
  arm_pid=$!
  CONTAINERS+=(emotiond-arm64)
  wait_line 300 '"type":"face_appeared"' "$LOGS/demo-arm64.log" "$arm_pid" || die "the arm64 demo printed no face_appeared in 300 s: $(tail -n 5 "$LOGS/demo-arm64.log" | tr '\n' ' ')"
  machine="$("${P[@]}" exec emotiond-arm64 /usr/lib/emotiond/node/bin/node -p 'process.arch' 2>&1)"
  FIGURES+=("arm64 image (${arch%% *}, $((${arch##* } / 1000000)) MB; node process.arch $machine) under QEMU_CPU=$EMU_CPU: first face_appeared $(secs "$t0" "$AT") s after podman run (emulated)")
  "${P[@]}" stop -t 5 emotiond-arm64 >/dev/null 2>&1
  wait "$arm_pid" 2>/dev/null
fi
RESULT=ok
