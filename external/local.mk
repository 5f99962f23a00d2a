# external/: the simulator's end of external domains (libexternal): the
# hypervisor socket of each domain (evtchn, gntdev, gntalloc, privcmd for
# processes outside), its /dev/xen/xenbus bridge, and consoles as ptys.
# It sees only the public headers and common/.
xensiminclude_HEADERS += include/xensim/external.h include/xensim/hvsock.h
noinst_LTLIBRARIES += external/libexternal.la
external_libexternal_la_SOURCES = external/ext.h external/server.c external/dom.c \
	external/evtchn.c external/gntdev.c external/gntalloc.c external/privcmd.c \
	external/xenbus.c external/ptys.c
libxensim_la_LIBADD += external/libexternal.la
