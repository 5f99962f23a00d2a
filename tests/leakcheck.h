/*
 * The project's teardown check (see th_check_clean() in harness.h), usable
 * where Check is not: the fuzz harnesses link it too.
 */
#ifndef XENSIM_TEST_LEAKCHECK_H
#define XENSIM_TEST_LEAKCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <xensim/xensim.h>

/*
 * Made while every domain still lives: each domain holds only what the
 * builder made (its store and console ports and pages, grant refs 0-7)
 * and what dom0's services hold to serve those rings (a host-process port
 * bound to each, one mapping of each ring's reserved ref); no other port,
 * grant entry, mapping, pin or page, no XenStore watch or transaction.
 * Returns true, with the first thing left in why, on a leak.
 */
bool leakcheck_find(struct xensim *sim, char *why, size_t size);
/* domid's kernel made its own store ring (dom0 after
 * xensim_xenbus_dom0_init()): its page and port are then its own. One
 * list per process, for up to 8 domains; -ENOSPC past that. */
int leakcheck_allow_own_store_ring(domid_t domid);

#endif
