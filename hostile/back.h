/*
 * What the hostile back ends (vbd_back.c, vif_back.c) share: how a
 * device names its misbehaviour. Private to hostile/.
 */
#ifndef XENSIM_HOSTILE_BACK_H
#define XENSIM_HOSTILE_BACK_H

#include <xensim/hostile.h>
#include <xensim/xenbus.h>

/* The kind the device's back-end key "hostile-kind" names, if it is one
 * of the n in kinds: 0, or -EINVAL (the toolstack asked this back end
 * for something it does not do, so the device is refused at probe). */
int hostile_back_kind(const struct xensim_xenbus_device *dev,
                      const enum xensim_hostile_kind *kinds, unsigned int n,
                      enum xensim_hostile_kind *kind);

#endif
