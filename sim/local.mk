# sim/: the fake hypervisor (libxensim).
xensiminclude_HEADERS += include/xensim/xensim.h include/xensim/guest.h include/xensim/hostdev.h \
	include/xensim/ring.h

# core: simulator, domains, vCPUs, scheduler, hypercall entry
libxensim_la_SOURCES += sim/sim.h sim/domain.c sim/domain_memory.c sim/vcpu.c \
	sim/sched_free.c sim/futex.c sim/hypercall.c sim/timer.c sim/fault.c sim/guest_copy.c \
	sim/guest_env.c sim/guest_irq.c sim/errno_names.c sim/xenstored.c sim/trace.c sim/inspect.c sim/narrate.c

# event channels
libxensim_la_SOURCES += sim/evtchn.c sim/evtchn_2l.c sim/guest_evtchn.c \
	sim/hostdev_evtchn.c

# gnttab
libxensim_la_SOURCES += sim/gnttab.h sim/gnttab.c sim/gnttab_pin.c sim/gnttab_maptrack.c \
	sim/gnttab_map.c sim/gnttab_map_strict.c sim/gnttab_map_fast.c sim/gnttab_copy.c \
	sim/guest_gnttab.c sim/hostdev_gnttab.c
