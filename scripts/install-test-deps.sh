#!/bin/sh
# Installs the command-line tools the end-to-end tests need, when they are missing.
# Run by `npm test` (pretest). Idempotent and quiet when there is nothing to do.
# With a file argument it installs that list instead, in the same format (`npm run bench` passes
# bench/deps.list), so there is one installer for tests and benchmarks.
#
# Only as root and only for what is missing: one `apt-get update`, then one
# `apt-get install -y --no-install-recommends` for every missing package.
# Without root, it prints which tests will skip and exits 0 (the tests skip themselves).
#
# To add a tool: append "command:debian-package:what skips without it" to DEPS.
# dnsmasq comes from dnsmasq-base: the binary alone, no init script or systemd unit, so installing it
# starts no service on the host (the package `dnsmasq` would); the test runs its own in a namespace.
# miniupnpd comes from miniupnpd-nftables: the binary and nft scripts only, no maintainer scripts, init
# script or systemd unit (those are in the package `miniupnpd`, whose debconf may start a service); the
# test runs its own miniupnpd inside a network namespace.
# systemd is only there for systemd-analyze: without systemd as PID 1 (a container) its maintainer
# scripts start nothing, and the package that makes it the init is systemd-sysv, not installed here.
# systemd-resolved is never installed (its postinst turns /etc/resolv.conf into a symlink to a stub
# file that only a running systemd-resolved writes): test/e2e/netns-system unpacks the binary with
# scripts/fetch-systemd-resolved.sh instead.
# prometheus is never installed either (it would start the server as a service): test/e2e/metrics unpacks
# only its promtool with scripts/fetch-promtool.sh.
set -u

DEPS='
dig:dnsutils:the DNS end-to-end tests (test/e2e/*) skip
ip:iproute2:the network-namespace tests (test/e2e/netns-*) skip
dnsmasq:dnsmasq-base:the proxy-mode test (test/e2e/netns-proxy) skips
miniupnpd:miniupnpd-nftables:the port-forwarding test (test/e2e/netns-portmap) skips
upnpc:miniupnpc:the port-forwarding test (test/e2e/netns-portmap) skips
nft:nftables:the port-forwarding test (test/e2e/netns-portmap) skips
ping:iputils-ping:the system-resolver test (test/e2e/netns-system) skips
cc:gcc:the NSS module tests (test/e2e/nss-lib, netns-system) skip
make:make:the NSS module tests (test/e2e/nss-lib, netns-system) skip
valgrind:valgrind:the NSS module test (test/e2e/nss-lib) runs without memory checks
lintian:lintian:the Debian package test (test/e2e/package-deb) skips lintian
systemd-analyze:systemd:the unit test (test/e2e/packaging-systemd) skips systemd-analyze
chromium:chromium:the browser tests (test/e2e/web-browser) skip
py=libtorrent:python3-libtorrent:the libtorrent interop test (issue 15 §3) skips
'
if [ $# -gt 0 ]; then
  DEPS=$(grep -v '^#' "$1") || { echo "install-test-deps: cannot read the list '$1'" >&2; exit 1; }
fi

# a tool on PATH, or `py=MODULE`: a module of Debian's python3 (/usr/bin/python3, where apt puts them;
# a python3 first on PATH, e.g. pyenv's, does not see them)
have() {
  case $1 in
    py=*) /usr/bin/python3 -c "import ${1#py=}" >/dev/null 2>&1 ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing_pkgs=''
missing_desc=''

# Newline-separated list; IFS set to newline only, so the descriptions keep their spaces.
old_ifs=$IFS
IFS='
'
for entry in $DEPS; do
  [ -n "$entry" ] || continue
  cmd=${entry%%:*}
  rest=${entry#*:}
  pkg=${rest%%:*}
  why=${rest#*:}
  if ! have "$cmd"; then
    case " $missing_pkgs " in
      *" $pkg "*) ;;
      *) missing_pkgs="$missing_pkgs $pkg" ;;
    esac
    missing_desc="$missing_desc
  $cmd (package $pkg): $why"
  fi
done
IFS=$old_ifs

[ -n "$missing_pkgs" ] || exit 0

uid=$(id -u 2>/dev/null || echo 1)
if [ "$uid" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing tools, not installing (need root and apt-get):$missing_desc" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-test-deps: installing$missing_pkgs" >&2
# As root the tests are meant to run, so a failed install fails the run instead of skipping them.
if ! apt-get update -qq >/dev/null; then
  echo "install-test-deps: apt-get update failed; cannot install:$missing_desc" >&2
  exit 1
fi
# shellcheck disable=SC2086 # word splitting of the package list is wanted
if ! apt-get install -y -qq --no-install-recommends $missing_pkgs >/dev/null; then
  echo "install-test-deps: apt-get install failed:$missing_desc" >&2
  exit 1
fi
exit 0
