/*
 * Per-domain driver settings, like a kernel module's parameters: many
 * guest kernels share this process, so a driver keeps what each domain
 * set on a guest data key of its own. Used by the vbd and vif drivers on
 * both ends.
 */
#ifndef XENSIM_XENBUS_CONFIG_H
#define XENSIM_XENBUS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <xensim/guest.h>

struct xenbus_config_store {
    struct xensim_guest_key key;        /* the domain's struct xenbus_config_value */
    size_t size;                        /* of one setting */
};
void xenbus_config_free(void *value);
#define XENBUS_CONFIG_STORE(name, type)                                       \
    static struct xenbus_config_store name = { { .destroy = xenbus_config_free }, sizeof(type) }

/* Sets (or with NULL clears) the calling domain's setting: 0, -EPERM from
 * a thread that is not a vCPU, or -ENOMEM. */
int xenbus_config_set(struct xenbus_config_store *s, const void *value);
/* Copies the calling domain's setting into out; false (out untouched) if
 * it has none. */
bool xenbus_config_get(struct xenbus_config_store *s, void *out);

#endif
