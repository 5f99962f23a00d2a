# tools/: the `xensim` command line.
bin_PROGRAMS += tools/xensim
tools_xensim_SOURCES = tools/xensim.c tools/commands.h tools/cmd_demo.c $(XENSIM_CMD_SOURCES)
tools_xensim_LDADD = libxensim.la $(URCU_LIBS) $(PTHREAD_LIBS)
