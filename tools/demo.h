/* The two demos behind `xensim demo`. */
#ifndef XENSIM_TOOLS_DEMO_H
#define XENSIM_TOOLS_DEMO_H

#include <xensim/xensim.h>

struct web_opts;
/* A disk, a console and a network interface through XenStore (default);
 * with web->spec, shown live in the web view as it runs. Both domains are
 * built on the event channel ABI abi (--evtchn). */
int demo_devices(const char *trace, const char *pcap, enum xensim_evtchn_abi abi,
                 const struct web_opts *web);
/* An event channel and a granted page set up by hand (--channel). */
int demo_channel(const char *trace);

#endif
