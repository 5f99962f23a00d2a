#!/bin/sh
# The differential (issue 9): the same scripted and seeded-random
# sessions sent to the built-in xenstored and to Xen's own C xenstored
# (xen-utils-4.17, unpacked, never installed), each under its own `xensim
# serve`, and every reply and watch event compared (xs_diff.c). Short
# tier here; XS_DIFF_SEEDS and XS_DIFF_OPS make it longer (make
# check-long: 10^5 operations).
here=$(dirname "$0")
xu=tests/ext/xen-utils
XENSIM=${XENSIM:-./tools/xensim}
DIFF=${XS_DIFF:-./tests/xenstore/xs_diff}
missing() {
    if [ "${CI:-}" = true ]; then echo "FAIL (CI): $*"; exit 1; fi
    echo "SKIP: $*"; exit 77
}
[ -x "$XENSIM" ] && [ -x "$DIFF" ] || missing "$XENSIM or $DIFF not built"
sh "$here/../ext/fetch-xen-utils.sh" "$xu" >/dev/null 2>&1
xsd=$PWD/$xu/usr/lib/xen-4.17/bin/xenstored
[ -x "$xsd" ] || missing "xenstored not found (apt-get download xen-utils-4.17 failed)"

a=$(mktemp -d /tmp/xs-diff-a.XXXXXX)
b=$(mktemp -d /tmp/xs-diff-b.XXXXXX)
pids=
stop() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null; wait "$p"; done
    rm -rf "$a" "$b"
}
trap stop EXIT
"$XENSIM" serve --dir "$a" --domains 2 >"$a/out" 2>"$a/err" &
pids="$pids $!"
"$XENSIM" serve --dir "$b" --domains 2 --xenstored "$xsd" >"$b/out" 2>"$b/err" &
pids="$pids $!"
for d in "$a" "$b"; do
    # serve says "ready" once every daemon and guest is up.
    for i in $(seq 600); do
        grep -q '^ready$' "$d/out" 2>/dev/null && break
        sleep 0.05
    done
    grep -q '^ready$' "$d/out" || { echo "FAIL: serve in $d not ready: $(cat "$d/err")"; exit 1; }
done
"$DIFF" ${XS_DIFF_FLAGS:-} -s "${XS_DIFF_SEED:-1}" -n "${XS_DIFF_SEEDS:-3}" -o "${XS_DIFF_OPS:-2000}" "$a" "$b"
rc=$?
[ "$rc" = 0 ] || { echo "C xenstored's log:"; tail -20 "$b/xenstored/log"; }
exit $rc
