#!/bin/sh
# Xen's own C xenstored (xen-utils-4.17, unpacked, never installed) as
# dom0's daemon, `xensim serve --xenstored`: test-xenstore and the
# xenstore-utils checks pass against it as against the built-in daemon;
# a guest reaches it through its own ring as its own domain; `xensim
# tree` and `device add` work through it; and `xensim demo --xenstored`
# connects its disk and network interface through it.
here=$(dirname "$0")
xu=tests/ext/xen-utils
XENSIM=${XENSIM:-./tools/xensim}
status=0
fail() { echo "FAIL: $*"; status=1; }
missing() {
    if [ "${CI:-}" = true ]; then echo "FAIL (CI): $*"; exit 1; fi
    echo "SKIP: $*"; exit 77
}
sh "$here/../ext/fetch-xen-utils.sh" "$xu" >/dev/null 2>&1
XS_XENSTORED=$PWD/$xu/usr/lib/xen-4.17/bin/xenstored
[ -x "$XS_XENSTORED" ] || missing "xenstored not found (apt-get download xen-utils-4.17 failed)"
command -v xenstore-read >/dev/null || missing "xenstore-utils not installed"
export XS_XENSTORED XS_RANDOM_SECS="${XS_RANDOM_SECS:-10}"

for t in test_xs_testxenstore.sh test_xs_utils.sh; do
    sh "$here/$t"; rc=$?
    [ "$rc" = 77 ] && exit 77
    [ "$rc" = 0 ] || fail "$t against C xenstored"
done

out=$(timeout 120 "$XENSIM" demo --xenstored "$XS_XENSTORED" 2>&1) || fail "demo: $out"
for line in "Xen's C xenstored (a process of dom0)" \
    "disk and network interface are Connected on both ends" \
    'data "xensim demo disk: this is sector 0 of the backing file"' \
    'xenconsoled'"'"'s log of dom1: "hello from the guest'"'"'s console ring"' "done"; do
    echo "$out" | grep -qF "$line" || fail "demo --xenstored lacks: $line"
done

status_before=$status
. "$here/serve.sh"
status=$status_before
# serve.sh pointed XENSTORED_PATH at dom0's socket.
check() {
    want=$1; shift
    got=$("$@" 2>&1)
    [ "$got" = "$want" ] || fail "$*: got '$got', wanted '$want'"
}
[ -L "$dir/socket" ] || fail "DIR/socket is not the link to xenstored's socket"
pgrep -f "^$XS_XENSTORED --no-fork" >/dev/null || fail "no xenstored process"
g1="env XENSTORED_PATH=$dir/dom/1/xenstore"
check 1 $g1 xenstore-read domid
check 1 $g1 xenstore-read /local/domain/1/domid
$g1 xenstore-write /local/domain/0/x 1 2>/dev/null && fail "dom1 wrote dom0's home"
$g1 xenstore-read /local/domain/0/name 2>/dev/null && fail "dom1 read dom0's home"
# Its data directory, as libxl makes it: the guest's own.
xenstore-write /local/domain/1/data "" && xenstore-chmod /local/domain/1/data n1 ||
    fail "making /local/domain/1/data"
check "" $g1 xenstore-write data/k v
check v xenstore-read /local/domain/1/data/k
tree=$("$XENSIM" tree --dir "$dir" /local/domain/1)
echo "$tree" | grep -qx '  domid = "1"' || fail "xensim tree: $tree"
"$XENSIM" device add --dir "$dir" --type vkbd --frontend 1 --backend 0 ||
    fail "xensim device add"
check 0 xenstore-read /local/domain/1/device/vkbd/0/backend-id
check 1 xenstore-read /local/domain/0/backend/vkbd/1/0/frontend-id
check 1 $g1 xenstore-read device/vkbd/0/state
exit $status
