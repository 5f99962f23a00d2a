/*
 * The narrator, private to sim/: narrate.c holds the user's narrator and
 * writes its lines; narrate_xen.c is the trace subscriber that tells what
 * the hypervisor does, subscribed while XENSIM_NARRATE_XEN is asked for.
 */
#ifndef XENSIM_NARRATE_H
#define XENSIM_NARRATE_H

#include <stdarg.h>
#include "sim.h"

/* One line to the narrator, "who" first in a column, if it is set. */
void narrate_vline(struct xensim *sim, const char *who, const char *fmt, va_list ap);

/* The simulator goes: its guests narrate no more. */
void narrate_sim_free(struct xensim *sim);

/* Subscribes or unsubscribes the hypervisor's narration (trace_lock held). */
int narrate_xen_set_locked(struct xensim *sim, bool on);

#endif
