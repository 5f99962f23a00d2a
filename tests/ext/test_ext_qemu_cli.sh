#!/bin/sh
# `xensim qemu` and `xensim device add --type qdisk` against `xensim
# serve`, as the README shows them: Debian's QEMU (tests/ext/qemu,
# fetched by fetch-qemu.sh) attaches to guest 1, takes the disk the
# toolstack wrote and offers it (InitWait with its features); removing
# the disk closes its end; a SIGTERM to `xensim qemu` ends QEMU and the
# server lets go of all it held.
. "$(dirname "$0")/../xenstore/serve.sh"
command -v xenstore-read >/dev/null || missing "xenstore-utils not installed"
qdir=${QEMU_DIR:-tests/ext/qemu}
sh "$(dirname "$0")/fetch-qemu.sh" "$qdir" >/dev/null 2>&1 ||
    missing "apt-get download qemu-system-xen failed"
qemu=$qdir/usr/libexec/xen-qemu-system-i386

wait_key() {  # path value
    for _ in $(seq 400); do
        [ "$(xenstore-read "$1" 2>/dev/null)" = "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

"$XENSIM" qemu --dir "$dir" --domid 1 --qemu /nonexistent 2>/dev/null && fail "qemu ran without a QEMU" ||
    [ $? = 1 ] || fail "a missing QEMU is not exit 1"
"$XENSIM" qemu --dir "$dir" --domid 0 --qemu "$qemu" 2>/dev/null
[ $? = 2 ] || fail "dom0 as QEMU's guest is not a usage error"

# A qdisk needs its image; the qdisk options are the qdisk's only.
"$XENSIM" device add --dir "$dir" --type qdisk --frontend 1 2>/dev/null
[ $? = 2 ] || fail "a qdisk without --image is not a usage error"
"$XENSIM" device add --dir "$dir" --type vbd --frontend 1 --backend 0 --image x 2>/dev/null
[ $? = 2 ] || fail "--image on a vbd is not a usage error"
"$XENSIM" device add --dir "$dir" --type qdisk --frontend 1 --image x --vdev sda 2>/dev/null
[ $? = 1 ] || fail "a bad --vdev is not refused"

truncate -s 8M "$dir/disk.img"
"$XENSIM" qemu --dir "$dir" --domid 1 --qemu "$qemu" >"$dir/qemu.out" 2>"$dir/qemu.err" &
qpid=$!
"$XENSIM" device add --dir "$dir" --type qdisk --frontend 1 --image "$dir/disk.img" ||
    fail "device add --type qdisk"
be=/local/domain/0/backend/qdisk/1/51712
[ "$(xenstore-read $be/params)" = "aio:$dir/disk.img" ] || fail "params: $(xenstore-read $be/params)"
[ "$(xenstore-read /local/domain/1/device/vbd/51712/backend)" = $be ] || fail "front end's backend"
[ "$(xenstore-ls -p /local/domain/1/device/vbd/51712 | head -1 | sed 's/.*(\(.*\))/\1/')" = "n1,r0" ] ||
    fail "front end's permissions: $(xenstore-ls -p /local/domain/1/device/vbd/51712 | head -1)"
wait_key $be/state 2 || fail "QEMU's back end never reached InitWait: $(cat "$dir/qemu.err")"
[ "$(xenstore-read $be/max-ring-page-order)" = 4 ] || fail "QEMU's max-ring-page-order"
[ "$(xenstore-read $be/feature-flush-cache)" = 1 ] || fail "QEMU's feature-flush-cache"
"$XENSIM" device remove --dir "$dir" --type vbd --frontend 1 --devid 51712 ||
    fail "device remove: QEMU did not close"
# QEMU answers the removal by writing state once more (it writes what it
# reads, Unknown) and then destroys its device, directory and all.
gone=0
for _ in $(seq 400); do
    xenstore-read $be >/dev/null 2>&1 || { gone=1; break; }
    sleep 0.05
done
[ $gone = 1 ] || fail "the back end's directory outlived remove and QEMU's cleanup"

kill -TERM $qpid
wait $qpid
rc=$?
[ $rc = 0 ] || [ $rc = 143 ] || fail "xensim qemu ended with $rc"
grep -q "QEMU for domain 1 ended" "$dir/qemu.err" || fail "xensim qemu said nothing at the end"
exit $status
