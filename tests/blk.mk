# tests/blk.mk: Check suites for the block device channel (blkback/blkfront)
BLK_TEST_HDRS = tests/blk_fixture.h

check_PROGRAMS += tests/test_blk
TESTS += tests/test_blk
tests_test_blk_SOURCES = tests/test_blk.c $(BLK_TEST_HDRS)
tests_test_blk_LDADD = $(TEST_LIBS)
tests_test_blk_CFLAGS = $(TEST_CFLAGS_ALL)

check_PROGRAMS += tests/test_blk_hostile
TESTS += tests/test_blk_hostile
tests_test_blk_hostile_SOURCES = tests/test_blk_hostile.c $(BLK_TEST_HDRS)
tests_test_blk_hostile_LDADD = $(TEST_LIBS)
tests_test_blk_hostile_CFLAGS = $(TEST_CFLAGS_ALL)
