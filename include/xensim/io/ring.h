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

/* Defined by libxensim in every build; only TSan builds use it. */
extern unsigned long xensim_ring_tsan_sync;

#if defined(__SANITIZE_THREAD__)
/*
 * ThreadSanitizer does not model fences, so it cannot see that a ring's
 * barriers order the slots around the index that publishes them. In a
 * TSan build each barrier is also an atomic operation on one object:
 * write barriers release into it, read barriers acquire from it, a full
 * barrier does both. That orders every access before any write barrier
 * before every access after any later read barrier: more order than the
 * rings have, never less, so TSan reports no race the barriers prevent.
 * The real fences stay.
 */
#define XENSIM_RING_MB()                                                      \
    (__atomic_thread_fence(__ATOMIC_SEQ_CST),                                 \
     (void)__atomic_fetch_add(&xensim_ring_tsan_sync, 0, __ATOMIC_ACQ_REL))
#define XENSIM_RING_RMB()                                                     \
    (__atomic_thread_fence(__ATOMIC_ACQUIRE),                                 \
     (void)__atomic_load_n(&xensim_ring_tsan_sync, __ATOMIC_ACQUIRE))
#define XENSIM_RING_WMB()                                                     \
    ((void)__atomic_fetch_add(&xensim_ring_tsan_sync, 0, __ATOMIC_RELEASE),   \
     __atomic_thread_fence(__ATOMIC_RELEASE))
#else
#define XENSIM_RING_MB()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define XENSIM_RING_RMB() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define XENSIM_RING_WMB() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#if __XEN_INTERFACE_VERSION__ < 0x00030208
#ifndef mb
#define mb()  XENSIM_RING_MB()
#define rmb() XENSIM_RING_RMB()
#define wmb() XENSIM_RING_WMB()
#endif
#else
#ifndef xen_mb
#define xen_mb()  XENSIM_RING_MB()
#define xen_rmb() XENSIM_RING_RMB()
#define xen_wmb() XENSIM_RING_WMB()
#endif
#endif
#include <xen/io/ring.h>

/* Ring protocols use Xen's 4 KiB pages whatever the host's page size:
 * ring.h gives the shift, this the size (as common/util.h does for code
 * without rings). */
#ifndef XEN_PAGE_SIZE
#define XEN_PAGE_SIZE (1UL << XEN_PAGE_SHIFT)
#endif

/*
 * The four index words at the head of a shared ring (req_prod, req_event,
 * rsp_prod, rsp_event) are read and written plainly by ring.h's macros,
 * ordered only by the barriers: that is Xen's ABI, and TSan cannot model
 * it. Each side of a ring calls this once it has the page, and a TSan
 * build then takes races on those 16 bytes as intended. The slots stay
 * checked (the barriers above order them). No-op in other builds.
 */
#if defined(__SANITIZE_THREAD__)
void AnnotateBenignRaceSized(const char *file, int line, const volatile void *mem,
                             unsigned long size, const char *description);
#define XENSIM_RING_INDICES(sring)                                            \
    AnnotateBenignRaceSized(__FILE__, __LINE__, (sring), 4 * sizeof(RING_IDX), \
                            "Xen ring indices, ordered by the ring barriers")
#else
#define XENSIM_RING_INDICES(sring) ((void)(sring))
#endif

#endif
