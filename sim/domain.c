/*
 * The simulator and its domains: creation (what Xen's domain_create and
 * libxl's builder do), lookup, pause, shutdown, destruction and the dying
 * "zombie" state. Owns sim->domains[] and struct domain's lifetime; calls
 * domain_memory.c, evtchn.c, gnttab.c, vcpu.c and timer.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>
#include "sim.h"
#include "narrate.h"

static pthread_key_t rcu_key;
static pthread_once_t rcu_once = PTHREAD_ONCE_INIT;
static __thread bool rcu_registered;

static void rcu_thread_exit(void *unused)
{
    (void)unused;
    if (rcu_registered) {
        rcu_unregister_thread();
        rcu_registered = false;
    }
}

static void rcu_key_init(void)
{
    pthread_key_create(&rcu_key, rcu_thread_exit);
}

/* Host threads reach RCU readers through the embedding and hostdev APIs;
 * urcu-memb needs every reader registered, so register on first use. */
void sim_rcu_ensure(void)
{
    if (rcu_registered)
        return;
    pthread_once(&rcu_once, rcu_key_init);
    rcu_register_thread();
    rcu_registered = true;
    pthread_setspecific(rcu_key, (void *)1);
}

void sim_rcu_unregister(void)
{
    rcu_thread_exit(NULL);
}

uint64_t sim_now(const struct xensim *sim)
{
    return sim->sched->now(sim);
}

uint64_t xensim_seed(const struct xensim *sim)
{
    return sim->seed;
}

struct domain *domain_lookup(struct xensim *sim, domid_t domid)
{
    if (domid >= DOMID_FIRST_RESERVED)
        return NULL;
    return rcu_dereference(sim->domains[domid]);
}

struct domain *domain_lookup_self(struct xensim *sim, struct domain *self, domid_t domid)
{
    return domid == DOMID_SELF ? self : domain_lookup(sim, domid);
}

struct domain *domain_rcu_get(struct xensim *sim, struct domain *self, domid_t domid)
{
    sim_rcu_ensure();
    rcu_read_lock();
    struct domain *d = self ? domain_lookup_self(sim, self, domid) : domain_lookup(sim, domid);
    if (!d)
        rcu_read_unlock();
    return d;
}

struct xensim *xensim_create(const struct xensim_config *cfg)
{
    struct xensim *sim = calloc(1, sizeof(*sim));
    if (!sim)
        return NULL;
    sim_rcu_ensure();
    /* Each domain holds a memfd and each host process handle an eventfd:
     * thousands of domains need more than the default soft limit. */
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    pthread_mutex_init(&sim->lock, NULL);
    pthread_cond_init(&sim->cond, NULL);
    pthread_mutex_init(&sim->fault_lock, NULL);
    pthread_mutex_init(&sim->listener_lock, NULL);
    trace_init(sim);
    cpu_set_t cpus;
    sim->host_cpus = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? (unsigned)CPU_COUNT(&cpus) : 1;
    sim->quiet = cfg && cfg->quiet;
    sim->no_halt_polling = cfg && cfg->no_halt_polling;
    sim->check_double_fetch = cfg && cfg->check_double_fetch;
    /* The one place the variant is chosen; everything else calls through
     * sim->sched. */
    sim->seed = cfg ? cfg->seed : 0;
    sim->sched = sim->seed ? &sched_deterministic : &sched_free_running;
    if (sim->sched->init(sim, cfg) < 0) {
        free(sim);
        return NULL;
    }
    fault_handler_install();
    vcpu_preempt_install();
    if (timer_start(sim) < 0) {
        sim->sched->fini(sim);
        free(sim);
        return NULL;
    }
    return sim;
}

static void domain_free_rcu(struct rcu_head *head)
{
    struct domain *d = caa_container_of(head, struct domain, rcu);
    for (unsigned int i = 0; i < d->nr_vcpus; i++)
        vcpu_free(d->vcpus[i]);
    gnttab_domain_free(d);
    evtchn_domain_free(d);
    domain_memory_free(d);
    ring_watch_domain_free(d);
    free(d);
}

