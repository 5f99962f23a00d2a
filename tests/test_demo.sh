#!/bin/sh
# Runs both demos and checks their narration step by step: `--channel`
# (an event channel and a granted page by hand, with the values Xen's rules
# give: lowest free port, ref 8 as the first unreserved grant, the bind
# marking the binder's port) and the default one (a disk, a console and a
# network interface through XenStore, then a READ of sector 0), and the
# latter with a hostile second guest (--hostile).
set -eu
out=$(mktemp)
trace=$(mktemp)
trap 'rm -f "$out" "$trace"' EXIT
timeout 60 ./tools/xensim demo --channel --trace "$trace" >"$out" 2>&1

# expect LINE...: some narration line is exactly one of the LINEs. In a
# LINE, %N stands for a decimal number, %X for a hex one and %S for any
# text, where a value depends on the run (an address, a temporary file);
# everything else is literal. Whole lines, so "pending = 1" cannot match
# the end of "evtchn_upcall_pending = 1" on another line.
expect() {
	for line in "$@"; do
		re=$(printf '%s\n' "$line" | sed -e 's/[][\.*^$(){}+?|]/\\&/g' \
			-e 's/%N/[0-9]+/g' -e 's/%X/[0-9a-f]+/g' -e 's/%S/.+/g')
		grep -E -x -q -- "$re" "$out" && return 0
	done
	echo "demo narration lacks the line: $*"
	echo "--- narration:"
	cat "$out"
	exit 1
}

expect "[host      ] built dom0 (Domain-0) and dom1 (guest): the guest's store port 1 and console port 2 were allocated unbound to dom0, as libxl does"
expect "[dom1 vcpu0] granted frame %N to dom0: grant ref 8 = {flags 0x1 (permit_access), domid 0, frame %N}"
expect "[dom1 vcpu0] EVTCHNOP_alloc_unbound(dom=self, remote=dom0) = port 3 (lowest free)"
expect "[dom0 vcpu0] EVTCHNOP_bind_interdomain(dom1, port 3) = 0, local port 1"
expect "[dom0 vcpu0]   Xen marked the new local port 1 pending (it catches sends made before the bind): pending = 1"
expect "[dom0 vcpu0] GNTTABOP_map_grant_ref(dom1, ref 8) = status 0, handle 0, at 0x%X"
expect "[dom0 vcpu0] reads through the mapping, the guest's own page: \"hello, dom0: this page is granted to you\""
expect "[dom0 vcpu0] EVTCHNOP_send(port 1) = 0: Xen raises dom1's port 3"
expect "[dom1 vcpu0] upcall: vCPU 0 takes the event \"interrupt\""
expect "[dom1 vcpu0]   Xen set: evtchn_pending[0] bit 3 = 1, evtchn_pending_sel = 0x1, evtchn_upcall_pending = 1"
expect "[dom1 vcpu0] reads dom0's reply in the shared page: \"hello back from dom0\""
expect "[dom0 vcpu0] EVTCHNOP_status(port 1): unbound (remote dom1), since the guest closed its end"
expect "[dom1 vcpu0] ended access to grant ref 8 (entry flags now 0)"
expect "[host      ] dom1 shut down (reason 0); dom0 powered off"
grep -q '"ph":"f"' "$trace" || { echo "trace has no flow arrow"; exit 1; }

timeout 120 ./tools/xensim demo --trace "$trace" >"$out" 2>&1
expect "[toolstack]  built dom1: store ring at pfn 1 on port 1, console ring at pfn 2 on port 2 (both ports unbound to dom0, as libxl makes them)"
expect "[dom0 vcpu0] /local/domain/0/backend/vbd/1/51712/state: Unknown -> InitWait"
expect "[dom1 vcpu0] /local/domain/1/device/vbd/51712/state: Initialising -> Initialised"
expect "[dom0 vcpu0] /local/domain/0/backend/vbd/1/51712/state: InitWait -> Connected"
expect "[dom1 vcpu0] /local/domain/1/device/vbd/51712/state: Initialised -> Connected"
expect "[dom1 vcpu0] /local/domain/1/device/vif/0/state: Initialised -> Connected"
expect "[dom1 vcpu0] reads sector 0 of its disk (2048 sectors of 512 bytes)"
# The lines below hold in any interleaving of the two vCPUs (an event may
# coalesce with one dom0 has not taken yet, so its upcall is not required).
expect "[dom1 vcpu0] blkfront queues READ id %N: sector 0, 1 sector(s), 1 segment(s), first grant ref %N"
expect "[dom1 vcpu0] blkfront bumps req_prod to %N, notifies the back end on port %N"
expect "[xen]        EVTCHNOP_send(dom1 port %N): dom0 port %N marked pending, evtchn_pending[0] bit %N" \
	"[xen]        EVTCHNOP_send(dom1 port %N): dom0 port %N was already pending (coalesced), evtchn_pending[0] bit %N"
