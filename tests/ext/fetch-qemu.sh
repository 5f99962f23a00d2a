#!/bin/sh
# Debian's qemu-system-xen into DEST for the QEMU back-end tests. Its
# shared libraries are ordinary packages, installed by scripts/install-deps.
exec sh "$(dirname "$0")/fetch-deb.sh" qemu-system-xen "$1" usr/libexec/xen-qemu-system-i386
