# bench: benchmarks for `make bench` (the short tier, seconds); run a program
# with XENSIM_BENCH=long in the environment for the long tier. Each prints
# one JSON line per figure, beside a baseline measured in the same run.
# Programs are listed in BENCHES, which plain `make` does not build.

# Clock, JSON output and the host baselines, shared by every bench program.
noinst_LTLIBRARIES += bench/libbench.la
bench_libbench_la_SOURCES = bench/bench.h bench/bench.c \
	bench/baseline_futex.c bench/baseline_mmap.c \
	bench/baseline_unix.c bench/baseline_ring.c \
	bench/baseline_netring.c bench/baseline_wait.c
BENCH_LDADD = bench/libbench.la $(PTHREAD_LIBS)

BENCHES += bench/baselines
bench_baselines_SOURCES = bench/baselines.c
bench_baselines_LDADD = $(BENCH_LDADD)

# Benches of the core, XenStore and the drivers go below, one block each:
#   BENCHES += bench/evtchn
#   bench_evtchn_SOURCES = bench/evtchn.c
#   bench_evtchn_LDADD = libxensim.la $(BENCH_LDADD)

CLEANFILES += $(BENCHES)

# evtchn: round trip and scale (the core)
BENCHES += bench/bench_evtchn
bench_bench_evtchn_SOURCES = bench/bench_evtchn.c
bench_bench_evtchn_LDADD = libxensim.la $(BENCH_LDADD)

# gnttab: map+unmap of 1 and 32 pages per hypercall, strict and fast
BENCHES += bench/bench_gnttab
bench_bench_gnttab_SOURCES = bench/bench_gnttab.c
bench_bench_gnttab_LDADD = libxensim.la $(BENCH_LDADD)

# Network: frames per second between two domUs (netfront, netback, switch).
BENCHES += bench/bench_net
bench_bench_net_SOURCES = bench/bench_net.c
bench_bench_net_LDADD = libxensim.la $(BENCH_LDADD)

# Block: 4 KiB random reads vs pread, null requests vs the raw ring.
BENCHES += bench/bench_blk
bench_bench_blk_SOURCES = bench/bench_blk.c
bench_bench_blk_LDADD = libxensim.la $(BENCH_LDADD)

# Scale: 1,000 domains (10,000 in the long tier) with every port bound.
BENCHES += bench/bench_scale
bench_bench_scale_SOURCES = bench/bench_scale.c
bench_bench_scale_LDADD = libxensim.la $(BENCH_LDADD)

# External domains: event round trips, libxenvchan bulk and grant maps
# between processes of simulated domains (ext_peer), each beside its
# baseline between the same processes.
# ext_peer is a helper, not a bench of its own: `make bench` builds it as
# bench_ext's dependency and does not run it.
BENCHES += bench/bench_ext
check_PROGRAMS += bench/ext_peer
EXTRA_bench_bench_ext_DEPENDENCIES = bench/ext_peer$(EXEEXT)
bench_bench_ext_SOURCES = bench/bench_ext.c
bench_bench_ext_CPPFLAGS = $(AM_CPPFLAGS) -DBENCH_BUILDDIR='"$(abs_top_builddir)"'
bench_bench_ext_LDADD = libxensim.la $(BENCH_LDADD)
bench_ext_peer_SOURCES = bench/ext_peer.c
bench_ext_peer_CFLAGS = $(AM_CFLAGS) $(XENVCHAN_CFLAGS)
bench_ext_peer_LDADD = $(XENVCHAN_LIBS) -lxenevtchn -lxengnttab

# QEMU's xen-block (Debian's qemu-system-xen, unpacked into the build tree
# by tests/ext/fetch-qemu.sh) beside xensim's blkback, same run.
BENCHES += bench/bench_qemu
bench_bench_qemu_SOURCES = bench/bench_qemu.c
bench_bench_qemu_CPPFLAGS = $(AM_CPPFLAGS) -DBENCH_BUILDDIR='"$(abs_top_builddir)"' \
	-DBENCH_SRCDIR='"$(abs_top_srcdir)"'
bench_bench_qemu_LDADD = libxensim.la $(BENCH_LDADD)

# Schedule search: PCT schedules a second of a small scenario, each a
# child process, beside the same runs free-running.
BENCHES += bench/bench_explore
bench_bench_explore_SOURCES = bench/bench_explore.c
bench_bench_explore_LDADD = libxensim.la $(BENCH_LDADD)
