/* Unit tests of lib/train/nearest: the exact search and its reference
 * against an independent all-double brute force, on random data and on
 * every edge case. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include <cblas.h>

#include "train/kernel.h"
#include "train/nearest.h"
#include "train/pool.h"
#include "train/rng.h"

/* the definition, written again: dd in the documented order, then the
 * first N by (dd, index); a row with a NaN or an infinity ties everywhere */
static double dd(const float *x, const float *c, size_t d)
{
	double s[4] = {0, 0, 0, 0};
	size_t t = 0;
	for (; t + 4 <= d; t += 4)
		for (int q = 0; q < 4; q++) {
			double a = (double)x[t + q] - c[t + q];
			s[q] += a * a;
		}
	for (; t < d; t++) {
		double a = (double)x[t] - c[t];
		s[0] += a * a;
	}
	return (s[0] + s[1]) + (s[2] + s[3]);
}

static void oracle(const float *x, size_t n, size_t d, const float *c, size_t k, size_t N,
                   int32_t *lab, double *dist)
{
	double *v = xmalloc(k * sizeof *v);
	char *used = xmalloc(k);
	for (size_t i = 0; i < n; i++) {
		const float *xr = x + i * d;
		int finite = 1;
		for (size_t t = 0; t < d; t++)
			finite &= isfinite(xr[t]) != 0;
		for (size_t j = 0; j < k; j++)
			v[j] = dd(xr, c + j * d, d);
		memset(used, 0, k);
		for (size_t q = 0; q < N; q++) {
			size_t b = k;
			for (size_t j = 0; j < k; j++) {
				if (used[j])
					continue;
				if (b == k || (finite && v[j] < v[b]))
					b = j;
			}
			used[b] = 1;
			lab[i * N + q] = (int32_t)b;
			dist[i * N + q] = v[b];
		}
	}
	free(v);
	free(used);
}

static float *gauss(size_t n, size_t d, double sd, uint64_t seed)
{
	vt_rng r;
	vt_rng_init(&r, seed, 1);
	float *x = xmalloc(n * d * sizeof *x);
	for (size_t i = 0; i < n * d; i++)
		x[i] = (float)(sd * vt_rng_normal(&r));
	return x;
}

/* rows around the given centres (each row: a random centre + noise) */
static float *around(const float *c, size_t k, size_t n, size_t d, double sd, uint64_t seed)
{
	vt_rng r;
	vt_rng_init(&r, seed, 2);
	float *x = xmalloc(n * d * sizeof *x);
	for (size_t i = 0; i < n; i++) {
		size_t j = (size_t)vt_rng_below(&r, k);
		for (size_t t = 0; t < d; t++)
			x[i * d + t] = c[j * d + t] + (float)(sd * vt_rng_normal(&r));
	}
	return x;
}

/* centroids of clusters of clusters: T top means, k centroids around them */
static float *two_level(size_t k, size_t T, size_t d, double s1, double s2, uint64_t seed)
{
	float *top = gauss(T, d, s1, seed);
	float *c = around(top, T, k, d, s2, seed + 1);
	free(top);
	return c;
}

static int same(const int32_t *la, const double *da, const int32_t *lb, const double *db,
                size_t m)
{
	for (size_t i = 0; i < m; i++)
		if (la[i] != lb[i] || !(da[i] == db[i] || (isnan(da[i]) && isnan(db[i]))))
			return 0;
	return 1;
}

