#!/bin/sh
# Unpacks Debian's qemu-system-xen into DEST (never installing it) for the
# QEMU back-end tests: usr/libexec/xen-qemu-system-i386. Its shared
# libraries are ordinary packages, installed by scripts/install-deps.
# Test programs run in parallel, so one fetches while the others wait.
set -e
dest=$1
mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9
[ -x "$dest/usr/libexec/xen-qemu-system-i386" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && { apt-get download qemu-system-xen >/dev/null 2>&1 ||
	{ apt-get update -qq && apt-get download qemu-system-xen >/dev/null; }; })
dpkg -x "$tmp"/qemu-system-xen_*.deb "$dest"
test -x "$dest/usr/libexec/xen-qemu-system-i386"
