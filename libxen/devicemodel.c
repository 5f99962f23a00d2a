/*
 * libxendevicemodel.so.1 for processes of a simulated domain. Every
 * simulated domain is PV, and Xen's dm_op serves HVM domains only: after
 * finding the domain (ESRCH if there is none, EPERM for the caller's own,
 * as rcu_lock_remote_domain_by_id answers) it refuses a PV one with
 * EINVAL. So open, close and restrict are real (QEMU stops if open
 * fails), and every operation gives the error Xen 4.17 gives for its
 * domain. The whole 4.17 API at its symbol versions
 * (libxendevicemodel.map). Relies on hv.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <xendevicemodel.h>
#include "hv.h"

struct xendevicemodel_handle {
    struct hv_privcmd p;
};

xendevicemodel_handle *xendevicemodel_open(struct xentoollog_logger *logger,
                                           unsigned int open_flags)
{
    (void)logger;
    (void)open_flags;
    return hv_privcmd_new(sizeof(xendevicemodel_handle));
}

int xendevicemodel_close(xendevicemodel_handle *dmod)
{
    hv_privcmd_free(dmod ? &dmod->p : NULL);
    return 0;
}

int xendevicemodel_restrict(xendevicemodel_handle *dmod, domid_t domid)
{
    return hv_restriction_set(&dmod->p.restricted, domid);
}

/* What one XEN_DMOP_* on domid answers: -1 with errno always. A
 * restricted handle refuses other domains first (privcmd, EPERM). Only a
 * privileged domain can see whether the domain exists; for others an
 * existing remote domain is assumed, and Xen's answer is then EINVAL. */
static int dm_op(xendevicemodel_handle *dmod, domid_t domid)
{
    struct xensim_hv_req r = { .op = XENSIM_HV_OP_DOMAIN_INFO, .a = domid, .b = 1 };
    struct {
        struct xensim_hv_info_rep h;
        struct xensim_hv_dominfo d;
    } rep;

    if (!hv_restriction_allows(&dmod->p.restricted, domid)) {
        errno = EPERM;
        return -1;
    }
    if (domid == dmod->p.self) {
        errno = EPERM;
        return -1;
    }
    ssize_t n = hv_call(&dmod->p.c, &r, sizeof(r), &rep, sizeof(rep), NULL, 0, NULL);
    if (n < 0)
        return -1;
    if (n >= (ssize_t)sizeof(rep.h) &&
        (rep.h.rc == -ESRCH || (rep.h.rc >= 0 && (rep.h.rc == 0 || rep.d.domid != domid)))) {
        errno = ESRCH;
        return -1;
    }
    errno = EINVAL;
    return -1;
}

/* The operations, in the header's order: each is one dm_op. */
int xendevicemodel_create_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                       int handle_bufioreq, ioservid_t *id)
{
    (void)handle_bufioreq, (void)id;
    return dm_op(dmod, domid);
}

int xendevicemodel_get_ioreq_server_info(xendevicemodel_handle *dmod, domid_t domid,
                                         ioservid_t id, xen_pfn_t *ioreq_gfn,
                                         xen_pfn_t *bufioreq_gfn, evtchn_port_t *bufioreq_port)
{
    (void)id, (void)ioreq_gfn, (void)bufioreq_gfn, (void)bufioreq_port;
    return dm_op(dmod, domid);
}

int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                ioservid_t id, int is_mmio, uint64_t start,
                                                uint64_t end)
{
    (void)id, (void)is_mmio, (void)start, (void)end;
    return dm_op(dmod, domid);
}

int xendevicemodel_unmap_io_range_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
    ioservid_t id, int is_mmio, uint64_t start, uint64_t end)
{
    (void)id, (void)is_mmio, (void)start, (void)end;
    return dm_op(dmod, domid);
}

int xendevicemodel_map_mem_type_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                ioservid_t id, uint16_t type, uint32_t flags)
{
    (void)id, (void)type, (void)flags;
    return dm_op(dmod, domid);
}

int xendevicemodel_map_pcidev_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                              ioservid_t id, uint16_t segment, uint8_t bus,
                                              uint8_t device, uint8_t function)
{
    (void)id, (void)segment, (void)bus, (void)device, (void)function;
    return dm_op(dmod, domid);
}

