# tests/ext/ext.mk: external domains (hostdev.h for processes outside the
# simulator, external/, the drop-in libraries in libxen/).
EXT_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/tests

check_PROGRAMS += tests/ext/test_ext_hostdev
TESTS += tests/ext/test_ext_hostdev
tests_ext_test_ext_hostdev_SOURCES = tests/ext/test_ext_hostdev.c
tests_ext_test_ext_hostdev_LDADD = $(TEST_LIBS)
tests_ext_test_ext_hostdev_CFLAGS = $(EXT_TEST_CFLAGS)

# The fixture every external-domain suite shares.
EXT_FIXTURE = tests/ext/ext_fixture.c tests/ext/ext_fixture.h
EXT_FIXTURE_CFLAGS = $(EXT_TEST_CFLAGS) -DEXT_BUILDDIR='"$(abs_top_builddir)"' \
	-DEXT_SRCDIR='"$(abs_top_srcdir)"'

# The hypervisor socket by hand: bad input, and each kind's end.
check_PROGRAMS += tests/ext/test_ext_proto
TESTS += tests/ext/test_ext_proto
tests_ext_test_ext_proto_SOURCES = tests/ext/test_ext_proto.c $(EXT_FIXTURE)
tests_ext_test_ext_proto_LDADD = $(TEST_LIBS)
tests_ext_test_ext_proto_CFLAGS = $(EXT_FIXTURE_CFLAGS)

# The drop-ins against Debian's: sonames, version nodes, every symbol.
TESTS += tests/ext/test_ext_abi.sh
EXTRA_DIST += tests/ext/test_ext_abi.sh

# The drop-ins' APIs beyond libxenvchan's, from a process linked against
# Debian's libraries (the drop-ins replace them at run time).
check_PROGRAMS += tests/ext/libprobe
tests_ext_libprobe_SOURCES = tests/ext/libprobe.c
tests_ext_libprobe_CFLAGS = $(AM_CFLAGS)
tests_ext_libprobe_LDADD = -lxenctrl -lxenevtchn -lxengnttab -lxenforeignmemory -lxendevicemodel
check_PROGRAMS += tests/ext/test_ext_libs
TESTS += tests/ext/test_ext_libs
tests_ext_test_ext_libs_SOURCES = tests/ext/test_ext_libs.c $(EXT_FIXTURE)
tests_ext_test_ext_libs_LDADD = $(TEST_LIBS)
tests_ext_test_ext_libs_CFLAGS = $(EXT_FIXTURE_CFLAGS)

# `xensim env` and `xensim run` with `xensim serve`.
TESTS += tests/ext/test_ext_env.sh
EXTRA_DIST += tests/ext/test_ext_env.sh

# Debian's libxenvchan between processes of simulated domains, driven by
# vchantest (linked against Debian's libraries).
check_PROGRAMS += tests/ext/vchantest
tests_ext_vchantest_SOURCES = tests/ext/vchantest.c
tests_ext_vchantest_CFLAGS = $(AM_CFLAGS) $(XENVCHAN_CFLAGS)
tests_ext_vchantest_LDADD = $(XENVCHAN_LIBS)
check_PROGRAMS += tests/ext/test_ext_vchan
TESTS += tests/ext/test_ext_vchan
tests_ext_test_ext_vchan_SOURCES = tests/ext/test_ext_vchan.c $(EXT_FIXTURE)
tests_ext_test_ext_vchan_LDADD = $(TEST_LIBS)
tests_ext_test_ext_vchan_CFLAGS = $(EXT_FIXTURE_CFLAGS)

# Debian's vchan-socket-proxy and xenconsole, fetched at test time into
# the build tree; the console's guest is `xensim serve`'s idle guest.
EXTRA_DIST += tests/ext/fetch-deb.sh tests/ext/fetch-xen-utils.sh
CLEAN_LOCAL_DIRS += tests/ext/xen-utils
check_PROGRAMS += tests/ext/test_ext_debian
TESTS += tests/ext/test_ext_debian
tests_ext_test_ext_debian_SOURCES = tests/ext/test_ext_debian.c tools/serve_guest.c $(EXT_FIXTURE)
tests_ext_test_ext_debian_LDADD = $(TEST_LIBS)
tests_ext_test_ext_debian_CFLAGS = $(EXT_FIXTURE_CFLAGS) -I$(top_srcdir)/tools

# Debian's unmodified QEMU as a guest's block back end (qdisk), fetched at
# test time into the build tree.
EXTRA_DIST += tests/ext/fetch-qemu.sh
CLEAN_LOCAL_DIRS += tests/ext/qemu
check_PROGRAMS += tests/ext/test_ext_qemu
TESTS += tests/ext/test_ext_qemu
tests_ext_test_ext_qemu_SOURCES = tests/ext/test_ext_qemu.c tools/serve_guest.c $(EXT_FIXTURE)
tests_ext_test_ext_qemu_LDADD = $(TEST_LIBS)
tests_ext_test_ext_qemu_CFLAGS = $(EXT_FIXTURE_CFLAGS) -I$(top_srcdir)/tools
# `xensim qemu` and `xensim device add --type qdisk` with `xensim serve`.
TESTS += tests/ext/test_ext_qemu_cli.sh
EXTRA_DIST += tests/ext/test_ext_qemu_cli.sh
# `xensim demo --blkback qemu`.
TESTS += tests/ext/test_ext_qemu_demo.sh
EXTRA_DIST += tests/ext/test_ext_qemu_demo.sh
