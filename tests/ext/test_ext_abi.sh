#!/bin/sh
# The drop-in libraries against Debian's own: the same soname, the same
# version nodes in the same chain, every symbol at the same version (so
# that BIND_NOW binaries load), and no Xen library needed underneath.
status=0
fail() { echo "FAIL: $*"; status=1; }
sys=/usr/lib/x86_64-linux-gnu
[ -d "$sys" ] || sys=$(dirname "$(find /usr/lib -name libxenctrl.so.4.17 2>/dev/null | head -1)")
for tool in objdump readelf; do
    command -v $tool >/dev/null || { echo "SKIP: $tool missing (apt-get install binutils)"; exit 77; }
done
syms() { objdump -T "$1" | awk '$2 == "g" && $4 != "*ABS*" { print $(NF-1), $NF }' | sort; }
nodes() { readelf -V "$1" | sed -n '/Version definition/,/Version needs/p' |
          grep -E 'Name:|Parent' | grep -v 'Flags: BASE' | sed 's/^ *0x[0-9a-f]*: *//; s/Rev:.*Name: /node /'; }
for lib in libxenevtchn.so.1 libxengnttab.so.1 libxenctrl.so.4.17 libxenforeignmemory.so.1 \
           libxendevicemodel.so.1; do
    ours=libxen/$lib
    [ -f "$ours" ] || { fail "$ours not built"; continue; }
    [ -f "$sys/$lib" ] || { echo "SKIP: $sys/$lib missing (apt-get install libxen-dev)"; exit 77; }
    [ "$(readelf -d "$ours" | sed -n 's/.*soname: \[\(.*\)\]/\1/p')" = "$lib" ] || fail "$lib: soname"
    syms "$sys/$lib" > "$ours.want"
    syms "$ours" > "$ours.have"
    if ! diff -u "$ours.want" "$ours.have"; then
        fail "$lib: exported symbols differ from Debian's"
    fi
    [ "$(nodes "$sys/$lib")" = "$(nodes "$ours")" ] || fail "$lib: version nodes differ"
    if readelf -d "$ours" | grep NEEDED | grep -v 'libc\.so' | grep .; then
        fail "$lib: needs more than libc"
    fi
    echo "$lib: $(wc -l < "$ours.have") symbols, as Debian's"
    rm -f "$ours.want" "$ours.have"
done
exit $status