int xendevicemodel_unmap_pcidev_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                  ioservid_t id, uint16_t segment, uint8_t bus,
                                                  uint8_t device, uint8_t function)
{
    (void)id, (void)segment, (void)bus, (void)device, (void)function;
    return dm_op(dmod, domid);
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                        ioservid_t id)
{
    (void)id;
    return dm_op(dmod, domid);
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *dmod, domid_t domid,
                                          ioservid_t id, int enabled)
{
    (void)id, (void)enabled;
    return dm_op(dmod, domid);
}

int xendevicemodel_set_pci_intx_level(xendevicemodel_handle *dmod, domid_t domid,
                                      uint16_t segment, uint8_t bus, uint8_t device,
                                      uint8_t intx, unsigned int level)
{
    (void)segment, (void)bus, (void)device, (void)intx, (void)level;
    return dm_op(dmod, domid);
}

int xendevicemodel_set_isa_irq_level(xendevicemodel_handle *dmod, domid_t domid, uint8_t irq,
                                     unsigned int level)
{
    (void)irq, (void)level;
    return dm_op(dmod, domid);
}

int xendevicemodel_set_irq_level(xendevicemodel_handle *dmod, domid_t domid, unsigned int irq,
                                 unsigned int level)
{
    (void)irq, (void)level;
    return dm_op(dmod, domid);
}

int xendevicemodel_set_pci_link_route(xendevicemodel_handle *dmod, domid_t domid, uint8_t link,
                                      uint8_t irq)
{
    (void)link, (void)irq;
    return dm_op(dmod, domid);
}

int xendevicemodel_inject_msi(xendevicemodel_handle *dmod, domid_t domid, uint64_t msi_addr,
                              uint32_t msi_data)
{
    (void)msi_addr, (void)msi_data;
    return dm_op(dmod, domid);
}

int xendevicemodel_track_dirty_vram(xendevicemodel_handle *dmod, domid_t domid,
                                    uint64_t first_pfn, uint32_t nr,
                                    unsigned long *dirty_bitmap)
{
    (void)first_pfn, (void)nr, (void)dirty_bitmap;
    return dm_op(dmod, domid);
}

int xendevicemodel_modified_memory(xendevicemodel_handle *dmod, domid_t domid,
                                   uint64_t first_pfn, uint32_t nr)
{
    (void)first_pfn, (void)nr;
    return dm_op(dmod, domid);
}

int xendevicemodel_modified_memory_bulk(xendevicemodel_handle *dmod, domid_t domid,
                                        struct xen_dm_op_modified_memory_extent extents[],
                                        uint32_t nr)
{
    (void)extents, (void)nr;
    return dm_op(dmod, domid);
}

int xendevicemodel_set_mem_type(xendevicemodel_handle *dmod, domid_t domid,
                                hvmmem_type_t mem_type, uint64_t first_pfn, uint32_t nr)
{
    (void)mem_type, (void)first_pfn, (void)nr;
    return dm_op(dmod, domid);
}

int xendevicemodel_inject_event(xendevicemodel_handle *dmod, domid_t domid, int vcpu,
                                uint8_t vector, uint8_t type, uint32_t error_code,
                                uint8_t insn_len, uint64_t extra)
{
    (void)vcpu, (void)vector, (void)type, (void)error_code, (void)insn_len, (void)extra;
    return dm_op(dmod, domid);
}

int xendevicemodel_shutdown(xendevicemodel_handle *dmod, domid_t domid, unsigned int reason)
{
    (void)reason;
    return dm_op(dmod, domid);
}

int xendevicemodel_relocate_memory(xendevicemodel_handle *dmod, domid_t domid, uint32_t size,
                                   uint64_t src_gfn, uint64_t dst_gfn)
{
    (void)size, (void)src_gfn, (void)dst_gfn;
    return dm_op(dmod, domid);
}

int xendevicemodel_pin_memory_cacheattr(xendevicemodel_handle *dmod, domid_t domid,
                                        uint64_t start, uint64_t end, uint32_t type)
{
    (void)start, (void)end, (void)type;
    return dm_op(dmod, domid);
}

int xendevicemodel_nr_vcpus(xendevicemodel_handle *dmod, domid_t domid, unsigned int *vcpus)
{
    (void)vcpus;
    return dm_op(dmod, domid);
}
