/*
 * Shared test helpers: build a simulator with idle domains, run guest code
 * on a vCPU, and check at teardown that nothing leaked.
 */
#ifndef XENSIM_TEST_HARNESS_H
#define XENSIM_TEST_HARNESS_H

#include <check.h>
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
/* Every domain's info, however many there are (free() it); *n of them. */
struct xensim_domain_info *th_domain_list(struct xensim *sim, int *n);
/* Asserts no domain holds a grant mapping or pin, then destroys sim. */
void th_sim_free_checked(struct xensim *sim);

/* A guest call that returns a long: th_hc(sim, dom, expr) evaluates on vCPU 0. */
struct th_long_call { long (*fn)(void *); void *arg; long ret; };
long th_call_long(struct xensim *sim, domid_t domid, unsigned int vcpu,
                  long (*fn)(void *), void *arg);

#endif
