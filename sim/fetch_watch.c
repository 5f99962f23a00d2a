/*
 * The double-fetch checker (xensim_config.check_double_fetch). A ring a
 * back end names (ring_watch.c) through a strict grant mapping, which is
 * a page of its own in the back end's address space, or a front end
 * names in its own RAM, is made PROT_NONE there, so every access the
 * watcher's code makes to it faults. The
 * fault records which byte the access starts at, gives the page its
 * access back and sets the trap flag; the one instruction runs, and the
 * trap after it takes the access away again. A byte of a slot that the
 * same vCPU reads twice in one handling of the ring (no upcall taken and
 * no block returned from between), with no write to that slot between
 * (the response reuses it), is a double fetch: the peer could have
 * changed it between the reads (XSA-155). The indices before
 * the slots are read again and again by design and are not counted.
 *
 * x86-64 only (the trap flag, the page fault's error code). Owns a small
 * table of armed pages, read without locks by the handlers; relies on
 * fault.c's SIGSEGV handler to call in, and on gnttab for what a mapping
 * allows. One thread per ring: a second thread's access while the page
 * is open for the first is not seen.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include "sim.h"

#define FW_PAGES 64
#define X86_TRAP_FLAG 0x100

struct fw_page {
    _Atomic uintptr_t addr;          /* the page; 0: a free entry */
    int prot;                        /* what the mapping allows */
    struct xensim *sim;
    domid_t domid;
    struct xensim_ring_geometry g;
    char name[64];
    /* Per byte of the page: 1 + the upcall count of its last read,
     * 0 once the slot is written or never read. */
    uint64_t *read_in;
};

static struct fw_page fw_pages[FW_PAGES];
static pthread_mutex_t fw_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fw_once = PTHREAD_ONCE_INIT;
static struct sigaction fw_prev_trap;
/* The pages this thread opened for one instruction (one instruction may
 * touch two watched pages), 0 where none. */
#define FW_OPEN_MAX 4
static __thread uintptr_t fw_open[FW_OPEN_MAX];

static bool fw_is_open(uintptr_t page)
{
    for (unsigned int i = 0; i < FW_OPEN_MAX; i++)
        if (fw_open[i] == page)
            return true;
    return false;
}

static struct fw_page *fw_find(uintptr_t page)
{
    for (unsigned int i = 0; i < FW_PAGES; i++)
        if (atomic_load_explicit(&fw_pages[i].addr, memory_order_acquire) == page)
            return &fw_pages[i];
    return NULL;
}

/* After the instruction: closed again, if the ring is still armed. */
static void fw_trap(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    if (!fw_open[0]) {
        /* Not ours: as the previous handler would have it. */
        if ((fw_prev_trap.sa_flags & SA_SIGINFO) && fw_prev_trap.sa_sigaction)
            fw_prev_trap.sa_sigaction(sig, si, ucv);
        else if (fw_prev_trap.sa_handler != SIG_DFL && fw_prev_trap.sa_handler != SIG_IGN)
            fw_prev_trap.sa_handler(sig);
        else if (fw_prev_trap.sa_handler == SIG_DFL) {
            signal(sig, SIG_DFL);
            raise(sig);
        }
        return;
    }
    uc->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)X86_TRAP_FLAG;
    for (unsigned int i = 0; i < FW_OPEN_MAX && fw_open[i]; i++) {
        if (fw_find(fw_open[i]))
            mprotect((void *)fw_open[i], XEN_PAGE_SIZE, PROT_NONE);
        fw_open[i] = 0;
    }
}

static void fw_install(void)
{
    struct sigaction sa = { 0 };
    sa.sa_sigaction = fw_trap;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTRAP, &sa, &fw_prev_trap);
}

/* A second read: counted, kept, told (from the handler, as fault.c's
 * reports are). */
static void fw_report(struct fw_page *p, const struct vcpu *v, unsigned int slot,
                      unsigned int offset)
{
    struct xensim *sim = p->sim;
    atomic_fetch_add(&sim->double_fetches, 1);
    if (!pthread_mutex_trylock(&sim->fault_lock)) {
        struct xensim_double_fetch *df = &sim->last_double_fetch;
        df->domid = v->d->domid;
        df->vcpu = v->id;
        memcpy(df->ring, p->name, sizeof(df->ring));
        df->slot = slot;
        df->offset = offset;
        pthread_mutex_unlock(&sim->fault_lock);
    }
    if (!sim->quiet)
        fprintf(stderr, "xensim: dom%u vcpu%u read byte %u of slot %u of ring %s a second "
                        "time in one handling of the ring: a double fetch\n",
                v->d->domid, v->id, offset, slot, p->name);
}

