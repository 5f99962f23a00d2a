# tests/ext/ext.mk: external domains (hostdev.h for processes outside the
# simulator, external/, the drop-in libraries in libxen/).
EXT_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/tests

check_PROGRAMS += tests/ext/test_ext_hostdev
TESTS += tests/ext/test_ext_hostdev
tests_ext_test_ext_hostdev_SOURCES = tests/ext/test_ext_hostdev.c
tests_ext_test_ext_hostdev_LDADD = $(TEST_LIBS)
tests_ext_test_ext_hostdev_CFLAGS = $(EXT_TEST_CFLAGS)
