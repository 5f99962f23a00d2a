# guest/: the PV guest kernel (libguest): event bitmaps and scan, the irq
# layer, the grant-ref allocator.
noinst_LTLIBRARIES += guest/libguest.la
guest_libguest_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/sim
guest_libguest_la_SOURCES = guest/data.c guest/irqlock.c guest/evtchn.c guest/irq.c guest/gnttab.c \
	guest/gnttab_ops.h guest/gnttab_v2.c
libxensim_la_LIBADD += guest/libguest.la
