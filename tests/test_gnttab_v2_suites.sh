#!/bin/sh
# The driver, xenbus, XenStore and guest-kernel suites again, with every guest's
# kernel switching its grant table to v2 at first use (tests/harness.c
# reads XENSIM_TEST_GRANT_VERSION; Xen 4.17 on x86 offers v2 by default):
# they must pass unchanged on both grant versions. Each suite prints its
# own failures (test_gnttab_v2 kernel_asks_v2_at_boot shows the switch).
XENSIM_TEST_GRANT_VERSION=2
export XENSIM_TEST_GRANT_VERSION
status=0
# (test_gnttab_life reads v1 entries itself: test_gnttab_v2 is its v2 twin.)
for t in test_console test_blk test_blk_xenbus test_blk_hostile test_hostile_peers test_net test_net_xenbus \
         test_xenbus test_xenbus_dev test_guest_kernel xenstore/test_xs_sim \
         xenstore/test_xs_ring; do
    echo "== $t on grant table v2"
    ./tests/$t || status=1
done
exit $status
