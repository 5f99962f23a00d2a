# Sourced by the web view's tests: start an `xensim` server in the
# background and read the URL it prints (waiting on its output, bounded),
# stop it and check how it ended.

# start_server LOG CMD...: runs CMD with its output in LOG; sets
# server_pid and server_url once CMD has printed its http:// address.
start_server() {
	local log=$1 fifo line
	shift
	fifo=$(mktemp -u)
	mkfifo "$fifo"
	"$@" >"$fifo" 2>>"$log.err" &
	server_pid=$!
	exec 3<"$fifo"
	rm -f "$fifo"
	server_url=
	# Each read waits for a line (60 s at most); the server prints its
	# URL within a few lines.
	while IFS= read -r -t 60 line <&3; do
		printf '%s\n' "$line" >>"$log"
		case $line in
		*http://*)
			server_url=$(printf '%s\n' "$line" | grep -o 'http://[^ ]*/' | head -1)
			break ;;
		esac
	done
	if [ -z "$server_url" ]; then
		echo "no URL from: $*"
		cat "$log" "$log.err" 2>/dev/null
		return 1
	fi
	# Keep draining its output so it never blocks on a full pipe.
	cat <&3 >>"$log" &
	drain_pid=$!
	exec 3<&-
}

# stop_server: SIGTERM, then its exit status must be 0 (under ASan a leak
# at exit would make it non-zero).
stop_server() {
	local rc=0
	kill -TERM "$server_pid" 2>/dev/null || true
	wait "$server_pid" || rc=$?
	wait "$drain_pid" 2>/dev/null || true
	server_pid=
	return $rc
}
