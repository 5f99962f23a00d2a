/*
 * Per-domain driver settings, like a kernel module's parameters: many
 * guest kernels share this process, so a driver keeps what each domain
 * set, keyed by domid. Used by the vbd and vif drivers on both ends.
 */
#ifndef XENSIM_XENBUS_CONFIG_H
#define XENSIM_XENBUS_CONFIG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <xen/xen.h>

struct xenbus_config_entry;
struct xenbus_config_store {
    pthread_mutex_t lock;
    size_t size;                        /* of one setting */
    struct xenbus_config_entry *head;
};
#define XENBUS_CONFIG_STORE(name, type)                                       \
    static struct xenbus_config_store name = { PTHREAD_MUTEX_INITIALIZER, sizeof(type), NULL }

/* Sets (or with NULL clears) the calling domain's setting: 0, -EPERM from
 * a thread that is not a vCPU, or -ENOMEM. */
int xenbus_config_set(struct xenbus_config_store *s, const void *value);
/* Copies domid's setting into out; false (out untouched) if it has none. */
bool xenbus_config_get(struct xenbus_config_store *s, domid_t domid, void *out);

#endif
