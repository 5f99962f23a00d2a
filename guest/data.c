/*
 * Per-domain data keys for the guest kernel's subsystems (guest.h): each
 * domain's values hang off its anchor, the one word of kernel memory the
 * simulator keeps per domain; the keys themselves are process-wide, given
 * an index at first use. Destructors run when the simulator releases the
 * anchor at domain destroy. Relies on guest.h only.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <xensim/guest.h>
#include "util.h"

/* Subsystems with per-domain state: the irq layer, the grant-ref
 * allocator, the xenbus client and framework, each driver. */
#define GUEST_KEYS_MAX 64

static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xensim_guest_key *keys[GUEST_KEYS_MAX];
static _Atomic unsigned int nr_keys;

struct guest_kernel {
    void *_Atomic values[GUEST_KEYS_MAX];
};

/* The key's index, given at first use; -1 when every index is taken. */
static int key_index(struct xensim_guest_key *key)
{
    unsigned int id = __atomic_load_n(&key->id_, __ATOMIC_ACQUIRE);

    if (id)
        return (int)id - 1;
    xensim_mutex_lock(&keys_lock);
    id = key->id_;
    if (!id && atomic_load(&nr_keys) < GUEST_KEYS_MAX) {
        unsigned int i = atomic_load(&nr_keys);
        keys[i] = key;
        atomic_store(&nr_keys, i + 1);
        id = i + 1;
        __atomic_store_n(&key->id_, id, __ATOMIC_RELEASE);
    }
    xensim_mutex_unlock(&keys_lock);
    if (!id) {
        fprintf(stderr, "xensim: more than %d guest data keys\n", GUEST_KEYS_MAX);
        return -1;
    }
    return (int)id - 1;
}

/* Runs each key's destroy, the last key used first. */
static void kernel_release(void *p)
{
    struct guest_kernel *k = p;

    for (unsigned int i = atomic_load(&nr_keys); i-- > 0;) {
        void *v = atomic_load(&k->values[i]);
        if (v && keys[i]->destroy)
            keys[i]->destroy(v);
    }
    free(k);
}

static struct guest_kernel *kernel(bool create)
{
    struct guest_kernel *k = xensim_guest_anchor();

    if (k || !create)
        return k;
    k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    struct guest_kernel *won = xensim_guest_anchor_set(k, kernel_release);
    if (won != k)
        free(k);
    return won;
}

void *xensim_guest_data(struct xensim_guest_key *key)
{
    struct guest_kernel *k = kernel(false);
    int i = key_index(key);

    return k && i >= 0 ? atomic_load(&k->values[i]) : NULL;
}

void *xensim_guest_data_init(struct xensim_guest_key *key, void *value)
{
    struct guest_kernel *k = kernel(true);
    int i = key_index(key);
    void *expected = NULL;

    if (!k || i < 0)
        return NULL;
    if (atomic_compare_exchange_strong(&k->values[i], &expected, value))
        return value;
    return expected;
}
