#!/bin/bash
# CI's test of build.sh, called the way OSS-Fuzz calls it: the variables
# OSS-Fuzz sets, by hand (ASan with libFuzzer, OSS-Fuzz's flags), a copy of
# the source at $SRC/xensim, then checks $OUT: every harness is there, links
# no liburcu.so, and runs each of its seeds without a finding; the
# xenstored harnesses have their dictionary.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/out" "$tmp/work"
# A clean copy, as OSS-Fuzz clones one: the tracked files, no build.
mkdir -p "$tmp/src/xensim"
(cd "$src" && git ls-files -z | xargs -0 cp --parents -t "$tmp/src/xensim")
export SRC=$tmp/src OUT=$tmp/out WORK=$tmp/work CC=clang CXX=clang++
export CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link"
export LIB_FUZZING_ENGINE=-fsanitize=fuzzer
bash "$src/fuzz/oss-fuzz/build.sh"

status=0
names=$(cd "$WORK/xensim-build" && make -s fuzz-list)
for h in $names; do
	name=$(basename "$h")
	bin=$OUT/$name
	if [ ! -x "$bin" ]; then
		echo "check-build: $name is missing from \$OUT" >&2
		status=1
		continue
	fi
	if ldd "$bin" | grep -q liburcu; then
		echo "check-build: $name links liburcu dynamically" >&2
		status=1
	fi
	case $name in
	fuzz_xenstored_*)
		[ -f "$OUT/$name.dict" ] || { echo "check-build: no $name.dict" >&2; status=1; } ;;
	esac
	seeds=$tmp/seeds/$name
	mkdir -p "$seeds"
	[ -f "$OUT/${name}_seed_corpus.zip" ] && unzip -q -o "$OUT/${name}_seed_corpus.zip" -d "$seeds"
	if ! "$bin" -runs=0 "$seeds" >"$tmp/$name.log" 2>&1; then
		echo "check-build: $name fails on its seeds:" >&2
		tail -20 "$tmp/$name.log" >&2
		status=1
	fi
	echo "check-build: $name ok ($(ls "$seeds" | wc -l) seeds)"
done
exit $status
