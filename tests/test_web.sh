#!/bin/bash
# The web view in Debian's headless Chromium, driven by playwright-core
# (npm-installed into the build tree here at test time; it fetches no
# browser): the live page on `xensim demo --http` as the demo runs, the
# player on a recording of it (`xensim view`), of the demo on FIFO
# event channels and of the demo on 64-bit 2-level words (4096 ports),
# and the live page on `xensim serve --http` with a malformed request in
# between. Screenshots
# land in tests/web-artifacts/. Without Chromium, Node.js or npm it skips,
# unless CI is set: then a missing tool is a failure.
set -euo pipefail
src=${srcdir:-.}
. "$src/tests/web_lib.sh"
x=./tools/xensim
art=tests/web-artifacts
nm=tests/web-node
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM

missing() {
	if [ -n "${CI:-}" ]; then
		echo "FAIL: $* (CI is set, so every tool must be there: scripts/install-deps)"
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}
[ -x "$CHROMIUM" ] || missing "no Chromium at $CHROMIUM (apt-get install chromium)"
command -v node >/dev/null || missing "no node (apt-get install nodejs)"
command -v npm >/dev/null || missing "no npm (apt-get install npm)"
if [ ! -f "$nm/node_modules/playwright-core/package.json" ]; then
	mkdir -p "$nm"
	(cd "$nm" && npm install --no-audit --no-fund --silent --no-save playwright-core@1.64.1) ||
		missing "npm could not install playwright-core"
fi
export NODE_PATH=$PWD/$nm/node_modules

work=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" || true
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$art"

echo "# the live page on xensim demo --http"
start_server "$work/demo.log" $x demo --http 127.0.0.1:0
node "$src/tests/web/live_demo.js" "$server_url" "$art"
stop_server
grep -q 'blkfront completed the READ: status 0' "$work/demo.log"
echo "ok - the demo ran to its end and exited cleanly"

echo "# the player on a recording"
$x demo --trace "$work/run.json" >/dev/null
start_server "$work/view.log" $x view "$work/run.json" --http 127.0.0.1:0
node "$src/tests/web/player.js" "$server_url" "$art"
stop_server
echo "ok - xensim view exited cleanly"

echo "# the player on a recording with FIFO event channels"
$x demo --evtchn fifo --trace "$work/fifo.json" >/dev/null
start_server "$work/fifo.log" $x view "$work/fifo.json" --http 127.0.0.1:0
node "$src/tests/web/fifo.js" "$server_url" "$art"
stop_server
echo "ok - xensim view of a FIFO run exited cleanly"

echo "# the player on a recording with 64-bit event words"
$x demo --evtchn 2l-64 --trace "$work/wide.json" >/dev/null
start_server "$work/wide.log" $x view "$work/wide.json" --http 127.0.0.1:0
node "$src/tests/web/wide.js" "$server_url" "$art"
stop_server
echo "ok - xensim view of a 2l-64 run exited cleanly"

echo "# the live page on xensim serve --http"
start_server "$work/serve.log" $x serve --dir "$work" --domains 1 --http 127.0.0.1:0
node "$src/tests/web/live_serve.js" "$server_url" "$art" "$work/socket"
stop_server
echo "ok - xensim serve exited cleanly"
