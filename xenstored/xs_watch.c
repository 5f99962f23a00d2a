/*
 * Watches: registration per connection and matching a change against
 * every watch, queueing events on the watchers' connections (never
 * calling back into the code that made the change). Relies on xs_conn.c.
 */
#include "config.h"

#include <string.h>
#include "xs_internal.h"

/* The memory a watch costs its domain: do_watch() adds "strlen(vec[0]) +
 * strlen(vec[1])", the canonical path and the token. */
static long watch_bytes(const char *path, const char *token)
{
    return strlen(path) + strlen(token);
}

int xs_watch_add(struct xs_conn *c, const char *path, const char *token, bool relative)
{
    struct xs_daemon *xs = c->xs;
    struct xs_dom_acct *acct = xs_acct(xs, c->domid);
    size_t len = strlen(path);
    struct xs_watch *w;
    int err = 0;

    xensim_mutex_lock(&xs->lock);
    cds_list_for_each_entry(w, &c->watches, conn_link) {
        if (!strcmp(w->path, path) && !strcmp(w->token, token)) {
            err = -EEXIST;
            goto out;
        }
    }
    /* do_watch(): "if (domain_watch(conn) > quota_nb_watch_per_domain)
     * return E2BIG;", counted per domain, so 129 fit. */
    if (!xs_quota_exempt(c) && acct->watches > xs->quota.watches) {
        err = -E2BIG;
        goto out;
    }
    if (!xs_mem_add_chk(xs, c->domid, watch_bytes(path, token))) {
        err = -ENOMEM;
        goto out;
    }
    w = xs_alloc(sizeof(*w) + len + 1);
    memcpy(w->path, path, len + 1);
    w->token = xs_strdup(token);
    w->relative = relative;
    w->conn = c;
    cds_list_add_tail(&w->conn_link, &c->watches);
    cds_list_add_tail(&w->all_link, &xs->watches);
    c->nr_watches++;
    acct->watches++;
    xs->nr_watches++;
out:
    xensim_mutex_unlock(&xs->lock);
    return err;
}

static void watch_free(struct xs_daemon *xs, struct xs_watch *w)
{
    cds_list_del(&w->conn_link);
    cds_list_del(&w->all_link);
    w->conn->nr_watches--;
    xs_acct(xs, w->conn->domid)->watches--;
    xs_mem_add(xs, w->conn->domid, -watch_bytes(w->path, w->token));
    xs->nr_watches--;
    free(w->token);
    free(w);
}

int xs_watch_del(struct xs_conn *c, const char *path, const char *token)
{
    struct xs_daemon *xs = c->xs;
    struct xs_watch *w;
    int err = -ENOENT;

    xensim_mutex_lock(&xs->lock);
    cds_list_for_each_entry(w, &c->watches, conn_link) {
        if (!strcmp(w->path, path) && !strcmp(w->token, token)) {
            watch_free(xs, w);
            err = 0;
            break;
        }
    }
    xensim_mutex_unlock(&xs->lock);
    return err;
}

void xs_watch_drop_conn(struct xs_conn *c)
{
    struct xs_watch *w, *tmp;

    cds_list_for_each_entry_safe(w, tmp, &c->watches, conn_link)
        watch_free(c->xs, w);
}

static const char *reported(const struct xs_watch *w, const char *path)
{
    size_t h = strlen(w->conn->home);

    if (w->relative && !strncmp(path, w->conn->home, h) && path[h] == '/')
        return path + h + 1;
    return path;
}

static bool permitted(const struct xs_conn *c, const struct xs_perm_list *lists,
                      unsigned int nlists)
{
    for (unsigned int i = 0; i < nlists; i++)
        if (lists[i].n && xs_perm_for_at(c, lists[i].p, lists[i].n, lists[i].gen) & XS_PERM_READ)
            return true;
    return false;
}

/* A change fires watches on the node and its ancestors. A removal also
 * sends each removed descendant as an exact event with its own
 * permissions, as C xenstored's walk does, so a watcher that may read a
 * node deep in a removed subtree hears of it. */
void xs_watch_fire(struct xs_daemon *xs, const char *path, bool exact,
                   const struct xs_perm_list *lists, unsigned int nlists)
{
    struct xs_watch *w;

    cds_list_for_each_entry(w, &xs->watches, all_link) {
        if (w->path[0] == '@')
            continue;
        if (exact ? strcmp(w->path, path) != 0 : !xs_path_is_below(path, w->path))
            continue;
        if (!permitted(w->conn, lists, nlists))
            continue;
        xs_conn_event(w->conn, reported(w, path), w->token, true);
    }
}

/* check_special_event(): only READ on the special node's own list
 * counts (check_perms_special()). */
void xs_watch_fire_special(struct xs_daemon *xs, const char *name, domid_t domid)
{
    int i = xs_special_index(name);
    struct xs_watch *w;

    (void)domid;
    if (i < 0)
        return;
    cds_list_for_each_entry(w, &xs->watches, all_link)
        if (!strcmp(w->path, name) &&
            xs_perm_for(w->conn, xs->special_perms[i], xs->special_nperms[i]) & XS_PERM_READ)
            xs_conn_event(w->conn, name, w->token, true);
}
