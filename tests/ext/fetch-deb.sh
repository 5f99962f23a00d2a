#!/bin/sh
# Unpacks Debian's package PKG into DEST (apt-get download, dpkg -x; never
# installed) unless DEST/CHECK is already there; exits non-zero unless it
# is afterwards. Test programs run in parallel, so one fetches while the
# others wait. Usage: fetch-deb.sh PKG DEST CHECK
set -e
pkg=$1 dest=$2 check=$3
mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9
[ -x "$dest/$check" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A machine whose package lists were never fetched needs them first.
(cd "$tmp" && { apt-get download "$pkg" >/dev/null 2>&1 ||
	{ apt-get update -qq && apt-get download "$pkg" >/dev/null; }; })
dpkg -x "$tmp"/"$pkg"_*.deb "$dest"
test -x "$dest/$check"
