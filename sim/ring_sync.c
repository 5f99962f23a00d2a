/*
 * The one object every ring barrier of a ThreadSanitizer build also
 * touches (<xensim/io/ring.h>), so that TSan sees the order the barriers
 * give. Defined in every build, so code built with TSan can link against
 * a library built without it.
 */
#include <xensim/io/ring.h>

unsigned long xensim_ring_tsan_sync;
