/*
 * The hostile back ends' shared part (back.h): reading the device's
 * "hostile-kind" key. Calls xenbus/ only.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include "back.h"

int hostile_back_kind(const struct xensim_xenbus_device *dev,
                      const enum xensim_hostile_kind *kinds, unsigned int n,
                      enum xensim_hostile_kind *kind)
{
    char key[XENSIM_XENBUS_PATH_MAX + 16], name[32];
    enum xensim_hostile_kind k;

    snprintf(key, sizeof(key), "%s/hostile-kind", dev->nodename);
    int len = xensim_xenbus_read_buf(0, key, name, sizeof(name));
    if (len <= 0 || (size_t)len >= sizeof(name))
        return -EINVAL;
    name[len] = '\0';
    if (xensim_hostile_parse(name, &k))
        return -EINVAL;
    for (unsigned int i = 0; i < n; i++)
        if (kinds[i] == k) {
            *kind = k;
            return 0;
        }
    return -EINVAL;
}
