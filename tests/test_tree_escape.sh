#!/bin/sh
# `xensim tree` prints guest-written values as xenstore-ls does: a value
# with an escape character, a NUL, a backslash and a high byte comes out
# escaped and whole, byte for byte what Debian's xenstore-ls prints.
. "$(dirname "$0")/xenstore/serve.sh"
command -v xenstore-write >/dev/null || missing "xenstore-utils not installed"

# xenstore-write takes the same escapes and writes the raw bytes:
# a ESC b NUL c \ d 0xff e " TAB DEL.
xenstore-write /hostile/v 'a\x1bb\000c\\d\xffe"\t\x7f' || fail "xenstore-write"
want='  v = "a\x1bb\000c\\d\xffe"\t\x7f"'

out=$("$XENSIM" tree --dir "$dir" /hostile)
line=$(printf '%s\n' "$out" | grep '^  v = ')
[ "$line" = "$want" ] || fail "tree printed
$line
instead of
$want"
printf '%s' "$out" | od -An -c | grep -q '033' && fail "a raw ESC reached the terminal"

# The same text as xenstore-ls (which indents by one space a level).
ls_line=$(xenstore-ls /hostile | grep '^v = ')
[ "  $ls_line" = "$want" ] || fail "xenstore-ls printed '$ls_line', tree '$line'"
[ "$status" = 0 ] && echo "tree escapes: all checks passed"