/* Takes a dead domain out of the table; frees it after a grace period. */
static void domain_finalize(struct domain *d)
{
    struct xensim *sim = d->sim;
    sim_mutex_lock(&sim->lock);
    if (sim->domains[d->domid] == d) {
        rcu_assign_pointer(sim->domains[d->domid], NULL);
        sim->nr_domains--;
    }
    pthread_cond_broadcast(&sim->cond);
    sim_mutex_unlock(&sim->lock);
    evtchn_send_global_virq(sim, VIRQ_DOM_EXC);
    sim_rcu_ensure();
    call_rcu(&d->rcu, domain_free_rcu);
}

/* d->foreign_maps counts other domains' pins on d's pages plus one
 * reference of d's own, dropped when its destroy is done. Only the caller
 * that took the count to zero calls this, and nobody else touches d after
 * their own decrement, so the free cannot race a reader. */
void domain_put_foreign(struct domain *d)
{
    if (!atomic_exchange(&d->finalized, true))
        domain_finalize(d);
}

static int domid_alloc(struct xensim *sim)
{
    for (unsigned int i = 0; i < DOMID_FIRST_RESERVED; i++) {
        domid_t id = (domid_t)((sim->next_domid + i) % DOMID_FIRST_RESERVED);
        if (!sim->domains[id]) {
            sim->next_domid = (domid_t)((id + 1) % DOMID_FIRST_RESERVED);
            return id;
        }
    }
    return -ENOSPC;
}

/* What the toolstack's builder gives a PV guest before it runs (§1.6):
 * start_info, a store and a console ring page, their ports allocated
 * unbound to dom0 (store first), and grant refs 0 and 1 for them. */
static int domain_build(struct domain *d)
{
    /* dom0's page 0 is kept for the store ring its kernel makes
     * (xb_local_init), so that /proc/xen/xsd_kva can be dom0's memory
     * file: C xenstored maps that file at offset 0. start_info names it
     * in store_mfn, 0, the value Xen gives dom0. */
    if (d->domid == 0 && domain_page_alloc(d) != 0)
        return -ENOMEM;
    xen_pfn_t si = domain_page_alloc(d);
    if (si == ~(xen_pfn_t)0)
        return -ENOMEM;
    d->start_info = domain_pfn_to_virt(d, si);
    start_info_t *s = d->start_info;
    snprintf(s->magic, sizeof(s->magic), "xen-3.0-x86_64");
    s->nr_pages = d->nr_pages;
    s->shared_info = d->nr_pages << XEN_PAGE_SHIFT;
    if (d->domid == 0) {
        s->flags = SIF_PRIVILEGED | SIF_INITDOMAIN;
        return 0;
    }
    if (d->privileged)
        s->flags = SIF_PRIVILEGED;

    xen_pfn_t store = domain_page_alloc(d), console = domain_page_alloc(d);
    if (store == ~(xen_pfn_t)0 || console == ~(xen_pfn_t)0)
        return -ENOMEM;
    rcu_read_lock();
    struct domain *dom0 = domain_lookup(d->sim, 0);
    long rc = 0;
    evtchn_port_t store_port = 0, console_port = 0;
    if (dom0) {
        rc = evtchn_alloc_unbound_for(dom0, d->domid, 0, &store_port, NULL);
        if (!rc)
            rc = evtchn_alloc_unbound_for(dom0, d->domid, 0, &console_port, NULL);
    }
    rcu_read_unlock();
    if (rc)
        return (int)rc;
    s->store_mfn = store;
    s->store_evtchn = store_port;
    s->console.domU.mfn = console;
    s->console.domU.evtchn = console_port;
    /* The domain is published already: xensim_domain_info may read these
     * from any thread while they are set. */
    __atomic_store_n(&d->store_pfn, store, __ATOMIC_RELAXED);
    __atomic_store_n(&d->console_pfn, console, __ATOMIC_RELAXED);
    __atomic_store_n(&d->store_port, store_port, __ATOMIC_RELAXED);
    __atomic_store_n(&d->console_port, console_port, __ATOMIC_RELAXED);
    gnttab_seed_reserved(d, GNTTAB_RESERVED_CONSOLE, 0, console);
    gnttab_seed_reserved(d, GNTTAB_RESERVED_XENSTORE, 0, store);
    return 0;
}