expect "[dom0 vcpu0] blkback copies request %N off the ring: READ id %N sector 0, 1 segment(s)"
expect "[dom0 vcpu0] blkback maps 1 grant(s) of dom1 (first ref %N), reads 512 bytes at offset 0 of %S"
expect "[dom0 vcpu0] blkback pushes rsp_prod = %N, notifies the front end on port %N"
expect "[xen]        EVTCHNOP_send(dom0 port %N): dom1 port %N marked pending, evtchn_pending[0] bit %N" \
	"[xen]        EVTCHNOP_send(dom0 port %N): dom1 port %N was already pending (coalesced), evtchn_pending[0] bit %N"
expect "[dom1 vcpu0] blkfront takes the response for id %N: status 0"
expect "[dom1 vcpu0] blkfront completed the READ: status 0, data \"xensim demo disk: this is sector 0 of the backing file\""
expect "[toolstack]  xenconsoled's log of dom1: \"hello from the guest's console ring\""
expect "[toolstack]  done"
grep -q '"ph":"f"' "$trace" || { echo "device demo trace has no flow arrow"; exit 1; }
echo "demo narration: all steps present"

# The same demo with both domains on FIFO: the hypervisor's lines say
# where a FIFO port's state is (its event word, the queue of its
# priority, READY), not the 2-level bitmap's word and bit.
timeout 60 ./tools/xensim demo --evtchn fifo >"$out" 2>&1
expect "[dom1 vcpu0] blkfront completed the READ: status 0, data \"xensim demo disk: this is sector 0 of the backing file\""
expect "[xen]        EVTCHNOP_send(dom1 port %N): dom0 port %N marked pending, PENDING in its event word, for the queue of priority 7" \
	"[xen]        EVTCHNOP_send(dom1 port %N): dom0 port %N was already pending (coalesced), PENDING in its event word, for the queue of priority 7"
if grep -q 'evtchn_pending\[\|selector bit' "$out"; then
	echo "a FIFO run narrated 2-level bits:"
	grep 'evtchn_pending\[\|selector bit' "$out"
	exit 1
fi
if timeout 10 ./tools/xensim demo --evtchn 3l >"$out" 2>&1; then
	echo "demo --evtchn 3l was accepted"
	exit 1
fi
grep -q 'usage: xensim demo' "$out" || { echo "demo --evtchn 3l did not say how to use it"; cat "$out"; exit 1; }
echo "demo on FIFO: the narration says FIFO's words"

# --hostile KIND: a second guest attacks blkback; blkback answers as Xen's
# does and the first guest's disk still works.
timeout 120 ./tools/xensim demo --hostile bad-requests >"$out" 2>&1
expect "[toolstack]  dom2 attacked (bad-requests): 1 notification(s), 6 request(s) on the ring"
expect "[toolstack]  blkback answered 6 request(s), 6 with an error, 0 with an id never asked for; its end of dom2's disk is Connected"
expect "[toolstack]  blkback still serves dom1: its READ of sector 0 returned status 0"
expect "[toolstack]  done"
timeout 120 ./tools/xensim demo --hostile ring-indices >"$out" 2>&1
expect "[toolstack]  blkback answered 0 request(s), 0 with an error, 0 with an id never asked for; its end of dom2's disk is Closing" \
	"[toolstack]  blkback answered 0 request(s), 0 with an error, 0 with an id never asked for; its end of dom2's disk is Closed"
expect "[toolstack]  blkback still serves dom1: its READ of sector 0 returned status 0"
# And the run says what broke, and who saw it.
expect "[toolstack]  1 protocol violation(s) seen; the last, by dom0: blkback: dom2's vbd queue 0: req_prod 39 is 39 past the 32 requests the ring holds"
if timeout 10 ./tools/xensim demo --seed 3 --hostile event-storm >"$out" 2>&1 ||
	! grep -q -- '--hostile is not yet a deterministic run' "$out"; then
	echo "demo --seed --hostile was not refused"
	cat "$out"
	exit 1
fi
for kind in polite made-up-ids; do
	if timeout 10 ./tools/xensim demo --hostile $kind >"$out" 2>&1 ||
		! grep -q 'usage: xensim demo' "$out"; then
		echo "demo --hostile $kind was not refused with the usage"
		cat "$out"
		exit 1
	fi
done
echo "demo --hostile: blkback survives a hostile guest and serves the honest one"
