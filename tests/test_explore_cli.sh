#!/bin/sh
# `xensim explore` (issue 11) over the demo: each bug `--inject` puts in
# (blkback's lost wake-up, blkfront's Initialised written before its
# keys, blkfront's second read of a response) is found within 1,000 seeds, shrunk, and the printed replay
# command fails again, the same way, twice alike; the honest demo passes
# every run; bad options are refused.
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
x=./tools/xensim
fail() { echo "$1"; cat "$2"; exit 1; }

explore_finds() { # name, then the demo options
	name=$1
	shift
	rc=0
	(cd "$dir" && timeout 900 "$OLDPWD/$x" explore --seeds 1000 --schedule "$name.schedule" "$@") \
		>"$dir/$name.out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "explore $*: exit status $rc, not 1" "$dir/$name.out"
	grep -q '^xensim explore: found by run [0-9]*, seed [0-9]*, PCT depth [0-3]' "$dir/$name.out" ||
		fail "explore $*: no finding" "$dir/$name.out"
	grep -q '^xensim explore: smallest failing schedule: the first [0-9]* of its [0-9]* decisions' \
		"$dir/$name.out" || fail "explore $*: no shrunk schedule" "$dir/$name.out"
	cmd=$(sed -n 's/^xensim explore: replay it: xensim //p' "$dir/$name.out")
	[ "$cmd" = "replay $name.schedule" ] || fail "explore $*: replay command '$cmd'" "$dir/$name.out"
	head -1 "$dir/$name.schedule" | grep -q "^# xensim demo $* --seed [0-9]*$" ||
		fail "explore $*: the schedule's note" "$dir/$name.schedule"
	for k in 1 2; do
		rc=0
		(cd "$dir" && timeout 120 "$OLDPWD/$x" $cmd) >"$dir/$name.replay$k.raw" 2>&1 || rc=$?
		[ "$rc" != 0 ] || fail "replay of $name passed" "$dir/$name.replay$k.raw"
		sed -e 's/xensim-demo-disk-[A-Za-z0-9]*/DISK/g' "$dir/$name.replay$k.raw" >"$dir/$name.replay$k"
	done
	cmp -s "$dir/$name.replay1" "$dir/$name.replay2" || {
		diff "$dir/$name.replay1" "$dir/$name.replay2"; exit 1; }
}

explore_finds lw --inject lost-wakeup --reads 3
# Where the request was lost: pushed with no event, then every task waits.
grep -q 'blkfront bumps req_prod to [0-9]*; no event needed on port' "$dir/lw.replay1" ||
	fail "the lost wake-up's replay does not show the unannounced request" "$dir/lw.replay1"
grep -q 'deterministic run (seed [0-9]*) deadlocked' "$dir/lw.replay1" ||
	fail "the lost wake-up's replay does not deadlock" "$dir/lw.replay1"
# blkback named its ring: the report says which one lost the wake-up.
grep -q "dom0 ring vbd of dom1 queue 0 (blkback's end): LOST WAKE-UP: requests reached req_event" \
	"$dir/lw.replay1" || fail "the report does not name the ring" "$dir/lw.replay1"

explore_finds ei --inject early-initialised
grep -q 'xensim demo: the disk did not connect' "$dir/ei.replay1" ||
	fail "the handshake race's replay connects" "$dir/ei.replay1"

# A front end that reads a response's id twice: the double-fetch checker
# sees it on any schedule, and the run says where.
explore_finds fdf --inject front-double-fetch --reads 3
grep -q "double fetch(es) seen; the last, dom1 vcpu0 read byte 0 of slot [0-9]* of ring vbd queue 0 to dom0 (blkfront's end) twice" \
	"$dir/fdf.replay1" || fail "the double fetch's replay does not say where" "$dir/fdf.replay1"

# The honest demo, the same searches: no run fails.
$x explore --seeds 25 --reads 3 --schedule "$dir/none" >"$dir/honest.out" 2>&1 ||
	fail "explore of the honest demo failed" "$dir/honest.out"
grep -q '^xensim explore: all 25 runs passed' "$dir/honest.out" ||
	fail "explore of the honest demo" "$dir/honest.out"
[ ! -e "$dir/none" ] || fail "a passing search wrote a schedule" "$dir/honest.out"
$x explore --seeds 25 --channel >"$dir/chan.out" 2>&1 || fail "explore --channel failed" "$dir/chan.out"

# Refusals.
for bad in "--seed 3" "--record f" "--depth 4" "--seeds 0" "--first-seed x" \
	"--hostile event-storm" "--inject nothing"; do
	rc=0
	$x explore $bad >"$dir/bad.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "explore $bad: exit status $rc, not 2" "$dir/bad.out"
done
for bad in "--inject lost-wakeup" "--reads 0" "--reads 2049" "--seed 1 --inject nothing" \
	"--seed 1 --channel --reads 3" "--seed 1 --inject lost-wakeup --channel"; do
	rc=0
	$x demo $bad >"$dir/bad.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "demo $bad: exit status $rc, not 2" "$dir/bad.out"
done
echo "explore: the three injected bugs found, shrunk and replayed; the honest demo passed"
