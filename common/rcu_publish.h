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

/*
 * A grace period is invisible too: a writer that frees after
 * synchronize_rcu() looks to TSan like a race with the readers it waited
 * for. In the simulator's flavour (memb) every read section's end
 * releases into one object and every grace period's end acquires from
 * it: more order than RCU gives, never less. xenstored's liburcu-bp
 * frees through call_rcu, whose thread tests/tsan.supp covers.
 */
#if defined(RCU_MEMB)
extern char xensim_rcu_tsan_sync;
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#undef rcu_read_unlock
#undef synchronize_rcu
#define rcu_read_unlock() (__tsan_release(&xensim_rcu_tsan_sync), urcu_memb_read_unlock())
#define synchronize_rcu() (urcu_memb_synchronize_rcu(), __tsan_acquire(&xensim_rcu_tsan_sync))
#endif
#endif

#endif
