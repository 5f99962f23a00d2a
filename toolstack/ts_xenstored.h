/*
 * Private to the toolstack: a connection to the simulator's xenstored
 * (toolstack/xenstored.c keeps which one runs) for the other calls.
 */
#ifndef TS_XENSTORED_H
#define TS_XENSTORED_H

#include <xensim/xensim.h>
#include "xs_client.h"

/* A socket connection as dom0 to the xenstored of sim: 0, or -ENODEV
 * when xensim_xenstore_start() was not called. ts_xs_close() it. */
int ts_connect(struct xensim *sim, struct ts_xs *x);

#endif
