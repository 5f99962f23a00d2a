#!/bin/sh
# `xensim env` and `xensim run` against `xensim serve`, as the README
# shows them: Debian's xenstore-utils, unchanged, as dom1 (XenStore
# through dom1's own ring, so its permissions apply) and as a domain
# asked for by the program itself.
. "$(dirname "$0")/../xenstore/serve.sh"
command -v xenstore-read >/dev/null || missing "xenstore-utils not installed"

(
    eval "$("$XENSIM" env --dir "$dir" --domid 1)" || exit 1
    [ "$(xenstore-read domid)" = 1 ] || { echo "FAIL: dom1 reads its domid"; exit 1; }
    [ "$(xenstore-read /local/domain/1/name)" = guest1 ] || { echo "FAIL: dom1's name"; exit 1; }
    # Dom0's home is not dom1's to write.
    xenstore-write /local/domain/0/intruder x 2>/dev/null && { echo "FAIL: dom1 wrote dom0's home"; exit 1; }
    # A relative path is dom1's home.
    xenstore-write /local/domain/0/intruder x 2>/dev/null
    exit 0
) || fail "xenstore-utils as dom1"
xenstore-read /local/domain/0/intruder >/dev/null 2>&1 && fail "dom1's write reached dom0's home"

out=$("$XENSIM" run --dir "$dir" --name asked -- sh -c \
      'echo "$XENSIM_DOMID $(xenstore-read domid) $(xenstore-read name)"') ||
    fail "xensim run: $out"
set -- $out
[ "$#" = 3 ] && [ "$1" = "$2" ] && [ "$3" = asked ] || fail "xensim run printed '$out'"
# The domain went with its program. Its last page goes when xenstored
# lets go of the domain's connection, which it does on its own thread:
# wait for that, boundedly (as th_wait_gone does for the C suites).
gone=0
for _ in $(seq 200); do
    "$XENSIM" domains --dir "$dir" | grep -q ' asked ' || { gone=1; break; }
    sleep 0.05
done
[ "$gone" = 1 ] || fail "the asked-for domain outlived its program"
[ -e "$dir/dom/$1" ] && fail "$dir/dom/$1 left behind"
exit $status
