/*
 * Xen's shared rings, <xen/io/ring.h>, with the memory barriers it leaves
 * to its includer (the legacy interface names them mb/rmb/wmb, newer ones
 * xen_mb/xen_rmb/xen_wmb), and Xen's page size. Include this instead of
 * <xen/io/ring.h>.
 */
#ifndef XENSIM_RING_H
#define XENSIM_RING_H

#include <stdint.h>
#include <string.h>
#include <xen/xen.h>

#if __XEN_INTERFACE_VERSION__ < 0x00030208
#ifndef mb
#define mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif
#else
#ifndef xen_mb
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif
#endif
#include <xen/io/ring.h>

/* Ring protocols use Xen's 4 KiB pages whatever the host's page size:
 * ring.h gives the shift, this the size (as common/util.h does for code
 * without rings). */
#ifndef XEN_PAGE_SIZE
#define XEN_PAGE_SIZE (1UL << XEN_PAGE_SHIFT)
#endif

#endif
