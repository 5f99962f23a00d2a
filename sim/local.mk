# sim/: the hypervisor and nothing else (libsim). It sees only the public
# headers, common/ and its own private headers.
xensiminclude_HEADERS += include/xensim/xensim.h include/xensim/guest.h include/xensim/hostdev.h \
	include/xensim/errno.h include/xensim/trace.h include/xensim/task.h include/xensim/explore.h
# Made by configure from version.h.in.
nodist_xensiminclude_HEADERS = include/xensim/version.h
noinst_LTLIBRARIES += sim/libsim.la
sim_libsim_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/sim
libxensim_la_LIBADD += sim/libsim.la

# core: domains, memory, vCPUs, scheduler, hypercall entry, what a vCPU's
# machine shows its kernel, faults, timers, views and trace points
sim_libsim_la_SOURCES = sim/sim.h sim/domain.c sim/domain_listen.c sim/domain_memory.c sim/vcpu.c \
	sim/vcpu_preempt.c sim/sched_free.c sim/sched_det.c sim/sched_explore.c sim/ring_watch.c sim/fetch_watch.c sim/protocol.c sim/futex.c sim/hypercall.c sim/timer.c \
	sim/fault.c sim/guest_copy.c sim/platform.c sim/version.c sim/errno_names.c sim/inspect.c \
	sim/task.c sim/ring_sync.c

# trace points and their built-in subscribers: the Chrome trace writer and
# the narrator
sim_libsim_la_SOURCES += sim/tracepoint.h sim/trace.c sim/trace_names.c sim/trace_chrome.c \
	sim/narrate.h sim/narrate.c sim/narrate_xen.c

# event channels
sim_libsim_la_SOURCES += sim/event.h sim/evtchn.c sim/evtchn_2l.c sim/evtchn_fifo.c sim/hostdev_evtchn.c

# what processes outside the simulator map of a domain
sim_libsim_la_SOURCES += sim/hostdev_memory.c

# grant tables
sim_libsim_la_SOURCES += sim/gnttab.h sim/gnttab.c sim/gnttab_pin.c sim/gnttab_maptrack.c \
	sim/gnttab_map.c sim/gnttab_map_strict.c sim/gnttab_map_fast.c sim/gnttab_copy.c \
	sim/gnttab_v1.c sim/gnttab_v2.c sim/gnttab_version.c sim/gnttab_transfer.c \
	sim/hostdev_gnttab.c
