# toolstack/: what libxl does (libtoolstack): start xenstored in dom0,
# add and remove devices through XenStore.
noinst_LTLIBRARIES += toolstack/libtoolstack.la
toolstack_libtoolstack_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/xenbus \
	-I$(top_srcdir)/xenstored -I$(top_srcdir)/sim
toolstack_libtoolstack_la_SOURCES = toolstack/xs_client.h toolstack/xs_client.c \
	toolstack/ts_xenstored.h toolstack/xenstored.c toolstack/store.c toolstack/devices.c
libxensim_la_LIBADD += toolstack/libtoolstack.la
