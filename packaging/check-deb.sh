#!/usr/bin/env bash
# packaging/check-deb.sh: the release check of the Debian package.
#  1. builds postgresql-15-orders-stream with `dpkg-buildpackage -us -uc -b`
#     from a copy of this tree (tracked and new files, not ignored ones), so
#     that its outputs land in the work directory, not beside the clone;
#  2. runs lintian on it and fails on any error;
#  3. installs the .deb with apt in a fresh Debian 12 (bookworm) chroot, which
#     must pull PostgreSQL 15 and the endpoint's libraries, and runs
#     debian/tests/smoke there (the README's quick start through the shipped
#     examples/demo.sql, the C aggregator, the endpoint's health check);
#  4. unmounts everything and removes the chroot.
# Not part of ./test.sh or CI: it takes minutes and downloads packages.
#
# Run as root on Debian 12: packaging/check-deb.sh [WORKDIR]
#   WORKDIR      where the build and its .deb go (default: a new /tmp directory, kept)
#   CHROOT_BASE  a pristine `debootstrap --variant=minbase bookworm` tree, copied
#                (default /work/chroot/base; made with debootstrap if missing)
#   CHROOT       the chroot to create and remove (default /work/chroot/deb)
#   MIRROR       Debian mirror (default http://deb.debian.org)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d /tmp/orders-stream-deb.XXXXXX)}
CHROOT_BASE=${CHROOT_BASE:-/work/chroot/base}
CHROOT=${CHROOT:-/work/chroot/deb}
MIRROR=${MIRROR:-http://deb.debian.org}
pkg=postgresql-15-orders-stream

step() { printf '\n=== %s\n' "$*"; }
ok() { echo "ok: $*"; }
die() { echo "check-deb: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt, chroot, mount)"
mkdir -p "$work"
work=$(cd "$work" && pwd)

# ---------------------------------------------------------------- build
step "build dependencies (apt)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends dpkg-dev debhelper fakeroot lintian \
	postgresql-server-dev-all libmicrohttpd-dev libssl-dev git >/dev/null
ver=$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)
upver=${ver%-*}
src="$work/orders-stream-$upver"
rm -rf "$src"
mkdir -p "$src"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) | tar -xf - -C "$src"
(cd "$src" && dpkg-checkbuilddeps) || die "build dependencies missing"
ok "build dependencies present ($(cd "$src" && sed -n '/^Build-Depends:/,/^[A-Z]/p' debian/control | grep '^ ' | tr -d '\n,' | sed 's/  */ /g'))"

step "dpkg-buildpackage -us -uc -b (in $src)"
(cd "$src" && pg_buildext checkcontrol) || die "debian/control is out of date: run pg_buildext updatecontrol"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	tail -n 40 "$work/build.log"
	die "dpkg-buildpackage failed (log: $work/build.log)"
fi
deb=$(ls "$work"/${pkg}_"$ver"_*.deb)
changes=$(ls "$work"/orders-stream_"$ver"_*.changes)
ok "built $(basename "$deb") ($(du -k "$deb" | cut -f1) kB)"
echo "--- dpkg -I (control)"
dpkg-deb -f "$deb" Package Version Architecture Depends
echo "--- dpkg -c"
dpkg -c "$deb" | awk '{ print "    " $1, $2, $NF }' | grep -v '/$'

step "lintian"
lintian -I --pedantic --fail-on error "$changes" 2>&1 | grep -v 'running with root privileges' |
	tee "$work/lintian.txt" || true
lintian --fail-on error "$changes" >/dev/null 2>&1 || die "lintian reports errors"
ok "lintian: $(grep -c '^E:' "$work/lintian.txt" || true) errors, $(grep -c '^W:' "$work/lintian.txt" || true) warnings, $(grep -c '^[IP]:' "$work/lintian.txt" || true) info/pedantic"

step "systemd unit"
mkdir -p "$work/extracted"
dpkg-deb -x "$deb" "$work/extracted"
unit="$work/extracted/lib/systemd/system/orders-stream-endpoint.service"
grep -E '^(User|ExecStart)=' "$unit" | sed 's/^/    /'
if command -v systemd-analyze >/dev/null; then
	# on this machine, not in the chroot (no systemd there); the binary named by
	# ExecStart is looked up here, so a missing one is a warning of its own
	systemd-analyze verify "$unit" 2>&1 | grep -v "is not executable: No such file" | sed 's/^/    /' || true
	systemd-analyze verify "$unit" 2>&1 | grep -v "is not executable: No such file" | grep -q . &&
		die "systemd-analyze verify reports problems with the unit"
	ok "systemd-analyze verify: the unit is valid"
else
	ok "(systemd-analyze not installed: the unit is not verified)"
fi

