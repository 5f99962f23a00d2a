/*
 * Stopping a vCPU that loops in guest code. Xen simply deschedules such a
 * vCPU; here it is a host thread that only leaves at a hypercall
 * boundary, so destroy interrupts it with SIGSYS, and the handler unwinds
 * it to vcpu_main through exit_jmp when it is safe to: in guest code, not
 * inside the simulator (sim_hv_depth), not in an RCU read section, not
 * in libc, the vDSO or a sanitizer runtime. Inside the simulator it leaves on its
 * way back out (sim_hv_leave); elsewhere the handler returns and
 * vcpu_stop_all() asks again. Relies on vcpu.c for exit_jmp.
 *
 * SIGSYS because ThreadSanitizer delivers it at once, as a synchronous
 * signal; it defers SIGURG or real-time signals to the next libc call,
 * which a spinning guest never makes. Under gdb: handle SIGSYS nostop.
 *
 * What this cannot do: a guest unwound while it holds a lock of its own
 * (a pthread mutex of its own code) leaves it held, and a sibling vCPU
 * blocked on that mutex sits in libc, where it is never unwound, so that
 * destroy still waits. What the guest's own code had malloc'd in flight is
 * lost. Both only happen to a vCPU that missed the grace period
 * (vcpu_stop_all), and not in libxensim's guest kernel, which is left
 * alone like libc (runtime_collect).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <sys/auxv.h>
#include <ucontext.h>
#include <unistd.h>
#include <gnu/libc-version.h>
#include "sim.h"

__thread unsigned int sim_hv_depth __attribute__((tls_model("initial-exec")));
__thread volatile sig_atomic_t sim_hv_stop __attribute__((tls_model("initial-exec")));

/* The code of the libraries that hold process-wide locks guest code may
 * be inside: libc and the dynamic linker (malloc, stdio, dlopen), the
 * allocator and pthread interposers of a sanitizer runtime, liburcu. Each
 * is found by the address of something it defines; filled once, when
 * the first simulator is made (before any vCPU thread exists), and only
 * read by the handler. A library loaded later is not in it. */
struct text_range { uintptr_t lo, hi; };
static struct text_range runtime_text[32];
static unsigned int runtime_nr;
static struct sigaction prev_sys;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static int runtime_collect(struct dl_phdr_info *info, size_t size, void *unused)
{
    (void)size;
    (void)unused;
    /* The vDSO too (its ELF header, AT_SYSINFO_EHDR): ASan's allocator
     * reads the clock there while it holds a size class's lock (its
     * release-to-OS interval), and a vCPU unwound in clock_gettime would
     * leave that lock held for ever; every later thread exit then waits
     * on it. */
    const uintptr_t anchors[] = {
        (uintptr_t)&malloc, (uintptr_t)&free, (uintptr_t)&pthread_mutex_lock,
        (uintptr_t)&gnu_get_libc_version, (uintptr_t)&_r_debug,
        (uintptr_t)&urcu_memb_read_lock, (uintptr_t)getauxval(AT_SYSINFO_EHDR),
    };
    bool runtime = false, kernel = false;
    for (unsigned int i = 0; i < info->dlpi_phnum && !runtime && !kernel; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        for (unsigned int k = 0; k < sizeof(anchors) / sizeof(anchors[0]); k++)
            if (anchors[k] >= lo && anchors[k] < hi)
                runtime = true;
        kernel = (uintptr_t)&vcpu_preempt >= lo && (uintptr_t)&vcpu_preempt < hi;
    }
    /* libxensim's own guest kernel (guest/, xenbus/, the drivers) is
     * never unwound either: it reaches a hypercall boundary soon and
     * leaves there, with what it had allocated reachable from its
     * domain's state, rather than dropping a buffer held only in a local.
     * Only when it is a library of its own: linked into the program (a
     * fuzz harness) it cannot be told from the guest code that loops. */
    if (kernel && info->dlpi_name && info->dlpi_name[0])
        runtime = true;
    for (unsigned int i = 0; runtime && i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        if (runtime_nr == sizeof(runtime_text) / sizeof(runtime_text[0]))
            XENSIM_DIE("runtime text table", ENOSPC);
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        runtime_text[runtime_nr++] = (struct text_range){ lo, lo + ph->p_memsz };
    }
    return 0;
}

/* Where the signal interrupted the thread; 0 where we cannot tell, which
 * reads as "in the runtime" and so is never unwound. */
static uintptr_t interrupted_pc(const void *ucv)
{
    const ucontext_t *uc = ucv;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

static bool in_runtime(uintptr_t pc)
{
    if (!pc)
        return true;
    for (unsigned int i = 0; i < runtime_nr; i++)
        if (pc >= runtime_text[i].lo && pc < runtime_text[i].hi)
            return true;
    return false;
}

/* A SIGSYS not sent by vcpu_preempt() (seccomp's) is someone else's. */
static void preempt_chain(int sig, siginfo_t *si, void *uc)
{
    if ((prev_sys.sa_flags & SA_SIGINFO) && prev_sys.sa_sigaction) {
        prev_sys.sa_sigaction(sig, si, uc);
        return;
    }
    if (prev_sys.sa_handler != SIG_DFL && prev_sys.sa_handler != SIG_IGN) {
        prev_sys.sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void preempt_handler(int sig, siginfo_t *si, void *uc)
{
    if (si->si_code != SI_TKILL || si->si_pid != getpid()) {
        preempt_chain(sig, si, uc);
        return;
    }
    struct vcpu *v = current_vcpu;
    if (!v || !atomic_load(&v->d->is_shutting_down))
        return;
    if (sim_hv_depth) {
        sim_hv_stop = 1;   /* caught on the way out: sim_hv_leave() */
        return;
    }
    if (guest_copy_jmp || rcu_read_ongoing() || in_runtime(interrupted_pc(uc)))
        return;
    siglongjmp(v->exit_jmp, 3);
}

/* The vCPU is back at depth 0 with a stop pending: no sim lock is held,
 * so it leaves here unless it is still in an RCU read section (the next
 * signal will try again). */
void vcpu_preempt_boundary(void)
{
    struct vcpu *v = current_vcpu;
    sim_hv_stop = 0;
    if (v && atomic_load(&v->d->is_shutting_down) && !guest_copy_jmp && !rcu_read_ongoing())
        siglongjmp(v->exit_jmp, 3);
}

static void preempt_install(void)
{
    dl_iterate_phdr(runtime_collect, NULL);
    struct sigaction sa = { 0 };
    sa.sa_sigaction = preempt_handler;
    /* RESTART: a signal that finds the vCPU in a system call must not
     * turn into EINTR for code that is not being stopped. */
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSYS, &sa, &prev_sys);
}

void vcpu_preempt_install(void)
{
    pthread_once(&install_once, preempt_install);
}

void vcpu_preempt(struct vcpu *v)
{
    /* The thread may have just exited: nothing to stop then. */
    pthread_kill(v->thread, SIGSYS);
}
