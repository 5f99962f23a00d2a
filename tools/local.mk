# tools/: the `xensim` command line.
bin_PROGRAMS += tools/xensim
tools_xensim_SOURCES = tools/xensim.c tools/commands.h tools/cmd_demo.c tools/demo.h tools/demo_devices.c \
	tools/control.c tools/control.h tools/cmd_inspect.c tools/cmd_serve.c tools/cmd_device.c \
	tools/cmd_env.c tools/serve_guest.c
tools_xensim_CFLAGS = $(AM_CFLAGS) $(XENSTORE_CFLAGS)
tools_xensim_CPPFLAGS = $(AM_CPPFLAGS) -DXENSIM_LIBXEN_DIR='"$(libdir)/xensim"'
tools_xensim_LDADD = libxensim.la $(XENSTORE_LIBS) $(URCU_LIBS) $(PTHREAD_LIBS)
