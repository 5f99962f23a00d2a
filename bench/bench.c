/* Clock, tier, median and JSON output shared by every benchmark in bench/.
 * Relies on clock_gettime(CLOCK_MONOTONIC) and stdio only. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	BENCH_CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_is_long(void)
{
	const char *tier = getenv("XENSIM_BENCH");

	return tier != NULL && strcmp(tier, "long") == 0;
}

unsigned long bench_iters(unsigned long short_tier, unsigned long long_tier)
{
	return bench_is_long() ? long_tier : short_tier;
}

unsigned bench_runs(void)
{
	return bench_is_long() ? 11 : 5;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	if (n % 2)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Names and units are the programs' own identifiers, but quote them
 * properly anyway so that a line is always valid JSON. */
static void put_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void put_json_number(double v)
{
	if (isfinite(v))
		printf("%.3f", v);
	else
		fputs("null", stdout);
}

void bench_report(const char *name, double value, const char *unit,
		  double baseline)
{
	int have_baseline = isfinite(baseline) && baseline > 0;

	fputs("{\"bench\": ", stdout);
	put_json_string(name);
	fputs(", \"value\": ", stdout);
	put_json_number(value);
	fputs(", \"unit\": ", stdout);
	put_json_string(unit);
	fputs(", \"baseline\": ", stdout);
	put_json_number(have_baseline ? baseline : NAN);
	fputs(", \"ratio\": ", stdout);
	put_json_number(have_baseline ? value / baseline : NAN);
	fputs("}\n", stdout);
	fflush(stdout);
}

uint64_t bench_rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

void bench_cached_file(char *path, uint64_t bytes, uint64_t seed)
{
    snprintf(path, 64, "/tmp/xensim-bench-file-XXXXXX");
    int fd = mkstemp(path);
    BENCH_CHECK(fd >= 0);
    uint8_t *buf = malloc(1 << 20);
    BENCH_CHECK(buf != NULL);
    uint64_t s = seed;
    for (size_t i = 0; i < (1 << 20); i += 8) {
        uint64_t v = bench_rnd(&s);
        memcpy(buf + i, &v, 8);
    }
    for (uint64_t off = 0; off < bytes; off += 1 << 20)
        BENCH_CHECK(pwrite(fd, buf, 1 << 20, (off_t)off) == 1 << 20);
    for (uint64_t off = 0; off < bytes; off += 1 << 20)
        BENCH_CHECK(pread(fd, buf, 1 << 20, (off_t)off) == 1 << 20);
    free(buf);
    close(fd);
}
