# tests/: Check suites. Each suite forks every case with a timeout.
# Link test programs with $(TEST_LIBS) and compile them with
# $(TEST_CFLAGS_ALL) (names automake does not mistake for per-program flags).
noinst_LTLIBRARIES += libtestharness.la
libtestharness_la_SOURCES = tests/harness.c tests/harness.h
libtestharness_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

TEST_LIBS = libtestharness.la libxensim.la $(CHECK_LIBS) $(URCU_LIBS) $(PTHREAD_LIBS)
TEST_CFLAGS_ALL = $(AM_CFLAGS) $(CHECK_CFLAGS)

include tests/evtchn.mk
include tests/gnttab.mk
include tests/domain.mk
include tests/xenbus.mk
include tests/netcons.mk
include tests/blk.mk
include tests/core.mk
