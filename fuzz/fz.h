/*
 * What every fuzz harness shares: a reader that turns the fuzzer's bytes
 * into values (running dry gives zeroes, never an error), the way a
 * harness reports a finding (a message, then abort(), which libFuzzer and
 * AFL++ both record as a crash), and the simulator helpers: idle domains,
 * guest calls, a barrier that lets a vCPU take its pending events, and
 * the resource counts an input must leave as it found them. Relies on the
 * public embedding API and tests/leakcheck.h.
 */
#ifndef XENSIM_FUZZ_FZ_H
#define XENSIM_FUZZ_FZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xensim/xensim.h>

/* The entry points libFuzzer calls (fz_replay.c calls them too). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_in {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fz_u8(struct fz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint16_t fz_u16(struct fz_in *in)
{
    uint16_t lo = fz_u8(in);
    return (uint16_t)(lo | (uint16_t)fz_u8(in) << 8);
}

static inline uint32_t fz_u32(struct fz_in *in)
{
    uint32_t lo = fz_u16(in);
    return lo | (uint32_t)fz_u16(in) << 16;
}

static inline uint64_t fz_u64(struct fz_in *in)
{
    uint64_t lo = fz_u32(in);
    return lo | (uint64_t)fz_u32(in) << 32;
}

/* n bytes into dst; what the input lacks is zero. */
static inline void fz_bytes(struct fz_in *in, void *dst, size_t n)
{
    size_t k = n < in->n ? n : in->n;
    memcpy(dst, in->p, k);
    memset((uint8_t *)dst + k, 0, n - k);
    in->p += k;
    in->n -= k;
}

static inline bool fz_empty(const struct fz_in *in)
{
    return in->n == 0;
}

/* A finding: says what broke and aborts, so the fuzzer keeps the input. */
void fz_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
#define FZ_CHECK(cond, ...)                                                   \
    do {                                                                      \
        if (!(cond))                                                          \
            fz_fail(__VA_ARGS__);                                             \
    } while (0)

/* With FZ_TRACE set in the environment, harnesses say what each input
 * does, one line per step, on stderr: for reading a reproducer. */
extern bool fz_tracing;
void fz_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define FZ_TRACE(...)                                                         \
    do {                                                                      \
        if (fz_tracing)                                                       \
            fz_trace(__VA_ARGS__);                                            \
    } while (0)

/*
 * For LLVMFuzzerInitialize of a harness whose code frees through
 * call_rcu (xenstored): adds -detect_leaks=0 to libFuzzer's arguments
 * unless they set it. Such an input's mallocs and frees never balance
 * within it, and libFuzzer answers that with a full LeakSanitizer scan
 * after every input, 40 ms each; the harness checks its own counts
 * instead, and LeakSanitizer still checks at exit.
 */
void fz_no_per_input_leak_scan(int *argc, char ***argv);

/* A quiet simulator with dom0 built and running, mapping grants in the
 * given mode. */
struct xensim *fz_sim_new(enum xensim_gnttab_mode dom0_mode);
/* The same with dom0 built from cfg (name and privilege are forced). */
struct xensim *fz_sim_new_cfg(const struct xensim_domain_config *dom0);
/* Builds and unpauses a domain (idle vCPUs); a failure is fatal. */
domid_t fz_domain(struct xensim *sim, const struct xensim_domain_config *cfg);
/* Runs fn(arg) as guest code on the vCPU and waits; a failure is fatal. */
void fz_call(struct xensim *sim, domid_t domid, unsigned int vcpu, void (*fn)(void *),
             void *arg);
/* Guest code: one hypercall, so that the vCPU takes any event pending
 * for it before returning. Harnesses run their input on the vCPU of the
 * code under test, so a send to that vCPU followed by this runs the
 * handlers it set off, there and then, with no thread switch; from a
 * host thread, a fz_call() of it is a barrier for the same. */
void fz_take_events(void *unused);

/* What an input must leave as it found it, domain by domain. */
#define FZ_MAX_DOMS 8
struct fz_acct {
    int n;
    struct xensim_domain_info d[FZ_MAX_DOMS];
};
void fz_acct_take(struct xensim *sim, struct fz_acct *a);
/* Fails, naming the first count that moved, unless every domain holds
 * what it held in a. */
void fz_acct_expect(struct xensim *sim, const struct fz_acct *a, const char *when);
/* The teardown check (tests/leakcheck.c) after a harness has taken its
 * devices down; fails on any leak. */
void fz_teardown_check(struct xensim *sim);

/* A file descriptor path for a memfd of size bytes, and the memfd mapped
 * shared: back ends open the path, harnesses read what they wrote. */
int fz_memfd(const char *name, size_t size, uint8_t **map, char *path, size_t path_size);

#endif
