# tests/xenbus.mk: Check suites for the guest xenbus client and the split-driver framework
check_PROGRAMS += tests/test_xenbus
TESTS += tests/test_xenbus
tests_test_xenbus_SOURCES = tests/test_xenbus.c tests/test_xenbus_helpers.c tests/test_xenbus_helpers.h
tests_test_xenbus_LDADD = $(TEST_LIBS)
tests_test_xenbus_CFLAGS = $(TEST_CFLAGS_ALL)

check_PROGRAMS += tests/test_xenbus_dev
TESTS += tests/test_xenbus_dev
tests_test_xenbus_dev_SOURCES = tests/test_xenbus_dev.c tests/test_xenbus_helpers.c tests/test_xenbus_helpers.h \
	tools/cmd_device.c
tests_test_xenbus_dev_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tools
tests_test_xenbus_dev_LDADD = $(TEST_LIBS)
tests_test_xenbus_dev_CFLAGS = $(TEST_CFLAGS_ALL)
