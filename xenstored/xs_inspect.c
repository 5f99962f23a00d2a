/*
 * The daemon seen from outside, as a debugger sees it: every node in tree
 * order and every watch, handed to the caller under the store lock, so
 * the picture is of one moment. Sends no message and so traces nothing.
 * Relies on xs_tree.c's walk and the watch list of xs_watch.c.
 */
#include "config.h"

#include "xs_internal.h"

struct inspect_walk {
    const struct xs_inspect_ops *ops;
    void *arg;
};

static bool inspect_node(void *p, const char *path, const struct xs_data *d)
{
    struct inspect_walk *w = p;
    domid_t owner = d && d->nperms ? (domid_t)d->perms[0].id : 0;
    w->ops->node(path, d ? d->value : "", d ? d->vlen : 0, owner, w->arg);
    return true;
}

void xs_daemon_inspect(struct xs_daemon *xs, const struct xs_inspect_ops *ops, void *arg)
{
    struct inspect_walk w = { ops, arg };
    struct xs_watch *wt;

    xensim_mutex_lock(&xs->lock);
    if (ops->node)
        xs_tree_walk(&xs->tree, inspect_node, &w);
    if (ops->watch)
        cds_list_for_each_entry(wt, &xs->watches, all_link)
            ops->watch(wt->conn->domid, wt->path, wt->token, arg);
    xensim_mutex_unlock(&xs->lock);
}