/* The reference and the index in each mode against the oracle. */
static void check_all(const char *what, vt_pool *pool, const float *x, size_t n, size_t d,
                      const float *c, size_t k, size_t N, const int32_t *group, size_t groups)
{
	int32_t *lo = xmalloc(n * N * sizeof *lo), *l = xmalloc(n * N * sizeof *l);
	double *dso = xmalloc(n * N * sizeof *dso), *ds = xmalloc(n * N * sizeof *ds);
	oracle(x, n, d, c, k, N, lo, dso);
	int rc = vt_nearest_brute(pool, x, n, d, c, k, N, l, ds);
	CHECK(rc == 0 && same(l, ds, lo, dso, n * N), "%s: reference = definition (top %zu)", what,
	      N);
	if (N == 1) {
		/* the serial reference, with the caller's norms and scratch */
		float *cn = xmalloc(k * sizeof *cn);
		void *scr = xmalloc(vt_nearest_brute_scratch(d, k));
		vt_sqnorms(c, k, d, cn);
		memset(l, 0xff, n * sizeof *l);
		vt_nearest_brute_serial(x, n, d, c, k, cn, l, ds, scr);
		CHECK(same(l, ds, lo, dso, n), "%s: serial reference = definition", what);
		free(cn);
		free(scr);
	}
	vt_nearest *ix;
	rc = vt_nearest_new(&ix, pool, c, k, d, group, groups, 7);
	CHECK(rc == 0, "%s: index built", what);
	if (rc)
		goto out;
	const char *names[] = {"auto", "search", "brute"};
	for (int mode = 0; mode < 3; mode++) {
		vt_nearest_set_mode(ix, mode);
		memset(l, 0xff, n * N * sizeof *l);
		rc = vt_nearest_query(ix, pool, x, n, N, l, ds);
		CHECK(rc == 0 && same(l, ds, lo, dso, n * N), "%s: %s search = definition (top %zu)",
		      what, names[mode], N);
	}
out:
	vt_nearest_free(ix);
	free(lo);
	free(l);
	free(dso);
	free(ds);
}

