#!/bin/sh
# The installed API's names all carry the xensim_ prefix (issue 7); the
# check itself is tests/check_api_prefix.py.
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
exec python3 "${srcdir:-.}/tests/check_api_prefix.py"
