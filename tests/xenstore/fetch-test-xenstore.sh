#!/bin/sh
# Unpacks Debian's xen-utils-4.17 into DEST (default tests/xenstore/xen-utils)
# for its test-xenstore, without installing the package.
set -e
dest=${1:-tests/xenstore/xen-utils}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A machine whose package lists were never fetched needs them first.
(cd "$tmp" && { apt-get download xen-utils-4.17 2>/dev/null ||
	{ apt-get update -qq && apt-get download xen-utils-4.17; }; })
mkdir -p "$dest"
dpkg -x "$tmp"/xen-utils-4.17_*.deb "$dest"
test -x "$dest/usr/lib/xen-4.17/bin/test-xenstore"
