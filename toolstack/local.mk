# toolstack/: what libxl does (libtoolstack): start xenstored in dom0,
# introduce domains to it, add and remove devices, all through XenStore
# over a socket. It sees the public headers and xenbus/ (dom0's ring).
noinst_LTLIBRARIES += toolstack/libtoolstack.la
toolstack_libtoolstack_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/xenbus
toolstack_libtoolstack_la_SOURCES = toolstack/xs_client.h toolstack/xs_client.c \
	toolstack/ts_xenstored.h toolstack/xenstored.c toolstack/program.c toolstack/store.c \
	toolstack/devices.c toolstack/qemu_devices.c
libxensim_la_LIBADD += toolstack/libtoolstack.la
