# shellcheck shell=bash
# The names of emotiond's Debian packages, shared by deploy/package/ and deploy/image/. Source it; it defines
# functions only.

# deb_suffix RELEASE: the version suffix of the packages built for a Debian release (bookworm deb12, trixie deb13);
# fails for any other release.
deb_suffix() { case "$1" in bookworm) echo deb12 ;; trixie) echo deb13 ;; *) return 1 ;; esac; }

# deb_release VERSION: the release a package version was built for, from its +debNN suffix; fails when it has none.
deb_release() { case "$1" in *+deb12) echo bookworm ;; *+deb13) echo trixie ;; *) return 1 ;; esac; }

# built_deb SUMMARY: the .deb path in deploy/package/build.sh's summary line ("... | /path/x.deb | ..."); empty when
# the line names none (the build failed).
built_deb() { sed -n 's/.* | \(\/[^ ]*\.deb\) | .*/\1/p' <<<"$1"; }
