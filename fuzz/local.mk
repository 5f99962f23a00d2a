# fuzz/: libFuzzer harnesses, one per surface a guest or a peer controls.
# With --enable-fuzzing they link with $(LIB_FUZZING_ENGINE) and plain
# `make` builds them; otherwise they link with fz_replay.c's main and
# `make check` builds them and replays their seed corpora and regression
# inputs. fuzz/ may include the public headers, common/, tests/ (the
# teardown check) and, in each xenstored harness's one small API file,
# xenstored/.
FUZZ_HARNESSES = fuzz/fuzz_blkback fuzz/fuzz_netback fuzz/fuzz_xenstored_wire \
	fuzz/fuzz_xenstored_ring fuzz/fuzz_hypercall fuzz/fuzz_blkfront \
	fuzz/fuzz_netfront fuzz/fuzz_console

noinst_LTLIBRARIES += fuzz/libfz.la
fuzz_libfz_la_SOURCES = fuzz/fz.h fuzz/fz_sim.c
fuzz_libfz_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
fuzz_libfz_la_LIBADD = tests/libleakcheck.la

# Everything a harness links, in one static archive: no libxensim.so to
# find at run time, as OSS-Fuzz's runners need.
noinst_LTLIBRARIES += fuzz/libxensim_fuzz.la
fuzz_libxensim_fuzz_la_SOURCES =
fuzz_libxensim_fuzz_la_LIBADD = $(libxensim_la_LIBADD)

if FUZZING
FUZZ_MAIN =
FUZZ_LINK_ENGINE = $(LIB_FUZZING_ENGINE)
noinst_PROGRAMS += $(FUZZ_HARNESSES)
else
noinst_LTLIBRARIES += fuzz/libfzreplay.la
fuzz_libfzreplay_la_SOURCES = fuzz/fz_replay.c
FUZZ_MAIN = fuzz/libfzreplay.la
FUZZ_LINK_ENGINE =
check_PROGRAMS += $(FUZZ_HARNESSES)
TESTS += fuzz/replay.sh
endif
EXTRA_DIST += fuzz/replay.sh fuzz/xs_wire.dict fuzz/corpus fuzz/regress fuzz/findings
FUZZ_LDADD = fuzz/libfz.la $(FUZZ_MAIN) fuzz/libxensim_fuzz.la $(URCU_LIBS) $(PTHREAD_LIBS)
FUZZ_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/fuzz

fuzz_fuzz_blkback_SOURCES = fuzz/fuzz_blkback.c fuzz/blk_model.c fuzz/blk_model.h
fuzz_fuzz_blkback_CPPFLAGS = $(FUZZ_CPPFLAGS)
fuzz_fuzz_blkback_LDADD = $(FUZZ_LDADD)
fuzz_fuzz_blkback_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK_ENGINE)

fuzz_fuzz_netback_SOURCES = fuzz/fuzz_netback.c fuzz/net_model.c fuzz/net_model.h
fuzz_fuzz_netback_CPPFLAGS = $(FUZZ_CPPFLAGS)
fuzz_fuzz_netback_LDADD = $(FUZZ_LDADD)
fuzz_fuzz_netback_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK_ENGINE)

# The xenstored harnesses reach the daemon through one file each.
fuzz_fuzz_xenstored_wire_SOURCES = fuzz/fuzz_xenstored_wire.c fuzz/xs_msgs.c fuzz/xs_msgs.h \
	fuzz/fz_xs_daemon.c fuzz/fz_xs_daemon.h
fuzz_fuzz_xenstored_wire_CPPFLAGS = $(FUZZ_CPPFLAGS) -I$(top_srcdir)/xenstored
fuzz_fuzz_xenstored_wire_LDADD = $(FUZZ_LDADD)
fuzz_fuzz_xenstored_wire_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK_ENGINE)

fuzz_fuzz_xenstored_ring_SOURCES = fuzz/fuzz_xenstored_ring.c fuzz/xs_msgs.c fuzz/xs_msgs.h \
	fuzz/fz_xs_daemon.c fuzz/fz_xs_daemon.h
fuzz_fuzz_xenstored_ring_CPPFLAGS = $(FUZZ_CPPFLAGS) -I$(top_srcdir)/xenstored
fuzz_fuzz_xenstored_ring_LDADD = $(FUZZ_LDADD)
fuzz_fuzz_xenstored_ring_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK_ENGINE)

# The hypercall ABI is a table (hc_table.c): new operations are new rows.
fuzz_fuzz_hypercall_SOURCES = fuzz/fuzz_hypercall.c fuzz/hc_table.c fuzz/hc_table.h
fuzz_fuzz_hypercall_CPPFLAGS = $(FUZZ_CPPFLAGS)
fuzz_fuzz_hypercall_LDADD = $(FUZZ_LDADD)
fuzz_fuzz_hypercall_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK_ENGINE)

# The front ends against hostile back ends written in the harness.
fuzz_fuzz_blkfront_SOURCES = fuzz/fuzz_blkfront.c
fuzz_fuzz_blkfront_CPPFLAGS = $(FUZZ_CPPFLAGS)
fuzz_fuzz_blkfront_LDADD = $(FUZZ_LDADD)
fuzz_fuzz_blkfront_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK_ENGINE)

fuzz_fuzz_netfront_SOURCES = fuzz/fuzz_netfront.c
fuzz_fuzz_netfront_CPPFLAGS = $(FUZZ_CPPFLAGS)
fuzz_fuzz_netfront_LDADD = $(FUZZ_LDADD)
fuzz_fuzz_netfront_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK_ENGINE)

fuzz_fuzz_console_SOURCES = fuzz/fuzz_console.c
fuzz_fuzz_console_CPPFLAGS = $(FUZZ_CPPFLAGS)
fuzz_fuzz_console_LDADD = $(FUZZ_LDADD)
fuzz_fuzz_console_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LINK_ENGINE)

EXTRA_DIST += fuzz/smoke.sh fuzz/build-afl.sh fuzz/oss-fuzz/build.sh \
	fuzz/oss-fuzz/project.yaml fuzz/oss-fuzz/Dockerfile \
	fuzz/oss-fuzz/check-build.sh

# make fuzz-smoke (a fuzzing build): every harness from its seeds, for
# FUZZ_RUNS inputs or FUZZ_SECONDS (default 60) each, one JSON line each.
# make fuzz-repro HARNESS=fuzz_x INPUT=file: replays one finding, under
# GDB="gdb --args" if given.
FUZZ_SECONDS = 60
.PHONY: fuzz-smoke fuzz-repro fuzz-harnesses fuzz-list
fuzz-harnesses: $(FUZZ_HARNESSES)
fuzz-list:
	@echo $(FUZZ_HARNESSES)
if FUZZING
fuzz-smoke: $(FUZZ_HARNESSES)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) $(SHELL) $(srcdir)/fuzz/smoke.sh $(srcdir) $(FUZZ_HARNESSES)
else
fuzz-smoke:
	@echo "fuzz-smoke needs a fuzzing build: CC=clang ./configure --enable-fuzzing" >&2; exit 1
endif
fuzz-repro: $(FUZZ_HARNESSES)
	@test -n "$(HARNESS)" && test -n "$(INPUT)" || \
	  { echo "usage: make fuzz-repro HARNESS=fuzz_blkback INPUT=crash-..." >&2; exit 1; }
	FZ_TRACE=1 $(GDB) ./fuzz/$(HARNESS) $(INPUT)
