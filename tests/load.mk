# tests/load.mk: many domains with a disk and a network interface each,
# all doing checked I/O at once (issue 13). make check runs 8 guests for
# 40 iterations each; make check-load, the long tier (.ci/long), runs
# LOAD_DOMAINS guests for LOAD_SECONDS.
check_PROGRAMS += tests/test_load
TESTS += tests/test_load
tests_test_load_SOURCES = tests/test_load.c
tests_test_load_LDADD = libxensim.la $(URCU_LIBS) $(PTHREAD_LIBS)
tests_test_load_CFLAGS = $(AM_CFLAGS)

LOAD_DOMAINS = 1000
LOAD_SECONDS = 60
.PHONY: check-load
check-load: tests/test_load
	tests/test_load $(LOAD_DOMAINS) -$(LOAD_SECONDS)
