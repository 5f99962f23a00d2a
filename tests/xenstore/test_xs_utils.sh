#!/bin/sh
# Debian's xenstore-utils, unchanged, against `xensim serve`; outputs as
# captured from C xenstored (real-clients.md §1.6).
. "$(dirname "$0")/serve.sh"
command -v xenstore-read >/dev/null || missing "xenstore-utils not installed"

check() {
    want=$1; shift
    got=$("$@" 2>&1)
    [ "$got" = "$want" ] || fail "$*: got '$got', wanted '$want'"
}
fails() {
    "$@" >/dev/null 2>&1 && fail "$* succeeded"
}

check "" xenstore-write /a hello
check hello xenstore-read /a
check "" xenstore-write /b/c 1 /b/d 'x\ty'
check "hello
1" xenstore-read /a /b/c
check "$(printf 'x\ty')" xenstore-read -R /b/d
check "c
d" xenstore-list /b
check "c = \"1\"
d = \"x\\ty\"" xenstore-ls /b
check "/b/c = \"1\"
/b/d = \"x\\ty\"" xenstore-ls -f /b
check "" xenstore-exists /a
fails xenstore-exists /zz
fails xenstore-read /nope
fails xenstore-read 'bad//path'
fails xenstore-read 'trail/'
fails xenstore-read '/with space'
fails xenstore-rm /
check "" xenstore-chmod /b n0 r5
check "n0,r5" sh -c 'xenstore-ls -p / | sed -n "s/^b = .*(\(.*\))$/\1/p"'
check "" xenstore-chmod -r /b b0
check "b0" sh -c 'xenstore-ls -p / | sed -n "s/^b = .*(\(.*\))$/\1/p"'
check "b0
b0" sh -c 'xenstore-ls -p /b | sed -n "s/.*(\(.*\))$/\1/p"'
check "" xenstore-rm /b/c
check "d" xenstore-list /b
check "" xenstore-rm -t /b/d
fails xenstore-exists /b
check "" xenstore-write rel/x 42
check 42 xenstore-read /local/domain/0/rel/x
check 42 xenstore-read rel/x
check "0
1
2" xenstore-list /local/domain
check guest1 xenstore-read /local/domain/1/name
# Serve's console back end gave the guest a pty: console/tty, as
# xenconsoled writes it, after the toolstack made the home (listings come
# in the order the children were made, as C xenstored gives them).
check "domid = \"2\"
name = \"guest2\"
console = \"\"
 tty = \"$(xenstore-read /local/domain/2/console/tty)\"" xenstore-ls /local/domain/2

# Watches: the initial event, a change below, the removal. Each watcher
# prints through a FIFO; its first line, the event a watch fires when it
# is set, says the watch is registered, and nothing changes before both
# are. A watcher that misses an event is killed by timeout, which ends
# its output, so the test fails rather than hangs.
mkfifo "$dir/w.fifo" "$dir/rw.fifo"
timeout 20 xenstore-watch -n 3 /w >"$dir/w.fifo" 2>&1 &
wpid=$!
timeout 20 xenstore-watch -n 3 relw >"$dir/rw.fifo" 2>&1 &
rwpid=$!
exec 3<"$dir/w.fifo" 4<"$dir/rw.fifo"
read -r w1 <&3 || fail "xenstore-watch /w: no first event"
read -r rw1 <&4 || fail "xenstore-watch relw: no first event"
xenstore-write /w/x 1
xenstore-rm /w
xenstore-write relw/q 5
xenstore-rm relw
w=$(cat <&3)
rw=$(cat <&4)
exec 3<&- 4<&-
wait $wpid || fail "xenstore-watch /w exited with $?"
wait $rwpid || fail "xenstore-watch relw exited with $?"
check "/w
/w/x
/w" printf '%s\n%s' "$w1" "$w"
check "relw
relw/q
relw" printf '%s\n%s' "$rw1" "$rw"

# A guest's own socket: its identity, its rights.
check 1 env XENSTORED_PATH="$dir/socket.1" xenstore-read domid
check 1 env XENSTORED_PATH="$dir/socket.1" xenstore-read /local/domain/1/domid
fails env XENSTORED_PATH="$dir/socket.1" xenstore-write /x 1
fails env XENSTORED_PATH="$dir/socket.1" xenstore-read /local/domain/2/name
fails env XENSTORED_PATH="$dir/socket.1" xenstore-read /a
# `xensim env` points a guest's processes at its own store ring.
"$XENSIM" env --dir "$dir" --domid 1 | grep -qx "export XENSTORED_PATH='$dir/dom/1/xenstore'" ||
    fail "xensim env --domid 1: $("$XENSIM" env --dir "$dir" --domid 1)"
exit $status
