# tests/core.mk: the simulator's views (inspection, trace points) and the demo.
check_PROGRAMS += tests/test_inspect
TESTS += tests/test_inspect
tests_test_inspect_SOURCES = tests/test_inspect.c
tests_test_inspect_LDADD = $(TEST_LIBS)
tests_test_inspect_CFLAGS = $(TEST_CFLAGS_ALL)

# Trace points and their subscribers.
check_PROGRAMS += tests/test_trace
TESTS += tests/test_trace
tests_test_trace_SOURCES = tests/test_trace.c
tests_test_trace_LDADD = $(TEST_LIBS)
tests_test_trace_CFLAGS = $(TEST_CFLAGS_ALL)

# Deterministic mode: seeded schedules and virtual time (issue 11).
check_PROGRAMS += tests/test_det
TESTS += tests/test_det
tests_test_det_SOURCES = tests/test_det.c
tests_test_det_LDADD = $(TEST_LIBS)
tests_test_det_CFLAGS = $(TEST_CFLAGS_ALL)
check_PROGRAMS += tests/test_explore
TESTS += tests/test_explore
tests_test_explore_SOURCES = tests/test_explore.c
tests_test_explore_LDADD = $(TEST_LIBS)
tests_test_explore_CFLAGS = $(TEST_CFLAGS_ALL)
TESTS += tests/test_det_demo.sh tests/test_det_suites.sh tests/test_explore_cli.sh
EXTRA_DIST += tests/test_det_demo.sh tests/test_det_suites.sh tests/test_explore_cli.sh

# Every errno the sources return has a name in include/xensim/errno.h.
TESTS += tests/check_errno_names.sh tests/check_api_prefix.sh tests/check_architecture_doc.sh
EXTRA_DIST += tests/check_errno_names.sh tests/check_api_prefix.sh tests/check_api_prefix.py \
	tests/check_architecture_doc.sh tests/check_architecture_doc.py

# The README's demo, its narration checked step by step.
TESTS += tests/test_demo.sh
EXTRA_DIST += tests/test_demo.sh

# The inspection verbs against a running `xensim serve`.
TESTS += tests/test_inspect_cli.sh
EXTRA_DIST += tests/test_inspect_cli.sh

# What guest kernels and the toolstack get beside the hypercalls.
check_PROGRAMS += tests/test_guest_kernel
TESTS += tests/test_guest_kernel
tests_test_guest_kernel_SOURCES = tests/test_guest_kernel.c
tests_test_guest_kernel_LDADD = $(TEST_LIBS)
tests_test_guest_kernel_CFLAGS = $(TEST_CFLAGS_ALL)

# The teardown check every suite ends with.
check_PROGRAMS += tests/test_harness
TESTS += tests/test_harness
tests_test_harness_SOURCES = tests/test_harness.c
tests_test_harness_LDADD = $(TEST_LIBS)
tests_test_harness_CFLAGS = $(TEST_CFLAGS_ALL)

# What hostile testing found in the core: bad argument pointers, vCPUs
# that loop in guest code.
check_PROGRAMS += tests/test_hostile_core
TESTS += tests/test_hostile_core
tests_test_hostile_core_SOURCES = tests/test_hostile_core.c tests/gnttab_helpers.h \
	tests/evtchn_helpers.h
tests_test_hostile_core_LDADD = $(TEST_LIBS)
tests_test_hostile_core_CFLAGS = $(TEST_CFLAGS_ALL)

# The control socket of `xensim serve`, in process: idle and slow clients.
check_PROGRAMS += tests/test_control
TESTS += tests/test_control
tests_test_control_SOURCES = tests/test_control.c tools/control.c tools/control.h
tests_test_control_LDADD = $(TEST_LIBS)
tests_test_control_CFLAGS = $(TEST_CFLAGS_ALL) -I$(top_srcdir)/tools

# `xensim tree` escapes guest-written values as xenstore-ls does.
TESTS += tests/test_tree_escape.sh
EXTRA_DIST += tests/test_tree_escape.sh