static void domain_abort_build(struct domain *d)
{
    for (unsigned int i = 0; i < d->nr_vcpus; i++)
        if (d->vcpus[i])
            vcpu_free(d->vcpus[i]);
    if (atomic_load(&d->evtchn_groups[0])) {
        atomic_store(&d->is_dying, true);
        evtchn_domain_destroy(d);
    }
    gnttab_domain_free(d);
    evtchn_domain_free(d);
    domain_memory_free(d);
    ring_watch_domain_free(d);
    free(d);
}

/* What a new domain takes from its config, before any of its parts exist. */
static void domain_configure(struct domain *d, struct xensim *sim, domid_t id,
                             const struct xensim_domain_config *cfg, unsigned int nr_vcpus)
{
    d->sim = sim;
    d->domid = id;
    d->privileged = cfg->privileged || id == 0;
    if (cfg->name)
        snprintf(d->name, sizeof(d->name), "%s", cfg->name);
    else
        snprintf(d->name, sizeof(d->name), "dom%u", id);
    d->nr_vcpus = nr_vcpus;
    d->entry = cfg->entry;
    d->entry_arg = cfg->entry_arg;
    d->gnttab_mode = cfg->gnttab_mode;
    d->max_grant_frames = cfg->max_grant_frames ? cfg->max_grant_frames : 64;
    d->max_maptrack_frames = cfg->max_maptrack_frames ? cfg->max_maptrack_frames : 1024;
    d->max_grant_version = cfg->max_grant_version ? cfg->max_grant_version : 2;
    d->kernel_grant_version = cfg->kernel_grant_version == 2 ? 2 : 1;
    atomic_store(&d->paused, true);
    atomic_store(&d->state, XENSIM_DOMAIN_PAUSED);
    atomic_store(&d->foreign_maps, 1);   /* the domain's own reference */
}

/* Memory, event channels, the grant table and the vCPUs, not yet started. */
static int domain_init_parts(struct domain *d, const struct xensim_domain_config *cfg,
                             unsigned long nr_pages)
{
    int rc = domain_memory_init(d, nr_pages, d->max_grant_frames);
    if (!rc)
        rc = evtchn_domain_init(d, cfg);
    if (!rc)
        rc = gnttab_domain_init(d);
    for (unsigned int i = 0; !rc && i < d->nr_vcpus; i++) {
        d->vcpus[i] = vcpu_alloc(d, i);
        if (!d->vcpus[i])
            rc = -ENOMEM;
    }
    return rc;
}

/* A creation that failed: stops the vCPUs that started, unpublishes the
 * domain, waits for its readers and frees what was made. */
static void domain_create_undo(struct domain *d)
{
    struct xensim *sim = d->sim;
    atomic_store(&d->is_shutting_down, true);
    vcpu_stop_all(d);
    sim_mutex_lock(&sim->lock);
    if (sim->domains[d->domid] == d) {
        rcu_assign_pointer(sim->domains[d->domid], NULL);
        sim->nr_domains--;
    }
    sim_mutex_unlock(&sim->lock);
    synchronize_rcu();
    domain_abort_build(d);
}

int xensim_domain_create(struct xensim *sim, const struct xensim_domain_config *cfg)
{
    struct xensim_domain_config def = { 0 };
    if (!cfg)
        cfg = &def;
    unsigned int nr_vcpus = cfg->nr_vcpus ? cfg->nr_vcpus : 1;
    unsigned long nr_pages = cfg->nr_pages ? cfg->nr_pages : 256;
    if (nr_vcpus > XENSIM_MAX_VCPUS || nr_pages < 4 || nr_pages > (1ul << 24) ||
        cfg->evtchn_abi > XENSIM_EVTCHN_FIFO || cfg->gnttab_mode > XENSIM_GNTTAB_FAST ||
        cfg->max_grant_version > 2 || cfg->kernel_grant_version > 2)
        return -EINVAL;
    sim_rcu_ensure();

    struct domain *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->memfd = -1;
    sim_mutex_lock(&sim->lock);
    int id = domid_alloc(sim);
    if (id < 0) {
        sim_mutex_unlock(&sim->lock);
        free(d);
        return id;
    }
    domain_configure(d, sim, (domid_t)id, cfg, nr_vcpus);
    int rc = domain_init_parts(d, cfg, nr_pages);
    if (!rc) {
        /* Publish before building: the builder allocates ports as dom0. */
        rcu_assign_pointer(sim->domains[id], d);
        sim->nr_domains++;
    }
    sim_mutex_unlock(&sim->lock);
    if (!rc)
        rc = domain_build(d);
    /* Under page_lock, as domain_fill_info reads it: the domain is
     * published, so an info call may be running now. */
    sim_mutex_lock(&d->page_lock);
    d->build_pages = d->pages_in_use;
    sim_mutex_unlock(&d->page_lock);
    for (unsigned int i = 0; !rc && i < nr_vcpus; i++)
        rc = vcpu_start(d->vcpus[i]);
    if (rc) {
        domain_create_undo(d);
        return rc;
    }
    domain_listeners_built(sim, (domid_t)id);
    return id;
}

