# backends: file lists for the top-level Makefile.am
# The back end half of the split-driver framework and the toolstack's device calls.
libxensim_la_SOURCES += backends/xenbus_toolstack.c backends/xenbus_backend.c \
	backends/xenbus_backend_echo.c
XENSIM_CMD_SOURCES += tools/cmd_device.c
include backends/netcons.mk
include backends/blk.mk
