#!/bin/sh
# The inspection verbs against a running `xensim serve`: domains, a
# domain's ports and grants over the control socket, the XenStore tree
# through libxenstore, a device added from the command line showing up in
# the tree, and the errors for bad arguments and unknown commands. Every
# verb's exit status is checked, not only what it printed.
. "$(dirname "$0")/xenstore/serve.sh"

# run WANT VERB ARGS...: runs the verb into $out (stdout and stderr) and
# fails unless it exits with WANT ("any" checks nothing).
run() {
    want=$1
    shift
    out=$("$XENSIM" "$@" 2>&1)
    rc=$?
    case $want in
    any) ;;
    *) [ "$rc" = "$want" ] || fail "xensim $* exited $rc, not $want:
$out" ;;
    esac
}

# expect WHAT REGEX: some line of $out matches REGEX (grep -E) as a whole.
expect() {
    printf '%s\n' "$out" | grep -E -x -q -- "$2" || fail "$1 lacks a line '$2':
$out"
}

run 0 domains --dir "$dir"
expect domains '0 +Domain-0 +running .*'
expect domains '1 +guest1 +running .*'
expect domains '2 +guest2 +running .*'

run 0 ports --dir "$dir" --domid 1
expect ports ' +0  reserved .*'
# the store port, bound by xenstored, a host process in dom0
expect ports ' +1  interdomain  dom0 port [0-9]+ .*'
# the console port, bound by the console back end, a host process in dom0
expect ports ' +2  interdomain  dom0 port [0-9]+ .*'
run 0 ports --dir "$dir" --domid 0
expect "dom0 ports" ' +[0-9]+  interdomain  dom1 port 1 .*  host process'

run 0 grants --dir "$dir" --domid 2
expect grants ' +[0-9]+  permit_access.*'
expect grants '.*  dom0 \(0 read, 1 write pins\)'

run 0 tree --dir "$dir" /local/domain/1
expect tree '  name = "guest1"'

run 0 device add --dir "$dir" --type vbd --frontend 1 --backend 0 --devid 51712
run 0 tree --dir "$dir" /local/domain/1/device/vbd/51712
expect "device add" '  backend-id = "0"'
expect "device add" '  state = "1"'

# The control socket answers a missing domain with Xen's error, and the
# client exits 1 on an answer that is an error.
run 1 ports --dir "$dir" --domid 77
expect "missing domain" 'error: -ESRCH .*'
run 2 ports --dir "$dir"
expect "ports without --domid" 'usage: xensim ports .*'
run 1 domains --dir /nonexistent
expect "domains on a missing dir" 'xensim domains: cannot reach /nonexistent/control: .*'
run 2 frobnicate
expect "an unknown verb" "xensim: unknown verb 'frobnicate'"
[ "$status" = 0 ] && echo "inspection verbs: all checks passed"