/* Pause and unpause, as the toolstack sees them: a paused domain's vCPUs
 * stop at their next hypercall boundary; unpausing kicks them on. */
static int domain_set_paused(struct xensim *sim, domid_t domid, bool paused)
{
    struct domain *d = domain_rcu_get(sim, NULL, domid);
    if (!d)
        return -ESRCH;
    int rc = 0;
    if (atomic_load(&d->is_dying) || atomic_load(&d->is_shutting_down)) {
        rc = -EINVAL;
    } else {
        atomic_store(&d->paused, paused);
        atomic_store(&d->state, paused ? XENSIM_DOMAIN_PAUSED : XENSIM_DOMAIN_RUNNING);
        for (unsigned int i = 0; !paused && i < d->nr_vcpus; i++)
            sim->sched->kick(d->vcpus[i]);
    }
    rcu_read_unlock();
    return rc;
}

int xensim_domain_unpause(struct xensim *sim, domid_t domid)
{
    return domain_set_paused(sim, domid, false);
}

int xensim_domain_pause(struct xensim *sim, domid_t domid)
{
    return domain_set_paused(sim, domid, true);
}

/* Set once, before is_shutting_down and state say so; read without the
 * lock by anyone who saw them. */
static unsigned int domain_shutdown_reason(const struct domain *d)
{
    return __atomic_load_n(&d->shutdown_reason, __ATOMIC_RELAXED);
}

void domain_shutdown(struct domain *d, unsigned int reason)
{
    struct xensim *sim = d->sim;
    sim_mutex_lock(&sim->lock);
    bool first = !atomic_load(&d->is_shutting_down);
    if (first) {
        __atomic_store_n(&d->shutdown_reason, reason, __ATOMIC_RELAXED);
        atomic_store(&d->is_shutting_down, true);
        if (!atomic_load(&d->is_dying))
            atomic_store(&d->state, XENSIM_DOMAIN_SHUTDOWN);
        pthread_cond_broadcast(&sim->cond);
    }
    sim_mutex_unlock(&sim->lock);
    if (!first)
        return;
    for (unsigned int i = 0; i < d->nr_vcpus; i++)
        sim->sched->kick(d->vcpus[i]);
    timer_cancel_domain(d);
    evtchn_send_global_virq(sim, VIRQ_DOM_EXC);
}

void domain_crash(struct domain *d, const char *why)
{
    if (!d->sim->quiet)
        fprintf(stderr, "xensim: domain %u (%s) crashed: %s\n", d->domid, d->name, why);
    domain_shutdown(d, SHUTDOWN_crash);
}

int xensim_domain_shutdown(struct xensim *sim, domid_t domid, unsigned int reason)
{
    if (reason > SHUTDOWN_MAX)
        return -EINVAL;
    struct domain *d = domain_rcu_get(sim, NULL, domid);
    if (!d)
        return -ESRCH;
    domain_shutdown(d, reason);
    rcu_read_unlock();
    return 0;
}

/* Destruction, first half: from here the domain is dying, its listeners
 * have heard, and its vCPUs are told to leave. NULL (and *rc) when it
 * cannot be destroyed. */
