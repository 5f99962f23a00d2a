# guest/: the PV guest kernel (libguest): its per-domain data, interrupt
# flag and irq-save lock, the event layer of each ABI, the irq layer, the
# grant-ref allocator. It sees only the public headers and common/.
noinst_LTLIBRARIES += guest/libguest.la
guest_libguest_la_CPPFLAGS = $(AM_CPPFLAGS)
guest_libguest_la_SOURCES = guest/data.c guest/irqflags.c guest/irqlock.c \
	guest/evtchn.h guest/evtchn.c guest/evtchn_2l.c guest/evtchn_fifo.c guest/irq.c \
	guest/gnttab.c guest/gnttab_ops.h guest/gnttab_v2.c
libxensim_la_LIBADD += guest/libguest.la
