#!/bin/sh
# make check: every harness replays its seed corpus (fuzz/corpus/NAME) and
# its regression inputs (fuzz/regress/NAME), each input once, with the
# plain main of fz_replay.c (or libFuzzer's, in a fuzzing build). Any
# finding fails, and so does a directory whose harness was not built.
srcdir=${srcdir:-.}
status=0
names=$(ls "$srcdir/fuzz/corpus" "$srcdir/fuzz/regress" 2>/dev/null | grep '^fuzz_' | sort -u)
for h in $names; do
    dirs=
    for d in "$srcdir/fuzz/corpus/$h" "$srcdir/fuzz/regress/$h"; do
        [ -d "$d" ] && dirs="$dirs $d"
    done
    echo "== $h:$dirs"
    if [ ! -x "./fuzz/$h" ]; then
        echo "replay: no harness ./fuzz/$h" >&2
        status=1
        continue
    fi
    # shellcheck disable=SC2086
    # A hang is a finding too: bounded, so that it fails rather than
    # wedging the suite.
    timeout 600 ./fuzz/$h -runs=0 $dirs || status=1
done
exit $status
