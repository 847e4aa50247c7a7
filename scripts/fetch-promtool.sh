#!/bin/sh
# Unpacks promtool (Prometheus' own parser and linter of the metrics text format) for the /metrics
# end-to-end test, without installing Prometheus: the Debian package `prometheus` would also install
# the server and start it as a service. Only the promtool binary (statically linked Go) is used.
#
#   sh scripts/fetch-promtool.sh DIR
#
# Downloads the package with `apt-get download`, unpacks it with `dpkg-deb -x` and keeps DIR/promtool. Prints
# the path of promtool on the last line, exit 0; exit 1 with a reason on stderr when that cannot be done
# (no apt-get, not root, not downloadable). Idempotent: an unpacked binary is reused. A promtool on the
# PATH is used as it is.
set -eu

dir=${1:?usage: fetch-promtool.sh DIR}
if command -v promtool >/dev/null 2>&1; then
  command -v promtool
  exit 0
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
binary="$dir/promtool"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

fail() {
  echo "fetch-promtool: $*" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "no apt-get (not a Debian system)"
command -v dpkg-deb >/dev/null 2>&1 || fail "no dpkg-deb"
[ "$(id -u)" = 0 ] || fail "needs root for apt-get download"

cd "$dir"
rm -f prometheus_*.deb
# _apt cannot write here: the download then runs as root, which apt only warns about.
if ! apt-get download -q prometheus >download.log 2>&1; then
  # a fresh machine may not have the package lists yet
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get download -q prometheus >download.log 2>&1 || fail "apt-get download prometheus failed: $(tail -n 1 download.log)"
fi
deb=$(ls prometheus_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "apt-get download left no .deb"
rm -rf root
dpkg-deb -x "$deb" root
rm -f "$deb"
[ -x root/usr/bin/promtool ] || fail "no usr/bin/promtool in $deb"
# the rest (the server, its web assets) is not needed
mv root/usr/bin/promtool "$binary"
rm -rf root
echo "$binary"
