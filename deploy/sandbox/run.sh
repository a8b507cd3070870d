#!/usr/bin/env bash
# Run a command inside an approximation of emotiond.service's sandbox, on a machine without systemd as
# PID 1 (a container, CI). It answers what `systemd-analyze security` cannot: do node, onnxruntime and
# OpenCV still work under the unit's settings?
#
# Taken from the unit file:  SystemCallFilter= (expanded with systemd-analyze, refused calls fail with
#   EPERM as with SystemCallErrorNumber=EPERM), RestrictAddressFamilies=, SupplementaryGroups=,
#   Environment=, the state directory (EMOTIOND_SYSTEM_STATE_DIR) as the only writable place,
#   ProcSubset=pid (a procfs mounted with subset=pid).
# Fixed: ProtectSystem=strict (read-only /), PrivateTmp=yes, ProtectProc=invisible (a procfs mounted
#   with hidepid=invisible), NoNewPrivileges=yes, no capabilities,
#   PrivateUsers=yes (a user namespace mapping only the service uid), a uid from DynamicUser's range.
# Not emulated: DevicePolicy=/DeviceAllow=, ProtectKernel*/Clock/Hostname, RestrictNamespaces=,
#   LoadCredential=, PrivateIPC=, MemoryDenyWriteExecute (off in the unit anyway).
#
# Usage: sudo deploy/sandbox/run.sh [--unit FILE] [--env NAME=VALUE]... [--share DIR]... -- COMMAND [ARGS...]
#   --share DIR  a directory under /tmp to keep visible (the sandbox gets its own /tmp otherwise)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
UNIT="$HERE/../emotiond.service"
EXTRA_ENV=()
SHARES=()
SERVICE_UID=61184 # the first uid of DynamicUser='s range

die() {
  echo "sandbox/run.sh: $*" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --unit) UNIT="${2:?--unit needs a file}"; shift 2 ;;
    --env) EXTRA_ENV+=("${2:?--env needs NAME=VALUE}"); shift 2 ;;
    --share) SHARES+=("${2:?--share needs a directory}"); shift 2 ;;
    --) shift; break ;;
    *) die "unknown option $1 (usage: run.sh [--unit FILE] [--env NAME=VALUE]... [--share DIR]... -- COMMAND...)" ;;
  esac
done
[ $# -gt 0 ] || die "no command given"
[ "$(id -u)" -eq 0 ] || die "needs root (mount and user namespaces)"
for tool in unshare setpriv python3 systemd-analyze; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[ -f "$UNIT" ] || die "no unit file $UNIT"

# Outside /tmp, which the sandbox replaces.
WORK="$(mktemp -d /run/emotiond-sandbox.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
chmod 0755 "$WORK"
cp "$HERE/seccomp-exec.py" "$WORK/"

# The syscall allow-list: every SystemCallFilter= line adds (or with ~ removes) names and @groups.
expand() {
  local item="$1" line
  if [[ "$item" != @* ]]; then
    echo "$item"
    return
  fi
  systemd-analyze syscall-filter --no-pager "$item" | tail -n +2 | while read -r line; do
    case "$line" in
      "" | "#"*) ;;
      *) expand "$line" ;;
    esac
  done
}
: >"$WORK/allow"
: >"$WORK/deny"
while IFS= read -r line; do
  case "$line" in
    SystemCallFilter=~*) read -ra items <<<"${line#SystemCallFilter=~}"; for i in "${items[@]}"; do expand "$i" >>"$WORK/deny"; done ;;
    SystemCallFilter=*) read -ra items <<<"${line#SystemCallFilter=}"; for i in "${items[@]}"; do expand "$i" >>"$WORK/allow"; done ;;
  esac
done <"$UNIT"
[ -s "$WORK/allow" ] || die "$UNIT has no SystemCallFilter= allow-list"
sort -u "$WORK/allow" >"$WORK/allow.sorted"
sort -u "$WORK/deny" >"$WORK/deny.sorted"
comm -23 "$WORK/allow.sorted" "$WORK/deny.sorted" >"$WORK/allowed"

