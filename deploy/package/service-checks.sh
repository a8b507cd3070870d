#!/usr/bin/env bash
# Runs inside the container deploy/package/test.sh boots (a fresh Debian root, systemd as PID 1): installs the Debian
# package as a user would, `apt install ./emotiond_….deb`, and checks it under the real systemd: installed, enabled
# and started; an upgrade from the previous version keeps the admin's edited config; the live checks of
# deploy/live/checks.sh (READY, events at this container's mosquitto, the credential, watchdog, stop, exit 78 on a
# bad config, ...); remove stops it; purge leaves no unit, user or state. Same output as checks.sh: "ok - NAME
# (detail)" or "not ok - NAME: why" per check, "checks done" last.
# Environment: DEB (the package), PREV_DEB (an older version of it).
set -u
: "${DEB:?the package to test}" "${PREV_DEB:?an older version of the package}"
# shellcheck disable=SC2034 # checks.sh's config() reads it
CLIP=/usr/lib/emotiond/deploy/demo/demo-faces.avi
# shellcheck source=deploy/live/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
export DEBIAN_FRONTEND=noninteractive
apt_() { apt-get -y -q -o Dpkg::Use-Pty=0 "$@" </dev/null; }
version_of() { dpkg-deb -f "$1" Version; }

# The files the package owns and the state systemd makes for it.
leftovers() {
  local p
  for p in /usr/lib/emotiond /usr/bin/emotiond /etc/emotiond /var/lib/emotiond /var/lib/private/emotiond \
    /lib/systemd/system/emotiond.service /lib/systemd/system/emotiond@.service /usr/lib/systemd/system/emotiond.service \
    /usr/lib/systemd/system/emotiond@.service /etc/systemd/system/multi-user.target.wants/emotiond.service \
    /var/lib/systemd/deb-systemd-helper-enabled/emotiond.service.dsh-also \
    /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/emotiond.service; do
    if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi
  done
  compgen -G '/var/lib/emotiond-*' || true
  compgen -G '/var/lib/private/emotiond*' || true
}

installs_and_starts() {
  local state
  apt_ install "$PREV_DEB" >"$T/apt-prev.log" 2>&1 || { tail -n 8 "$T/apt-prev.log"; return 1; }
  [ "$(dpkg-query -W -f='${Version}' emotiond)" = "$(version_of "$PREV_DEB")" ] || { echo "emotiond $(dpkg-query -W -f='${Version}' emotiond) installed"; return 1; }
  systemctl -q is-enabled emotiond || { echo "emotiond.service is $(systemctl is-enabled emotiond)"; return 1; }
  # No camera here: the service waits for /dev/video0 and tells systemd READY after system.ready_timeout_s.
  wait_for 60 is emotiond ActiveState active || { echo "emotiond.service is $(prop emotiond ActiveState): $(journalctl -q -o cat -u emotiond -n 3 | tr '\n' ' ')"; return 1; }
  state="$(prop emotiond StatusText)"
  [ -f /etc/emotiond/config.json ] && [ "$(stat -c '%a %U' /etc/emotiond/mqtt_password)" = "600 root" ] || { echo "no config.json or mqtt_password (600 root)"; return 1; }
  grep -qx /etc/emotiond/config.json /var/lib/dpkg/info/emotiond.conffiles || { echo "config.json is not a conffile"; return 1; }
  echo "$(version_of "$PREV_DEB") installed; enabled and active (STATUS '$state'); /etc/emotiond/config.json a conffile"
}

edit_config() {
  # The admin's edits: this container's broker, its password, the demo clip as the camera.
  config /etc/emotiond/config.json live
  (umask 077 && printf %s "$PASSWORD" >/etc/emotiond/mqtt_password)
  cp /etc/emotiond/config.json "$T/config.edited"
  systemctl restart emotiond || return 1
  echo "config.json edited, service restarted"
}

