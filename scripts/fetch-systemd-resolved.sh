#!/bin/sh
# Unpacks systemd-resolved (the daemon binary only) for the systemd-resolved end-to-end test, without
# installing it: the Debian package's postinst turns /etc/resolv.conf into a symlink to
# /run/systemd/resolve/stub-resolv.conf, which would break the host's DNS where no systemd-resolved runs.
#
#   sh scripts/fetch-systemd-resolved.sh DIR
#
# Downloads systemd-resolved of exactly the installed systemd version (the binary links against
# systemd's private libsystemd-shared-<N>.so) with `apt-get download` and unpacks it with `dpkg-deb -x`
# into DIR/root. Prints the path of the binary on the last line, exit 0; exit 1 with a reason on stderr
# when that cannot be done (no systemd installed, no apt-get, not root, version not downloadable).
# Idempotent: an unpacked binary is reused.
set -eu

dir=${1:?usage: fetch-systemd-resolved.sh DIR}
binary="$dir/root/lib/systemd/systemd-resolved"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

fail() {
  echo "fetch-systemd-resolved: $*" >&2
  exit 1
}

command -v dpkg-query >/dev/null 2>&1 || fail "no dpkg-query (not a Debian system)"
version=$(dpkg-query -W -f='${Version}' systemd 2>/dev/null) || fail "the systemd package is not installed"
[ -n "$version" ] || fail "the systemd package is not installed"
command -v apt-get >/dev/null 2>&1 || fail "no apt-get"
[ "$(id -u)" = 0 ] || fail "needs root for apt-get download"

mkdir -p "$dir"
cd "$dir"
rm -f systemd-resolved_*.deb
# _apt cannot write here: the download then runs as root, which apt only warns about.
if ! apt-get download -q "systemd-resolved=$version" >download.log 2>&1; then
  fail "apt-get download systemd-resolved=$version failed: $(tail -n 1 download.log)"
fi
deb=$(ls systemd-resolved_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "apt-get download left no .deb"
rm -rf root
dpkg-deb -x "$deb" root
[ -x "$binary" ] || fail "no lib/systemd/systemd-resolved in $deb"
echo "$binary"
