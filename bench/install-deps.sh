#!/bin/sh
# Installs the command-line tools the benchmarks need, when they are missing.
# Run by `npm run bench` before anything else. Idempotent and quiet when there is nothing to do.
#
# Only as root and only for what is missing: one `apt-get update`, then one
# `apt-get install -y --no-install-recommends` for every missing package.
# Without root, it prints which benchmarks (or parts) will skip and exits 0 (they skip themselves).
#
# To add a tool: append "command:debian-package:what skips without it" to DEPS.
# dnsmasq comes from dnsmasq-base: the binary alone, no init script or systemd unit, so installing it
# starts no service on the host (the package `dnsmasq` would); the dns benchmark runs its own on loopback.
set -u

DEPS='
dnsperf:dnsperf:the dns benchmark skips; cost uses its built-in load generator
dnsmasq:dnsmasq-base:the dns benchmark skips (no reference server)
ip:iproute2:lookup, reliability, badnet and resilience skip (network namespaces)
nft:nftables:badnet skips (packet loss rules)
'

missing_pkgs=''
missing_desc=''

old_ifs=$IFS
IFS='
'
for entry in $DEPS; do
  [ -n "$entry" ] || continue
  cmd=${entry%%:*}
  rest=${entry#*:}
  pkg=${rest%%:*}
  why=${rest#*:}
  if ! command -v "$cmd" >/dev/null 2>&1; then
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
  echo "bench/install-deps: missing tools, not installing (need root and apt-get):$missing_desc" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "bench/install-deps: installing$missing_pkgs" >&2
if ! apt-get update -qq >/dev/null; then
  echo "bench/install-deps: apt-get update failed; these parts will skip:$missing_desc" >&2
  exit 0
fi
# shellcheck disable=SC2086 # word splitting of the package list is wanted
if ! apt-get install -y -qq --no-install-recommends $missing_pkgs >/dev/null; then
  echo "bench/install-deps: apt-get install failed; these parts will skip:$missing_desc" >&2
fi
exit 0
