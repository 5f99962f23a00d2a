# tools/: the `xensim` command line.
bin_PROGRAMS += tools/xensim
tools_xensim_SOURCES = tools/xensim.c tools/commands.h tools/cmd_demo.c tools/demo.h tools/demo_devices.c tools/demo_qemu.c \
	tools/cmd_replay.c tools/cmd_explore.c tools/control.c tools/control.h tools/cmd_inspect.c tools/cmd_serve.c tools/cmd_device.c \
	tools/cmd_env.c tools/cmd_qemu.c tools/serve_guest.c
# The web view: the server, the probe that feeds it, `xensim view`.
tools_xensim_SOURCES += tools/web.h tools/web.c tools/web_addr.h tools/web_addr.c \
	tools/web_feed.h tools/web_feed.c tools/probe.h tools/probe_view.h tools/probe.c tools/probe_fifo.c \
	tools/snapshot.c tools/rings.h tools/rings.c tools/jbuf.h tools/jbuf.c tools/cmd_view.c
tools_xensim_CFLAGS = $(AM_CFLAGS) $(XENSTORE_CFLAGS) $(MHD_CFLAGS)
# The page is looked up where `make install` puts it, then in this tree.
tools_xensim_CPPFLAGS = $(AM_CPPFLAGS) -DXENSIM_LIBXEN_DIR='"$(libdir)/xensim"' \
	-DXENSIM_WEBDIR='"$(webdir)"' -DXENSIM_SRC_WEBDIR='"$(abs_top_srcdir)/web"'
tools_xensim_LDADD = libxensim.la $(XENSTORE_LIBS) $(MHD_LIBS) $(URCU_LIBS) $(PTHREAD_LIBS)

# The web view's page: plain files, no build step.
webdir = $(pkgdatadir)/web
dist_web_DATA = web/index.html web/view.js web/view.css
