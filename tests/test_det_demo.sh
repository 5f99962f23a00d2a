#!/bin/sh
# `xensim demo --seed N`, with and without --channel, is a deterministic
# run (issue 11): two runs with one seed write byte-identical traces and
# narration, another seed interleaves the domains differently. What the
# host picks (the channel demo's mapping address, which ASLR moves; the
# device demo's temporary disk) is masked. --record and `xensim replay`
# rerun a schedule, --until stops it with the state printed. serve
# refuses a seed, saying why: its domains are external processes.
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() {
	timeout 60 ./tools/xensim demo --channel --seed "$1" --trace "$dir/$2.json" >"$dir/$2.raw" 2>&1
	sed -e 's/ at 0x[0-9a-f]*$/ at ADDR/' "$dir/$2.raw" >"$dir/$2.txt"
}
run 11 a
run 11 b
run 12 c
grep -q '^xensim demo: deterministic run, seed 11 ' "$dir/a.txt" || {
	echo "the run does not print its seed"; cat "$dir/a.txt"; exit 1; }
grep -q 'dom1 shut down (reason 0); dom0 powered off' "$dir/a.txt" || {
	echo "the seeded demo did not finish"; cat "$dir/a.txt"; exit 1; }
cmp "$dir/a.json" "$dir/b.json" || { echo "seed 11 gave two different traces"; exit 1; }
cmp "$dir/a.txt" "$dir/b.txt" || { diff "$dir/a.txt" "$dir/b.txt"; exit 1; }
if cmp -s "$dir/a.json" "$dir/c.json"; then
	echo "seeds 11 and 12 gave the same interleaving"; exit 1
fi
# Trace timestamps are virtual time: the whole run takes none.
if grep -v '"ts":0.000' "$dir/a.json" | grep -q '"ts":'; then
	echo "a trace timestamp moved though no task waited for a deadline"; exit 1
fi

# The device demo: xenstored's loop is a task too. The temporary disk's
# name is masked, in the narration and in the trace.
drun() {
	timeout 120 ./tools/xensim demo --seed "$1" --trace "$dir/$2.raw.json" >"$dir/$2.raw" 2>&1
	sed -e 's/xensim-demo-disk-[A-Za-z0-9]*/DISK/g' "$dir/$2.raw" >"$dir/$2.txt"
	# The trace carries the narration too, disk name and all.
	sed -e 's/xensim-demo-disk-[A-Za-z0-9]*/DISK/g' "$dir/$2.raw.json" >"$dir/$2.json"
}
drun 5 d
drun 5 e
drun 6 f
grep -q 'blkfront completed the READ: status 0' "$dir/d.txt" || {
	echo "the seeded device demo did not read its disk"; cat "$dir/d.txt"; exit 1; }
cmp "$dir/d.json" "$dir/e.json" || { echo "seed 5 gave two different device traces"; exit 1; }
cmp "$dir/d.txt" "$dir/e.txt" || { diff "$dir/d.txt" "$dir/e.txt"; exit 1; }
if cmp -s "$dir/d.json" "$dir/f.json"; then
	echo "seeds 5 and 6 gave the same device interleaving"; exit 1
fi
# --record writes the schedule; replay reruns it exactly, and --until K
# stops at decision K with the state printed.
timeout 60 ./tools/xensim demo --channel --seed 11 --trace "$dir/r.json" --record "$dir/sched" \
	>"$dir/r.raw" 2>&1
sed -e 's/ at 0x[0-9a-f]*$/ at ADDR/' "$dir/r.raw" >"$dir/r.txt"
cmp "$dir/a.txt" "$dir/r.txt" || { echo "--record changed the run"; diff "$dir/a.txt" "$dir/r.txt"; exit 1; }
head -1 "$dir/sched" | grep -q '^# xensim demo --channel --seed 11 --trace ' || {
	echo "the schedule does not name its command"; head -3 "$dir/sched"; exit 1; }
mv "$dir/r.json" "$dir/r0.json"
timeout 60 ./tools/xensim replay "$dir/sched" >"$dir/p.raw" 2>&1 || {
	echo "replay failed"; cat "$dir/p.raw"; exit 1; }
sed -e 's/ at 0x[0-9a-f]*$/ at ADDR/' "$dir/p.raw" >"$dir/p.txt"
cmp "$dir/a.txt" "$dir/p.txt" || { echo "the replay differs"; diff "$dir/a.txt" "$dir/p.txt"; exit 1; }
cmp "$dir/r0.json" "$dir/r.json" || { echo "the replay's trace differs"; exit 1; }
timeout 60 ./tools/xensim replay "$dir/sched" --until 40 >"$dir/u.txt" 2>&1 || {
	echo "replay --until failed"; cat "$dir/u.txt"; exit 1; }
grep -q '^xensim: stopped at step 40 of the run with seed 11' "$dir/u.txt" &&
	grep -q '^  task 3 dom1.vcpu0: ' "$dir/u.txt" && grep -q '^1 *guest *running' "$dir/u.txt" || {
	echo "replay --until 40 did not print the state"; cat "$dir/u.txt"; exit 1; }
if grep -q 'powered off' "$dir/u.txt"; then echo "replay --until ran on"; exit 1; fi
# A schedule of another seed is refused.
sed -e 's/^seed 11$/seed 12/' "$dir/sched" >"$dir/bad"
rc=0
timeout 60 ./tools/xensim replay "$dir/bad" >"$dir/err" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'written with this seed' "$dir/err" || {
	echo "a schedule of another seed was replayed (rc $rc)"; cat "$dir/err"; exit 1; }
rc=0
./tools/xensim demo --channel --record "$dir/x" >"$dir/err" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'needs --seed' "$dir/err" || {
	echo "--record took no seed (rc $rc)"; cat "$dir/err"; exit 1; }

rc=0
./tools/xensim serve --dir "$dir" --seed 3 >"$dir/err" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'external processes' "$dir/err" || {
	echo "serve took a seed (rc $rc)"; cat "$dir/err"; exit 1; }
[ ! -e "$dir/socket" ] || { echo "serve --seed listened all the same"; exit 1; }
