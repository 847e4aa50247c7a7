#!/bin/sh
# Builds the Debian package from this source tree: npm run package:deb
# Prints the path of dist/packages/kadnode_<version>_<arch>.deb on the last line of standard output.
#
# Needs node/npm, dpkg-deb and (for the NSS module) make and a C compiler; no network: the
# production dependencies are the ones in node_modules, as published (kadnode changes the DHT libraries'
# behaviour at run time, src/dht/library-adapter.ts), pruned of development dependencies, sodium-native's
# addons for other systems, caches and the modules' development files.
#
# Layout:
#   /usr/lib/kadnode/                     bin/, dist/src/, node_modules/, package.json, peers.txt -> /etc/kadnode/peers.txt
#   /usr/bin/kadnode, /usr/bin/kadnode-ctl   links into /usr/lib/kadnode/bin/
#   /etc/kadnode/kadnode.conf             conffile: packaging/kadnode.conf
#   /etc/kadnode/peers.txt                conffile: the bootstrap peers (seeds /var/lib/kadnode/peers.txt)
#   /lib/systemd/system/kadnode.service   packaging/systemd/kadnode.service
#   /usr/lib/<multiarch>/libnss_kadnode.so.2   packaging/nss (postinst adds kadnode to /etc/nsswitch.conf)
#   /usr/share/man/man1/kadnode.1.gz, kadnode-ctl.1.gz
#   /usr/share/doc/kadnode/               copyright, changelog.gz, README.md.gz, docs/*.md.gz, examples/
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
umask 022

say() { echo "package-deb: $*" >&2; }
fail() { say "$*"; exit 1; }

command -v dpkg-deb >/dev/null 2>&1 || fail "needs dpkg-deb (Debian package dpkg)"
command -v node >/dev/null 2>&1 || fail "needs node"

name=kadnode
version=$(node -p "require('./package.json').version")
arch=$(dpkg --print-architecture)
case "$arch" in
	amd64) nodearch=x64 ;;
	arm64) nodearch=arm64 ;;
	*) fail "architecture $arch: sodium-native has prebuilt addons for amd64 and arm64 only" ;;
esac
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || cc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
maintainer=${DEB_MAINTAINER:-kadnode maintainers <kadnode@packages.invalid>}

out="$root/dist/packages"
stage="$out/${name}_${version}_${arch}"
deb="$out/${name}_${version}_${arch}.deb"
app="$stage/usr/lib/$name"
doc="$stage/usr/share/doc/$name"
rm -rf "$stage" "$deb"
mkdir -p "$stage/DEBIAN" "$app/dist" "$doc/examples"

say "compiling src/ (tsc)"
npx --no-install tsc -p packaging/debian/tsconfig.build.json >&2 || fail "tsc failed"

say "application in /usr/lib/$name"
cp -R bin package.json package-lock.json "$app/"
cp -R dist/src "$app/dist/src"
# node_modules without caches; then only the production dependencies (offline: npm prune only deletes)
tar -cf - --exclude=node_modules/.cache --exclude=node_modules/.package-lock.json node_modules | tar -xf - -C "$app"
(cd "$app" && npm prune --omit=dev --ignore-scripts --offline --no-audit --no-fund --loglevel=error >/dev/null) ||
	fail "npm prune failed"
rm -f "$app/package-lock.json" "$app/node_modules/.package-lock.json"
# native addons for this system only (sodium-native ships prebuilds for a dozen others, and for Bare)
find "$app/node_modules" -type d -path '*/prebuilds/*' ! -name "linux-$nodearch" -prune -exec rm -rf {} +
find "$app/node_modules" -type f -name '*.bare' -delete
# development leftovers of the modules (.npmignore, .eslintrc, .github/, ...), and executable bits on
# files that are no scripts
find "$app/node_modules" -name '.*' ! -name '.bin' -prune -exec rm -rf {} +
find "$app/node_modules" -type f -perm -u+x ! -path '*/.bin/*' | while read -r f; do
	[ "$(head -c 2 "$f")" = '#!' ] || chmod a-x "$f"
done
# scope directories npm prune left empty (@types/, @typescript/)
find "$app/node_modules" -mindepth 1 -type d -empty -delete
find "$app/node_modules" -type f \( -name '*.node' -o -name '*.so' \) -exec strip --strip-unneeded --remove-section=.comment --remove-section=.note {} + 2>/dev/null || true
ln -s /etc/kadnode/peers.txt "$app/peers.txt"
mkdir -p "$stage/usr/bin"
ln -s ../lib/$name/bin/kadnode "$stage/usr/bin/kadnode"
ln -s ../lib/$name/bin/kadnode-ctl "$stage/usr/bin/kadnode-ctl"

