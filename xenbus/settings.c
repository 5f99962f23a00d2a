/*
 * Per-domain driver settings (xenbus_config.h): a short list under a
 * mutex, since settings are few and change only at driver load.
 */
#include "config.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/guest.h>
#include "xb_settings.h"

struct xenbus_config_entry {
    struct xenbus_config_entry *next;
    domid_t domid;
    unsigned char value[];
};

int xenbus_config_set(struct xenbus_config_store *s, const void *value)
{
    if (!xensim_guest_start_info())
        return -EPERM;
    domid_t d = xensim_guest_domid();
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    struct xenbus_config_entry **pp = &s->head;
    while (*pp && (*pp)->domid != d)
        pp = &(*pp)->next;
    if (!value) {
        struct xenbus_config_entry *e = *pp;
        if (e) {
            *pp = e->next;
            free(e);
        }
    } else {
        if (!*pp && (*pp = calloc(1, sizeof(**pp) + s->size)))
            (*pp)->domid = d;
        if (*pp)
            memcpy((*pp)->value, value, s->size);
        else
            rc = -ENOMEM;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

bool xenbus_config_get(struct xenbus_config_store *s, domid_t domid, void *out)
{
    bool found = false;
    pthread_mutex_lock(&s->lock);
    for (struct xenbus_config_entry *e = s->head; e && !found; e = e->next) {
        if (e->domid == domid) {
            memcpy(out, e->value, s->size);
            found = true;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}
