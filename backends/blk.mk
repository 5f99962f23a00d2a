# backends/blk.mk: the block device channel (blkback and blkfront engines),
# included from backends/local.mk.
libxensim_la_SOURCES += backends/blk_ring.h backends/blkback.h \
	backends/blkback_ring.c backends/blkback_grant.c backends/blkback_store.c
xensiminclude_HEADERS += include/xensim/blkif.h
libxensim_la_SOURCES += frontends/blkfront.h frontends/blkfront_ring.c frontends/blkfront_io.c
# The "vbd" device type for the xenbus framework.
libxensim_la_SOURCES += backends/blkback_xenbus.c frontends/blkfront_xenbus.c