say "configuration, unit, man pages, documentation"
install -D -m 0644 packaging/kadnode.conf "$stage/etc/kadnode/kadnode.conf"
install -D -m 0644 peers.txt "$stage/etc/kadnode/peers.txt"
install -D -m 0644 packaging/systemd/kadnode.service "$stage/lib/systemd/system/kadnode.service"
mkdir -p "$stage/usr/share/man/man1"
for page in kadnode.1 kadnode-ctl.1; do
	gzip -9n < "man/$page" > "$stage/usr/share/man/man1/$page.gz"
done
gzip -9n < README.md > "$doc/README.md.gz"
# docs/ beside it, as the README links it (docs/options.md ...)
mkdir -p "$doc/docs"
for page in docs/*.md; do
	gzip -9n < "$page" > "$doc/$page.gz"
done
install -m 0644 packaging/dnsmasq/kadnode.conf "$doc/examples/dnsmasq-kadnode.conf"
install -m 0644 packaging/systemd/resolved-kadnode.conf "$doc/examples/resolved-kadnode.conf"
date=$(date -u -R -d "@$epoch")
printf '%s (%s) unstable; urgency=medium\n\n  * Built from the kadnode source tree (npm run package:deb).\n\n -- %s  %s\n' \
	"$name" "$version" "$maintainer" "$date" | gzip -9n > "$doc/changelog.gz"
{
	sed "s/@YEAR@/$(date -u -d "@$epoch" +%Y)/" packaging/debian/copyright.head
	node packaging/debian/list-modules.cjs "$app/node_modules"
} > "$doc/copyright"

nss=''
if command -v make >/dev/null 2>&1 && command -v cc >/dev/null 2>&1; then
	say "NSS module (make -C packaging/nss)"
	build=$(mktemp -d)
	make -s -C packaging/nss BUILD="$build" >&2 || fail "make -C packaging/nss failed"
	install -D -m 0644 "$build/libnss_kadnode.so.2" "$stage/usr/lib/$multiarch/libnss_kadnode.so.2"
	strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/lib/$multiarch/libnss_kadnode.so.2"
	rm -rf "$build"
	nss=yes
else
	say "no make or C compiler: the package goes without the NSS module"
fi

say "control files"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"
printf '/etc/kadnode/kadnode.conf\n/etc/kadnode/peers.txt\n' > "$stage/DEBIAN/conffiles"
if [ -n "$nss" ]; then
	printf 'libnss_kadnode 2 %s (>= %s)\n' "$name" "$version" > "$stage/DEBIAN/shlibs"
	printf 'activate-noawait ldconfig\n' > "$stage/DEBIAN/triggers"
	chmod 0644 "$stage/DEBIAN/shlibs" "$stage/DEBIAN/triggers"
fi
# the newest glibc symbol version any shipped ELF file needs
glibc=$(find "$stage" -type f \( -name '*.node' -o -name '*.so*' \) -exec objdump -T {} + 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
depends="nodejs (>= 20.19), libc6 (>= ${glibc:-2.34})"
if find "$app/node_modules" -name '*.node' -exec objdump -p {} + 2>/dev/null | grep -q 'NEEDED.*libstdc++'; then
	depends="$depends, libstdc++6, libgcc-s1"
fi
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Suggests: dnsmasq | systemd-resolved
Section: net
Priority: optional
Description: peer-to-peer DNS resolver on the BitTorrent Mainline DHT
 kadnode announces names such as myhost.p2p on the BitTorrent Mainline DHT
 and resolves them for the system, so that "ping myhost.p2p" works in every
 program: through its DNS port (for dnsmasq, systemd-resolved or
 /etc/resolv.conf) or the NSS module libnss_kadnode.so.2, which the package
 adds to the hosts line of /etc/nsswitch.conf. Names can be bound to ed25519
 keys, so that only the key holder can answer them. It is the Node.js
 successor of the C daemon KadNode 1.x and shares its DHT with it.
EOF
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f ! -perm -u+x -exec chmod 0644 {} +
find "$stage" -type f -perm -u+x -exec chmod 0755 {} +
# reproducible: every file dated at the commit
find "$stage" -exec touch -h -d "@$epoch" {} +

SOURCE_DATE_EPOCH=$epoch dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
rm -rf "$stage"
echo "$deb"
