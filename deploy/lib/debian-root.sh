# Shared by the scripts that build Debian roots with debootstrap (deploy/live/rootfs.sh,
# deploy/platform/root.sh): where the host's Debian mirror is and how a fresh root is made usable.
# Source it; it defines functions only.

# The host's own mirror (deb822 or one-line sources), so that the libraries match the ones the binding was built with.
debian_mirror() {
  local uri
  uri="$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n 1 || true)"
  [ -n "$uri" ] || uri="$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' /etc/apt/sources.list 2>/dev/null | grep -v security | head -n 1 || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

# The host's apt sources (with updates and security) for release $2, written into the root $1. The host's
# codename in them is replaced by $2 (bookworm-updates -> trixie-updates, ...).
debian_sources() {
  local root="$1" release="$2" host f
  host="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    rm -f "$root/etc/apt/sources.list"
    for f in /etc/apt/sources.list.d/*.sources; do
      if [ -n "$host" ]; then sed "s/\b$host\b/$release/g" "$f"; else cat "$f"; fi >"$root/etc/apt/sources.list.d/$(basename "$f")"
    done
  elif [ -f /etc/apt/sources.list ]; then
    if [ -n "$host" ]; then sed "s/\b$host\b/$release/g" /etc/apt/sources.list; else cat /etc/apt/sources.list; fi >"$root/etc/apt/sources.list"
  fi
}

# localhost must resolve (minbase has no /etc/hosts).
debian_hosts() {
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$1/etc/hosts"
}

# The host's extra CA certificates (a TLS-inspecting proxy's, say), so that apt and npm in the root reach their
# registries as the host does. Run after ca-certificates is installed in the root.
debian_ca() {
  local root="$1"
  compgen -G '/usr/local/share/ca-certificates/*' >/dev/null || return 0
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
}
