# frontends/: the guest's device drivers (libfrontends): block, network,
# console.
xensiminclude_HEADERS += include/xensim/blkif.h include/xensim/netif.h include/xensim/console.h \
	include/xensim/io/ring.h include/xensim/io/blkif_ring.h
noinst_LTLIBRARIES += frontends/libfrontends.la
frontends_libfrontends_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/xenbus
frontends_libfrontends_la_SOURCES = frontends/blkfront.h frontends/blkfront_ring.c \
	frontends/blkfront_io.c frontends/blkfront_xenbus.c \
	frontends/netfront.c frontends/netfront_inet.c frontends/netfront_xenbus.c \
	frontends/consfront.c
libxensim_la_LIBADD += frontends/libfrontends.la
