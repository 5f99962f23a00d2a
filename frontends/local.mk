# frontends: file lists for the top-level Makefile.am
# The guest xenbus client and the front end half of the split-driver framework.
xensiminclude_HEADERS += include/xensim/xenbus.h
libxensim_la_SOURCES += frontends/xenbus_client.h frontends/xenbus_client.c \
	frontends/xenbus_client_ops.c frontends/xenbus_client_watch.c \
	frontends/xenbus_client_guard.c frontends/xenbus_client_dom.c \
	frontends/xenbus_dev.h frontends/xenbus_dev.c frontends/xenbus_dev_front.c \
	frontends/xenbus_config.h frontends/xenbus_config.c \
	frontends/xenbus_echo.h frontends/xenbus_dev_echo.c
