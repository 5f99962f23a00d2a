#!/bin/sh
# docs/ARCHITECTURE.md's paths of one event and one grant map name files
# and functions that are there (issue 7); the check itself is
# tests/check_architecture_doc.py.
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
exec python3 "${srcdir:-.}/tests/check_architecture_doc.py"
