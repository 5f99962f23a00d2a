#!/bin/sh
# `xensim demo --blkback qemu`: the narrated walkthrough with Debian's
# QEMU (tests/ext/qemu, fetched by fetch-qemu.sh) as dom0's disk and
# console back end. Its story names QEMU's steps (its XenStore writes as
# the daemon takes them), the READ's data comes from QEMU, the guest's
# console line from QEMU's chardev, and nothing is left in /tmp.
XENSIM=${XENSIM:-./tools/xensim}
status=0
fail() { echo "FAIL: $*"; status=1; }
missing() {
    if [ "${CI:-}" = true ]; then echo "FAIL (CI): $*"; exit 1; fi
    echo "SKIP: $*"; exit 77
}
qdir=${QEMU_DIR:-tests/ext/qemu}
sh "$(dirname "$0")/fetch-qemu.sh" "$qdir" >/dev/null 2>&1 ||
    missing "apt-get download qemu-system-xen failed"
qemu=$qdir/usr/libexec/xen-qemu-system-i386

before=$(ls -d /tmp/xensim-demo-qemu-* 2>/dev/null | sort)
out=$(timeout 120 "$XENSIM" demo --blkback qemu --qemu "$qemu" 2>&1)
rc=$?
[ $rc = 0 ] || fail "demo --blkback qemu exited with $rc: $out"
expect() {
    printf '%s\n' "$out" | grep -qF -- "$1" || fail "no line with: $1"
}
expect "[qemu]       dom0 starts $qemu -xen-domid 1 -xen-attach -M xenpv"
expect "adds qdisk 51712 (backed by /tmp/xensim-demo-disk-"
expect "[qemu]       xen-block writes feature-flush-cache = 1"
expect "[qemu]       xen-block writes max-ring-page-order = 4"
expect "[qemu]       xen-block writes sectors = 2048"
expect "[qemu]       xen-block: state = 4 (Connected)"
expect "blkfront completed the READ: status 0, data \"xensim demo disk: this is sector 0 of the backing file\""
expect "[toolstack]  QEMU's console log of dom1: \"hello from the guest's console ring\""
expect "[toolstack]  done"
# QEMU's own keys come after the toolstack's add, and Connected last.
printf '%s\n' "$out" | awk '/adds qdisk/ { a = NR } /xen-block: state = 4/ { c = NR }
    /xen-block writes max-ring-page-order/ { m = NR }
    END { exit !(a && m > a && c > m) }' || fail "QEMU's steps out of order: $out"
after=$(ls -d /tmp/xensim-demo-qemu-* 2>/dev/null | sort)
[ "$before" = "$after" ] || fail "scratch directories left: $after"

# What does not go together, and a QEMU that is not there.
"$XENSIM" demo --blkback qemu --qemu "$qemu" --seed 1 >/dev/null 2>&1
[ $? = 2 ] || fail "--blkback qemu --seed was not refused"
"$XENSIM" demo --blkback qemu --qemu "$qemu" --hostile event-storm >/dev/null 2>&1
[ $? = 2 ] || fail "--blkback qemu --hostile was not refused"
"$XENSIM" demo --qemu "$qemu" >/dev/null 2>&1
[ $? = 2 ] || fail "--qemu without --blkback qemu was not refused"
err=$("$XENSIM" demo --blkback qemu --qemu /nonexistent/qemu 2>&1)
[ $? = 1 ] || fail "a missing QEMU is not exit 1"
printf '%s\n' "$err" | grep -q "apt-get download qemu-system-xen" || fail "no hint for a missing QEMU: $err"
exit $status
