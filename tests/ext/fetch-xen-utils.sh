#!/bin/sh
# Debian's xen-utils-4.17 into DEST for the external-domain tests: its
# vchan-socket-proxy, xenconsole, xenstored.
exec sh "$(dirname "$0")/fetch-deb.sh" xen-utils-4.17 "$1" usr/lib/xen-4.17/bin/vchan-socket-proxy
