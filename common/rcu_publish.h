/*
 * RCU pointer publication that ThreadSanitizer can see. liburcu 0.13
 * publishes with a barrier and a plain store inside the library, which TSan
 * does not see, so it reports every read of a newly published node as a
 * race with the writes that built it. Under TSan the pair becomes the C11
 * release store and acquire load it stands for; other builds keep
 * liburcu's. Include after <urcu.h>, <urcu/urcu-memb.h> or <urcu/urcu-bp.h>.
 */
#ifndef XENSIM_RCU_PUBLISH_H
#define XENSIM_RCU_PUBLISH_H

#if defined(__SANITIZE_THREAD__)
#include <urcu/pointer.h>
#undef rcu_dereference
#undef rcu_assign_pointer
#define rcu_dereference(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)
#define rcu_assign_pointer(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#endif

#endif
