# Sourced by the real-client tests: starts `xensim serve` in a scratch
# directory, points XENSTORED_PATH at it, and stops it on exit. With
# XS_XENSTORED set, that program (Xen's C xenstored) is dom0's daemon
# (`serve --xenstored`). A missing client is a failure under CI=true and
# a skip elsewhere.
XENSIM=${XENSIM:-./tools/xensim}
status=0
fail() { echo "FAIL: $*"; status=1; }
missing() {
    if [ "${CI:-}" = true ]; then echo "FAIL (CI): $*"; exit 1; fi
    echo "SKIP: $*"; exit 77
}
[ -x "$XENSIM" ] || missing "$XENSIM not built"
dir=$(mktemp -d /tmp/xs-clients.XXXXXX)
"$XENSIM" serve --dir "$dir" --domains 2 ${XS_XENSTORED:+--xenstored "$XS_XENSTORED"} \
    >"$dir/out" 2>"$dir/err" &
serve_pid=$!
stop_serve() {
    kill -TERM "$serve_pid" 2>/dev/null
    wait "$serve_pid"; rc=$?
    [ -e "$dir/socket" ] && fail "socket left behind"
    [ "$rc" = 0 ] || fail "xensim serve exited with $rc: $(cat "$dir/err")"
    rm -rf "$dir"
}
trap 'stop_serve; exit $status' EXIT
for i in $(seq 200); do
    grep -q '^ready$' "$dir/out" 2>/dev/null && break
    sleep 0.05
done
grep -q '^ready$' "$dir/out" || { fail "serve not ready: $(cat "$dir/err")"; exit 1; }
eval "$("$XENSIM" env --dir "$dir" --domid 0)"
