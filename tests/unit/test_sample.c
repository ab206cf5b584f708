/* Unit tests of lib/train/sample: the fixed-index sampler. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "error.h"
#include "train/sample.h"


static vt_sampler *sampler(uint64_t n, uint64_t m, uint64_t seed)
{
	vt_sampler *s;
	if (vt_sampler_new(&s, n, m, seed) < 0) {
		printf("Bail out! vt_sampler_new(%llu, %llu) failed\n", (unsigned long long)n,
		       (unsigned long long)m);
		exit(1);
	}
	return s;
}

/* All chosen rows in [a, b) into a malloc'd array; their number in *k. */
static uint64_t *list(vt_sampler *s, uint64_t a, uint64_t b, size_t *k)
{
	size_t cap = 1024, got = 0;
	uint64_t *v = xmalloc(cap * sizeof *v), idx;
	vt_sampler_seek(s, a);
	while (vt_sampler_next(s, &idx) && idx < b) {
		if (got == cap) {
			uint64_t *nv = realloc(v, (cap *= 2) * sizeof *v);
			if (!nv) {
				printf("Bail out! out of memory\n");
				exit(1);
			}
			v = nv;
		}
		v[got++] = idx;
	}
	*k = got;
	return v;
}

/* Strictly increasing (so distinct) and within [a, b). */
static int sorted_in(const uint64_t *v, size_t k, uint64_t a, uint64_t b)
{
	for (size_t i = 0; i < k; i++)
		if (v[i] < a || v[i] >= b || (i && v[i] <= v[i - 1]))
			return 0;
	return 1;
}

static void test_basic(uint64_t n, uint64_t m, uint64_t seed)
{
	vt_sampler *s = sampler(n, m, seed);
	size_t k;
	uint64_t *v = list(s, 0, n, &k);
	CHECK(k == m, "n=%llu m=%llu: %zu rows chosen", (unsigned long long)n,
	      (unsigned long long)m, k);
	CHECK(sorted_in(v, k, 0, n), "n=%llu m=%llu: increasing, distinct, in range",
	      (unsigned long long)n, (unsigned long long)m);
	CHECK(vt_sampler_count(s, 0, n) == m, "n=%llu m=%llu: count of the whole is m",
	      (unsigned long long)n, (unsigned long long)m);
	/* The same again after a seek: the same rows. */
	size_t k2;
	uint64_t *v2 = list(s, 0, n, &k2);
	CHECK(k2 == k && memcmp(v, v2, k * sizeof *v) == 0, "n=%llu m=%llu: repeatable",
	      (unsigned long long)n, (unsigned long long)m);
	free(v), free(v2);
	vt_sampler_free(s);
}

/* Shards [b_i, b_i+1) listed apart, end to end, equal the whole; and each
 * shard's count agrees. */
static void test_shards(uint64_t n, uint64_t m, uint64_t seed, const uint64_t *cuts, int ncuts)
{
	vt_sampler *s = sampler(n, m, seed);
	size_t k;
	uint64_t *whole = list(s, 0, n, &k);
	size_t at = 0;
	int same = 1, counts = 1;
	for (int i = 0; i + 1 < ncuts; i++) {
		vt_sampler *t = sampler(n, m, seed);
		size_t ks;
		uint64_t *part = list(t, cuts[i], cuts[i + 1], &ks);
		if (at + ks > k || memcmp(whole + at, part, ks * sizeof *part) != 0)
			same = 0;
		if (vt_sampler_count(t, cuts[i], cuts[i + 1]) != ks)
			counts = 0;
		at += ks;
		free(part);
		vt_sampler_free(t);
	}
	CHECK(same && at == k, "n=%llu m=%llu: %d shards end to end equal the whole",
	      (unsigned long long)n, (unsigned long long)m, ncuts - 1);
	CHECK(counts, "n=%llu m=%llu: vt_sampler_count agrees on every shard",
	      (unsigned long long)n, (unsigned long long)m);
	free(whole);
	vt_sampler_free(s);
}

/* Seek to arbitrary rows: the rest of the whole from there. */
static void test_seek(uint64_t n, uint64_t m, uint64_t seed)
{
	vt_sampler *s = sampler(n, m, seed);
	size_t k;
	uint64_t *whole = list(s, 0, n, &k);
	int ok = 1;
	uint64_t starts[] = {0, 1, 65535, 65536, 65537, n / 3, n / 2 + 7, n - 1, n, n + 5};
	for (size_t i = 0; i < sizeof starts / sizeof *starts; i++) {
		size_t j = 0;
		while (j < k && whole[j] < starts[i])
			j++;
		uint64_t idx;
		vt_sampler_seek(s, starts[i]);
		int r = vt_sampler_next(s, &idx);
		if (j < k ? !(r == 1 && idx == whole[j]) : r != 0)
			ok = 0;
	}
	CHECK(ok, "n=%llu m=%llu: seek lands on the next chosen row", (unsigned long long)n,
	      (unsigned long long)m);
	free(whole);
	vt_sampler_free(s);
}

