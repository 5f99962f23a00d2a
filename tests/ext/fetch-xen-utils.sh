#!/bin/sh
# Unpacks Debian's xen-utils-4.17 into DEST (never installing it) for the
# external-domain tests: its vchan-socket-proxy, xenconsole, xenstored.
# Test programs run in parallel, so one fetches while the others wait.
set -e
dest=$1
mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9
[ -x "$dest/usr/lib/xen-4.17/bin/vchan-socket-proxy" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A machine whose package lists were never fetched needs them first.
(cd "$tmp" && { apt-get download xen-utils-4.17 >/dev/null 2>&1 ||
	{ apt-get update -qq && apt-get download xen-utils-4.17 >/dev/null; }; })
mkdir -p "$dest"
dpkg -x "$tmp"/xen-utils-4.17_*.deb "$dest"
test -x "$dest/usr/lib/xen-4.17/bin/vchan-socket-proxy"
