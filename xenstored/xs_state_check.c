/*
 * The XenBus state sanitizer: the daemon sees every write of a device's
 * state node (/local/domain/N/device/TYPE/ID/state, and the back end's
 * /local/domain/N/backend/TYPE/FE/ID/state) in order, with the value it
 * replaces, so it can tell a move no honest end makes: back from
 * Initialised or Connected to an earlier setup state without Closing or
 * Closed between (Xen's xenbus protocol: a device goes down through
 * Closing and Closed before it starts again), back from Closing into
 * setup, or a value that is no XenbusState. Each is reported to the
 * simulation (xensim_report_protocol_violation) with the writer's
 * domain and the path, once the write is taken (as C xenstored takes
 * it; one in a transaction that later fails to commit is told anyway). Calls nothing but the report, through the daemon's task ops (none
 * when it runs without a simulation).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/xenbus.h>
#include "xs_daemon.h"
#include "xs_internal.h"

/* "/local/domain/N/device/T/I/state" or ".../backend/T/F/I/state". */
static bool is_device_state(const char *path)
{
    static const char top[] = "/local/domain/";
    if (strncmp(path, top, sizeof(top) - 1))
        return false;
    const char *p = strchr(path + sizeof(top) - 1, '/');
    if (!p)
        return false;
    unsigned int levels;
    if (!strncmp(p, "/device/", 8))
        levels = 2;
    else if (!strncmp(p, "/backend/", 9))
        levels = 3;
    else
        return false;
    p = strchr(p + 1, '/');
    for (unsigned int i = 0; i < levels; i++) {
        p = p ? strchr(p + 1, '/') : NULL;
        if (!p || p[1] == '/')
            return false;
    }
    return p && !strcmp(p, "/state");
}

/* The state a value names, or -1. */
static int state_of(const char *val, unsigned int len)
{
    char buf[8];
    if (!len || len >= sizeof(buf))
        return -1;
    memcpy(buf, val, len);
    buf[len] = '\0';
    char *end;
    long s = strtol(buf, &end, 10);
    if (*end || s < XenbusStateUnknown || s > XenbusStateReconfigured)
        return -1;
    return (int)s;
}

/* Setup states in the order a device comes up. */
static bool in_setup(int s)
{
    return s >= XenbusStateInitialising && s <= XenbusStateConnected;
}

static bool legal(int from, int to)
{
    if (from == to || from < 0 || from == XenbusStateUnknown || from == XenbusStateClosed)
        return true;
    if (to == XenbusStateClosing || to == XenbusStateClosed || to == XenbusStateUnknown)
        return true;
    if (in_setup(from) && in_setup(to))
        return to > from;
    if (from == XenbusStateConnected)
        return to == XenbusStateReconfiguring;
    if (from == XenbusStateReconfiguring)
        return to == XenbusStateReconfigured;
    if (from == XenbusStateReconfigured)
        return to == XenbusStateConnected;
    return false;   /* Closing back into setup without Closed */
}

static const char *state_name(int s)
{
    static const char *const names[] = {
        "Unknown", "Initialising", "InitWait", "Initialised", "Connected",
        "Closing", "Closed", "Reconfiguring", "Reconfigured",
    };
    return s >= 0 && s < (int)(sizeof(names) / sizeof(names[0])) ? names[s] : "?";
}

int xs_state_before(struct xs_tx *tx, const char *path)
{
    if (!tx->conn->xs->task_ops->violation || !is_device_state(path))
        return XS_STATE_UNCHECKED;
    int err = 0;
    struct xs_tnode *n = xs_tx_get(tx, path, &err);
    return n && n->exists ? state_of(n->value, n->vlen) : XenbusStateUnknown;
}

void xs_state_check(struct xs_conn *c, const char *path, int from, const char *val,
                    unsigned int vlen)
{
    struct xs_daemon *xs = c->xs;
    if (from == XS_STATE_UNCHECKED)
        return;
    int to = state_of(val, vlen);
    if (to < 0)
        xs->task_ops->violation(xs->sim, c->domid, "dom%u wrote %s: \"%.*s\" is no XenbusState",
                                c->domid, path, (int)(vlen < 16 ? vlen : 16), val);
    else if (!legal(from, to))
        xs->task_ops->violation(xs->sim, c->domid, "dom%u wrote %s: %s -> %s, a move no honest "
                                "end makes", c->domid, path, state_name(from), state_name(to));
}
