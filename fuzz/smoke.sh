#!/bin/bash
# make fuzz-smoke: runs every harness of a libFuzzer build (--enable-fuzzing)
# from its seed corpus, for FUZZ_RUNS inputs each when set (what CI uses:
# a fixed amount of work, not of time), else for FUZZ_SECONDS (default 60).
# Prints one JSON line per harness in the bench format: executions per
# second (wall clock) beside the target for it as baseline, the
# same per second of CPU, and libFuzzer's coverage. A crash, leak, timeout or checker finding fails the run and
# names the reproducer, which `make fuzz-repro HARNESS=... INPUT=...`
# replays.
#
# Usage: fuzz/smoke.sh SRCDIR HARNESS...   (run in the build directory)
set -uo pipefail

srcdir=$1
shift
seconds=${FUZZ_SECONDS:-60}
runs=${FUZZ_RUNS:-}
out=fuzz-smoke
rm -rf "$out"
mkdir -p "$out"

# exec/s the issue asks of each harness on one core of the CI machine.
target() {
	case $1 in
	fuzz_blkback) echo 10000 ;;
	*) echo 1000 ;;
	esac
}

status=0
for h in "$@"; do
	name=$(basename "$h")
	work=$out/$name
	mkdir -p "$work/corpus" "$work/artifacts"
	# The seeds are copied: libFuzzer adds what it finds to its first
	# corpus directory, and the source tree must stay as it is.
	if [ -d "$srcdir/fuzz/corpus/$name" ]; then
		cp "$srcdir/fuzz/corpus/$name"/* "$work/corpus/" 2>/dev/null || true
	fi
	# A fixed libFuzzer seed (FUZZ_SEED, default 1) makes CI's smoke run
	# the same inputs each time, so that it is red for a change and not
	# for luck; FUZZ_SEED=0 (libFuzzer's random seed) explores, as
	# .ci/long does.
	args=(-timeout=25 -rss_limit_mb=2560 -print_final_stats=1 -seed="${FUZZ_SEED:-1}"
	      -artifact_prefix="$work/artifacts/")
	case $name in fuzz_xenstored_*) args+=(-dict="$srcdir/fuzz/xs_wire.dict") ;; esac
	if [ -n "$runs" ]; then
		args+=(-runs="$runs")
	else
		args+=(-max_total_time="$seconds")
	fi
	# The seeds (and regression inputs) alone first: they must all pass.
	regress=()
	[ -d "$srcdir/fuzz/regress/$name" ] && regress=("$srcdir/fuzz/regress/$name")
	# Wall and CPU time of the whole run (bash's time, in seconds):
	# libFuzzer's own exec/s counts whole seconds, too coarse for a short
	# run. On a shared machine the CPU figure (inputs per second of CPU,
	# all the simulation's threads together) is the steadier one.
	TIMEFORMAT='%R %U %S'
	{ time "$h" "${args[@]}" "$work/corpus" "${regress[@]}" >"$work/log" 2>&1; } 2>"$work/time"
	rc=$?
	read -r real user sys <"$work/time"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1 | grep -o '[0-9]*')
	base=$(target "$name")
	awk -v n="${execs:-0}" -v r="$real" -v u="$user" -v s="$sys" -v b="$base" \
	    -v name="$name" -v cov="${cov:-0}" 'BEGIN {
		v = r > 0 ? n / r : 0; c = u + s > 0 ? n / (u + s) : 0
		printf "{\"bench\": \"%s\", \"value\": %.0f, \"unit\": \"exec/s\", \"baseline\": %d, \"ratio\": %.3f, \"exec_per_cpu_s\": %.0f, \"cov\": %d}\n", name, v, b, v / b, c, cov
	}'
	if [ $rc -ne 0 ]; then
		status=1
		echo "fuzz-smoke: $name failed (exit $rc); its log, $work/log, ends:" >&2
		grep -E 'fuzz finding|ERROR|SUMMARY|Test unit written' "$work/log" | tail -8 >&2
		for a in "$work"/artifacts/*; do
			[ -e "$a" ] && echo "fuzz-smoke: reproduce with: make fuzz-repro HARNESS=$name INPUT=$a" >&2
		done
	fi
done
exit $status