static void fw_record(struct fw_page *p, const struct vcpu *v, size_t at, bool write)
{
    const struct xensim_ring_geometry *g = &p->g;
    if (v->d->domid != p->domid || at < g->entries_offset)
        return;
    size_t slot = (at - g->entries_offset) / g->entry_size;
    size_t first = g->entries_offset + slot * g->entry_size;
    if (write) {
        size_t end = first + g->entry_size < XEN_PAGE_SIZE ? first + g->entry_size
                                                           : XEN_PAGE_SIZE;
        memset(&p->read_in[first], 0, (end - first) * sizeof(p->read_in[0]));
        return;
    }
    uint64_t now = v->upcalls + v->wakes + 1;
    if (p->read_in[at] == now)
        fw_report(p, v, (unsigned int)slot, (unsigned int)(at - first));
    p->read_in[at] = now;
}

bool fetch_watch_fault(siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    uintptr_t at = (uintptr_t)si->si_addr, page = at & ~(uintptr_t)(XEN_PAGE_SIZE - 1);
    struct fw_page *p = fw_find(page);
    if (!p)
        return false;
    bool write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
    /* A write through a read-only mapping is the grant fault it always
     * was: fault.c reports it and crashes the domain. */
    if (write && !(p->prot & PROT_WRITE))
        return false;
    /* A page this thread opened and another closed before the
     * instruction ran: the same access again, not a second read. */
    bool again = fw_is_open(page);
    const struct vcpu *v = current_vcpu;
    if (v && !again)
        fw_record(p, v, at - page, write);
    unsigned int slot = 0;
    while (slot < FW_OPEN_MAX - 1 && fw_open[slot] && fw_open[slot] != page)
        slot++;
    mprotect((void *)page, XEN_PAGE_SIZE, p->prot);
    fw_open[slot] = page;
    uc->uc_mcontext.gregs[REG_EFL] |= X86_TRAP_FLAG;
    return true;
}

void fetch_watch_arm(struct domain *d, const volatile void *sring,
                     const struct xensim_ring_geometry *g, const char *name)
{
    uintptr_t page = (uintptr_t)sring & ~(uintptr_t)(XEN_PAGE_SIZE - 1);
    struct xensim_fault f = { 0 };
    /* A strict mapping is a page of the back end's own; a front end's
     * ring is a page of its own RAM. Any other address (a fast mapping
     * is the granter's page) is not watched: protecting it would trap
     * another domain's ring, or nothing the watcher reads. Whoever else
     * touches a watched page (a fast back end, the inspection tools) is
     * single-stepped too, and not counted. */
    bool own_ram = page >= (uintptr_t)d->mem &&
                   page < (uintptr_t)d->mem + d->nr_pages * (uintptr_t)XEN_PAGE_SIZE;
    if (!own_ram && (!gnttab_describe_fault(d, page, &f) || !f.mapped))
        return;
    pthread_once(&fw_once, fw_install);
    uint64_t *read_in = calloc(XEN_PAGE_SIZE, sizeof(*read_in));
    if (!read_in)
        return;
    sim_mutex_lock(&fw_lock);
    struct fw_page *p = NULL;
    for (unsigned int i = 0; i < FW_PAGES && !p; i++)
        if (!atomic_load(&fw_pages[i].addr))
            p = &fw_pages[i];
    if (p) {
        p->prot = f.readonly ? PROT_READ : PROT_READ | PROT_WRITE;
        p->sim = d->sim;
        p->domid = d->domid;
        p->g = *g;
        snprintf(p->name, sizeof(p->name), "%s", name);
        p->read_in = read_in;
        atomic_store_explicit(&p->addr, page, memory_order_release);
        mprotect((void *)page, XEN_PAGE_SIZE, PROT_NONE);
    }
    sim_mutex_unlock(&fw_lock);
    if (!p) {
        free(read_in);
        if (!d->sim->quiet)
            fprintf(stderr, "xensim: the double-fetch checker watches %u rings at most; "
                            "ring %s is not watched\n", FW_PAGES, name);
    }
}

void fetch_watch_disarm(const volatile void *sring)
{
    uintptr_t page = (uintptr_t)sring & ~(uintptr_t)(XEN_PAGE_SIZE - 1);
    sim_mutex_lock(&fw_lock);
    struct fw_page *p = fw_find(page);
    uint64_t *read_in = NULL;
    if (p) {
        atomic_store_explicit(&p->addr, 0, memory_order_release);
        mprotect((void *)page, XEN_PAGE_SIZE, p->prot);
        read_in = p->read_in;
        p->read_in = NULL;
    }
    sim_mutex_unlock(&fw_lock);
    free(read_in);
}

uint64_t xensim_double_fetches(struct xensim *sim, struct xensim_double_fetch *last)
{
    uint64_t n = atomic_load(&sim->double_fetches);
    if (last) {
        sim_mutex_lock(&sim->fault_lock);
        *last = sim->last_double_fetch;
        sim_mutex_unlock(&sim->fault_lock);
    }
    return n;
}