# ---------------------------------------------------------------- chroot
mounted=()
cleanup() {
	local i p
	# processes left in the chroot are this script's (the smoke test stops its own)
	for p in /proc/[0-9]*; do
		if [ "$(readlink "$p/root" 2>/dev/null)" = "$CHROOT" ]; then
			echo "stopping process ${p#/proc/} left in the chroot"
			kill -9 "${p#/proc/}" 2>/dev/null || true
		fi
	done
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || true
	done
	mounted=()
	if mount | grep -q " $CHROOT"; then
		echo "check-deb: still mounted under $CHROOT:" >&2
		mount | grep " $CHROOT" >&2
	else
		rm -rf "$CHROOT"
	fi
}

step "chroot $CHROOT from $CHROOT_BASE"
[ ! -e "$CHROOT" ] || die "$CHROOT exists: remove it (and check \`mount | grep $CHROOT\`) first"
if [ ! -d "$CHROOT_BASE" ]; then
	apt-get install -y -qq debootstrap >/dev/null
	debootstrap --variant=minbase bookworm "$CHROOT_BASE" "$MIRROR/debian" >"$work/debootstrap.log" 2>&1 ||
		die "debootstrap failed (log: $work/debootstrap.log)"
fi
trap cleanup EXIT
cp -a "$CHROOT_BASE" "$CHROOT"
cat >"$CHROOT/etc/apt/sources.list" <<EOF
deb $MIRROR/debian bookworm main
deb $MIRROR/debian bookworm-updates main
deb $MIRROR/debian-security bookworm-security main
EOF
cp /etc/resolv.conf "$CHROOT/etc/resolv.conf"
# no service of an installed package starts inside the chroot (it would share
# this machine's network); the smoke test starts its own throwaway cluster
printf '#!/bin/sh\nexit 101\n' >"$CHROOT/usr/sbin/policy-rc.d"
chmod 755 "$CHROOT/usr/sbin/policy-rc.d"
for m in proc sys dev dev/pts; do
	if [ "$m" = proc ]; then mount -t proc proc "$CHROOT/proc"; else mount --bind "/$m" "$CHROOT/$m"; fi
	mounted+=("$CHROOT/$m")
done
ok "bookworm, bookworm-updates, bookworm-security; proc, sys, dev, dev/pts mounted"
in_chroot() { chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

step "apt-get install ./$(basename "$deb") (in the chroot)"
cp "$deb" "$CHROOT/tmp/"
cp "$repo/debian/tests/smoke" "$CHROOT/tmp/smoke"
in_chroot apt-get update -qq
in_chroot dpkg-query -W -f '${Package}\n' | sort >"$work/before.txt"
if ! in_chroot apt-get install -y --no-install-recommends "/tmp/$(basename "$deb")" >"$work/install.log" 2>&1; then
	tail -n 40 "$work/install.log"
	die "apt-get install failed (log: $work/install.log)"
fi
in_chroot dpkg-query -W -f '${Package}\n' | sort >"$work/after.txt"
echo "$(comm -13 "$work/before.txt" "$work/after.txt" | wc -l) packages installed, among them:"
in_chroot dpkg-query -W -f '    ${Package} ${Version}\n' "$pkg" postgresql-15 postgresql-common libpq5 libmicrohttpd12 libssl3
in_chroot ldd /usr/lib/postgresql/15/bin/orders_stream_endpoint | grep -q 'not found' &&
	die "orders_stream_endpoint has unresolved libraries"
ok "apt pulled PostgreSQL 15 and the endpoint's libraries (ldd: all resolved)"

step "debian/tests/smoke (in the chroot)"
in_chroot bash /tmp/smoke || die "smoke test failed"

step "reinstall, then purge (in the chroot)"
in_chroot apt-get install -y --reinstall "/tmp/$(basename "$deb")" >>"$work/install.log" 2>&1 ||
	{ tail -n 20 "$work/install.log"; die "reinstall failed"; }
[ "$(in_chroot stat -c '%U:%G %a' /etc/orders_stream/endpoint.conf)" = "root:orders-stream 640" ] ||
	die "endpoint.conf's owner or mode changed on reinstall"
ok "reinstalled (postinst configure of an installed version); endpoint.conf still root:orders-stream 0640"
in_chroot apt-get purge -y "$pkg" >>"$work/install.log" 2>&1 || { tail -n 20 "$work/install.log"; die "purge failed"; }
for f in /usr/lib/postgresql/15/lib/orders_stream.so /usr/lib/postgresql/15/bin/orders_stream_endpoint \
	/lib/systemd/system/orders-stream-endpoint.service /etc/orders_stream; do
	[ ! -e "$CHROOT$f" ] || die "$f left after purge"
done
ok "purged: no file left (the system user orders-stream stays, as Debian leaves system users)"

step "cleanup"
trap - EXIT
cleanup
if mount | grep -q chroot; then die "mounts left: $(mount | grep chroot)"; fi
[ ! -e "$CHROOT" ] || die "$CHROOT not removed"
ok "unmounted (mount | grep chroot: empty), $CHROOT removed"
echo
echo "check-deb: all checks passed; the package is $deb"
