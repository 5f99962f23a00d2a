/*
 * The daemon's public face (<xensim/xenstored.h>): a handle holding the
 * daemon and, when the embedder names a simulator, the hostdev binding
 * opened for it; in-process connections behind a handle of their own.
 * Relies on xs_daemon.h only.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <xensim/task.h>
#include <xensim/trace.h>
#include "xs_daemon.h"

struct xensim_xenstored {
    struct xs_daemon *xs;
    struct xs_hostdev *hd;               /* opened here for cfg->sim */
};

struct xensim_xenstored_conn {
    struct xs_conn *c;
};

/* In dom0 of a simulation its loop thread is one of the simulation's. */
static const struct xs_task_ops sim_task_ops = {
    .task_new = xensim_task_new, .cancel = xensim_task_cancel, .begin = xensim_task_begin, .end = xensim_task_end,
    .wait_fd = xensim_task_wait_fd, .cond_wait = xensim_task_cond_wait,
    .join = xensim_task_join, .trace_msg = xensim_trace_xenstore_msg,
    .violation = xensim_report_protocol_violation,
};

struct xensim_xenstored *xensim_xenstored_create(const struct xensim_xenstored_config *cfg)
{
    static const struct xensim_xenstored_config none;
    struct xensim_xenstored *xsd = calloc(1, sizeof(*xsd));
    struct xs_daemon_config dc = { 0 };

    if (!xsd)
        return NULL;
    if (!cfg)
        cfg = &none;
    dc.quiet = cfg->quiet;
    if (cfg->sim) {
        dc.task_ops = &sim_task_ops;
        dc.sim = cfg->sim;
    }
    dc.ring_ops = cfg->ring_ops;
    dc.ring_ctx = cfg->ring_ctx;
    if (!cfg->ring_ops && cfg->sim) {
        xsd->hd = xs_hostdev_open(cfg->sim);
        if (!xsd->hd) {
            int err = errno;

            free(xsd);
            errno = err;
            return NULL;
        }
        dc.ring_ops = &xs_hostdev_ops;
        dc.ring_ctx = xsd->hd;
    }
    xsd->xs = xs_daemon_create(&dc);
    return xsd;
}

void xensim_xenstored_destroy(struct xensim_xenstored *xsd)
{
    if (!xsd)
        return;
    xs_daemon_destroy(xsd->xs);
    xs_hostdev_close(xsd->hd);
    free(xsd);
}

int xensim_xenstored_listen(struct xensim_xenstored *xsd, const char *path)
{
    return xs_daemon_listen(xsd->xs, path);
}

int xensim_xenstored_listen_as(struct xensim_xenstored *xsd, const char *path, domid_t domid)
{
    return xs_daemon_listen_as(xsd->xs, path, domid);
}

int xensim_xenstored_start(struct xensim_xenstored *xsd)
{
    return xs_daemon_start(xsd->xs);
}

int xensim_xenstored_connect(struct xensim_xenstored *xsd)
{
    return xs_daemon_connect(xsd->xs);
}

void xensim_xenstored_stats(struct xensim_xenstored *xsd, struct xensim_xenstored_stats *st)
{
    xs_daemon_stats(xsd->xs, st);
}

void xensim_xenstored_visit(struct xensim_xenstored *xsd, const struct xensim_xenstore_visitor *v,
                            void *arg)
{
    struct xs_inspect_ops ops = { .node = v->node, .watch = v->watch };

    xs_daemon_inspect(xsd->xs, &ops, arg);
}

struct xensim_xenstored_conn *xensim_xenstored_local_open(struct xensim_xenstored *xsd,
                                                          domid_t domid)
{
    struct xensim_xenstored_conn *lc;
    struct xs_conn *c = xs_local_open(xsd->xs, domid);

    if (!c) {
        errno = EINVAL;
        return NULL;
    }
    lc = malloc(sizeof(*lc));
    if (!lc) {
        xs_local_close(c);
        return NULL;
    }
    lc->c = c;
    return lc;
}

void xensim_xenstored_local_close(struct xensim_xenstored_conn *lc)
{
    if (!lc)
        return;
    xs_local_close(lc->c);
    free(lc);
}

int xensim_xenstored_local_request(struct xensim_xenstored_conn *lc, uint32_t type,
                                   uint32_t tx_id, const void *payload, size_t len,
                                   struct xsd_sockmsg *reply, char *buf, size_t size)
{
    return xs_local_request(lc->c, type, tx_id, payload, len, reply, buf, size);
}

int xensim_xenstored_local_event(struct xensim_xenstored_conn *lc, char *buf, size_t size)
{
    return xs_local_event(lc->c, buf, size);
}
