#!/bin/sh
# The driver, xenbus, XenStore and guest-kernel suites again, with every domain the
# test harness builds on the default ABI running its kernel on FIFO
# (tests/harness.c reads XENSIM_TEST_EVTCHN_ABI): they must pass unchanged
# on both ABIs. Each suite prints its own failures.
XENSIM_TEST_EVTCHN_ABI=fifo
export XENSIM_TEST_EVTCHN_ABI
status=0
for t in test_console test_blk test_blk_xenbus test_blk_hostile test_hostile_peers test_net test_net_xenbus \
         test_xenbus test_xenbus_dev test_guest_kernel test_gnttab_life xenstore/test_xs_sim \
         xenstore/test_xs_ring; do
    echo "== $t on FIFO"
    ./tests/$t || status=1
done
exit $status
