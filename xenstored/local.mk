# xenstored/: the XenStore daemon, a dom0 service. libxsd is the daemon
# itself, which its white-box tests link alone; libxenstored adds its
# public face and its binding to the simulator's dom0 devices.
xensiminclude_HEADERS += include/xensim/xenstored.h
noinst_LTLIBRARIES += libxsd.la
libxsd_la_SOURCES = \
	xenstored/xs_daemon.h xenstored/xs_internal.h \
	xenstored/xs_path.c xenstored/xs_perms.c xenstored/xs_tree.c \
	xenstored/xs_transaction.c xenstored/xs_watch.c xenstored/xs_quota.c \
	xenstored/xs_conn.c xenstored/xs_proto.c xenstored/xs_socket.c \
	xenstored/xs_ring.c xenstored/xs_daemon.c xenstored/xs_inspect.c \
	xenstored/xs_state_check.c
libxsd_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/xenstored
libxsd_la_LIBADD = $(URCU_BP_LIBS) $(PTHREAD_LIBS)

noinst_LTLIBRARIES += xenstored/libxenstored.la
xenstored_libxenstored_la_SOURCES = xenstored/xs_hostdev.c xenstored/xs_public.c
xenstored_libxenstored_la_CPPFLAGS = $(libxsd_la_CPPFLAGS)
xenstored_libxenstored_la_LIBADD = libxsd.la
libxensim_la_LIBADD += xenstored/libxenstored.la

# Tests: each Check suite forks its cases with a timeout.
XS_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
XS_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/xenstored
XS_TEST_LDADD = libxsd.la $(CHECK_LIBS) $(URCU_BP_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += tests/xenstore/test_xs_conformance
TESTS += tests/xenstore/test_xs_conformance
tests_xenstore_test_xs_conformance_SOURCES = tests/xenstore/test_xs_conformance.c \
	tests/xenstore/xs_test.h tests/xenstore/xs_state.h
tests_xenstore_test_xs_conformance_CFLAGS = $(XS_TEST_CFLAGS)
tests_xenstore_test_xs_conformance_CPPFLAGS = $(XS_TEST_CPPFLAGS)
tests_xenstore_test_xs_conformance_LDADD = $(XS_TEST_LDADD)

check_PROGRAMS += tests/xenstore/test_xs_ring
TESTS += tests/xenstore/test_xs_ring
tests_xenstore_test_xs_ring_SOURCES = tests/xenstore/test_xs_ring.c tests/xenstore/xs_test.h
tests_xenstore_test_xs_ring_CFLAGS = $(XS_TEST_CFLAGS)
tests_xenstore_test_xs_ring_CPPFLAGS = $(XS_TEST_CPPFLAGS)
tests_xenstore_test_xs_ring_LDADD = $(XS_TEST_LDADD)

check_PROGRAMS += tests/xenstore/test_xs_socket
TESTS += tests/xenstore/test_xs_socket
tests_xenstore_test_xs_socket_SOURCES = tests/xenstore/test_xs_socket.c tests/xenstore/xs_test.h
tests_xenstore_test_xs_socket_CFLAGS = $(XS_TEST_CFLAGS)
tests_xenstore_test_xs_socket_CPPFLAGS = $(XS_TEST_CPPFLAGS)
tests_xenstore_test_xs_socket_LDADD = libxensim.la $(CHECK_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += tests/xenstore/test_xs_unit
TESTS += tests/xenstore/test_xs_unit
tests_xenstore_test_xs_unit_SOURCES = tests/xenstore/test_xs_unit.c tests/xenstore/xs_test.h
tests_xenstore_test_xs_unit_CFLAGS = $(XS_TEST_CFLAGS)
tests_xenstore_test_xs_unit_CPPFLAGS = $(XS_TEST_CPPFLAGS)
tests_xenstore_test_xs_unit_LDADD = $(XS_TEST_LDADD)

# Real, unmodified clients against `xensim serve`; then again with Xen's
# C xenstored as its daemon (test-xenstore is in xen-utils-4.17, which
# tests/ext/fetch-xen-utils.sh unpacks).
TESTS += tests/xenstore/test_xs_utils.sh tests/xenstore/test_xs_testxenstore.sh \
	tests/xenstore/test_xs_cxenstored.sh
EXTRA_DIST += tests/xenstore/serve.sh tests/xenstore/test_xs_utils.sh \
	tests/xenstore/test_xs_testxenstore.sh tests/xenstore/test_xs_cxenstored.sh

# The differential against Xen's C xenstored (issue 9): xs_diff speaks
# to two `xensim serve`s, test_xs_diff.sh runs them; check-long runs it
# for 10^5 operations.
check_PROGRAMS += tests/xenstore/xs_diff
tests_xenstore_xs_diff_SOURCES = tests/xenstore/xs_diff.c
TESTS += tests/xenstore/test_xs_diff.sh
EXTRA_DIST += tests/xenstore/test_xs_diff.sh
.PHONY: check-long
check-long: tests/xenstore/xs_diff tools/xensim
	XS_DIFF_SEEDS=20 XS_DIFF_OPS=5000 $(SHELL) $(srcdir)/tests/xenstore/test_xs_diff.sh

# Benchmarks (`make bench`).
BENCHES += bench/xs_socket bench/xs_local
bench_xs_socket_SOURCES = bench/xs_socket.c
bench_xs_socket_LDADD = libxensim.la $(BENCH_LDADD)
bench_xs_local_SOURCES = bench/xs_local.c
bench_xs_local_LDADD = libxensim.la $(BENCH_LDADD)

# The daemon inside the simulator, over the hostdev binding.
check_PROGRAMS += tests/xenstore/test_xs_sim
TESTS += tests/xenstore/test_xs_sim
tests_xenstore_test_xs_sim_SOURCES = tests/xenstore/test_xs_sim.c tests/xenstore/xs_guest_ring.h
tests_xenstore_test_xs_sim_CFLAGS = $(XS_TEST_CFLAGS)
tests_xenstore_test_xs_sim_LDADD = libtestharness.la libxensim.la $(CHECK_LIBS) $(PTHREAD_LIBS)
BENCHES += bench/xs_ring
bench_xs_ring_SOURCES = bench/xs_ring.c
bench_xs_ring_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/xenstore
bench_xs_ring_LDADD = libxensim.la $(BENCH_LDADD)

