# libxen/: drop-in Xen libraries for processes of a simulated domain, with
# Debian's sonames and symbol versions, installed under $(libdir)/xensim
# (never over the system's: point LD_LIBRARY_PATH there, as `xensim env`
# does). They see only the public protocol header and common/, and are
# built without sanitizers or coverage, since Debian's binaries load them.
xensimlibdir = $(libdir)/xensim
xensimlib_PROGRAMS = libxen/libxenevtchn.so.1 libxen/libxengnttab.so.1 \
	libxen/libxenctrl.so.4.17 libxen/libxenforeignmemory.so.1 libxen/libxendevicemodel.so.1
LIBXEN_INCLUDES = -I$(top_srcdir)/include -I$(top_srcdir)/common -I$(top_srcdir)/libxen
LIBXEN_CCFLAGS = -Wall -Wextra -fPIC $(PTHREAD_CFLAGS)
LIBXEN_LINKFLAGS = -XCClinker -shared -Wl,-z,defs $(PTHREAD_LIBS)
LIBXEN_MAPS = libxen/libxenevtchn.map libxen/libxengnttab.map libxen/libxenctrl.map \
	libxen/libxenforeignmemory.map libxen/libxendevicemodel.map
EXTRA_DIST += $(LIBXEN_MAPS)

libxen_libxenevtchn_so_1_SOURCES = libxen/evtchn.c libxen/hv.c libxen/hv.h
libxen_libxenevtchn_so_1_CPPFLAGS = $(LIBXEN_INCLUDES)
libxen_libxenevtchn_so_1_CFLAGS = $(LIBXEN_CCFLAGS)
libxen_libxenevtchn_so_1_LDFLAGS = $(LIBXEN_LINKFLAGS) -Wl,-soname,libxenevtchn.so.1 \
	-Wl,--version-script=$(srcdir)/libxen/libxenevtchn.map
EXTRA_libxen_libxenevtchn_so_1_DEPENDENCIES = $(srcdir)/libxen/libxenevtchn.map

libxen_libxengnttab_so_1_SOURCES = libxen/gnttab.c libxen/hv.c libxen/hv.h
libxen_libxengnttab_so_1_CPPFLAGS = $(LIBXEN_INCLUDES)
libxen_libxengnttab_so_1_CFLAGS = $(LIBXEN_CCFLAGS)
libxen_libxengnttab_so_1_LDFLAGS = $(LIBXEN_LINKFLAGS) -Wl,-soname,libxengnttab.so.1 \
	-Wl,--version-script=$(srcdir)/libxen/libxengnttab.map
EXTRA_libxen_libxengnttab_so_1_DEPENDENCIES = $(srcdir)/libxen/libxengnttab.map

libxen_libxenctrl_so_4_17_SOURCES = libxen/xenctrl.c libxen/xenctrl_stubs.c libxen/hv.c \
	libxen/hv.h
libxen_libxenctrl_so_4_17_CPPFLAGS = $(LIBXEN_INCLUDES)
libxen_libxenctrl_so_4_17_CFLAGS = $(LIBXEN_CCFLAGS)
libxen_libxenctrl_so_4_17_LDFLAGS = $(LIBXEN_LINKFLAGS) -Wl,-soname,libxenctrl.so.4.17 \
	-Wl,--version-script=$(srcdir)/libxen/libxenctrl.map
EXTRA_libxen_libxenctrl_so_4_17_DEPENDENCIES = $(srcdir)/libxen/libxenctrl.map

libxen_libxenforeignmemory_so_1_SOURCES = libxen/foreignmemory.c libxen/hv.c libxen/hv.h
libxen_libxenforeignmemory_so_1_CPPFLAGS = $(LIBXEN_INCLUDES)
libxen_libxenforeignmemory_so_1_CFLAGS = $(LIBXEN_CCFLAGS)
libxen_libxenforeignmemory_so_1_LDFLAGS = $(LIBXEN_LINKFLAGS) -Wl,-soname,libxenforeignmemory.so.1 \
	-Wl,--version-script=$(srcdir)/libxen/libxenforeignmemory.map
EXTRA_libxen_libxenforeignmemory_so_1_DEPENDENCIES = $(srcdir)/libxen/libxenforeignmemory.map

libxen_libxendevicemodel_so_1_SOURCES = libxen/devicemodel.c libxen/hv.c libxen/hv.h
libxen_libxendevicemodel_so_1_CPPFLAGS = $(LIBXEN_INCLUDES)
libxen_libxendevicemodel_so_1_CFLAGS = $(LIBXEN_CCFLAGS)
libxen_libxendevicemodel_so_1_LDFLAGS = $(LIBXEN_LINKFLAGS) -Wl,-soname,libxendevicemodel.so.1 \
	-Wl,--version-script=$(srcdir)/libxen/libxendevicemodel.map
EXTRA_libxen_libxendevicemodel_so_1_DEPENDENCIES = $(srcdir)/libxen/libxendevicemodel.map