/* Chi-square of the chosen rows over B equal buckets, against the
 * expected m / B each.  Sampling without replacement scales its mean to
 * about dof (1 - m/n); loose bounds: above dof + 6 sqrt(2 dof), and above
 * half the mean (a split that were not random would fall below). */
static void test_uniform(uint64_t n, uint64_t m, uint64_t seed, int B)
{
	vt_sampler *s = sampler(n, m, seed);
	double *h = calloc((size_t)B, sizeof *h);
	if (!h)
		exit(1);
	uint64_t idx;
	while (vt_sampler_next(s, &idx))
		h[idx * (uint64_t)B / n]++;
	double e = (double)m / B, chi = 0;
	for (int i = 0; i < B; i++)
		chi += (h[i] - e) * (h[i] - e) / e;
	double bound = (B - 1) + 6 * sqrt(2.0 * (B - 1));
	double low = 0.5 * (B - 1) * (1 - (double)m / (double)n);
	CHECK(chi < bound && chi > low, "n=%llu m=%llu: chi-square %.1f over %d buckets (in %.1f..%.1f)",
	      (unsigned long long)n, (unsigned long long)m, chi, B, low, bound);
	free(h);
	vt_sampler_free(s);
}

/* Each row's inclusion frequency over many seeds is about m / n. */
static void test_inclusion(void)
{
	enum { N = 200, M = 37, SEEDS = 4000 };
	double h[N] = {0};
	for (uint64_t seed = 1; seed <= SEEDS; seed++) {
		vt_sampler *s = sampler(N, M, seed);
		uint64_t idx;
		while (vt_sampler_next(s, &idx))
			h[idx]++;
		vt_sampler_free(s);
	}
	double e = (double)SEEDS * M / N, chi = 0;
	for (int i = 0; i < N; i++)
		chi += (h[i] - e) * (h[i] - e) / e;
	CHECK(chi < (N - 1) + 6 * sqrt(2.0 * (N - 1)),
	      "inclusion frequency over %d seeds: chi-square %.1f over %d rows", SEEDS, chi, N);
}

static void test_seeds_differ(void)
{
	vt_sampler *a = sampler(1000000, 5000, 1), *b = sampler(1000000, 5000, 2);
	size_t ka, kb;
	uint64_t *va = list(a, 0, 1000000, &ka), *vb = list(b, 0, 1000000, &kb);
	size_t common = 0, i = 0, j = 0;
	while (i < ka && j < kb) {
		if (va[i] == vb[j])
			common++, i++, j++;
		else if (va[i] < vb[j])
			i++;
		else
			j++;
	}
	/* Expected overlap: 5000 * 5000 / 1e6 = 25. */
	CHECK(ka == kb && common < 100, "seeds 1 and 2 share %zu of %zu rows", common, ka);
	vt_sampler *c = sampler(1000000, 5000, 1);
	size_t kc;
	uint64_t *vc = list(c, 0, 1000000, &kc);
	CHECK(kc == ka && memcmp(va, vc, ka * sizeof *va) == 0, "seed 1 twice: the same rows");
	free(va), free(vb), free(vc);
	vt_sampler_free(a), vt_sampler_free(b), vt_sampler_free(c);
}

static void free_null(void *unused)
{
	(void)unused;
	vt_sampler_free(NULL);
}

