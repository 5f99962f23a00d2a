/* The two demos behind `xensim demo`. */
#ifndef XENSIM_TOOLS_DEMO_H
#define XENSIM_TOOLS_DEMO_H

/* A disk, a console and a network interface through XenStore (default);
 * the built-in xenstored, or the program at xenstored (Xen's C one). */
int demo_devices(const char *trace, const char *pcap, const char *xenstored);
/* An event channel and a granted page set up by hand (--channel). */
int demo_channel(const char *trace);

#endif
