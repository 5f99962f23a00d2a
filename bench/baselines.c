/* `make bench` program that measures each host baseline and prints it as
 * its own figure (ratio 1.0), so runs on different machines can be set side
 * by side. */
#include "config.h"

#include "bench.h"

int main(void)
{
	double v;

	v = bench_baseline_futex_rtt_ns();
	bench_report("baseline_futex_rtt", v, "ns", v);
	v = bench_baseline_mmap_page_ns();
	bench_report("baseline_mmap_page", v, "ns", v);
	v = bench_baseline_unix_rtt_ns();
	bench_report("baseline_unix_rtt", v, "ns", v);
	v = bench_baseline_blk_ring_ops(0);
	bench_report("baseline_blk_ring", v, "ops/s", v);
	v = bench_baseline_net_ring_fps(64);
	bench_report("baseline_net_ring_64", v, "frames/s", v);
	return 0;
}
