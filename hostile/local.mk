# hostile/: ready-made misbehaving device ends (libhostile), for testing
# that the honest side survives them; on the public guest and xenbus API
# only.
xensiminclude_HEADERS += include/xensim/hostile.h
noinst_LTLIBRARIES += hostile/libhostile.la
hostile_libhostile_la_SOURCES = hostile/kinds.c hostile/front.h hostile/front.c \
	hostile/vbd_front.c hostile/back.h hostile/back.c hostile/vbd_back.c \
	hostile/vif_front.c hostile/vif_back.c hostile/cons_front.c hostile/cons_back.c
libxensim_la_LIBADD += hostile/libhostile.la
