#!/bin/sh
# The inspection verbs against a running `xensim serve`: domains, a
# domain's ports and grants over the control socket, the XenStore tree
# through libxenstore, a device added from the command line showing up in
# the tree, and the errors for bad arguments and unknown commands.
. "$(dirname "$0")/xenstore/serve.sh"

expect() {    # expect <what> <needle> <output>
    case "$3" in
    *"$2"*) ;;
    *) fail "$1 lacks '$2':
$3" ;;
    esac
}

out=$("$XENSIM" domains --dir "$dir")
expect domains "Domain-0" "$out"
expect domains "guest1" "$out"
expect domains "running" "$out"

out=$("$XENSIM" ports --dir "$dir" --domid 1)
expect ports "    0  reserved" "$out"
# the store port, bound by xenstored, a host process in dom0
expect ports "    1  interdomain  dom0 port" "$out"
expect "dom0 ports" "host process" "$("$XENSIM" ports --dir "$dir" --domid 0)"
# the console port, still waiting for a console back end
expect ports "    2  unbound      remote dom0" "$out"

out=$("$XENSIM" grants --dir "$dir" --domid 2)
expect grants "permit_access" "$out"
expect grants "dom0 (0 read, 1 write pins)" "$out"

out=$("$XENSIM" tree --dir "$dir" /local/domain/1)
expect tree 'name = "guest1"' "$out"

"$XENSIM" device add --dir "$dir" --type vbd --frontend 1 --backend 0 --devid 51712 ||
    fail "device add"
out=$("$XENSIM" tree --dir "$dir" /local/domain/1/device/vbd/51712)
expect "device add" 'backend-id = "0"' "$out"
expect "device add" 'state = "1"' "$out"

out=$("$XENSIM" ports --dir "$dir" --domid 77)
expect "missing domain" "error: -ESRCH" "$out"
"$XENSIM" ports --dir "$dir" 2>/dev/null && fail "ports without --domid succeeded"
"$XENSIM" domains --dir /nonexistent 2>/dev/null && fail "domains on a missing dir succeeded"
"$XENSIM" frobnicate 2>/dev/null && fail "an unknown verb succeeded"
[ "$status" = 0 ] && echo "inspection verbs: all checks passed"
