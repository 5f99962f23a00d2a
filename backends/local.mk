# backends/: dom0's device back ends (libbackends): blkback, netback with
# its virtual switch and capture, and xenconsoled.
noinst_LTLIBRARIES += backends/libbackends.la
backends_libbackends_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/xenbus
backends_libbackends_la_SOURCES = backends/blkback.h backends/blkback_ring.c \
	backends/blkback_grant.c backends/blkback_store.c backends/blkback_xenbus.c \
	backends/netback.h backends/netback.c backends/netback_xenbus.c \
	backends/vswitch.c backends/pcap.c backends/xenconsoled.c
libxensim_la_LIBADD += backends/libbackends.la
