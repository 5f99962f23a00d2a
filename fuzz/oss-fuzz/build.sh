#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build script, called as OSS-Fuzz calls it:
# $CC and $CFLAGS carry the sanitizer and coverage flags, the harnesses link
# with $LIB_FUZZING_ENGINE, and everything the runners need goes to $OUT:
# each harness, its seed corpus as NAME_seed_corpus.zip, the xs_wire
# dictionary as NAME.dict for the xenstored harnesses. The source is
# $SRC/xensim; the build happens in $WORK (or a temporary directory), out
# of tree. liburcu is linked statically: the runners have no liburcu.so.
src=${SRC:?}/xensim
build=${WORK:-$(mktemp -d)}/xensim-build
: "${OUT:?}" "${CC:?}" "${LIB_FUZZING_ENGINE:?}"

cd "$src"
[ -x configure ] || autoreconf -fi
rm -rf "$build"
mkdir -p "$build/static"
# Only the static archives in a directory searched first: -lurcu-* then
# resolve to them, and the system's .so files are not seen.
for l in liburcu-common liburcu-memb liburcu-bp liburcu-cds; do
	a=$($CC -print-file-name=$l.a)
	[ -f "$a" ] && ln -sf "$a" "$build/static/"
done
cd "$build"
"$src/configure" --quiet --enable-fuzzing=external CC="$CC" CFLAGS="${CFLAGS:-}" \
	LDFLAGS="-L$build/static ${LDFLAGS:-}" LIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE"
make -j2 fuzz-harnesses
for h in $(make -s fuzz-list); do
	name=$(basename "$h")
	cp "$h" "$OUT/$name"
	if [ -d "$src/fuzz/corpus/$name" ]; then
		(cd "$src/fuzz/corpus/$name" && zip -q -j "$OUT/${name}_seed_corpus.zip" ./*)
	fi
	case $name in
	fuzz_xenstored_*) cp "$src/fuzz/xs_wire.dict" "$OUT/$name.dict" ;;
	esac
done
