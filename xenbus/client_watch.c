/*
 * Guest xenbus watches: registration with a token naming the struct (its
 * address in hex, as Linux does), the queue of received events, and the
 * one-at-a-time dispatch of callbacks. Relies on xb_request().
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xb_client.h"

static void token_of(const struct xensim_xenbus_watch *w, char *buf, size_t size)
{
    snprintf(buf, size, "%" PRIxPTR, (uintptr_t)w);
}

/* The registered watch a token names, or NULL; wlock held. */
static struct xensim_xenbus_watch *find_watch(struct xb_dom *xb, const char *token)
{
    char buf[32];

    for (struct xensim_xenbus_watch *w = xb->watches; w; w = w->next_) {
        token_of(w, buf, sizeof(buf));
        if (!strcmp(buf, token))
            return w;
    }
    return NULL;
}

void xb_watch_event(struct xb_dom *xb, const char *body, uint32_t len)
{
    const char *path = body, *token;
    size_t plen = strnlen(body, len);
    struct xb_event *ev;

    if (plen >= len)
        return;               /* malformed: no token */
    token = body + plen + 1;   /* body[len] is NUL: the token ends */
    ev = malloc(sizeof(*ev) + len + 1);
    if (!ev)
        return;               /* events may be lost; watchers re-read anyway */
    memcpy(ev->body, body, len);
    ev->body[len] = '\0';
    ev->path = ev->body;
    ev->token = ev->body + (token - path);
    ev->next = NULL;
    xensim_mutex_lock(&xb->wlock);
    if (!find_watch(xb, ev->token)) {
        xensim_mutex_unlock(&xb->wlock);
        free(ev);
        return;
    }
    if (xb->evq_tail)
        xb->evq_tail->next = ev;
    else
        xb->evq = ev;
    xb->evq_tail = ev;
    xb->nr_events++;
    xensim_mutex_unlock(&xb->wlock);
}

static struct xb_event *pop_event(struct xb_dom *xb)
{
    struct xb_event *ev = xb->evq;

    if (ev) {
        xb->evq = ev->next;
        if (!xb->evq)
            xb->evq_tail = NULL;
        xb->nr_events--;
    }
    return ev;
}

void xb_dispatch(struct xb_dom *xb)
{
    for (;;) {
        struct xb_event *ev;
        struct xensim_xenbus_watch *w;

        xensim_mutex_lock(&xb->wlock);
        /* Whoever dispatches (perhaps an outer frame of ours) loops until
         * the queue is empty, so events queued now are not lost. */
        if (xb->dispatcher) {
            xensim_mutex_unlock(&xb->wlock);
            return;
        }
        ev = pop_event(xb);
        if (!ev) {
            xensim_mutex_unlock(&xb->wlock);
            return;
        }
        w = find_watch(xb, ev->token);
        if (!w) {
            xensim_mutex_unlock(&xb->wlock);
            free(ev);             /* unwatched since it came */
            continue;
        }
        xb->dispatcher = xb_self();
        xb->running = w;
        xb->running_ev = ev;
        xensim_mutex_unlock(&xb->wlock);
        /* Like an upcall, a callback is not entered by xensim_domain_call():
         * one that unregistered the driver would free the device the
         * callback works on. The core defers calls in upcalls; callbacks
         * run at the end of an outermost xenbus call are not in one. */
        xensim_guest_calls_hold();
        w->callback(w, ev->path, ev->token);
        xensim_guest_calls_release();
        xensim_mutex_lock(&xb->wlock);
        xb->dispatcher = NULL;
        xb->running = NULL;
        xb->running_ev = NULL;
        xensim_mutex_unlock(&xb->wlock);
        free(ev);
    }
}

/* The domain is gone (no vCPU of it runs): the queue and the event of a
 * callback that its death interrupted. */
void xb_events_free(struct xb_dom *xb)
{
    struct xb_event *ev;

    while ((ev = pop_event(xb)))
        free(ev);
    free(xb->running_ev);
    xb->running_ev = NULL;
}

int xensim_xenbus_watch(struct xensim_xenbus_watch *w)
{
    int err = 0;
    struct xb_dom *xb = xb_get(&err);
    char token[32], reply[XENSTORE_PAYLOAD_MAX + 1];

    if (!xb)
        return err;
    if (!w || !w->node || !w->callback || w->registered_)
        return -EINVAL;
    token_of(w, token, sizeof(token));
    /* Listed first: the daemon fires the watch as soon as it is set. */
    xensim_mutex_lock(&xb->wlock);
    w->next_ = xb->watches;
    xb->watches = w;
    w->registered_ = true;
    xensim_mutex_unlock(&xb->wlock);
    struct xb_part parts[] = { { w->node, strlen(w->node) + 1 }, { token, strlen(token) + 1 } };
    err = xb_request(xb, XS_WATCH, 0, parts, 2, reply);
    if (err < 0) {
        xensim_mutex_lock(&xb->wlock);
        for (struct xensim_xenbus_watch **pp = &xb->watches; *pp; pp = &(*pp)->next_)
            if (*pp == w) {
                *pp = w->next_;
                break;
            }
        w->registered_ = false;
        xensim_mutex_unlock(&xb->wlock);
        return err;
    }
    return 0;
}

int xensim_xenbus_unwatch(struct xensim_xenbus_watch *w)
{
    int err = 0;
    struct xb_dom *xb = xb_get(&err);
    char token[32], reply[XENSTORE_PAYLOAD_MAX + 1];
    bool found = false;

    if (!xb)
        return err;
    if (!w)
        return -EINVAL;
    token_of(w, token, sizeof(token));
    xensim_mutex_lock(&xb->wlock);
    for (struct xensim_xenbus_watch **pp = &xb->watches; *pp; pp = &(*pp)->next_)
        if (*pp == w) {
            *pp = w->next_;
            found = true;
            break;
        }
    w->registered_ = false;
    /* Events already queued for it are dropped at dispatch (no match). */
    xensim_mutex_unlock(&xb->wlock);
    if (!found)
        return -ENOENT;
    struct xb_part parts[] = { { w->node, strlen(w->node) + 1 }, { token, strlen(token) + 1 } };
    err = xb_request(xb, XS_UNWATCH, 0, parts, 2, reply);
    /* A callback for it running on another vCPU finishes first. */
    for (;;) {
        bool busy;

        xensim_mutex_lock(&xb->wlock);
        busy = xb->running == w && xb->dispatcher != xb_self();
        xensim_mutex_unlock(&xb->wlock);
        if (!busy)
            break;
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    return err == -ENOENT ? 0 : (err < 0 ? err : 0);
}

bool xb_dispatch_hold(struct xb_dom *xb)
{
    for (;;) {
        xensim_mutex_lock(&xb->wlock);
        if (xb->dispatcher == xb_self()) {
            xensim_mutex_unlock(&xb->wlock);
            return false;
        }
        if (!xb->dispatcher) {
            xb->dispatcher = xb_self();
            xensim_mutex_unlock(&xb->wlock);
            return true;
        }
        xensim_mutex_unlock(&xb->wlock);
        /* Another vCPU runs a callback; they are short. */
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
}

void xb_dispatch_release(struct xb_dom *xb, bool took)
{
    if (!took)
        return;
    xensim_mutex_lock(&xb->wlock);
    xb->dispatcher = NULL;
    xensim_mutex_unlock(&xb->wlock);
    xb_dispatch(xb);
}