static struct domain *domain_destroy_begin(struct xensim *sim, domid_t domid, int *rc)
{
    struct domain *d = domain_rcu_get(sim, NULL, domid);
    *rc = -ESRCH;
    if (!d)
        return NULL;
    *rc = -EINVAL;
    if (current_vcpu && current_vcpu->d == d) {
        rcu_read_unlock();
        return NULL;   /* a domain cannot destroy itself from its own vCPU */
    }
    if (atomic_exchange(&d->is_dying, true)) {
        rcu_read_unlock();
        return NULL;   /* already being destroyed */
    }
    /* The domain cannot be freed before its vCPUs are gone, so the read
     * lock is not needed past this point. */
    rcu_read_unlock();
    domain_listeners_destroying(sim, domid);
    domain_shutdown(d, atomic_load(&d->is_shutting_down) ? domain_shutdown_reason(d)
                                                        : SHUTDOWN_poweroff);
    *rc = 0;
    return d;
}

/* Second half: waits for the vCPUs, closes the ports, drops the mappings. */
static void domain_destroy_finish(struct xensim *sim, struct domain *d)
{
    vcpu_stop_all(d);
    /* Before the mappings go: the list points into them. */
    ring_watch_domain_free(d);
    domain_release_guest_anchor(d);
    atomic_store(&d->state, XENSIM_DOMAIN_DYING);
    evtchn_domain_destroy(d);
    gnttab_release_mappings(d);
    evtchn_send_global_virq(sim, VIRQ_DOM_EXC);
    sim_mutex_lock(&sim->lock);
    pthread_cond_broadcast(&sim->cond);
    sim_mutex_unlock(&sim->lock);
    atomic_store(&d->destroyed, true);
    if (atomic_fetch_sub(&d->foreign_maps, 1) == 1)
        domain_put_foreign(d);
}

int xensim_domain_destroy(struct xensim *sim, domid_t domid)
{
    int rc;
    struct domain *d = domain_destroy_begin(sim, domid, &rc);
    if (d)
        domain_destroy_finish(sim, d);
    return rc;
}

static void domain_fill_info(struct domain *d, struct xensim_domain_info *info)
{
    memset(info, 0, sizeof(*info));
    info->domid = d->domid;
    snprintf(info->name, sizeof(info->name), "%s", d->name);
    info->state = (enum xensim_domain_state)atomic_load(&d->state);
    info->shutdown_reason = domain_shutdown_reason(d);
    info->nr_vcpus = d->nr_vcpus;
    info->nr_pages = d->nr_pages;
    info->privileged = d->privileged;
    sim_mutex_lock(&d->event_lock);
    info->ports_in_use = d->ports_in_use;
    sim_mutex_unlock(&d->event_lock);
    info->maptrack_in_use = gnttab_maptrack_in_use(d);
    unsigned int maps = atomic_load(&d->foreign_maps);
    info->pages_mapped_by_others = atomic_load(&d->destroyed) ? maps : maps - 1;
    info->store_port = __atomic_load_n(&d->store_port, __ATOMIC_RELAXED);
    info->console_port = __atomic_load_n(&d->console_port, __ATOMIC_RELAXED);
    info->store_pfn = __atomic_load_n(&d->store_pfn, __ATOMIC_RELAXED);
    info->console_pfn = __atomic_load_n(&d->console_pfn, __ATOMIC_RELAXED);
    info->grant_entries_in_use = gnttab_entries_in_use(d);
    sim_mutex_lock(&d->page_lock);
    info->pages_allocated = d->pages_in_use - d->build_pages;
    sim_mutex_unlock(&d->page_lock);
    info->evtchn_pages_held = evtchn_fifo_pages_held(d);
    info->evtchn_abi = atomic_load(&d->evtchn_ops)->abi;
    info->max_evtchn_port = evtchn_max_port(d);
    info->shared_info_frame = d->nr_pages;
}

int xensim_domain_info(struct xensim *sim, domid_t domid, struct xensim_domain_info *info)
{
    struct domain *d = domain_rcu_get(sim, NULL, domid);
    if (!d)
        return -ESRCH;
    domain_fill_info(d, info);
    rcu_read_unlock();
    return 0;
}

