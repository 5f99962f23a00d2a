# tests/: Check suites. Each suite forks every case with a timeout.
# Link test programs with $(TEST_LIBS) and compile them with
# $(TEST_CFLAGS_ALL) (names automake does not mistake for per-program flags).
# The teardown check alone, without Check: the fuzz harnesses use it too.
noinst_LTLIBRARIES += tests/libleakcheck.la
tests_libleakcheck_la_SOURCES = tests/leakcheck.c tests/leakcheck.h

noinst_LTLIBRARIES += libtestharness.la
libtestharness_la_SOURCES = tests/harness.c tests/harness.h
libtestharness_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
libtestharness_la_LIBADD = tests/libleakcheck.la

# The "echo" device, a tiny driver pair for testing the xenbus framework.
noinst_LTLIBRARIES += tests/echo/libecho.la
tests_echo_libecho_la_SOURCES = tests/echo/echo.h tests/echo/echo_front.c tests/echo/echo_back.c
tests_echo_libecho_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/echo

TEST_LIBS = libtestharness.la tests/echo/libecho.la libxensim.la $(CHECK_LIBS) $(URCU_LIBS) \
	$(PTHREAD_LIBS)
TEST_CFLAGS_ALL = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/xenstored

include tests/evtchn.mk
include tests/gnttab.mk
include tests/domain.mk
include tests/xenbus.mk
include tests/netcons.mk
include tests/blk.mk
include tests/load.mk
include tests/core.mk
include tests/ext/ext.mk
include tests/web.mk
