#!/bin/sh
# Every errno the C sources return (each -EXXX they mention) must have a
# row in include/xensim/errno.h, or xensim_strerror prints "unknown error"
# for it. Fails naming each errno that has none. First it shows that the
# check finds a missing name, so that it cannot pass by finding nothing.
set -eu
top=${srcdir:-.}
list=$top/include/xensim/errno.h
[ -f "$list" ] || { echo "check_errno_names: no $list"; exit 99; }

# The list's names: one X(EXXX, "...") row each.
named=$(sed -n 's/^[[:space:]]*X(\(E[A-Z0-9]*\),.*/\1/p' "$list" | sort -u)
rows=$(grep -c '^[[:space:]]*X(' "$list")
if [ "$rows" -ne "$(echo "$named" | wc -l)" ]; then
	echo "check_errno_names: $list has $rows rows but not one name each"
	exit 1
fi

# Prints the errnos mentioned under the given folders that the list lacks.
unnamed() {
	grep -rhoE --include='*.c' --include='*.h' -- '(^|[^A-Za-z0-9_])-E[A-Z0-9]+\b' "$@" |
		sed 's/.*-\(E[A-Z0-9]*\)$/\1/' | sort -u |
		while read -r e; do
			echo "$named" | grep -qx -- "$e" || echo "$e"
		done
}

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int f(void) { return -ENOTANERRNO; }\nint g(void) { return -EINVAL; }\n' >"$probe/probe.c"
if [ "$(unnamed "$probe")" != ENOTANERRNO ]; then
	echo "check_errno_names: the check does not see a missing name"
	exit 99
fi

dirs=
for d in sim guest xenbus frontends backends xenstored toolstack tools; do
	[ -d "$top/$d" ] && dirs="$dirs $top/$d"
done
[ -n "$dirs" ] || { echo "check_errno_names: no sources under $top"; exit 99; }
# shellcheck disable=SC2086
missing=$(unnamed $dirs)
if [ -n "$missing" ]; then
	echo "errnos returned but not named in include/xensim/errno.h:"
	echo "$missing"
	exit 1
fi
echo "check_errno_names: every errno has a name ($(echo "$named" | wc -l) in the list)"
