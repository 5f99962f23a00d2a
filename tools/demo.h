/* The two demos behind `xensim demo`. */
#ifndef XENSIM_TOOLS_DEMO_H
#define XENSIM_TOOLS_DEMO_H

#include <stdint.h>

#include <xensim/xensim.h>
#include <xensim/hostile.h>

struct web_opts;
/* Both take the scheduler's settings from sched (seed, record, replay,
 * stop_at); a seed makes a deterministic run. */
/* A disk, a console and a network interface through XenStore (default);
 * with web->spec, shown live in the web view as it runs. Both domains are
 * built on the event channel ABI abi (--evtchn). */
/* The built-in xenstored, or the program at xenstored (Xen's C one).
 * With hostile, a second guest then attacks blkback as that kind of
 * hostile front end (<xensim/hostile.h>), and the first reads again. */
struct demo_devices_opts {
    const char *trace, *pcap, *xenstored;
    enum xensim_evtchn_abi abi;
    const struct web_opts *web;
    const struct xensim_config *sched;
    bool hostile;
    enum xensim_hostile_kind hostile_kind;
};
int demo_devices(const struct demo_devices_opts *o);
/* An event channel and a granted page set up by hand (--channel). */
int demo_channel(const char *trace, const struct xensim_config *sched);
/* `xensim demo` with argv as its arguments (argv[0] "demo") and these
 * settings for replay; xensim_cmd_demo passes none. */
int demo_main(int argc, char **argv, const struct xensim_config *replay);

#endif
