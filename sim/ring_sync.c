/*
 * The objects ThreadSanitizer builds synchronise on where the real order
 * is invisible to it: every ring barrier (<xensim/io/ring.h>), and every
 * RCU read section's end and grace period (common/rcu_publish.h). Defined
 * in every build, so code built with TSan can link against a library
 * built without it.
 */
#include <xensim/io/ring.h>

unsigned long xensim_ring_tsan_sync;
char xensim_rcu_tsan_sync;
