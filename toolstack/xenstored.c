/*
 * Runs the XenStore daemon (sim/xenstore/) inside a simulator, as dom0's
 * xenstored: its rings reach guests through dom0's evtchn and gntdev
 * handles (hostdev.h), and every domain is introduced at build and
 * released at death. Owns sim->xs and the daemon's lifetime.
 */
#include <errno.h>
#include "sim.h"
#include "xs_daemon.h"

struct xenstored {
    struct xs_daemon *xs;
    struct xs_hostdev *hd;
};

int xensim_xenstore_start(struct xensim *sim, const char *socket_path)
{
    if (sim->xenstored)
        return -EEXIST;
    struct xenstored *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->hd = xs_hostdev_open(sim);
    if (!st->hd) {
        free(st);
        return -ESRCH;   /* dom0 must exist: the daemon runs in it */
    }
    struct xs_daemon_config cfg = {
        .ring_ops = &xs_hostdev_ops, .ring_ctx = st->hd, .quiet = sim->quiet,
    };
    st->xs = xs_daemon_create(&cfg);
    int rc = st->xs ? 0 : -ENOMEM;
    if (!rc && socket_path && xs_daemon_listen(st->xs, socket_path))
        rc = errno ? -errno : -EIO;
    if (!rc && xs_daemon_start(st->xs))
        rc = errno ? -errno : -EIO;
    if (rc) {
        if (st->xs)
            xs_daemon_destroy(st->xs);
        xs_hostdev_close(st->hd);
        free(st);
        return rc;
    }
    sim->xenstored = st;
    xs_sim_attach(sim, st->xs);
    return 0;
}

void xenstored_stop(struct xensim *sim)
{
    struct xenstored *st = sim->xenstored;
    if (!st)
        return;
    xs_sim_detach(sim);
    xs_daemon_destroy(st->xs);
    xs_hostdev_close(st->hd);
    sim->xenstored = NULL;
    free(st);
}

int xensim_xenstore_usage(struct xensim *sim, struct xensim_xenstore_usage *u)
{
    struct xs_stats st;

    if (!sim->xenstored)
        return -ENODEV;
    xs_daemon_stats(sim->xenstored->xs, &st);
    u->nodes = st.nodes;
    u->watches = st.watches;
    u->transactions = st.transactions;
    u->connections = st.conns;
    u->domains = st.domains;
    return 0;
}

/* sim->xs is whichever daemon serves the rings: this file's, or one a
 * program attached itself (xensim serve). */
int xensim_xenstore_visit(struct xensim *sim, const struct xensim_xenstore_visitor *v, void *arg)
{
    if (!sim->xs)
        return -ENODEV;
    struct xs_inspect_ops ops = { .node = v->node, .watch = v->watch };
    xs_daemon_inspect(sim->xs, &ops, arg);
    return 0;
}
