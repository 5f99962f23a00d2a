#!/bin/bash
# The same harnesses for AFL++: configures the current (empty) directory as
# an out-of-tree build with afl-clang-fast, ASan and UBSan, and builds every
# harness. AFL++'s compiler takes -fsanitize=fuzzer as libFuzzer's does and
# links its libAFLDriver (a main that runs LLVMFuzzerTestOneInput from
# AFL's shared memory, in persistent mode), so the sources do not change.
#
# Usage: mkdir build-afl && cd build-afl && ../fuzz/build-afl.sh
# Then:  AFL_DRIVER_DONT_DEFER=1 AFL_SKIP_CPUFREQ=1 afl-fuzz -t 10000 -m none \
#          -i ../fuzz/corpus/fuzz_console -o out -- ./fuzz/fuzz_console
# (-x ../fuzz/xs_wire.dict for the xenstored harnesses; Debian: apt-get
# install afl++.) AFL_DRIVER_DONT_DEFER is needed: by default the driver
# forks its children after LLVMFuzzerInitialize, which has started the
# simulation's vCPU threads, and a forked child has none of them, so the
# first input hangs. With it the fork server starts first and each child
# builds the simulation once, then runs inputs in persistent mode.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v afl-clang-fast >/dev/null; then
	echo "build-afl: no afl-clang-fast: apt-get install afl++" >&2
	exit 77
fi
[ -x "$src/configure" ] || (cd "$src" && autoreconf -fi)
"$src/configure" --quiet --enable-fuzzing=external CC=afl-clang-fast \
	CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	LIB_FUZZING_ENGINE=-fsanitize=fuzzer
make -j2 fuzz-harnesses
echo "build-afl: built $(make -s fuzz-list)"
