/*
 * The switch's capture file in libpcap's classic format: a 24-byte global
 * header, then a 16-byte record header before each frame, microsecond
 * timestamps, LINKTYPE_ETHERNET, host byte order (readers detect it from
 * the magic). Owns the FILE; relies on libc only.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include "netback.h"

#define PCAP_MAGIC_USEC   0xa1b2c3d4u
#define PCAP_LINKTYPE_ETHERNET 1u
#define PCAP_SNAPLEN      65535u

struct nb_pcap {
    FILE *f;
};

struct pcap_global_hdr {
    uint32_t magic;
    uint16_t version_major, version_minor;
    int32_t thiszone;
    uint32_t sigfigs, snaplen, network;
};

struct pcap_rec_hdr {
    uint32_t ts_sec, ts_usec, incl_len, orig_len;
};

struct nb_pcap *pcap_open(const char *path, int *err)
{
    struct nb_pcap *pc = calloc(1, sizeof(*pc));
    if (!pc) {
        *err = -ENOMEM;
        return NULL;
    }
    pc->f = fopen(path, "wb");
    if (!pc->f) {
        *err = -errno;
        free(pc);
        return NULL;
    }
    struct pcap_global_hdr h = {
        .magic = PCAP_MAGIC_USEC, .version_major = 2, .version_minor = 4,
        .snaplen = PCAP_SNAPLEN, .network = PCAP_LINKTYPE_ETHERNET,
    };
    if (fwrite(&h, sizeof(h), 1, pc->f) != 1) {
        *err = -EIO;
        fclose(pc->f);
        free(pc);
        return NULL;
    }
    fflush(pc->f);
    return pc;
}

void pcap_write_pkt(struct nb_pcap *pc, const struct nb_pkt *p)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct pcap_rec_hdr r = {
        .ts_sec = (uint32_t)ts.tv_sec, .ts_usec = (uint32_t)(ts.tv_nsec / 1000),
        .incl_len = p->len, .orig_len = p->len,
    };
    fwrite(&r, sizeof(r), 1, pc->f);
    unsigned int left = p->len;
    for (unsigned int i = 0; left; i++) {
        unsigned int n = left < XEN_PAGE_SIZE ? left : XEN_PAGE_SIZE;
        fwrite(p->va[i], 1, n, pc->f);
        left -= n;
    }
    /* Readers may look while the simulation runs. */
    fflush(pc->f);
}

void pcap_close(struct nb_pcap *pc)
{
    if (!pc)
        return;
    fclose(pc->f);
    free(pc);
}
