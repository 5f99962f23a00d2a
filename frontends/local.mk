# frontends: file lists for the top-level Makefile.am
# The guest xenbus client and the front end half of the split-driver framework.
xensiminclude_HEADERS += include/xensim/xenbus.h
libxensim_la_SOURCES += frontends/xenbus_client.h frontends/xenbus_client.c \
	frontends/xenbus_client_ops.c frontends/xenbus_client_watch.c
