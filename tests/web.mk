# tests/web.mk: the web view. Its command line and HTTP answers (no
# browser needed), then the page itself in headless Chromium, which
# npm-installs playwright-core into tests/web-node/ at test time and saves
# screenshots in tests/web-artifacts/.
TESTS += tests/test_web_cli.sh tests/test_web.sh
EXTRA_DIST += tests/test_web_cli.sh tests/test_web.sh tests/web_lib.sh tests/web/lib.js \
	tests/web/live_demo.js tests/web/player.js tests/web/fifo.js \
	tests/web/wide.js tests/web/live_serve.js
CLEAN_LOCAL_DIRS += tests/web-node tests/web-artifacts
EXTRA_DIST += docs/web-view.png
