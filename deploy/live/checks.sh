#!/usr/bin/env bash
# Runs inside the container that deploy/test-live.sh boots (systemd 252 as PID 1): installs the checkout at
# $CHECKOUT with its own deploy/install.sh, as the README says, and checks the real service. One line per
# check, "ok - NAME (detail)" or "not ok - NAME: why"; the last line is "checks done". Sourced, it defines the
# checks only (deploy/package/service-checks.sh runs them against the installed Debian package).
# shellcheck disable=SC2015 # "A && B || { fail; }": fail when any condition does not hold, as meant
# No pipefail: "journalctl | grep -q" ends journalctl early (SIGPIPE), which pipefail would call a failure.
set -u

CHECKOUT="${CHECKOUT:-/home/user/emotiond}"
CLIP="${CLIP:-/usr/local/share/emotiond-live/demo-faces.avi}"
PASSWORD="live-$RANDOM$RANDOM$RANDOM"
WATCHER=(-h localhost -u watcher -P watcher-secret)
T="$(mktemp -d)"

# --- helpers ---------------------------------------------------------------------------------------------

# check NAME FUNCTION: the function's last output line is the detail; its exit status, the verdict.
check() {
  local name="$1" started=$SECONDS rc
  shift
  "$@" >"$T/out" 2>&1
  rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "ok - $name ($(tail -n 1 "$T/out"); $((SECONDS - started)) s)"
  else
    echo "not ok - $name: $(tail -n 8 "$T/out" | tr '\n' ' ')"
  fi
}
# wait_for SECONDS COMMAND...: polls the command every half second.
wait_for() {
  local until=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$until" ] || return 1
    sleep 0.5
  done
}
prop() { systemctl show -p "$2" --value "$1"; }
is() { [ "$(prop "$1" "$2")" = "$3" ]; }
cursor() { journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p'; }
# Journal lines after a cursor, message text only.
since() { local c="$1"; shift; journalctl -q --no-pager -o cat --after-cursor="$c" "$@"; }
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$(prop "$1" MainPID)/status"; }
ms() { date +%s%3N; }
config() {
  cat >"$1" <<EOF
{
  "device": { "id": "$2" },
  "source": { "uri": "$CLIP", "loop": true, "pace": "realtime" },
  "mqtt": { "url": "mqtt://localhost:1883", "username": "emotiond", "password_file": "mqtt_password", "discovery": false },
  "log": { "level": "info", "pretty": "no" }
}
EOF
  chmod 0644 "$1"
}
# A retained message on TOPIC that matches PATTERN arrives within SECONDS.
retained() { mosquitto_sub "${WATCHER[@]}" -t "$1" -C 1 -W "$3" | grep -q "$2"; }

# --- the broker and the configuration, as an admin would set them up -------------------------------------

broker() {
  mosquitto_passwd -c -b /etc/mosquitto/live.passwd emotiond "$PASSWORD" &&
    mosquitto_passwd -b /etc/mosquitto/live.passwd watcher watcher-secret &&
    chown root:mosquitto /etc/mosquitto/live.passwd && chmod 0640 /etc/mosquitto/live.passwd &&
    printf 'listener 1883\nallow_anonymous false\npassword_file /etc/mosquitto/live.passwd\n' >/etc/mosquitto/conf.d/live.conf &&
    systemctl restart mosquitto &&
    wait_for 10 mosquitto_pub "${WATCHER[@]}" -t probe -m up || return 1
  # Anonymous clients are refused: a daemon that connects has the password.
  if mosquitto_pub -h localhost -t probe -m anon 2>/dev/null; then
    echo "the broker takes anonymous clients"
    return 1
  fi
  echo "mosquitto $(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version \([^ ]*\).*/\1/p'), password required"
}

install_first() {
  [ "$(stat -c %u "$CHECKOUT/dist/src/cli/main.js")" = 1000 ] || { echo "the checkout is not uid 1000's"; return 1; }
  mkdir -p /etc/emotiond
  config /etc/emotiond/config.json live
  (umask 077 && printf %s "$PASSWORD" >/etc/emotiond/mqtt_password)
  (cd "$CHECKOUT" && deploy/install.sh --skip-build --skip-deps) >"$T/install1.log" 2>&1 || { tail -n 8 "$T/install1.log"; return 1; }
  systemctl -q is-enabled emotiond && systemctl -q is-active emotiond || { tail -n 8 "$T/install1.log"; return 1; }
  echo "installed, enabled and started from a checkout of uid 1000"
}

# --- issue 13 item 1: the program is root's -----------------------------------------------------------------

root_owned() {
  local bad
  bad="$(find /opt/emotiond /usr/local/bin/emotiond /etc/systemd/system/emotiond.service /etc/systemd/system/emotiond@.service \
    \( ! -uid 0 -o ! -gid 0 -o \( ! -type l -perm /022 \) \) -printf '%p %u:%g %m\n' | head -n 5)"
  [ -z "$bad" ] || { echo "$bad"; return 1; }
  echo "$(find /opt/emotiond | wc -l) entries under /opt/emotiond, all root:root, none group- or other-writable"
}

# --- issue 15: start, READY, STATUS, events, credentials -----------------------------------------------------

ready() {
  systemctl stop emotiond || return 1
  systemctl start emotiond || return 1
  # Read at once: Type=notify makes `systemctl start` return when READY=1 (with its STATUS=) arrived.
  local state status t0 t1
  state="$(prop emotiond ActiveState)"
  status="$(prop emotiond StatusText)"
  t0="$(prop emotiond ExecMainStartTimestampMonotonic)"
  t1="$(prop emotiond ActiveEnterTimestampMonotonic)"
  [ "$state" = active ] && [ -n "$status" ] && [ "$t1" -gt "$t0" ] || { echo "state $state, status '$status'"; return 1; }
  echo "systemctl start returned $(((t1 - t0) / 1000)) ms after exec, at READY; STATUS '$status'"
}

events() {
  local msg
  msg="$(mosquitto_sub "${WATCHER[@]}" -v -t emotiond/live/events -t 'emotiond/live/faces/+' -C 1 -W 90)" || {
    echo "no event in 90 s; retained: $(mosquitto_sub "${WATCHER[@]}" -v -t 'emotiond/live/#' -W 2 | cut -c1-100 | tr '\n' ' ')"
    echo "journal: $(journalctl -q -o cat -u emotiond -n 4 | cut -c1-160 | tr '\n' ' ')"
    return 1
  }
  grep -q '"track"' <<<"$msg" || { echo "$msg"; return 1; }
  echo "${msg:0:110}"
}

credential() {
  local pid
  pid="$(prop emotiond MainPID)"
  retained emotiond/live/availability '"online"' 10 || { echo "not online on the broker"; return 1; }
  grep -q "$PASSWORD" /etc/emotiond/config.json /proc/"$pid"/environ /proc/"$pid"/cmdline && { echo "the password is in the config, environment or command line"; return 1; }
  [ "$(stat -c '%a %U' /etc/emotiond/mqtt_password)" = "600 root" ] || { echo "mqtt_password is $(stat -c '%a %U' /etc/emotiond/mqtt_password)"; return 1; }
  [ "$(cat /run/credentials/emotiond.service/mqtt_password)" = "$PASSWORD" ] || { echo "no credential in /run/credentials/emotiond.service"; return 1; }
  grep -qz '^CREDENTIALS_DIRECTORY=' /proc/"$pid"/environ || { echo "no CREDENTIALS_DIRECTORY"; return 1; }
  echo "connected with the password in \$CREDENTIALS_DIRECTORY; not in the config, environment or command line"
}

# --- issue 13 item 7: journal priorities and onnxruntime's cpuinfo ---------------------------------------------

warnings() {
  local c
  c="$(cursor)"
  # The broker goes away: the daemon warns and queues, then reconnects.
  systemctl stop mosquitto
  wait_for 20 sh -c "journalctl -q -o cat -u emotiond -p warning --after-cursor='$c' | grep -q '\"level\":40'"
  local seen=$?
  systemctl start mosquitto
  [ "$seen" -eq 0 ] || { echo "journalctl -u emotiond -p warning shows no daemon warning: $(since "$c" -u emotiond | tail -n 3)"; return 1; }
  local bad
  bad="$(journalctl -q -o cat -u emotiond -p warning | grep -c '"level":[123]0' || true)"
  [ "$bad" -eq 0 ] || { echo "$bad info/debug lines at priority warning or above"; return 1; }
  journalctl -q -o cat -u emotiond -p info..info | grep -q '"level":30' || { echo "no info line at priority 6"; return 1; }
  journalctl -q -o cat -u emotiond | grep -q '^<[0-7]>' && { echo "a <N> prefix was stored in a message"; return 1; }
  wait_for 30 retained emotiond/live/availability '"online"' 5 || { echo "did not reconnect"; return 1; }
  echo "$(since "$c" -u emotiond -p warning | grep '"level":40' | grep -o '"module":"[^"]*"\|"msg":"[^"]*"' | head -n 2 | tr '\n' ' ')at priority 4"
}

no_cpuinfo_errors() {
  local n
  journalctl -q -o cat -u emotiond | grep -q '"msg":"model loaded"' || { echo "no model loaded yet"; return 1; }
  n="$(journalctl -q -o cat -u emotiond | grep -c -e 'Error in cpuinfo' -e 'cpuinfo_initialize failed' -e 'Unknown CPU vendor' || true)"
  [ "$n" -eq 0 ] || { echo "$n cpuinfo error lines"; return 1; }
  echo "$(journalctl -q -o cat -u emotiond | grep -c '"msg":"model loaded"') model loads, no cpuinfo errors"
}

security() {
  local score
  score="$(systemd-analyze security --no-pager emotiond.service | sed -n 's/.*Overall exposure level for emotiond.service: \([0-9.]*\).*/\1/p')"
  [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { echo "exposure '$score' > 2.0"; return 1; }
  echo "live exposure $score (DevicePolicy= unenforced here: cgroup v1 in a container)"
}

# --- issue 15: restarts, watchdog, stop ------------------------------------------------------------------------

kill9() {
  local pid n
  pid="$(prop emotiond MainPID)" n="$(prop emotiond NRestarts)"
  kill -KILL "$pid"
  wait_for 40 sh -c "[ \$(systemctl show -p NRestarts --value emotiond) -gt $n ] && systemctl -q is-active emotiond" || { echo "not restarted"; return 1; }
  echo "pid $pid killed, restarted as $(prop emotiond MainPID)"
}

watchdog() {
  local pid n c started=$SECONDS
  pid="$(prop emotiond MainPID)" n="$(prop emotiond NRestarts)" c="$(cursor)"
  kill -STOP "$pid"
  wait_for 100 sh -c "[ \$(systemctl show -p NRestarts --value emotiond) -gt $n ] && systemctl -q is-active emotiond" || { echo "not restarted: $(since "$c" -u emotiond | tail -n 3)"; return 1; }
  since "$c" -u emotiond | grep -q 'Watchdog timeout' || { echo "restarted, but not by the watchdog"; return 1; }
  echo "pid $pid stopped; $(since "$c" -u emotiond | grep -m 1 -o 'Watchdog timeout[^!]*'); active again after $((SECONDS - started)) s"
}

stop_offline() {
  mosquitto_sub "${WATCHER[@]}" -t emotiond/live/availability -C 2 -W 20 >"$T/availability" &
  local sub=$! t0 t1
  wait_for 5 grep -q online "$T/availability" || { echo "no retained online"; return 1; }
  t0="$(ms)"
  systemctl stop emotiond
  t1="$(ms)"
  wait "$sub"
  grep -q '"offline"' "$T/availability" || { echo "no offline published: $(cat "$T/availability")"; return 1; }
  [ $((t1 - t0)) -le 2000 ] || { echo "stop took $((t1 - t0)) ms"; return 1; }
  is emotiond Result success || { echo "result $(prop emotiond Result)"; return 1; }
  echo "systemctl stop took $((t1 - t0)) ms; availability went offline"
}

# --- issue 13 item 6 and issue 15: the start limit, a bad config ----------------------------------------------

start_limit() {
  local c started=$SECONDS n later hit
  systemctl reset-failed emotiond 2>/dev/null
  mv /etc/emotiond/mqtt_password "$T/mqtt_password"
  c="$(cursor)"
  systemctl start emotiond 2>/dev/null
  # Between attempts the unit is "activating" (auto-restart); "failed" only once systemd gives up.
  wait_for 150 is emotiond ActiveState failed
  hit=$?
  n="$(prop emotiond NRestarts)"
  sleep 7 # more than RestartSec=5: no further attempt
  later="$(prop emotiond NRestarts)"
  mv "$T/mqtt_password" /etc/emotiond/mqtt_password
  systemctl reset-failed emotiond
  [ "$hit" -eq 0 ] || { echo "still restarting after $((SECONDS - started)) s (NRestarts $n)"; return 1; }
  [ "$later" = "$n" ] || { echo "still restarting ($n -> $later restarts)"; return 1; }
  since "$c" -u emotiond | grep -q 'Start request repeated too quickly' || { echo "no 'Start request repeated too quickly' line"; return 1; }
  echo "gave up after $n automatic restarts in $((SECONDS - started - 7)) s: $(since "$c" -u emotiond | grep -m 1 -o 'Start request repeated too quickly.*')"
}

bad_config() {
  printf '{ "source": { "fps": "fast" } }\n' >/etc/emotiond/bad.json
  systemctl start emotiond@bad 2>/dev/null && { echo "started with a bad config"; return 1; }
  sleep 7 # more than RestartSec=5
  local status restarts state
  status="$(prop emotiond@bad ExecMainStatus)" restarts="$(prop emotiond@bad NRestarts)" state="$(prop emotiond@bad ActiveState)"
  systemctl reset-failed emotiond@bad
  rm -f /etc/emotiond/bad.json
  [ "$status" = 78 ] && [ "$restarts" = 0 ] && [ "$state" = failed ] || { echo "exit $status, $restarts restarts, $state"; return 1; }
  journalctl -q -o cat -u emotiond@bad -p err | grep -q 'emotiond: Invalid configuration' || { echo "the reason is not at priority err"; return 1; }
  echo "exit 78, no restart; -p err: $(journalctl -q -o cat -u emotiond@bad -p err | grep -v '^emotiond: Invalid' | head -n 1 | cut -c1-70)"
}

# --- issue 13 item 5: README "Several cameras", then an update --------------------------------------------------

several_cameras() {
  systemctl start emotiond || return 1
  # README: copy the config per camera, give each its own device.id, switch over.
  cp /etc/emotiond/config.json /etc/emotiond/cam1.json && sed -i 's/"id": "live"/"id": "cam1"/' /etc/emotiond/cam1.json
  cp /etc/emotiond/config.json /etc/emotiond/cam2.json && sed -i 's/"id": "live"/"id": "cam2"/' /etc/emotiond/cam2.json
  systemctl disable --now emotiond || return 1
  systemctl enable --now emotiond@cam1 emotiond@cam2 || { journalctl -q -o cat -u 'emotiond@cam*' | tail -n 5; return 1; }
  local u1 u2
  u1="$(uid_of emotiond@cam1)" u2="$(uid_of emotiond@cam2)"
  [ -n "$u1" ] && [ "$u1" != "$u2" ] || { echo "both instances run as uid $u1"; return 1; }
  for i in cam1 cam2; do
    [ -L "/var/lib/emotiond-$i" ] && [ -d "/var/lib/private/emotiond-$i" ] || { echo "no state directory /var/lib/emotiond-$i"; return 1; }
    retained "emotiond/$i/availability" '"online"' 20 || { echo "$i is not online"; return 1; }
  done
  [ "$(stat -c %u /var/lib/private/emotiond-cam1)" = "$u1" ] && [ "$(stat -c %u /var/lib/private/emotiond-cam2)" = "$u2" ] || { echo "state directories not owned by their instance"; return 1; }
  echo "cam1 as uid $u1, cam2 as uid $u2, both online; state in /var/lib/emotiond-cam1 and -cam2"
}

no_collision() {
  # The other direction: instances first, then the single service (238/STATE_DIRECTORY before).
  local c
  c="$(cursor)"
  systemctl start emotiond || { since "$c" -u emotiond | tail -n 3; return 1; }
  systemctl -q is-active emotiond@cam1 emotiond@cam2 || { echo "an instance stopped"; return 1; }
  systemctl stop emotiond
  since "$c" | grep -q STATE_DIRECTORY && { since "$c" | grep STATE_DIRECTORY | head -n 1; return 1; }
  echo "emotiond.service ran beside emotiond@cam1 and @cam2 (state /var/lib/emotiond -> $(readlink /var/lib/emotiond))"
}

update() {
  local p1 p2
  p1="$(prop emotiond@cam1 MainPID)" p2="$(prop emotiond@cam2 MainPID)"
  (cd "$CHECKOUT" && deploy/install.sh --skip-build --skip-deps) >"$T/install2.log" 2>&1 || { tail -n 8 "$T/install2.log"; return 1; }
  ! systemctl -q is-enabled emotiond || { echo "emotiond.service enabled again"; return 1; }
  ! systemctl -q is-active emotiond || { echo "emotiond.service started again"; return 1; }
  systemctl -q is-active emotiond@cam1 emotiond@cam2 || { echo "instances not running after the update"; return 1; }
  [ "$(prop emotiond@cam1 MainPID)" != "$p1" ] && [ "$(prop emotiond@cam2 MainPID)" != "$p2" ] || { echo "instances not restarted"; return 1; }
  grep -qF '(re)started emotiond@cam1.service' "$T/install2.log" || { tail -n 5 "$T/install2.log"; return 1; }
  echo "emotiond.service left disabled and stopped; both instances restarted on the new program"
}

# Sourced by deploy/package/service-checks.sh, which runs these checks against the Debian package: the functions only.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

echo "# $(systemctl --version | head -n 1), node $(node --version)"
check "mosquitto set up with a password file" broker
check "install.sh from a checkout owned by uid 1000 installs, enables and starts emotiond.service" install_first
check "item 1: /opt/emotiond and the units are root's and not group/other-writable" root_owned
check "systemctl start returns at READY, with STATUS set" ready
check "events reach the container's mosquitto" events
check "the MQTT password arrives through LoadCredential only" credential
check "item 7: journalctl -u emotiond -p warning shows the daemon's warnings (priorities mapped)" warnings
check "item 7: no 'Error in cpuinfo' lines from onnxruntime" no_cpuinfo_errors
check "systemd-analyze security emotiond.service <= 2.0 on the running system" security
check "kill -9 restarts the service" kill9
check "SIGSTOP: the watchdog fires and the service comes back" watchdog
check "systemctl stop takes <= 2 s and publishes offline" stop_offline
check "item 6: a start that keeps failing stops at the start limit, with a journal line saying so" start_limit
check "a bad config exits 78 and is not restarted" bad_config
check "item 5: README's switch to emotiond@cam1 and @cam2: own uids, own state, both online" several_cameras
check "item 5: emotiond.service starts beside the instances (no shared state directory)" no_collision
check "item 5: re-running install.sh restarts the instances and leaves emotiond.service disabled" update
echo "checks done"
