# tests/gnttab.mk: Check suites for sim/gnttab*
GNTTAB_TEST_HDRS = tests/gnttab_helpers.h

check_PROGRAMS += tests/test_gnttab
TESTS += tests/test_gnttab
tests_test_gnttab_SOURCES = tests/test_gnttab.c $(GNTTAB_TEST_HDRS)
tests_test_gnttab_LDADD = $(TEST_LIBS)
tests_test_gnttab_CFLAGS = $(TEST_CFLAGS_ALL)

check_PROGRAMS += tests/test_gnttab_copy
TESTS += tests/test_gnttab_copy
tests_test_gnttab_copy_SOURCES = tests/test_gnttab_copy.c $(GNTTAB_TEST_HDRS)
tests_test_gnttab_copy_LDADD = $(TEST_LIBS)
tests_test_gnttab_copy_CFLAGS = $(TEST_CFLAGS_ALL)

check_PROGRAMS += tests/test_gnttab_life
TESTS += tests/test_gnttab_life
tests_test_gnttab_life_SOURCES = tests/test_gnttab_life.c $(GNTTAB_TEST_HDRS)
tests_test_gnttab_life_LDADD = $(TEST_LIBS)
tests_test_gnttab_life_CFLAGS = $(TEST_CFLAGS_ALL)

check_PROGRAMS += tests/test_gnttab_v2
TESTS += tests/test_gnttab_v2
tests_test_gnttab_v2_SOURCES = tests/test_gnttab_v2.c $(GNTTAB_TEST_HDRS)
tests_test_gnttab_v2_LDADD = $(TEST_LIBS)
tests_test_gnttab_v2_CFLAGS = $(TEST_CFLAGS_ALL)

check_PROGRAMS += tests/test_gnttab_transfer
TESTS += tests/test_gnttab_transfer
tests_test_gnttab_transfer_SOURCES = tests/test_gnttab_transfer.c $(GNTTAB_TEST_HDRS)
tests_test_gnttab_transfer_LDADD = $(TEST_LIBS)
tests_test_gnttab_transfer_CFLAGS = $(TEST_CFLAGS_ALL)
