# xenbus/: the guest's XenStore client, the split-driver framework both
# ends share, and the ring and grant helpers drivers build their transport
# on, as Linux's drivers/xen/xenbus (libxenbus). Includes guest.h only.
xensiminclude_HEADERS += include/xensim/xenbus.h
noinst_LTLIBRARIES += xenbus/libxenbus.la
xenbus_libxenbus_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/xenbus
xenbus_libxenbus_la_SOURCES = xenbus/xb_client.h xenbus/client.c xenbus/client_ops.c \
	xenbus/client_watch.c xenbus/client_dom.c \
	xenbus/xb_framework.h xenbus/framework.c xenbus/probe.c xenbus/frontend.c \
	xenbus/backend.c xenbus/ring.c \
	xenbus/xb_settings.h xenbus/settings.c xenbus/grant_defer.c
libxensim_la_LIBADD += xenbus/libxenbus.la
