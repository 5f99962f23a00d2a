# backends/netcons.mk: the console and network drivers, both halves, and
# their private header.
xensiminclude_HEADERS += include/xensim/console.h include/xensim/netif.h
libxensim_la_SOURCES += backends/netcons.h \
	frontends/console.c backends/console.c \
	frontends/netfront.c frontends/netfront_inet.c backends/netback.h backends/netback.c \
	backends/vswitch.c backends/pcap.c \
	frontends/netfront_xenbus.c backends/netback_xenbus.c
