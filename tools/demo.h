/* The two demos behind `xensim demo`. */
#ifndef XENSIM_TOOLS_DEMO_H
#define XENSIM_TOOLS_DEMO_H

#include <stdint.h>

/* A disk, a console and a network interface through XenStore (default). */
int demo_devices(const char *trace, const char *pcap, uint64_t seed);
/* An event channel and a granted page set up by hand (--channel); seed
 * non-zero makes it a deterministic run. */
int demo_channel(const char *trace, uint64_t seed);

#endif
