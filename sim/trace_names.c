/*
 * Names for trace subscribers: of each event kind, and Xen's of each
 * hypercall and sub-op. Looked up by whoever prints an event, so the
 * hypercall path only passes numbers.
 */
#include <xensim/guest.h>
#include <xensim/trace.h>
#include <xen/sched.h>
#include "util.h"

static const char *const kind_names[XENSIM_TRACE_NR_KINDS] = {
    [XENSIM_TRACE_HYPERCALL_ENTER] = "hypercall_enter",
    [XENSIM_TRACE_HYPERCALL_EXIT] = "hypercall_exit",
    [XENSIM_TRACE_SEND] = "send",
    [XENSIM_TRACE_RAISE] = "raise",
    [XENSIM_TRACE_UPCALL_ENTER] = "upcall_enter",
    [XENSIM_TRACE_UPCALL_EXIT] = "upcall_exit",
    [XENSIM_TRACE_BLOCK] = "block",
    [XENSIM_TRACE_WAKE] = "wake",
    [XENSIM_TRACE_MAP] = "map",
    [XENSIM_TRACE_UNMAP] = "unmap",
    [XENSIM_TRACE_COPY] = "copy",
    [XENSIM_TRACE_XENSTORE_MSG] = "xenstore_msg",
};

const char *xensim_trace_kind_name(enum xensim_trace_kind kind)
{
    unsigned int k = (unsigned int)kind;
    return k < ARRAY_SIZE(kind_names) && kind_names[k] ? kind_names[k] : "unknown";
}

static const char *const evtchn_ops[] = {
    [EVTCHNOP_bind_interdomain] = "EVTCHNOP_bind_interdomain",
    [EVTCHNOP_bind_virq] = "EVTCHNOP_bind_virq",
    [EVTCHNOP_bind_pirq] = "EVTCHNOP_bind_pirq",
    [EVTCHNOP_close] = "EVTCHNOP_close",
    [EVTCHNOP_send] = "EVTCHNOP_send",
    [EVTCHNOP_status] = "EVTCHNOP_status",
    [EVTCHNOP_alloc_unbound] = "EVTCHNOP_alloc_unbound",
    [EVTCHNOP_bind_ipi] = "EVTCHNOP_bind_ipi",
    [EVTCHNOP_bind_vcpu] = "EVTCHNOP_bind_vcpu",
    [EVTCHNOP_unmask] = "EVTCHNOP_unmask",
    [EVTCHNOP_reset] = "EVTCHNOP_reset",
    [EVTCHNOP_init_control] = "EVTCHNOP_init_control",
    [EVTCHNOP_expand_array] = "EVTCHNOP_expand_array",
    [EVTCHNOP_set_priority] = "EVTCHNOP_set_priority",
    [XENSIM_EVTCHNOP_reset_cont] = "EVTCHNOP_reset_cont",
};

static const char *const gnttab_ops[] = {
    [GNTTABOP_map_grant_ref] = "GNTTABOP_map_grant_ref",
    [GNTTABOP_unmap_grant_ref] = "GNTTABOP_unmap_grant_ref",
    [GNTTABOP_setup_table] = "GNTTABOP_setup_table",
    [GNTTABOP_dump_table] = "GNTTABOP_dump_table",
    [GNTTABOP_transfer] = "GNTTABOP_transfer",
    [GNTTABOP_copy] = "GNTTABOP_copy",
    [GNTTABOP_query_size] = "GNTTABOP_query_size",
    [GNTTABOP_unmap_and_replace] = "GNTTABOP_unmap_and_replace",
    [GNTTABOP_set_version] = "GNTTABOP_set_version",
    [GNTTABOP_get_status_frames] = "GNTTABOP_get_status_frames",
    [GNTTABOP_get_version] = "GNTTABOP_get_version",
    [GNTTABOP_swap_grant_ref] = "GNTTABOP_swap_grant_ref",
    [GNTTABOP_cache_flush] = "GNTTABOP_cache_flush",
};

static const char *const sched_ops[] = {
    [SCHEDOP_yield] = "SCHEDOP_yield",
    [SCHEDOP_block] = "SCHEDOP_block",
    [SCHEDOP_shutdown] = "SCHEDOP_shutdown",
    [SCHEDOP_poll] = "SCHEDOP_poll",
    [SCHEDOP_remote_shutdown] = "SCHEDOP_remote_shutdown",
    [SCHEDOP_shutdown_code] = "SCHEDOP_shutdown_code",
    [SCHEDOP_watchdog] = "SCHEDOP_watchdog",
    [SCHEDOP_pin_override] = "SCHEDOP_pin_override",
};

/* A hypercall's own name and, where sub-ops have names, their table. */
struct hypercall_names {
    const char *name;
    const char *const *subops;
    unsigned int nr_subops;
};

#define HYPERCALL(nr, name_, table)                                           \
    [nr] = { name_, table, ARRAY_SIZE(table) }
#define HYPERCALL_PLAIN(nr, name_) [nr] = { name_, NULL, 0 }
static const struct hypercall_names hypercalls[] = {
    HYPERCALL(__HYPERVISOR_event_channel_op, "event_channel_op", evtchn_ops),
    HYPERCALL(__HYPERVISOR_grant_table_op, "grant_table_op", gnttab_ops),
    HYPERCALL(__HYPERVISOR_sched_op, "sched_op", sched_ops),
    HYPERCALL_PLAIN(__HYPERVISOR_set_timer_op, "set_timer_op"),
    HYPERCALL_PLAIN(__HYPERVISOR_callback_op, "callback_op"),
    HYPERCALL_PLAIN(__HYPERVISOR_xen_version, "xen_version"),
};

const char *xensim_trace_op_name(uint32_t hypercall, uint32_t subop)
{
    if (hypercall >= ARRAY_SIZE(hypercalls) || !hypercalls[hypercall].name)
        return "hypercall";
    const struct hypercall_names *h = &hypercalls[hypercall];
    /* Grant table ops carry a continuation in their upper bits. */
    if (hypercall == __HYPERVISOR_grant_table_op)
        subop &= (1u << 12) - 1;
    if (subop < h->nr_subops && h->subops[subop])
        return h->subops[subop];
    return h->name;
}
