# tests/netcons.mk: Check suites for the console and network drivers.
check_PROGRAMS += tests/test_console
TESTS += tests/test_console
tests_test_console_SOURCES = tests/test_console.c
tests_test_console_LDADD = $(TEST_LIBS)
tests_test_console_CFLAGS = $(TEST_CFLAGS_ALL)

check_PROGRAMS += tests/test_net
TESTS += tests/test_net
tests_test_net_SOURCES = tests/test_net.c tests/net_fixture.h
tests_test_net_LDADD = $(TEST_LIBS)
tests_test_net_CFLAGS = $(TEST_CFLAGS_ALL)

# The capture checked by tshark: exits 77 (SKIP) without it, fails under CI.
check_PROGRAMS += tests/test_net_capture
TESTS += tests/test_net_capture
tests_test_net_capture_SOURCES = tests/test_net_capture.c tests/net_fixture.h
tests_test_net_capture_LDADD = $(TEST_LIBS)
tests_test_net_capture_CFLAGS = $(TEST_CFLAGS_ALL)

check_PROGRAMS += tests/test_net_xenbus
TESTS += tests/test_net_xenbus
tests_test_net_xenbus_SOURCES = tests/test_net_xenbus.c tests/test_xenbus_helpers.c \
	tests/test_xenbus_helpers.h
tests_test_net_xenbus_LDADD = $(TEST_LIBS)
tests_test_net_xenbus_CFLAGS = $(TEST_CFLAGS_ALL)

# Ready-made hostile peers (hostile/) of the network and console devices
# against the honest ends.
check_PROGRAMS += tests/test_hostile_net_console
TESTS += tests/test_hostile_net_console
tests_test_hostile_net_console_SOURCES = tests/test_hostile_net_console.c \
	tests/test_xenbus_helpers.c tests/test_xenbus_helpers.h
tests_test_hostile_net_console_LDADD = $(TEST_LIBS)
tests_test_hostile_net_console_CFLAGS = $(TEST_CFLAGS_ALL)
