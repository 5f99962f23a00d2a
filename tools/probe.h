/*
 * The probe: what the web view and a recording learn of a simulation, as
 * trace notes. While it runs it
 *   - answers every narration line with a "state" note: the event channel
 *     bitmaps and vCPU flags of each domain and the indices of each ring,
 *     read from the shared pages at that very step (lockless peeks, from
 *     the trace subscriber);
 *   - keeps a thread that, when something changed (a hypercall, a map, a
 *     XenStore write, a domain born or gone), writes a "snapshot" note:
 *     domains, ports, grants, rings, the XenStore tree and its watches.
 * It costs nothing until started: one per process, counted, so the live
 * page and a recording share it.
 */
#ifndef XENSIM_TOOLS_PROBE_H
#define XENSIM_TOOLS_PROBE_H

#include <xensim/xensim.h>

/* Starts the probe on sim, or counts one more user. 0 or a negative errno. */
int probe_get(struct xensim *sim);
/* One user fewer; the last stops it (not from a trace subscriber). */
void probe_put(void);
/* Waits (boundedly) until a snapshot begun after this call is written:
 * the trace then holds the rings found so far. */
void probe_sync(void);

#endif
