# tests/domain.mk: Check suites for sim/domain*
check_PROGRAMS += tests/test_domain
TESTS += tests/test_domain
tests_test_domain_SOURCES = tests/test_domain.c tests/evtchn_helpers.h
tests_test_domain_LDADD = $(TEST_LIBS)
tests_test_domain_CFLAGS = $(TEST_CFLAGS_ALL)

check_PROGRAMS += tests/test_sched
TESTS += tests/test_sched
tests_test_sched_SOURCES = tests/test_sched.c tests/evtchn_helpers.h
tests_test_sched_LDADD = $(TEST_LIBS)
tests_test_sched_CFLAGS = $(TEST_CFLAGS_ALL)
