#!/bin/bash
# The web view's command line, without a browser: a non-loopback address
# is refused unless --http-public, with a message that says why and what
# to do; bad addresses and recordings are answered; a malformed HTTP
# request gets a 4xx while `xensim serve` goes on (XenStore answers, the
# control socket answers, the server still serves); nothing feeds the
# view while no page is open.
set -euo pipefail
. "${srcdir:-.}/tests/web_lib.sh"
x=./tools/xensim
work=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" || true
	rm -rf "$work"
}
trap cleanup EXIT

# refused CMD...: exits 2 and says it refuses, naming --http-public.
refused() {
	local rc=0
	"$@" >"$work/out" 2>&1 </dev/null || rc=$?
	if [ "$rc" -ne 2 ] || ! grep -q 'refusing to serve the web view' "$work/out" ||
	   ! grep -q -- '--http-public' "$work/out"; then
		echo "not refused as it should be (rc $rc): $*"
		cat "$work/out"
		exit 1
	fi
	echo "ok - refused: $*"
}
refused $x demo --http 0.0.0.0:8080
refused $x demo --http '[::]:8080'
refused $x serve --dir "$work" --http 192.0.2.1:80
echo '[]' >"$work/empty.json"
refused $x view "$work/empty.json" --http 0.0.0.0:0

# answered CMD... -- TEXT: fails with a message containing TEXT.
answered() {
	local text=${*: -1} rc=0
	set -- "${@:1:$(($# - 2))}"
	"$@" >"$work/out" 2>&1 </dev/null || rc=$?
	if [ "$rc" -eq 0 ] || ! grep -q -- "$text" "$work/out"; then
		echo "expected a failure saying '$text' (rc $rc): $*"
		cat "$work/out"
		exit 1
	fi
	echo "ok - $* says '$text'"
}
answered $x demo --http -- 'needs ADDR:PORT'
answered $x demo --http 127.0.0.1:99999 -- 'no port number'
answered $x demo --http-public -- 'goes with --http'
answered $x view "$work/missing.json" -- 'No such file'
echo 'not json' >"$work/bad.json"
answered $x view "$work/bad.json" -- 'not a Chrome trace'

# --http-public lets a wildcard address through; the test talks to it on
# loopback only.
start_server "$work/view.log" $x view "$work/empty.json" --http 0.0.0.0:0 --http-public
port=${server_url##*:}
port=${port%/}
exec 4<>/dev/tcp/127.0.0.1/"$port"
printf 'GET /info HTTP/1.0\r\n\r\n' >&4
IFS= read -r status <&4
exec 4<&-
case $status in
HTTP/1.*\ 200*) echo "ok - --http-public serves: $status" ;;
*) echo "no 200 from the public view: $status"; exit 1 ;;
esac
stop_server
echo "ok - xensim view stops cleanly on SIGTERM"

# A malformed request to `xensim serve --http`, then the simulation goes on.
start_server "$work/serve.log" $x serve --dir "$work" --domains 1 --http 127.0.0.1:0
port=${server_url##*:}
port=${port%/}
# status_of BYTES: the status line the server answers BYTES with.
status_of() {
	exec 4<>/dev/tcp/127.0.0.1/"$port"
	printf '%b' "$1" >&4
	IFS= read -r -t 60 status <&4 || status="(no answer)"
	exec 4<&-
	printf '%s\n' "${status%$'\r'}"
}
for req in 'this is not HTTP\r\n\r\n' 'GET / HTTP/1.1\r\nNo colon here\r\n\r\n' \
	'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n' \
	'GET /\x01\x02 HTTP/1.1\r\nHost: x\r\n\r\n'; do
	s=$(status_of "$req")
	case $s in
	HTTP/1.*\ 4[0-9][0-9]*) echo "ok - malformed request answered: $s" ;;
	*) echo "malformed request '$req' got: $s"; exit 1 ;;
	esac
done
s=$(status_of 'POST /events HTTP/1.0\r\n\r\n')
case $s in HTTP/1.*\ 405*) echo "ok - POST: $s" ;; *) echo "POST got: $s"; exit 1 ;; esac
s=$(status_of 'GET /../../etc/passwd HTTP/1.0\r\n\r\n')
case $s in HTTP/1.*\ 404*) echo "ok - a path outside the page: $s" ;; *) echo "traversal got: $s"; exit 1 ;; esac
s=$(status_of 'GET /info HTTP/1.0\r\n\r\n')
case $s in HTTP/1.*\ 200*) echo "ok - the server still serves: $s" ;; *) echo "after: $s"; exit 1 ;; esac

# info: the body of GET /info (HTTP/1.0: the server closes after it).
info() {
	exec 4<>/dev/tcp/127.0.0.1/"$port"
	printf 'GET /info HTTP/1.0\r\n\r\n' >&4
	timeout 60 cat <&4 | tail -n 1
	exec 4<&-
}
# The view costs nothing while no page is open: the trace subscribers
# that feed it start with the first /events stream and stop with the last.
case $(info) in
*'"pages":0,"feeding":false'*) echo "ok - no page open: nothing feeds the view" ;;
*) echo "with no page open: $(info)"; exit 1 ;;
esac
exec 5<>/dev/tcp/127.0.0.1/"$port"
printf 'GET /events HTTP/1.0\r\n\r\n' >&5
IFS= read -r -t 60 status <&5 || status="(no answer)"
case $status in HTTP/1.*\ 200*) ;; *) echo "/events got: $status"; exit 1 ;; esac
case $(info) in
*'"pages":1,"feeding":true'*) echo "ok - a page open: the probe and the trace feed it" ;;
*) echo "with a page open: $(info)"; exit 1 ;;
esac
exec 5<&-
# The server finds the stream gone at its next write, a keepalive every
# few seconds at most; the wait for it is bounded (300 looks).
fed=yes
for _ in $(seq 300); do
	case $(info) in *'"pages":0,"feeding":false'*) fed=no; break ;; esac
	sleep 0.2
done
[ $fed = no ] || { echo "the page closed but the view is still fed: $(info)"; exit 1; }
echo "ok - the page closed: nothing feeds the view again"

export XENSTORED_PATH=$work/socket
xenstore-write /local/domain/0/after-bad-requests yes
[ "$(xenstore-read /local/domain/0/after-bad-requests)" = yes ]
echo "ok - XenStore still answers"
$x domains --dir "$work" | grep -q guest1
echo "ok - the simulation still runs guest1"
stop_server
echo "ok - xensim serve --http stops cleanly on SIGTERM"
