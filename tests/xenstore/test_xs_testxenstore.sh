#!/bin/sh
# Xen's own test-xenstore (xen-utils-4.17, unpacked, never installed)
# against `xensim serve`: all its tests, then --random for 30 s
# (XS_RANDOM_SECS to change).
. "$(dirname "$0")/serve.sh"
tx=${TEST_XENSTORE:-tests/ext/xen-utils/usr/lib/xen-4.17/bin/test-xenstore}
if [ ! -x "$tx" ]; then
    sh "$(dirname "$0")/../ext/fetch-xen-utils.sh" tests/ext/xen-utils >/dev/null 2>&1
fi
[ -x "$tx" ] || missing "test-xenstore not found (apt-get download xen-utils-4.17 failed)"

out=$("$tx" 2>&1); rc=$?
echo "$out"
[ "$rc" = 0 ] || fail "test-xenstore exited with $rc"
echo "$out" | grep -q failed && fail "test-xenstore reported a failure"
[ "$(echo "$out" | grep -c ' ns$')" = 12 ] || fail "not all 12 tests ran"
out=$("$tx" -i 5 -t 'ta err' 2>&1) || fail "ta err x5: $out"
out=$("$tx" -r "${XS_RANDOM_SECS:-30}" 2>&1); rc=$?
echo "$out" | tail -3
[ "$rc" = 0 ] || fail "test-xenstore --random exited with $rc"
exit $status