FAMILIES=""
GROUPS_=""
STATE_DIR=/var/lib/emotiond
PROC_OPTS=hidepid=invisible # ProtectProc=invisible; ProcSubset=pid adds subset=pid
UNIT_ENV=()
while IFS= read -r line; do
  case "$line" in
    RestrictAddressFamilies=*)
      read -ra items <<<"${line#*=}"
      for f in "${items[@]}"; do
        case "$f" in
          AF_UNIX) n=1 ;; AF_INET) n=2 ;; AF_INET6) n=10 ;; AF_NETLINK) n=16 ;; AF_PACKET) n=17 ;;
          *) die "socket family $f: add its number to run.sh" ;;
        esac
        FAMILIES="${FAMILIES:+$FAMILIES,}$n"
      done
      ;;
    SupplementaryGroups=*) GROUPS_="${line#*=}" ;;
    ProcSubset=pid) PROC_OPTS=hidepid=invisible,subset=pid ;;
    Environment=*)
      value="${line#Environment=}"
      value="${value//%S//var/lib}"
      value="${value//%i/sandbox}"
      UNIT_ENV+=("$value")
      case "$value" in EMOTIOND_SYSTEM_STATE_DIR=*) STATE_DIR="${value#*=}" ;; esac
      ;;
  esac
done <"$UNIT"
[ -n "$FAMILIES" ] || FAMILIES=1,2,10,16,17
GROUPS_="${GROUPS_// /,}"

# Inside a private mount namespace: state dir (tmpfs), read-only /, private /tmp (with the shares bound
# back in), the unit's procfs. Then drop to the service uid in a user namespace and load the filter.
export STATE_DIR WORK FAMILIES GROUPS_ SERVICE_UID PROC_OPTS
SHARE_LIST="$(printf '%s\n' "${SHARES[@]+"${SHARES[@]}"}")"
export SHARE_LIST
# The state directory is a mount point inside; do not leave an empty one behind on the host.
CREATED_STATE_DIR=0
[ -e "$STATE_DIR" ] || CREATED_STATE_DIR=1
status=0
# shellcheck disable=SC2016 # expanded by the inner shell
unshare -m --propagation private bash -c '
  set -euo pipefail
  mkdir -p "$STATE_DIR"
  mount -t tmpfs -o mode=0700,uid=$SERVICE_UID,gid=$SERVICE_UID tmpfs "$STATE_DIR"
  n=0
  while IFS= read -r d; do
    [ -n "$d" ] || continue
    mkdir -p "$WORK/share$n"
    mount --bind "$d" "$WORK/share$n"
    n=$((n + 1))
  done <<<"$SHARE_LIST"
  mount -t tmpfs -o mode=1777 tmpfs /tmp
  n=0
  while IFS= read -r d; do
    [ -n "$d" ] || continue
    mkdir -p "$d"
    mount --bind "$WORK/share$n" "$d"
    n=$((n + 1))
  done <<<"$SHARE_LIST"
  mount -t proc -o "$PROC_OPTS" proc /proc
  mount -o remount,bind,ro /
  exec setpriv --reuid="$SERVICE_UID" --regid="$SERVICE_UID" ${GROUPS_:+--groups="$GROUPS_"} --no-new-privs \
    --inh-caps=-all --bounding-set=-all \
    unshare --user --map-user="$SERVICE_UID" --map-group="$SERVICE_UID" \
    python3 "$WORK/seccomp-exec.py" "$WORK/allowed" "$FAMILIES" -- "$@"
' sandbox env -i HOME=/ PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "${UNIT_ENV[@]}" "${EXTRA_ENV[@]+"${EXTRA_ENV[@]}"}" "$@" || status=$?
[ "$CREATED_STATE_DIR" -eq 0 ] || rmdir "$STATE_DIR" 2>/dev/null || true
exit "$status"