upgrade_keeps_config() {
  local pid
  pid="$(prop emotiond MainPID)"
  apt_ install "$DEB" >"$T/apt-upgrade.log" 2>&1 || { tail -n 8 "$T/apt-upgrade.log"; return 1; }
  [ "$(dpkg-query -W -f='${Version}' emotiond)" = "$(version_of "$DEB")" ] || { echo "still $(dpkg-query -W -f='${Version}' emotiond)"; return 1; }
  cmp -s /etc/emotiond/config.json "$T/config.edited" || { echo "the edited config.json was replaced"; return 1; }
  [ "$(cat /etc/emotiond/mqtt_password)" = "$PASSWORD" ] || { echo "mqtt_password was replaced"; return 1; }
  wait_for 60 is emotiond ActiveState active || { echo "not active after the upgrade"; return 1; }
  [ "$(prop emotiond MainPID)" != "$pid" ] || { echo "not restarted on the new version"; return 1; }
  echo "$(version_of "$PREV_DEB") -> $(version_of "$DEB"): edited config.json and password kept, service restarted"
}

remove_stops() {
  apt_ remove emotiond >"$T/apt-remove.log" 2>&1 || { tail -n 8 "$T/apt-remove.log"; return 1; }
  [ "$(prop emotiond ActiveState)" = inactive ] || { echo "emotiond.service is $(prop emotiond ActiveState)"; return 1; }
  [ "$(prop emotiond LoadState)" = not-found ] || { echo "the unit is still $(prop emotiond LoadState)"; return 1; }
  [ -f /etc/emotiond/config.json ] || { echo "remove deleted config.json"; return 1; }
  [ -d /var/lib/private/emotiond ] || { echo "remove deleted the state directory"; return 1; }
  echo "stopped; unit gone; config and state kept"
}

purge_leaves_nothing() {
  local left
  apt_ purge emotiond >"$T/apt-purge.log" 2>&1 || { tail -n 8 "$T/apt-purge.log"; return 1; }
  left="$(leftovers)"
  [ -z "$left" ] || { echo "left behind: $(echo "$left" | tr '\n' ' ')"; return 1; }
  systemctl list-unit-files --no-legend 'emotiond*' | grep -q . && { echo "unit files: $(systemctl list-unit-files --no-legend 'emotiond*' | tr '\n' ' ')"; return 1; }
  getent passwd emotiond >/dev/null && { echo "a user emotiond exists"; return 1; }
  dpkg-query -W -f='${Status}' emotiond 2>/dev/null | grep -q 'not-installed\|^$' || [ -z "$(dpkg-query -W -f='${Status}' emotiond 2>/dev/null)" ] \
    || { echo "dpkg still knows emotiond: $(dpkg-query -W -f='${Status}' emotiond)"; return 1; }
  echo "no files, units, enablement links, user or state left"
}

echo "# $(systemctl --version | head -n 1); $(. /etc/os-release && echo "$PRETTY_NAME")"
check "mosquitto set up with a password file" broker
check "apt install ./$(basename "$PREV_DEB"): installed, enabled and started" installs_and_starts
check "the admin edits /etc/emotiond/config.json" edit_config
check "apt install ./$(basename "$DEB") (upgrade) keeps the edited config" upgrade_keeps_config
check "systemctl start returns at READY, with STATUS set" ready
check "events reach the container's mosquitto" events
check "the MQTT password arrives through LoadCredential only" credential
check "no 'Error in cpuinfo' lines from onnxruntime" no_cpuinfo_errors
check "systemd-analyze security emotiond.service <= 2.0 on the running system" security
check "kill -9 restarts the service" kill9
check "SIGSTOP: the watchdog fires and the service comes back" watchdog
check "systemctl stop takes <= 2 s and publishes offline" stop_offline
check "a bad config exits 78 and is not restarted" bad_config
check "apt remove stops the service and keeps config and state" remove_stops
check "apt purge leaves no unit, user or state" purge_leaves_nothing
echo "checks done"