int main(void)
{
	vt_pool *pool;
	if (vt_pool_new(&pool, 2)) {
		printf("Bail out! no pool\n");
		return 1;
	}

	/* random data: clustered centroids, rows around them */
	{
		size_t k = 2000, d = 24, n = 3000;
		float *c = two_level(k, 40, d, 10, 2, 11);
		float *x = around(c, k, n, d, 1, 12);
		check_all("two-level", pool, x, n, d, c, k, 1, NULL, 0);
		check_all("two-level", pool, x, n, d, c, k, 5, NULL, 0);
		/* the search really prunes there */
		vt_nearest *ix;
		vt_nearest_new(&ix, pool, c, k, d, NULL, 0, 3);
		vt_nearest_set_mode(ix, VT_NEAREST_SEARCH);
		int32_t *l = xmalloc(n * sizeof *l);
		vt_nearest_query(ix, pool, x, n, 1, l, NULL);
		const vt_nearest_stats *st = vt_nearest_get_stats(ix);
		CHECK(st->rows == n && st->rows_round1 + st->rows_round2 > n / 2 &&
		      st->evals < 0.5 * (double)n * k,
		      "two-level: most rows certified by bounds (%.0f + %.0f of %zu, %.3g evals/row)",
		      st->rows_round1, st->rows_round2, n, st->evals / n);
		/* 8 k + G (4 d + 52) + k / 64 bytes, and a few hundred for the struct */
		size_t G = vt_nearest_groups(ix), want = 8 * k + G * (4 * d + 52) + k / 64 + 1024;
		CHECK(G >= k / 64 && G <= k / 8 && vt_nearest_bytes(ix) <= want, "two-level: %zu groups, index %zu bytes <= %zu", G,
		      vt_nearest_bytes(ix), want);
		/* batches of any size give the same answer (and a NULL pool) */
		int32_t *l2 = xmalloc(n * sizeof *l2);
		for (size_t b0 = 0; b0 < n; b0 += 77)
			vt_nearest_query(ix, NULL, x + b0 * d, n - b0 < 77 ? n - b0 : 77, 1, l2 + b0, NULL);
		CHECK(!memcmp(l, l2, n * sizeof *l), "two-level: batches of 77 rows, one thread: same");
		/* approximate mode: deterministic per row, mostly right */
		vt_nearest_set_probe(ix, 3);
		vt_nearest_query(ix, pool, x, n, 1, l, NULL);
		for (size_t b0 = 0; b0 < n; b0 += 500)
			vt_nearest_query(ix, NULL, x + b0 * d, n - b0 < 500 ? n - b0 : 500, 1, l2 + b0, NULL);
		CHECK(!memcmp(l, l2, n * sizeof *l), "approximate: the same whatever the batch");
		int32_t *le = xmalloc(n * sizeof *le);
		vt_nearest_brute(pool, x, n, d, c, k, 1, le, NULL);
		size_t agree = 0;
		for (size_t i = 0; i < n; i++)
			agree += l[i] == le[i];
		CHECK(agree > 0.9 * n, "approximate: %zu of %zu agree with exact", agree, n);
		free(le);
		free(l);
		free(l2);
		vt_nearest_free(ix);
		/* a caller's grouping, even a poor one (random), is still exact */
		int32_t *grp = xmalloc(k * sizeof *grp);
		vt_rng r;
		vt_rng_init(&r, 5, 5);
		for (size_t j = 0; j < k; j++)
			grp[j] = (int32_t)vt_rng_below(&r, 50);
		check_all("random grouping", pool, x, n, d, c, k, 2, grp, 50);
		/* ... and groups that are given but empty */
		for (size_t j = 0; j < k; j++)
			grp[j] = (int32_t)(2 * (j % 10));
		check_all("empty groups", pool, x, 500, d, c, k, 1, grp, 21);
		free(grp);
		free(x);
		free(c);
	}

	/* the super level (G >= 1024): about 2,048 groups of 2 centroids
	 * around 64 top clusters; 33,000 rows are two chunks, the first through the
	 * supers and the second not (the measured choice tries both) */
	{
		size_t k = 4096, d = 8, n = 33000, G = 2048;
		float *c = two_level(k, 64, d, 10, 1, 21);
		float *x = around(c, k, n, d, 0.5, 22);
		int32_t *grp = xmalloc(k * sizeof *grp);
		vt_nearest *ix;
		/* the index's own grouping, aiming at G groups */
		check_all("supers", pool, x, n, d, c, k, 1, NULL, G);
		check_all("supers", pool, x, 2000, d, c, k, 4, NULL, G);
		int rc = vt_nearest_new(&ix, pool, c, k, d, NULL, G, 3);
		size_t T = rc ? 0 : vt_nearest_supers(ix), Gix = rc ? 0 : vt_nearest_groups(ix);
		CHECK(rc == 0 && Gix >= 1024 && T > 0 && T < Gix, "supers: %zu supers over %zu groups",
		      T, Gix);
		vt_nearest_set_mode(ix, VT_NEAREST_SEARCH);
		int32_t *l = xmalloc(n * sizeof *l);
		vt_nearest_query(ix, pool, x, n, 1, l, NULL);
		const vt_nearest_stats *st = vt_nearest_get_stats(ix);
		CHECK(st->supers > 0 && st->rows_super >= 32768 - 256 && st->rows_wide < st->rows_super / 2 &&
		          st->evals < 0.25 * (double)n * k,
		      "supers: the first chunk went through them (%.0f rows, %.0f wide, %.3g evals/row)",
		      st->rows_super, st->rows_wide, st->evals / n);
		vt_nearest_free(ix);
		/* groups of random members: every super's ball holds most rows,
		 * the rows are wide, and the answer is still exact */
		vt_rng r;
		vt_rng_init(&r, 9, 9);
		for (size_t j = 0; j < k; j++)
			grp[j] = (int32_t)vt_rng_below(&r, G);
		check_all("supers, random groups", pool, x, 3000, d, c, k, 1, grp, G);
		vt_nearest_new(&ix, pool, c, k, d, grp, G, 3);
		vt_nearest_set_mode(ix, VT_NEAREST_SEARCH);
		vt_nearest_query(ix, pool, x, 3000, 1, l, NULL);
		st = vt_nearest_get_stats(ix);
		CHECK(st->rows_super == 3000 && st->rows_wide > 0, "supers, random groups: %.0f of %.0f rows wide",
		      st->rows_wide, st->rows_super);
		vt_nearest_free(ix);
		free(l);
		free(grp);
		free(x);
		/* rows far from all centroids */
		x = gauss(400, d, 1000, 13);
		check_all("far rows", pool, x, 400, d, c, k, 3, NULL, 0);
		free(x);
		free(c);
	}

	/* i.i.d. centroids (the bounds cannot help) */
	{
		size_t k = 1500, d = 32, n = 1200;
		float *c = gauss(k, d, 1, 21), *x = gauss(n, d, 1, 22);
		check_all("iid", pool, x, n, d, c, k, 1, NULL, 0);
		vt_nearest *ix;
		vt_nearest_new(&ix, pool, c, k, d, NULL, 0, 1);
		CHECK(vt_nearest_bytes(ix) <= k * d * 4 / 10, "iid, d = 32: index %zu bytes <= 10%% of %zu",
		      vt_nearest_bytes(ix), k * d * 4);
		vt_nearest_free(ix);
		free(c);
		free(x);
	}

	/* duplicate centroids: every centroid 12 times over */
	{
		size_t u = 50, k = 600, d = 8, n = 1000;
		float *b = two_level(u, 5, d, 10, 2, 31), *c = xmalloc(k * d * sizeof *c);
		for (size_t j = 0; j < k; j++)
			memcpy(c + j * d, b + ((j * 7) % u) * d, d * sizeof *c);
		float *x = around(b, u, n, d, 1, 32);
		check_all("duplicates", pool, x, n, d, c, k, 1, NULL, 0);
		check_all("duplicates", pool, x, n, d, c, k, 4, NULL, 0);
		free(b);
		free(c);
		free(x);
	}

	/* exact ties: a lattice of small integers, rows at half-integers */
	{
		size_t k = 729, d = 6, n = 2000;
		float *c = xmalloc(k * d * sizeof *c), *x = xmalloc(n * d * sizeof *x);
		for (size_t j = 0; j < k; j++) {
			size_t v = j;
			for (size_t t = 0; t < d; t++, v /= 3)
				c[j * d + t] = (float)(v % 3) * 3.0f;
		}
		vt_rng r;
		vt_rng_init(&r, 41, 0);
		for (size_t i = 0; i < n * d; i++)
			x[i] = (float)vt_rng_below(&r, 13) * 0.5f;
		check_all("ties", pool, x, n, d, c, k, 1, NULL, 0);
		check_all("ties", pool, x, n, d, c, k, 6, NULL, 0);
		free(c);
		free(x);
	}

	/* k = 1, and k smaller than the groups asked for */
	{
		size_t d = 5, n = 300;
		float *c = gauss(3, d, 1, 51), *x = gauss(n, d, 2, 52);
		check_all("k=1", pool, x, n, d, c, 1, 1, NULL, 0);
		check_all("k=3, 10 groups asked", pool, x, n, d, c, 3, 1, NULL, 10);
		check_all("k=3, top 3", pool, x, n, d, c, 3, 3, NULL, 0);
		free(c);
		free(x);
	}

	/* a centroid far from all others, NaN, infinite and huge rows */
	{
		size_t k = 400, d = 16, n = 600;
		float *c = two_level(k, 8, d, 10, 2, 61);
		for (size_t t = 0; t < d; t++)
			c[137 * d + t] = 1e6f + (float)t;
		float *x = around(c, k, n, d, 1, 62);
		for (size_t t = 0; t < d; t++) {
			x[5 * d + t] = NAN;
			x[9 * d + t] = t == 3 ? INFINITY : 1.0f;
			x[11 * d + t] = t == 2 ? -INFINITY : (t == 4 ? NAN : 0.0f);
			x[13 * d + t] = 3e18f;
		}
		check_all("far centroid and special rows", pool, x, n, d, c, k, 1, NULL, 0);
		check_all("far centroid and special rows", pool, x, n, d, c, k, 2, NULL, 0);
		int32_t l[2];
		double ds[2];
		vt_nearest_brute(pool, x + 5 * d, 1, d, c, k, 2, l, ds);
		CHECK(l[0] == 0 && l[1] == 1 && isnan(ds[0]), "a NaN row: labels 0, 1, distance NaN");
		vt_nearest_brute(pool, x + 9 * d, 1, d, c, k, 1, l, ds);
		CHECK(l[0] == 0 && ds[0] == INFINITY, "an infinite row: label 0, distance inf");
		free(c);
		free(x);
	}

	/* error paths */
	{
		size_t k = 10, d = 4;
		float *c = gauss(k, d, 1, 71), x[4] = {0, 0, 0, 0};
		int32_t l[16];
		vt_nearest *ix;
		CHECK(vt_nearest_brute(NULL, x, 1, d, c, k, 0, l, NULL) == VT_EINVAL, "top 0: EINVAL");
		CHECK(vt_nearest_brute(NULL, x, 1, d, c, k, 11, l, NULL) == VT_EINVAL, "top > k: EINVAL");
		CHECK(vt_nearest_new(&ix, NULL, c, 0, d, NULL, 0, 1) == VT_EINVAL && !ix, "k 0: EINVAL");
		int32_t g[10] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 4};
		CHECK(vt_nearest_new(&ix, NULL, c, k, d, g, 4, 1) == VT_EINVAL, "a group id out of range");
		CHECK(vt_nearest_new(&ix, NULL, c, k, d, g, 5, 1) == 0, "group ids in range");
		CHECK(vt_nearest_groups(ix) == 5, "5 groups");
		CHECK(vt_nearest_query(ix, NULL, x, 1, 11, l, NULL) == VT_EINVAL, "query top > k");
		CHECK(vt_nearest_query(ix, NULL, x, 0, 1, l, NULL) == 0, "query of no rows");
		vt_nearest_free(ix);
		c[7] = NAN;
		CHECK(vt_nearest_new(&ix, NULL, c, k, d, NULL, 0, 1) == VT_EDATA, "NaN centroid: EDATA");
		CHECK(vt_nearest_brute(NULL, x, 1, d, c, k, 1, l, NULL) == VT_EDATA,
		      "NaN centroid, reference: EDATA");
		c[7] = 3e18f;
		CHECK(vt_nearest_new(&ix, NULL, c, k, d, NULL, 0, 1) == VT_EDATA, "huge centroid: EDATA");
		vt_nearest_free(NULL);
		free(c);
	}
	/* the agreement check (vkmeans -v) */
	{
		size_t n = 3000, d = 6, k = 40;
		float *c = gauss(k, d, 3, 9), *x = around(c, k, n, d, 1, 8);
		int32_t *lb = malloc(n * sizeof *lb);
		double agree = 0, ratio = 0;
		int rc = vt_nearest_brute(pool, x, n, d, c, k, 1, lb, NULL);
		rc |= vt_nearest_agreement(pool, x, n, d, c, k, lb, 7, &agree, &ratio);
		CHECK(rc == 0 && agree == 1 && ratio == 1, "agreement of the nearest labels is 1");
		for (size_t i = 0; i < n; i += 2)
			lb[i] = (lb[i] + 1) % (int32_t)k;
		rc = vt_nearest_agreement(pool, x, n, d, c, k, lb, 1, &agree, &ratio);
		CHECK(rc == 0 && agree > 0.45 && agree < 0.55 && ratio > 1,
		      "half the labels moved: agreement %.3f, loss ratio %.3f", agree, ratio);
		CHECK(vt_nearest_agreement(pool, x, n, d, c, k, lb, 0, &agree, &ratio) == VT_EINVAL,
		      "agreement: step 0 is VT_EINVAL");
		lb[0] = (int32_t)k;
		CHECK(vt_nearest_agreement(pool, x, n, d, c, k, lb, 1, &agree, &ratio) == VT_EINVAL,
		      "agreement: a label out of range is VT_EINVAL");
		free(x), free(c), free(lb);
	}
	CHECK(vt_nearest_eps(128) > 128 * 0x1p-24 && vt_nearest_eps(128) < 3 * 132 * 0x1p-24,
	      "E(128) = %.3g", vt_nearest_eps(128));

	/* the margin holds every float distance of the kernel: fl(D - e) <=
	 * dd <= fl(D + e), D = (sgemm's -2 x.c + ||c||^2_f) + ||x||^2_f, on
	 * rows far from the origin (large norms, small distances: the float
	 * distances are mostly rounding there) and on centred ones */
	for (int shifted = 0; shifted < 2; shifted++) {
		size_t n = 300, k = 200, d = 40;
		float *x = gauss(n, d, 1, 81), *c = gauss(k, d, 1, 82);
		for (size_t i = 0; shifted && i < n * d; i++)
			x[i] += 500.0f;
		for (size_t i = 0; shifted && i < k * d; i++)
			c[i] += 500.0f;
		float *ip = xmalloc(n * k * sizeof *ip), *xn = xmalloc(n * sizeof *xn);
		float *cn = xmalloc(k * sizeof *cn);
		vt_sqnorms(x, n, d, xn);
		vt_sqnorms(c, k, d, cn);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)d, -2.0f, x,
		            (int)d, c, (int)d, 0.0f, ip, (int)k);
		size_t bad = 0;
		double worst = 0;
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < k; j++) {
				float D = (ip[i * k + j] + cn[j]) + xn[i];
				double e = vt_nearest_margin(d, vt_nearest_norm_up(xn[i]),
				                             vt_nearest_norm_up(cn[j]));
				double v = vt_nearest_sqdist(x + i * d, c + j * d, d);
				bad += !((double)D - e <= v && v <= (double)D + e);
				double r = fabs((double)D - v) / e;
				worst = r > worst ? r : worst;
			}
		CHECK(bad == 0 && worst > 0, "%s rows: every float distance within its margin of dd "
		      "(worst |D - dd| = %.3g e)", shifted ? "shifted" : "centred", worst);
		free(x), free(c), free(ip), free(xn), free(cn);
	}

	/* sqdists: vt_nearest_sqdist's values to the bit, four at a time and
	 * the rest, for dimensions with every tail length */
	{
		size_t ok = 0, tried = 0;
		for (size_t d = 1; d <= 19; d += (d < 9 ? 1 : 5)) {
			float *c = gauss(11, d, 3, 100 + d), *x = gauss(1, d, 3, 200 + d);
			int32_t ids[11] = {10, 3, 3, 7, 0, 1, 9, 2, 5, 4, 8};
			double v[11];
			vt_nearest_sqdists(x, c, d, ids, 11, v);
			for (size_t q = 0; q < 11; q++, tried++)
				ok += v[q] == vt_nearest_sqdist(x, c + (size_t)ids[q] * d, d);
			free(c), free(x);
		}
		float *c = gauss(5, 784, 100, 300), *x = gauss(1, 784, 100, 301);
		int32_t ids[5] = {4, 2, 0, 1, 3};
		double v[5];
		vt_nearest_sqdists(x, c, 784, ids, 5, v);
		for (size_t q = 0; q < 5; q++, tried++)
			ok += v[q] == vt_nearest_sqdist(x, c + (size_t)ids[q] * 784, 784);
		free(c), free(x);
		CHECK(ok == tried, "sqdists = sqdist to the bit (%zu of %zu)", ok, tried);
	}

	/* pick: the least dd, ties to the lower index whatever the order given */
	{
		float c[12] = {0, 0, 2, 0, 0, 2, 2, 0, 1, 1, -2, 0}, x[2] = {1, 0};
		int32_t ids[4] = {3, 1, 5, 0};
		double v = -1;
		CHECK(vt_nearest_pick(x, c, 2, ids, 3, &v) == 1 && v == 1.0,
		      "pick: the tie of centroids 3 and 1 at dd 1 goes to 1");
		CHECK(vt_nearest_pick(x, c, 2, ids, 4, &v) == 0 && v == 1.0,
		      "pick: the tie of centroids 3, 1 and 0 at dd 1 goes to 0");
		int32_t one = 4;
		CHECK(vt_nearest_pick(x, c, 2, &one, 1, NULL) == 4, "pick: one candidate");
	}

	/* the serial reference with centroids too large for float: the
	 * definition (the parallel one refuses them) */
	{
		size_t k = 30, d = 8, n = 50;
		float *c = gauss(k, d, 1e18, 91), *x = gauss(n, d, 1e18, 92);
		float *cn = xmalloc(k * sizeof *cn);
		void *scr = xmalloc(vt_nearest_brute_scratch(d, k));
		int32_t *l = xmalloc(n * sizeof *l), *lo = xmalloc(n * sizeof *lo);
		double *ds = xmalloc(n * sizeof *ds), *dso = xmalloc(n * sizeof *dso);
		vt_sqnorms(c, k, d, cn);
		oracle(x, n, d, c, k, 1, lo, dso);
		vt_nearest_brute_serial(x, n, d, c, k, cn, l, ds, scr);
		CHECK(same(l, ds, lo, dso, n) && vt_nearest_brute(NULL, x, n, d, c, k, 1, l, ds) == VT_EDATA,
		      "huge centroids: the serial reference gives the definition");
		free(c), free(x), free(cn), free(scr), free(l), free(lo), free(ds), free(dso);
	}
	vt_pool_free(pool);
	return check_done();
}
