# tests/blk.mk: Check suites for the block device channel (blkback/blkfront)
BLK_TEST_HDRS = tests/blk_fixture.h

check_PROGRAMS += tests/test_blk
TESTS += tests/test_blk
tests_test_blk_SOURCES = tests/test_blk.c $(BLK_TEST_HDRS)
tests_test_blk_LDADD = $(TEST_LIBS)
tests_test_blk_CFLAGS = $(TEST_CFLAGS_ALL)

# The double-fetch checker on blkback, honest and with a second read.
check_PROGRAMS += tests/test_double_fetch
TESTS += tests/test_double_fetch
tests_test_double_fetch_SOURCES = tests/test_double_fetch.c $(BLK_TEST_HDRS)
tests_test_double_fetch_LDADD = $(TEST_LIBS)
tests_test_double_fetch_CFLAGS = $(TEST_CFLAGS_ALL)

check_PROGRAMS += tests/test_blk_hostile
TESTS += tests/test_blk_hostile
tests_test_blk_hostile_SOURCES = tests/test_blk_hostile.c $(BLK_TEST_HDRS)
tests_test_blk_hostile_LDADD = $(TEST_LIBS)
tests_test_blk_hostile_CFLAGS = $(TEST_CFLAGS_ALL)

check_PROGRAMS += tests/test_blk_xenbus
TESTS += tests/test_blk_xenbus
tests_test_blk_xenbus_SOURCES = tests/test_blk_xenbus.c tests/test_xenbus_helpers.c \
	tests/test_xenbus_helpers.h
tests_test_blk_xenbus_LDADD = $(TEST_LIBS)
tests_test_blk_xenbus_CFLAGS = $(TEST_CFLAGS_ALL)

# Ready-made hostile peers (hostile/) against the real back ends.
check_PROGRAMS += tests/test_hostile_peers
TESTS += tests/test_hostile_peers
tests_test_hostile_peers_SOURCES = tests/test_hostile_peers.c tests/test_xenbus_helpers.c \
	tests/test_xenbus_helpers.h
tests_test_hostile_peers_LDADD = $(TEST_LIBS)
tests_test_hostile_peers_CFLAGS = $(TEST_CFLAGS_ALL)
