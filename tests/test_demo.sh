#!/bin/sh
# Runs both demos and checks their narration step by step: `--channel`
# (an event channel and a granted page by hand, with the values Xen's rules
# give: lowest free port, ref 8 as the first unreserved grant, the bind
# marking the binder's port) and the default one (a disk, a console and a
# network interface through XenStore, then a READ of sector 0).
set -eu
out=$(mktemp)
trace=$(mktemp)
trap 'rm -f "$out" "$trace"' EXIT
timeout 60 ./tools/xensim demo --channel --trace "$trace" >"$out" 2>&1

expect() {
	if ! grep -F -q -- "$1" "$out"; then
		echo "demo narration lacks: $1"
		echo "--- narration:"
		cat "$out"
		exit 1
	fi
}

expect "store port 1 and console port 2 were allocated unbound to dom0"
expect "[dom1 vcpu0] granted frame"
expect "grant ref 8 = {flags 0x1 (permit_access), domid 0"
expect "[dom1 vcpu0] EVTCHNOP_alloc_unbound(dom=self, remote=dom0) = port 3"
expect "[dom0 vcpu0] EVTCHNOP_bind_interdomain(dom1, port 3) = 0, local port 1"
expect "Xen marked the new local port 1 pending"
expect "pending = 1"
expect "GNTTABOP_map_grant_ref(dom1, ref 8) = status 0"
expect "reads through the mapping, the guest's own page: \"hello, dom0"
expect "[dom0 vcpu0] EVTCHNOP_send(port 1) = 0: Xen raises dom1's port 3"
expect "[dom1 vcpu0] upcall: vCPU 0 takes the event"
expect "Xen set: evtchn_pending[0] bit 3 = 1, evtchn_pending_sel = 0x1, evtchn_upcall_pending = 1"
expect "reads dom0's reply in the shared page: \"hello back from dom0\""
expect "EVTCHNOP_status(port 1): unbound (remote dom1)"
expect "ended access to grant ref 8 (entry flags now 0)"
expect "dom1 shut down (reason 0)"
grep -q '"ph":"f"' "$trace" || { echo "trace has no flow arrow"; exit 1; }

timeout 120 ./tools/xensim demo --trace "$trace" >"$out" 2>&1
expect "[toolstack]  built dom1: store ring at pfn 1 on port 1, console ring at pfn 2 on port 2"
expect "[dom0 vcpu0] /local/domain/0/backend/vbd/1/51712/state: Unknown -> InitWait"
expect "[dom1 vcpu0] /local/domain/1/device/vbd/51712/state: Initialising -> Initialised"
expect "[dom0 vcpu0] /local/domain/0/backend/vbd/1/51712/state: InitWait -> Connected"
expect "[dom1 vcpu0] /local/domain/1/device/vbd/51712/state: Initialised -> Connected"
expect "[dom1 vcpu0] /local/domain/1/device/vif/0/state: Initialised -> Connected"
expect "[dom1 vcpu0] reads sector 0 of its disk (2048 sectors of 512 bytes)"
# The lines below hold in any interleaving of the two vCPUs (an event may
# coalesce with one dom0 has not taken yet, so its upcall is not required).
expect "[dom1 vcpu0] blkfront queues READ id"
expect "blkfront bumps req_prod to"
expect "[xen]        EVTCHNOP_send(dom1 port"
expect "[dom0 vcpu0] blkback copies request"
expect "[dom0 vcpu0] blkback maps 1 grant(s) of dom1"
expect "reads 512 bytes at offset 0 of"
expect "[dom0 vcpu0] blkback pushes rsp_prod"
expect "[xen]        EVTCHNOP_send(dom0 port"
expect "[dom1 vcpu0] blkfront takes the response for id"
expect "blkfront completed the READ: status 0, data \"xensim demo disk: this is sector 0 of the backing file\""
expect "xenconsoled's log of dom1: \"hello from the guest's console ring\""
expect "[toolstack]  done"
grep -q '"ph":"f"' "$trace" || { echo "device demo trace has no flow arrow"; exit 1; }
echo "demo narration: all steps present"
