/*
 * Helpers for the xenbus suites: a simulator with xenstored running, guest
 * domains with a writable data/ directory, guest code run on a vCPU, and
 * the leak check (client and daemon: watches, transactions; core: ports,
 * mappings) at teardown.
 */
#ifndef XENSIM_TEST_XENBUS_HELPERS_H
#define XENSIM_TEST_XENBUS_HELPERS_H

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include <xensim/xenbus.h>

/* A simulator with dom0 and xenstored serving every store ring. */
struct xensim *xbt_sim_new(void);
/* A guest with /local/domain/<id>/data owned by it (as libxl makes it). */
domid_t xbt_guest(struct xensim *sim, const char *name);
/* Runs fn(arg) on vCPU 0 of dom. */
void xbt_run(struct xensim *sim, domid_t dom, void (*fn)(void *), void *arg);
/* The daemon's totals. */
void xbt_daemon_counts(struct xensim *sim, unsigned long *watches, unsigned long *txs);
/* The client's stats of dom, read on its vCPU 0. */
struct xensim_xenbus_stats xbt_stats(struct xensim *sim, domid_t dom);
/* Host-side read as dom0; returns the value (static buffer) or NULL. */
const char *xbt_read(struct xensim *sim, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Waits (host side) up to ms for the node to read `want` (NULL: absent). */
bool xbt_wait_value(struct xensim *sim, const char *path, const char *want, unsigned int ms);
/* Waits up to ms for *v >= want. */
bool xbt_wait_atomic(_Atomic int *v, int want, unsigned int ms);
void xbt_sleep_ms(unsigned int ms);
/* Checks nothing is left, destroys the guests, waits for xenstored to have
 * released them, checks again and destroys the simulator. */
void xbt_sim_free(struct xensim *sim);

#endif
