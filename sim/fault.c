/*
 * Guest faults. One SIGSEGV/SIGBUS handler for the process: a fault inside
 * copy_from_guest becomes -EFAULT; a fault by guest code on a strict grant
 * mapping (gnttab_describe_fault) is reported and crashes that domain,
 * whose vCPU leaves guest code; anything else goes to the previous handler.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <ucontext.h>
#include "sim.h"

static struct sigaction prev_segv, prev_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

void fault_report(struct xensim *sim, const struct xensim_fault *f)
{
    sim_mutex_lock(&sim->fault_lock);
    sim->last_fault = *f;
    sim->have_fault = true;
    xensim_fault_hook_t hook = sim->fault_hook;
    void *arg = sim->fault_hook_arg;
    sim_mutex_unlock(&sim->fault_lock);
    if (!sim->quiet)
        fprintf(stderr,
                "xensim: dom%u vcpu%u %s fault at %#lx: %s grant ref %u of dom%u%s\n",
                f->domid, f->vcpu, f->write ? "write" : "read", (unsigned long)f->addr,
                f->mapped ? "mapping of" : "unmapped slot, last held", f->ref, f->granter,
                f->readonly ? " (read-only)" : "");
    if (hook)
        hook(f, arg);
}

static void fault_chain(int sig, siginfo_t *si, void *uc)
{
    struct sigaction *prev = sig == SIGSEGV ? &prev_segv : &prev_bus;
    if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction) {
        prev->sa_sigaction(sig, si, uc);
        return;
    }
    if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
        return;
    }
    /* Back to the default action: the instruction faults again and the
     * process dies with the right signal. */
    signal(sig, SIG_DFL);
}

/*
 * Ours is installed with SA_NODEFER and leaves by siglongjmp without
 * restoring the mask, so a fault costs no system call. A handler
 * installed over ours may call us from a frame that blocked the signal
 * (libFuzzer wraps SIGSEGV without SA_NODEFER): the jump would leave it
 * blocked on this thread, and the next bad guest pointer would kill the
 * process. Unblocking is one system call, on the fault path only.
 */
static void fault_unblock(int sig)
{
    sigset_t now;
    if (pthread_sigmask(SIG_SETMASK, NULL, &now) == 0 && sigismember(&now, sig)) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, sig);
        pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    }
}

static void fault_handler(int sig, siginfo_t *si, void *ucv)
{
    /* A watched ring's access: let it run and go on (fetch_watch.c). */
    if (sig == SIGSEGV && fetch_watch_fault(si, ucv))
        return;
    if (guest_copy_jmp) {
        sigjmp_buf *jb = guest_copy_jmp;
        guest_copy_jmp = NULL;
        fault_unblock(sig);
        siglongjmp(*jb, 1);
    }
    struct vcpu *v = current_vcpu;
    uintptr_t addr = (uintptr_t)si->si_addr;
    struct xensim_fault f = { 0 };
    /* The lookup (under sim locks), the report and the hook are not guest
     * code: the depth goes up first, and vcpu_main resets it after the
     * jump. */
    if (sig == SIGSEGV && v)
        sim_hv_enter();
    if (sig == SIGSEGV && v && gnttab_describe_fault(v->d, addr, &f)) {
        ucontext_t *uc = ucv;
        f.domid = v->d->domid;
        f.vcpu = v->id;
        f.addr = addr;
        /* x86 page-fault error code: bit 1 is set for a write. */
        f.write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
        fault_report(v->d->sim, &f);
        domain_crash(v->d, f.write ? "write fault on a grant mapping"
                                   : "read fault on a grant mapping");
        fault_unblock(sig);
        siglongjmp(v->exit_jmp, 2);
    }
    /* Not a grant fault: the depth as it was, and no stop taken from
     * inside this handler (sim_hv_leave could take one). */
    if (sig == SIGSEGV && v)
        sim_hv_depth--;
    fault_chain(sig, si, ucv);
}

static void fault_install(void)
{
    struct sigaction sa = { 0 };
    sa.sa_sigaction = fault_handler;
    /* NODEFER: handlers leave by siglongjmp without restoring the mask. */
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &prev_segv);
    sigaction(SIGBUS, &sa, &prev_bus);
}

void fault_handler_install(void)
{
    pthread_once(&install_once, fault_install);
}

void xensim_set_fault_hook(struct xensim *sim, xensim_fault_hook_t hook, void *arg)
{
    sim_mutex_lock(&sim->fault_lock);
    sim->fault_hook = hook;
    sim->fault_hook_arg = arg;
    sim_mutex_unlock(&sim->fault_lock);
}

bool xensim_last_fault(struct xensim *sim, struct xensim_fault *out)
{
    sim_mutex_lock(&sim->fault_lock);
    bool have = sim->have_fault;
    if (have)
        *out = sim->last_fault;
    sim_mutex_unlock(&sim->fault_lock);
    return have;
}
