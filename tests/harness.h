/*
 * Shared test helpers: build a simulator with idle domains, run guest code
 * on a vCPU, and check at teardown that nothing leaked.
 */
#ifndef XENSIM_TEST_HARNESS_H
#define XENSIM_TEST_HARNESS_H

#include <check.h>
#include <stddef.h>
#include <xensim/xensim.h>
#include <xensim/guest.h>

/* A simulator with dom0 already built and running (idle vCPUs). */
struct xensim *th_sim_new(void);
/* An idle, running guest domain; aborts the test on failure. */
domid_t th_domain(struct xensim *sim, const char *name, bool privileged,
                  enum xensim_gnttab_mode mode);
domid_t th_domain_cfg(struct xensim *sim, const struct xensim_domain_config *cfg);
/* Runs fn(arg) as guest code on vCPU vcpu of domid and waits for it. */
void th_call(struct xensim *sim, domid_t domid, unsigned int vcpu,
             void (*fn)(void *), void *arg);
/* Ports in use, excluding the store and console ports made at build. */
unsigned int th_ports_in_use(struct xensim *sim, domid_t domid);
/*
 * The teardown check, made while every domain still lives: each domain
 * holds only what the builder made (its store and console ports and
 * pages, grant refs 0-7) and what dom0's services hold to serve those
 * rings (a host-process port bound to each, one mapping of each ring's
 * reserved ref); nothing else: no other port, grant entry, mapping, pin
 * or page, no XenStore watch or transaction. Fails the test naming the
 * first thing left.
 */
void th_check_clean(struct xensim *sim);
/* Tells the check that domid's kernel made its own store ring (dom0
 * after xensim_xenbus_dom0_init(), as Linux's xenstored_local_init): the
 * page granted at the reserved xenstore ref and the port of that ring are
 * then its own, like a guest's builder-made ring. */
void th_allow_own_store_ring(domid_t domid);
/* The same as a question: true, with what was left in why, on a leak. */
bool th_find_leak(struct xensim *sim, char *why, size_t size);
/* Waits (bounded, 10 s) until a destroyed domain is gone: xenstored
 * lets go of its ring once VIRQ_DOM_EXC told it, as on Xen. Fails the
 * test if it lingers. */
void th_wait_gone(struct xensim *sim, domid_t domid);
/* th_check_clean(), then destroys sim. */
void th_sim_free_checked(struct xensim *sim);

/* A guest call that returns a long: th_hc(sim, dom, expr) evaluates on vCPU 0. */
struct th_long_call { long (*fn)(void *); void *arg; long ret; };
long th_call_long(struct xensim *sim, domid_t domid, unsigned int vcpu,
                  long (*fn)(void *), void *arg);

#endif
