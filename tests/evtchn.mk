# tests/evtchn.mk: Check suites for sim/evtchn*
EVTCHN_TEST_HDRS = tests/evtchn_helpers.h tests/fifo_helpers.h

check_PROGRAMS += tests/test_evtchn_ops
TESTS += tests/test_evtchn_ops
tests_test_evtchn_ops_SOURCES = tests/test_evtchn_ops.c $(EVTCHN_TEST_HDRS)
tests_test_evtchn_ops_LDADD = $(TEST_LIBS)
tests_test_evtchn_ops_CFLAGS = $(TEST_CFLAGS_ALL)

check_PROGRAMS += tests/test_evtchn_delivery
TESTS += tests/test_evtchn_delivery
tests_test_evtchn_delivery_SOURCES = tests/test_evtchn_delivery.c $(EVTCHN_TEST_HDRS)
tests_test_evtchn_delivery_LDADD = $(TEST_LIBS)
tests_test_evtchn_delivery_CFLAGS = $(TEST_CFLAGS_ALL)

check_PROGRAMS += tests/test_evtchn_stress
TESTS += tests/test_evtchn_stress
tests_test_evtchn_stress_SOURCES = tests/test_evtchn_stress.c $(EVTCHN_TEST_HDRS)
tests_test_evtchn_stress_LDADD = $(TEST_LIBS)
tests_test_evtchn_stress_CFLAGS = $(TEST_CFLAGS_ALL)

# Issue 10's items, each with the line of Xen that decides it.
check_PROGRAMS += tests/test_evtchn_decisions
TESTS += tests/test_evtchn_decisions
tests_test_evtchn_decisions_SOURCES = tests/test_evtchn_decisions.c $(EVTCHN_TEST_HDRS)
tests_test_evtchn_decisions_LDADD = $(TEST_LIBS)
tests_test_evtchn_decisions_CFLAGS = $(TEST_CFLAGS_ALL)

# The FIFO ABI: conformance rows, delivery through the guest's consumer.
check_PROGRAMS += tests/test_evtchn_fifo
TESTS += tests/test_evtchn_fifo
tests_test_evtchn_fifo_SOURCES = tests/test_evtchn_fifo.c $(EVTCHN_TEST_HDRS)
tests_test_evtchn_fifo_LDADD = $(TEST_LIBS)
tests_test_evtchn_fifo_CFLAGS = $(TEST_CFLAGS_ALL)


# The driver and xenbus suites once more, every harness-built domain on FIFO.
TESTS += tests/test_fifo_suites.sh tests/test_gnttab_v2_suites.sh
EXTRA_DIST += tests/test_fifo_suites.sh tests/test_gnttab_v2_suites.sh
