# shellcheck shell=bash disable=SC2034 # sets NSPAWN_PID, INIT, NSPAWN_WHY for the caller
# A Debian root booted with systemd as PID 1 in a container, and commands run in it: systemd-nspawn without
# machined (--register=no --keep-unit: the host need not run systemd), with a network of its own (the container's
# broker on port 1883 stays inside). Used by deploy/test-live.sh and deploy/package/test.sh. Source it; it defines
# functions only.

# nspawn_boot ROOT LOG MACHINE [systemd-nspawn options...]: boots ROOT in the background (nspawn's output in LOG) and
# waits until its systemd has finished starting up (running or degraded). Sets NSPAWN_PID and INIT (the container's
# PID 1); on a failure returns 1 with NSPAWN_WHY set.
nspawn_boot() {
  local root="$1" log="$2" machine="$3" booted=""
  shift 3
  NSPAWN_WHY="" INIT=""
  systemd-nspawn --quiet --register=no --keep-unit --private-network --link-journal=no --console=passive \
    --machine="$machine" -D "$root" "$@" -b >"$log" 2>&1 &
  NSPAWN_PID=$!
  # The container's PID 1 is nspawn's child named systemd.
  for _ in $(seq 1 60); do
    INIT="$(pgrep -P "$NSPAWN_PID" -x systemd | head -n 1)"
    [ -n "$INIT" ] && break
    kill -0 "$NSPAWN_PID" 2>/dev/null || { NSPAWN_WHY="systemd-nspawn exited: $(tail -n 5 "$log")"; return 1; }
    sleep 0.5
  done
  [ -n "$INIT" ] || { NSPAWN_WHY="no systemd in the container after 30 s: $(tail -n 5 "$log")"; return 1; }
  # Until its manager listens (systemctl cannot connect before), then until start-up is over.
  for _ in $(seq 1 120); do
    booted="$(nspawn_inside timeout 120 systemctl is-system-running --wait 2>&1)"
    case "$booted" in running | degraded) return 0 ;; esac
    sleep 1
  done
  NSPAWN_WHY="the container did not boot: $booted"
  return 1
}

# nspawn_inside COMMAND...: runs it in the booted container, as root, with a clean environment. -r -w: in its root
# and folder too (where the caller runs in a chroot, nspawn cannot pivot_root, and the mount namespace's own root
# is the chroot's parent).
nspawn_inside() {
  nsenter -t "$INIT" -a -r -w env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# nspawn_stop: powers the container off (nspawn stops its services: up to about 30 s), and kills it after 60 s.
nspawn_stop() {
  [ -n "${NSPAWN_PID:-}" ] && kill -0 "$NSPAWN_PID" 2>/dev/null || return 0
  kill -TERM "$NSPAWN_PID"
  for _ in $(seq 1 120); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$NSPAWN_PID" 2>/dev/null
  wait "$NSPAWN_PID" 2>/dev/null
  NSPAWN_PID=""
}
