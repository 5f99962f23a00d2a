/*
 * Per-domain driver settings (xb_settings.h): each store is a guest data
 * key whose value holds the setting under a mutex, since a domain's vCPUs
 * may read while one of them sets. Freed with the domain.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"
#include "xb_settings.h"

struct xenbus_config_value {
    pthread_mutex_t lock;
    bool set;
    unsigned char value[];
};

void xenbus_config_free(void *p)
{
    struct xenbus_config_value *v = p;

    pthread_mutex_destroy(&v->lock);
    free(v);
}

int xenbus_config_set(struct xenbus_config_store *s, const void *value)
{
    struct xenbus_config_value *v, *won;

    if (!xensim_guest_start_info())
        return -EPERM;
    v = xensim_guest_data(&s->key);
    if (!v && !value)
        return 0;
    if (!v) {
        v = calloc(1, sizeof(*v) + s->size);
        if (!v)
            return -ENOMEM;
        pthread_mutex_init(&v->lock, NULL);
        won = xensim_guest_data_init(&s->key, v);
        if (won != v)
            xenbus_config_free(v);
        if (!(v = won))
            return -ENOMEM;
    }
    xensim_mutex_lock(&v->lock);
    v->set = value != NULL;
    if (value)
        memcpy(v->value, value, s->size);
    xensim_mutex_unlock(&v->lock);
    return 0;
}

bool xenbus_config_get(struct xenbus_config_store *s, void *out)
{
    struct xenbus_config_value *v = xensim_guest_data(&s->key);
    bool found = false;

    if (!v)
        return false;
    xensim_mutex_lock(&v->lock);
    if (v->set) {
        memcpy(out, v->value, s->size);
        found = true;
    }
    xensim_mutex_unlock(&v->lock);
    return found;
}