int xensim_domain_list(struct xensim *sim, struct xensim_domain_info *infos, int max)
{
    int n = 0;
    sim_rcu_ensure();
    rcu_read_lock();
    for (unsigned int id = 0; id < DOMID_FIRST_RESERVED; id++) {
        struct domain *d = domain_lookup(sim, (domid_t)id);
        if (!d)
            continue;
        if (n < max)
            domain_fill_info(d, &infos[n]);
        n++;
    }
    rcu_read_unlock();
    return n;
}

static bool domain_is_down(struct xensim *sim, domid_t domid, unsigned int *reason)
{
    struct domain *d = sim->domains[domid];
    if (!d)
        return true;
    if (atomic_load(&d->is_shutting_down)) {
        *reason = domain_shutdown_reason(d);
        return true;
    }
    return false;
}

struct down_wait {
    struct xensim *sim;
    domid_t domid;
    unsigned int *reason;
};

static bool down_wait_done(void *p)
{
    struct down_wait *w = p;
    return domain_is_down(w->sim, w->domid, w->reason);
}

int xensim_domain_wait_shutdown(struct xensim *sim, domid_t domid)
{
    if (domid >= DOMID_FIRST_RESERVED)
        return -ESRCH;
    unsigned int reason = SHUTDOWN_poweroff;
    sim_mutex_lock(&sim->lock);
    if (!sim->domains[domid]) {
        sim_mutex_unlock(&sim->lock);
        return -ESRCH;
    }
    struct down_wait w = { sim, domid, &reason };
    while (!down_wait_done(&w))
        sim->sched->host_wait(sim, &sim->cond, &sim->lock, down_wait_done, &w, 0);
    sim_mutex_unlock(&sim->lock);
    return (int)reason;
}

/* Idle domains (no entry) never shut down by themselves, so they are not
 * waited for. */
static bool all_shutdown(void *p)
{
    struct xensim *sim = p;
    for (unsigned int id = 0; id < DOMID_FIRST_RESERVED; id++) {
        struct domain *d = sim->domains[id];
        if (d && d->entry && !atomic_load(&d->is_shutting_down))
            return false;
    }
    return true;
}

void xensim_wait_all_shutdown(struct xensim *sim)
{
    sim_mutex_lock(&sim->lock);
    while (!all_shutdown(sim))
        sim->sched->host_wait(sim, &sim->cond, &sim->lock, all_shutdown, sim, 0);
    sim_mutex_unlock(&sim->lock);
}

void xensim_destroy(struct xensim *sim)
{
    if (!sim)
        return;
    sim_rcu_ensure();
    /* Guests first, dom0 last: back ends outlive their front ends, and
     * dom0's services (xenstored) stop when dom0's destroy begins. Waiting
     * for a vCPU to leave costs a scheduling latency, which on a busy host
     * dwarfs the work: so guests are told to stop DESTROY_WINDOW at a time
     * and then waited for, their threads leaving side by side. */
    enum { DESTROY_WINDOW = 64 };
    struct domain *batch[DESTROY_WINDOW];
    int id = DOMID_FIRST_RESERVED - 1;
    while (id > 0) {
        unsigned int n = 0;
        for (; id > 0 && n < DESTROY_WINDOW; id--) {
            sim_mutex_lock(&sim->lock);
            struct domain *d = sim->domains[id];
            sim_mutex_unlock(&sim->lock);
            int rc;
            if (d && !atomic_load(&d->is_dying) &&
                (d = domain_destroy_begin(sim, (domid_t)id, &rc)))
                batch[n++] = d;
        }
        for (unsigned int i = 0; i < n; i++)
            domain_destroy_finish(sim, batch[i]);
    }
    sim_mutex_lock(&sim->lock);
    bool have_dom0 = sim->domains[0] && !atomic_load(&sim->domains[0]->is_dying);
    sim_mutex_unlock(&sim->lock);
    if (have_dom0)
        xensim_domain_destroy(sim, 0);
    timer_stop(sim);
    rcu_barrier();
    narrate_sim_free(sim);
    trace_free(sim);
    domain_listeners_free(sim);
    pthread_mutex_destroy(&sim->listener_lock);
    pthread_mutex_destroy(&sim->lock);
    pthread_cond_destroy(&sim->cond);
    pthread_mutex_destroy(&sim->fault_lock);
    sim->sched->fini(sim);
    free(sim);
}