static void test_edges(void)
{
	vt_sampler *s;
	CHECK(vt_sampler_new(&s, 10, 11, 1) == VT_EINVAL && s == NULL, "m > n is VT_EINVAL");
	CHECK(vt_sampler_new(&s, VT_SAMPLE_MAX_N + 1, 1, 1) == VT_EINVAL, "n too large is VT_EINVAL");
	CHECK(check_survives(free_null, NULL), "vt_sampler_free(NULL) returns");

	s = sampler(0, 0, 1);
	uint64_t idx = 77;
	CHECK(vt_sampler_next(s, &idx) == 0 && idx == 77, "n = 0: nothing");
	vt_sampler_free(s);

	s = sampler(1000, 0, 1);
	CHECK(vt_sampler_next(s, &idx) == 0 && vt_sampler_count(s, 0, 1000) == 0, "m = 0: nothing");
	vt_sampler_free(s);

	/* m = n selects every row, across leaves and splits. */
	uint64_t ns[] = {1, 63, 64, 65536, 65537, 300001};
	for (size_t t = 0; t < sizeof ns / sizeof *ns; t++) {
		s = sampler(ns[t], ns[t], 9);
		uint64_t want = 0;
		int ok = 1;
		while (vt_sampler_next(s, &idx))
			if (idx != want++)
				ok = 0;
		CHECK(ok && want == ns[t], "m = n = %llu: every row in order", (unsigned long long)ns[t]);
		vt_sampler_free(s);
	}

	s = sampler(100, 3, 5);
	CHECK(vt_sampler_n(s) == 100 && vt_sampler_m(s) == 3 && vt_sampler_seed(s) == 5, "getters");
	vt_sampler_free(s);
}

/* n = 2^40 with m small: only the paths to the chosen leaves are visited. */
static void test_huge(void)
{
	uint64_t n = 1ULL << 40;
	clock_t t0 = clock();
	vt_sampler *s = sampler(n, 1000, 3);
	size_t k;
	uint64_t *v = list(s, 0, n, &k);
	CHECK(k == 1000 && sorted_in(v, k, 0, n), "n = 2^40, m = 1000: 1000 sorted rows");
	CHECK(v[k - 1] > n / 2 && v[0] < n / 2, "n = 2^40: rows on both halves");
	uint64_t cuts[] = {0, 123456789, n / 3, n / 2 + 11, n};
	test_shards(n, 1000, 3, cuts, 5);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	CHECK(secs < 5, "n = 2^40: %.3f s", secs);
	free(v);
	vt_sampler_free(s);

	/* Large m with approximate splits: still exactly m, sorted, shardable. */
	s = sampler(1ULL << 36, 3000000, 4);
	uint64_t prev = 0, idx, got = 0;
	int ok = 1;
	while (vt_sampler_next(s, &idx)) {
		if (got && idx <= prev)
			ok = 0;
		prev = idx, got++;
	}
	CHECK(ok && got == 3000000, "n = 2^36, m = 3e6: %llu sorted rows", (unsigned long long)got);
	vt_sampler_free(s);
}

/* The sample is part of the format's promises: shards sampled by different
 * versions must agree.  These pin it; a change here is an incompatible one. */
static void test_golden(uint64_t n, uint64_t m, uint64_t seed, uint64_t want)
{
	vt_sampler *s = sampler(n, m, seed);
	uint64_t idx, h = 0, k = 0;
	while (vt_sampler_next(s, &idx))
		h = h * 1000003 + idx, k++;
	CHECK(k == m && h == want, "n=%llu m=%llu seed=%llu: the pinned sample (hash %016llx)",
	      (unsigned long long)n, (unsigned long long)m, (unsigned long long)seed,
	      (unsigned long long)h);
	vt_sampler_free(s);
}

int main(void)
{
	test_edges();
	test_basic(10, 3, 1);
	test_basic(1000, 999, 2);
	test_basic(65536, 1000, 3);
	test_basic(65537, 65536, 3);
	test_basic(1000000, 100, 4);
	test_basic(1000000, 256000, 5);
	test_basic(5000000, 4000000, 6);
	test_basic(3000001, 1500000, 7);

	uint64_t cuts1[] = {0, 1000, 1001, 70000, 333333, 1000000};
	test_shards(1000000, 20000, 11, cuts1, 6);
	uint64_t cuts2[] = {0, 65536, 131072, 2000000, 2000001, 4999999, 5000000};
	test_shards(5000000, 2500000, 12, cuts2, 7);
	uint64_t cuts3[] = {0, 7, 8, 9, 100};
	test_shards(100, 50, 13, cuts3, 5);

	test_seek(1000000, 20000, 21);
	test_seek(200000, 199990, 22);

	test_uniform(100000, 10000, 31, 100);     /* exact splits */
	test_uniform(20000000, 5000000, 32, 1000); /* approximate splits */
	test_uniform(1ULL << 32, 20000, 33, 64);
	test_inclusion();
	test_seeds_differ();
	test_huge();
	test_golden(1000000, 20000, 1, 0x88efdff4aa92499dULL);   /* exact splits */
	test_golden(40000000, 3000000, 1, 0x2332ba8afd8be157ULL); /* approximate splits */
	return check_done();
}
