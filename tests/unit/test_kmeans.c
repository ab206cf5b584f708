/* Unit tests of lib/train/kmeans, accum and stats. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "train/accum.h"
#include "train/kernel.h"
#include "train/kmeans.h"
#include "train/kmeans_impl.h"
#include "train/pool.h"
#include "train/nearest.h"
#include "train/rng.h"
#include "train/stats.h"



/* sum_i w_i min_j ||x_i - c_j||^2 in double */
static double brute_loss(const float *x, size_t n, size_t d, const double *w,
                         const float *c, size_t k)
{
	double s = 0;
	for (size_t i = 0; i < n; i++) {
		double b = INFINITY;
		for (size_t j = 0; j < k; j++) {
			double v = d2(x + i * d, c + j * d, d);
			b = v < b ? v : b;
		}
		s += (w ? w[i] : 1.0) * b;
	}
	return s;
}

static vt_kmeans *make(size_t k, int threads, uint64_t seed)
{
	vt_kmeans *km = NULL;
	if (vt_kmeans_new(&km, k)) {
		printf("Bail out! vt_kmeans_new\n");
		exit(1);
	}
	vt_kmeans_set_threads(km, threads);
	vt_kmeans_set_seed(km, seed);
	return km;
}

static void test_planted(void)
{
	size_t n = 3000, d = 8, m = 6;
	float *mu;
	float *x = check_blobs(n, d, m, 10.0, 0.3, 11, &mu);
	vt_kmeans *km = make(m, 2, 5);
	int rc = vt_kmeans_run(km, x, n, d, NULL, NULL, NULL);
	int ok = rc == 0;
	const float *c = vt_kmeans_centroids(km);
	for (size_t j = 0; ok && j < m; j++) {
		double b = INFINITY;
		for (size_t q = 0; q < m; q++) {
			double v = d2(mu + j * d, c + q * d, d);
			b = v < b ? v : b;
		}
		ok = sqrt(b) < 0.1;
	}
	CHECK(ok, "planted means are recovered");
	double bl = brute_loss(x, n, d, NULL, c, m);
	CHECK(rc == 0 && fabs(vt_kmeans_loss(km) - bl) <= 1e-6 * bl,
	      "reported loss matches a double brute force (1e-6)");
	double sw = 0, sl = 0;
	for (size_t j = 0; j < m; j++) {
		sw += vt_kmeans_weights(km)[j];
		sl += vt_kmeans_losses(km)[j];
	}
	CHECK(sw == (double)n && fabs(sl - vt_kmeans_loss(km)) <= 1e-9 * sl,
	      "per-centroid weights and losses add up");
	vt_kmeans_free(km);
	free(mu);
	free(x);
}

static void test_determinism(int mode, size_t k, size_t n, size_t d, const char *tag)
{
	char name[128];
	float *x = check_blobs(n, d, 40, 3.0, 1.0, 21, NULL);
	int32_t *l1 = xmalloc(n * sizeof *l1), *l2 = xmalloc(n * sizeof *l2);
	vt_kmeans *a = make(k, 1, 99), *b = make(k, 2, 99), *c = make(k, 2, 99);
	vt_kmeans_set_mode(a, mode);
	vt_kmeans_set_mode(b, mode);
	vt_kmeans_set_mode(c, mode);
	int rc = vt_kmeans_run(a, x, n, d, NULL, NULL, l1) | vt_kmeans_run(b, x, n, d, NULL, NULL, l2);
	snprintf(name, sizeof name, "%s: -j1 and -j2 give the same bytes", tag);
	CHECK(rc == 0 && !memcmp(vt_kmeans_centroids(a), vt_kmeans_centroids(b), k * d * sizeof(float)) &&
	          !memcmp(l1, l2, n * sizeof *l1) &&
	          vt_kmeans_loss(a) == vt_kmeans_loss(b), "%s", name);
	rc = vt_kmeans_run(c, x, n, d, NULL, NULL, NULL);
	snprintf(name, sizeof name, "%s: same seed, same bytes", tag);
	CHECK(rc == 0 && !memcmp(vt_kmeans_centroids(b), vt_kmeans_centroids(c), k * d * sizeof(float)),
	      "%s", name);
	vt_kmeans_set_seed(c, 100);
	rc = vt_kmeans_run(c, x, n, d, NULL, NULL, NULL);
	snprintf(name, sizeof name, "%s: another seed, other centroids", tag);
	CHECK(rc == 0 && memcmp(vt_kmeans_centroids(b), vt_kmeans_centroids(c), k * d * sizeof(float)),
	      "%s", name);
	if (mode == VT_KMEANS_HIER) {
		int ok = vt_kmeans_was_hierarchical(b);
		const double *w = vt_kmeans_weights(b);
		for (size_t j = 0; j < k; j++)
			ok &= w[j] > 0;
		snprintf(name, sizeof name, "%s: hierarchical, no empty cluster", tag);
		CHECK(ok, "%s", name);
		/* the loss is not far above a flat run's */
		vt_kmeans *f = make(k, 2, 99);
		vt_kmeans_set_mode(f, VT_KMEANS_FLAT);
		vt_kmeans_set_iters(f, 5);
		rc = vt_kmeans_run(f, x, n, d, NULL, NULL, NULL);
		snprintf(name, sizeof name, "%s: loss within 1.1x of flat (%.4g vs %.4g)", tag,
		         vt_kmeans_loss(b), vt_kmeans_loss(f));
		CHECK(rc == 0 && vt_kmeans_loss(b) < 1.1 * vt_kmeans_loss(f), "%s", name);
		double bl = brute_loss(x, n, d, NULL, vt_kmeans_centroids(b), k);
		snprintf(name, sizeof name, "%s: loss matches brute force", tag);
		CHECK(fabs(bl - vt_kmeans_loss(b)) <= 1e-6 * bl, "%s", name);
		vt_kmeans_free(f);
	}
	vt_kmeans_free(a);
	vt_kmeans_free(b);
	vt_kmeans_free(c);
	free(l1);
	free(l2);
	free(x);
}

/* integer weights against replicated rows, from the same start */
static void test_weights(void)
{
	size_t n = 600, d = 5, k = 7;
	float *x = check_blobs(n, d, 10, 2.0, 1.0, 31, NULL);
	double *w = xmalloc(n * sizeof *w), *ll = xmalloc(n * sizeof *ll);
	size_t nr = 0;
	for (size_t i = 0; i < n; i++) {
		w[i] = (double)(1 + i % 3);
		ll[i] = 0.25 * (double)(i % 5);
		nr += 1 + i % 3;
	}
	float *xr = xmalloc(nr * d * sizeof *xr);
	for (size_t i = 0, q = 0; i < n; i++)
		for (size_t r = 0; r < 1 + i % 3; r++, q++)
			memcpy(xr + q * d, x + i * d, d * sizeof *xr);
	vt_kmeans *a = make(k, 2, 1), *b = make(k, 2, 1);
	float init[35];
	memcpy(init, x, sizeof init); /* the first k rows */
	vt_kmeans_set_initial(a, init, d);
	vt_kmeans_set_initial(b, init, d);
	vt_kmeans_set_tol(a, 0);
	vt_kmeans_set_tol(b, 0);
	int rc = vt_kmeans_run(a, x, n, d, w, NULL, NULL) | vt_kmeans_run(b, xr, nr, d, NULL, NULL, NULL);
	int ok = rc == 0;
	for (size_t i = 0; ok && i < k * d; i++)
		ok = fabs(vt_kmeans_centroids(a)[i] - vt_kmeans_centroids(b)[i]) < 1e-4;
	CHECK(ok && fabs(vt_kmeans_loss(a) - vt_kmeans_loss(b)) < 1e-9 * vt_kmeans_loss(b),
	      "weighted points give the result of replicated points");
	double bl = brute_loss(x, n, d, w, vt_kmeans_centroids(a), k);
	CHECK(fabs(vt_kmeans_loss(a) - bl) <= 1e-6 * bl, "weighted loss matches brute force");
	/* local losses add to the objective and leave the centroids alone */
	rc = vt_kmeans_run(b, x, n, d, w, ll, NULL);
	double sl = 0;
	for (size_t i = 0; i < n; i++)
		sl += ll[i];
	CHECK(rc == 0 && !memcmp(vt_kmeans_centroids(a), vt_kmeans_centroids(b), k * d * sizeof(float)) &&
	          fabs(vt_kmeans_loss(b) - (bl + sl)) <= 1e-9 * (bl + sl),
	      "local losses: loss = sum(local) + sum w ||x - c||^2");
	/* weighted k-means++ runs and is deterministic over threads */
	vt_kmeans *c1 = make(k, 1, 3), *c2 = make(k, 2, 3);
	rc = vt_kmeans_run(c1, x, n, d, w, ll, NULL) | vt_kmeans_run(c2, x, n, d, w, ll, NULL);
	CHECK(rc == 0 && !memcmp(vt_kmeans_centroids(c1), vt_kmeans_centroids(c2), k * d * sizeof(float)),
	      "weighted k-means++: -j1 and -j2 give the same bytes");
	vt_kmeans_free(a);
	vt_kmeans_free(b);
	vt_kmeans_free(c1);
	vt_kmeans_free(c2);
	free(x);
	free(xr);
	free(w);
	free(ll);
}

static int cb_calls;
static int count_cb(void *user, int iter, double loss, double seconds)
{
	(void)user;
	(void)seconds;
	cb_calls++;
	return iter >= 3 && loss > 0; /* stop after three */
}

static void test_misc(void)
{
	size_t n = 400, d = 3;
	float *x = check_blobs(n, d, 8, 4.0, 1.0, 41, NULL);
	/* empty cluster: start with one centroid far away */
	float init[4 * 3];
	memcpy(init, x, 3 * d * sizeof *init);
	init[9] = init[10] = init[11] = 1e6f;
	vt_kmeans *km = make(4, 2, 1);
	vt_kmeans_set_initial(km, init, d);
	int rc = vt_kmeans_run(km, x, n, d, NULL, NULL, NULL);
	int ok = rc == 0;
	for (size_t j = 0; j < 4; j++)
		ok &= vt_kmeans_weights(km)[j] > 0;
	CHECK(ok, "an empty cluster is refilled by splitting the heaviest");
	/* initial centroids make the run flat whatever the mode */
	vt_kmeans_set_mode(km, VT_KMEANS_HIER);
	rc = vt_kmeans_run(km, x, n, d, NULL, NULL, NULL);
	CHECK(rc == 0 && !vt_kmeans_was_hierarchical(km),
	      "initial centroids: a hierarchical-mode run goes flat");
	vt_kmeans_set_initial(km, NULL, 0);
	rc = vt_kmeans_run(km, x, n, d, NULL, NULL, NULL);
	CHECK(rc == 0 && vt_kmeans_was_hierarchical(km),
	      "without them the same run goes hierarchical");
	vt_kmeans_set_mode(km, VT_KMEANS_AUTO);

	/* random init, and the callback can stop the run */
	vt_kmeans_set_init(km, VT_KMEANS_INIT_RANDOM);
	vt_kmeans_set_tol(km, 0);
	vt_kmeans_set_callback(km, count_cb, NULL);
	rc = vt_kmeans_run(km, x, n, d, NULL, NULL, NULL);
	CHECK(rc == VT_EINTR && cb_calls == 3, "the callback sees each iteration and can stop");
	vt_kmeans_set_callback(km, NULL, NULL);
	rc = vt_kmeans_run(km, x, n, d, NULL, NULL, NULL);
	CHECK(rc == 0 && vt_kmeans_iterations(km) == 25, "random init runs 25 iterations with tol 0");

	/* balance penalty evens out the sizes */
	{
		vt_kmeans *b0 = make(8, 2, 1), *b1 = make(8, 2, 1);
		float *xs = check_blobs(2000, 2, 3, 1.0, 1.0, 51, NULL);
		vt_kmeans_set_balance(b1, 0.2);   /* scale-free units */
		rc = vt_kmeans_run(b0, xs, 2000, 2, NULL, NULL, NULL) |
		     vt_kmeans_run(b1, xs, 2000, 2, NULL, NULL, NULL);
		vt_cluster_stats s0, s1;
		vt_cluster_stats_compute(vt_kmeans_weights(b0), 8, &s0);
		vt_cluster_stats_compute(vt_kmeans_weights(b1), 8, &s1);
		char name[128];
		snprintf(name, sizeof name, "balance lowers the size CV (%.3f -> %.3f)", s0.cv, s1.cv);
		CHECK(rc == 0 && s1.cv < s0.cv, "%s", name);
		vt_kmeans_free(b0);
		vt_kmeans_free(b1);
		free(xs);
	}

	/* errors */
	vt_kmeans *bad = NULL;
	CHECK(vt_kmeans_new(&bad, 0) == VT_EINVAL && bad == NULL, "k < 1 is VT_EINVAL");
	CHECK(vt_kmeans_run(km, x, 0, d, NULL, NULL, NULL) == VT_EINVAL, "n == 0 is VT_EINVAL");
	CHECK(vt_kmeans_centroids(km) == NULL, "no centroids after a failed run");
	float *dup = xmalloc(100 * d * sizeof *dup);
	for (size_t i = 0; i < 100; i++)
		memcpy(dup + i * d, x + (i % 5) * d, d * sizeof *dup);
	vt_kmeans *k6 = make(6, 2, 1);
	CHECK(vt_kmeans_run(k6, dup, 100, d, NULL, NULL, NULL) == VT_EINVAL,
	      "k > number of distinct points is VT_EINVAL");
	vt_kmeans_set_allow_duplicates(k6, 1);
	CHECK(vt_kmeans_run(k6, dup, 100, d, NULL, NULL, NULL) == 0,
	      "... and runs when duplicates are allowed");
	vt_kmeans *k5 = make(5, 2, 1);
	rc = vt_kmeans_run(k5, dup, 100, d, NULL, NULL, NULL);
	CHECK(rc == 0 && vt_kmeans_loss(k5) < 1e-6, "k == distinct points gives loss 0");
	x[7] = NAN;
	CHECK(vt_kmeans_run(km, x, n, d, NULL, NULL, NULL) == VT_EDATA, "NaN is VT_EDATA");
	x[7] = INFINITY;
	CHECK(vt_kmeans_run(km, x, n, d, NULL, NULL, NULL) == VT_EDATA, "Inf is VT_EDATA");
	x[7] = 0;
	double *w = xmalloc(n * sizeof *w);
	for (size_t i = 0; i < n; i++)
		w[i] = 1;
	w[5] = -1;
	CHECK(vt_kmeans_run(km, x, n, d, w, NULL, NULL) == VT_EDATA, "a negative weight is VT_EDATA");
	for (size_t i = 0; i < n; i++)
		w[i] = 0;
	CHECK(vt_kmeans_run(km, x, n, d, w, NULL, NULL) == VT_EINVAL, "total weight 0 is VT_EINVAL");
	CHECK(vt_kmeans_set_iters(km, -1) == VT_EINVAL && vt_kmeans_set_tol(km, -1) == VT_EINVAL &&
	          vt_kmeans_set_hier_k(km, 1) == VT_EINVAL && vt_kmeans_set_init(km, 7) == VT_EINVAL &&
	          vt_kmeans_set_balance(km, NAN) == VT_EINVAL &&
	          vt_kmeans_set_split_iters(km, 0) == VT_EINVAL &&
	          vt_kmeans_set_refine_iters(km, -1) == VT_EINVAL,
	      "setters reject values out of range");
	vt_kmeans_free(NULL);
	vt_kmeans_free(km);
	vt_kmeans_free(k6);
	vt_kmeans_free(k5);
	free(w);
	free(dup);
	free(x);
}

static void test_accum_stats(void)
{
	size_t n = 50, d = 3, k = 4;
	float *x = check_blobs(n, d, 4, 1.0, 1.0, 61, NULL);
	int32_t lab[50];
	double w[50], dist[50];
	for (size_t i = 0; i < n; i++) {
		lab[i] = (int32_t)(i % 3); /* centroid 3 stays empty */
		w[i] = 0.5 + (double)(i % 2);
		dist[i] = (double)i;
	}
	vt_accum *all, *p1, *p2;
	int rc = vt_accum_new(&all, k, d) | vt_accum_new(&p1, k, d) | vt_accum_new(&p2, k, d);
	rc |= vt_accum_add(all, x, n, w, NULL, lab, dist);
	rc |= vt_accum_add(p1, x, 20, w, NULL, lab, dist);
	rc |= vt_accum_add(p2, x + 20 * d, n - 20, w + 20, NULL, lab + 20, dist + 20);
	rc |= vt_accum_merge(p1, p2);
	int ok = rc == 0 && p1->rows == n && fabs(p1->total_loss - all->total_loss) < 1e-9;
	for (size_t i = 0; ok && i < k * d; i++)
		ok = fabs(p1->sum[i] - all->sum[i]) < 1e-9;
	CHECK(ok, "accumulators of two blocks merge into the whole");
	float old[12], out[12];
	for (size_t i = 0; i < 12; i++)
		old[i] = 7.0f;
	size_t ne = 0;
	vt_accum_centroids(all, old, out, &ne);
	double s0 = 0, w0 = 0;
	for (size_t i = 0; i < n; i += 3) {
		s0 += w[i] * x[i * d];
		w0 += w[i];
	}
	CHECK(ne == 1 && out[9] == 7.0f && fabs(out[0] - s0 / w0) < 1e-5,
	      "centroids are the weighted means; an empty one keeps its old place");
	int32_t badl[1] = {9};
	CHECK(vt_accum_add(all, x, 1, NULL, NULL, badl, NULL) == VT_EINVAL,
	      "a label out of range is VT_EINVAL");
	vt_accum *other;
	vt_accum_new(&other, k, d + 1);
	CHECK(vt_accum_merge(all, other) == VT_EDIM, "merging different shapes is VT_EDIM");
	vt_accum_reset(all);
	CHECK(all->rows == 0 && all->weight[0] == 0, "reset zeroes");
	vt_accum_free(all);
	vt_accum_free(p1);
	vt_accum_free(p2);
	vt_accum_free(other);
	vt_accum_free(NULL);
	free(x);

	double h[4] = {1, 3, 0, 4};
	vt_cluster_stats s;
	rc = vt_cluster_stats_compute(h, 4, &s);
	CHECK(rc == 0 && s.min == 0 && s.max == 4 && s.empty == 1 && s.mean == 2 &&
	          fabs(s.max_mean - 2) < 1e-12 && fabs(s.imbalance - 4 * 26.0 / 64) < 1e-12 &&
	          fabs(s.cv - sqrt((1 + 1 + 4 + 4) / 4.0) / 2) < 1e-12,
	      "cluster statistics");
	h[1] = -1;
	CHECK(vt_cluster_stats_compute(h, 4, &s) == VT_EDATA &&
	          vt_cluster_stats_compute(h, 0, &s) == VT_EINVAL,
	      "cluster statistics reject bad sizes");
}

/* The reference of issue 18's rule: `iters` Lloyd updates of C (k x d)
 * with every label by the definition (dd of nearest.h, ties to the lower
 * index), the sums as kmeans_lloyd.c makes them (each cluster's rows in row
 * order; later passes move the rows whose label changed, in row order) and
 * the update C_j = (float)(S_j (1 / W_j)).  Returns 0 when a cluster went
 * empty (the test then says nothing). */
static int ref_lloyd(const float *x, size_t n, size_t d, float *C, size_t k, int iters)
{
	int32_t *a = xmalloc(n * sizeof *a), *ap = xmalloc(n * sizeof *ap);
	double *S = xmalloc(k * d * sizeof *S), *W = xmalloc(k * sizeof *W);
	int ok = 1;
	for (int it = 0; it < iters && ok; it++) {
		for (size_t i = 0; i < n; i++) {
			double b = INFINITY;
			for (size_t j = 0; j < k; j++) {
				double v = vt_nearest_sqdist(x + i * d, C + j * d, d);
				if (v < b) {
					b = v;
					a[i] = (int32_t)j;
				}
			}
		}
		if (it == 0) {
			memset(S, 0, k * d * sizeof *S);
			memset(W, 0, k * sizeof *W);
			for (size_t i = 0; i < n; i++) {
				for (size_t e = 0; e < d; e++)
					S[a[i] * d + e] += x[i * d + e];
				W[a[i]] += 1.0;
			}
		} else {
			for (size_t i = 0; i < n; i++) {
				if (a[i] == ap[i])
					continue;
				for (size_t e = 0; e < d; e++) {
					S[ap[i] * d + e] -= x[i * d + e];
					S[a[i] * d + e] += x[i * d + e];
				}
				W[ap[i]] -= 1.0;
				W[a[i]] += 1.0;
			}
		}
		memcpy(ap, a, n * sizeof *a);
		for (size_t j = 0; j < k; j++) {
			if (!(W[j] > 0)) {
				ok = 0;
				break;
			}
			double inv = 1.0 / W[j];
			for (size_t e = 0; e < d; e++)
				C[j * d + e] = (float)(S[j * d + e] * inv);
		}
	}
	free(a), free(ap), free(S), free(W);
	return ok;
}

/* Every Lloyd assignment takes the exact label (issue 18): on rows whose
 * norms dwarf their distances (shifted far from the origin, so that the
 * float distances are mostly rounding and almost every row is near a tie),
 * on a mild shift and on centred rows, with Elkan, Yinyang and one-group
 * bounds, the centroids after a few updates equal the reference's to the
 * byte. */
static void test_exact_lloyd(void)
{
	const size_t n = 3000, d = 16, k = 12;
	const double shifts[3] = {0, 200, 3000};
	const size_t budgets[3] = {0, 3000 * 4 * 3, 1024}; /* G = k, 3, 1 */
	for (int si = 0; si < 3; si++) {
		float *x = check_blobs(n, d, k, 1.5, 1.0, 21 + (uint64_t)si, NULL);
		for (size_t i = 0; i < n * d; i++)
			x[i] += (float)shifts[si];
		float *ref = xmalloc(k * d * sizeof *ref);
		memcpy(ref, x, k * d * sizeof *ref); /* rows 0 .. k-1: one per blob */
		int iters = 6, ok = ref_lloyd(x, n, d, ref, k, iters);
		for (int bi = 0; bi < 3; bi++) {
			vt_kmeans *km = make(k, 2, 1);
			vt_kmeans_set_mode(km, VT_KMEANS_FLAT);
			vt_kmeans_set_initial(km, x, d);
			vt_kmeans_set_iters(km, iters);
			vt_kmeans_set_tol(km, 0);
			if (budgets[bi])
				vt_kmeans_set_bounds_bytes(km, budgets[bi]);
			int32_t *lab = xmalloc(n * sizeof *lab);
			int rc = vt_kmeans_run(km, x, n, d, NULL, NULL, lab);
			double rec = 0, near = 0, bref = 0;
			vt_kmeans_ties(km, &rec, &near, &bref);
			if (!ok) {
				check_skip("shift %g: a cluster of the reference went empty", shifts[si]);
			} else {
				CHECK(rc == 0 && !memcmp(vt_kmeans_centroids(km), ref, k * d * sizeof *ref),
				      "shift %g, %s bounds: %d exact Lloyd updates, the reference's bytes "
				      "(%.0f rows recomputed, %.0f near a tie, %.0f to brute force)",
				      shifts[si], bi == 0 ? "Elkan" : bi == 1 ? "3-group" : "1-group", iters,
				      rec, near, bref);
			}
			/* the final labels are the definition too */
			size_t bad = 0;
			const float *c = vt_kmeans_centroids(km);
			for (size_t i = 0; rc == 0 && i < n; i++) {
				double v = vt_nearest_sqdist(x + i * d, c + (size_t)lab[i] * d, d);
				for (size_t j = 0; j < k; j++) {
					double w = vt_nearest_sqdist(x + i * d, c + j * d, d);
					bad += w < v || (w == v && (int32_t)j < lab[i]);
				}
			}
			CHECK(rc == 0 && bad == 0, "shift %g: final labels by the definition", shifts[si]);
			if (si == 2)
				CHECK(near > n, "shift %g: the rows near a tie are counted (%.0f)", shifts[si],
				      near);
			free(lab);
			vt_kmeans_free(km);
		}
		free(ref);
		free(x);
	}
}

/* Spherical k-means, the reference (the inner-product metric): from the
 * unit rows C (k x d), iters times give each row the centroid of the
 * largest <x, c> in double (ties to the lower index), then set each
 * centroid to the direction of its members' sum.  lab (n) receives the
 * last labels.  Returns 0 when a cluster went empty. */
static int ref_spherical(const float *x, size_t n, size_t d, float *C, size_t k, int iters,
                         int32_t *lab)
{
	double *S = xmalloc(k * d * sizeof *S);
	int ok = 1;
	for (int it = 0; it < iters && ok; it++) {
		memset(S, 0, k * d * sizeof *S);
		for (size_t i = 0; i < n; i++) {
			double b = -INFINITY;
			for (size_t j = 0; j < k; j++) {
				double v = 0;
				for (size_t e = 0; e < d; e++)
					v += (double)x[i * d + e] * C[j * d + e];
				if (v > b) {
					b = v;
					lab[i] = (int32_t)j;
				}
			}
			for (size_t e = 0; e < d; e++)
				S[(size_t)lab[i] * d + e] += x[i * d + e];
		}
		for (size_t j = 0; j < k && ok; j++) {
			double s2 = 0;
			for (size_t e = 0; e < d; e++)
				s2 += S[j * d + e] * S[j * d + e];
			ok = s2 > 0;
			for (size_t e = 0; ok && e < d; e++)
				C[j * d + e] = (float)(S[j * d + e] / sqrt(s2));
		}
	}
	free(S);
	return ok;
}

/* The largest |norm - 1| over the k x d rows c. */
static double unit_error(const float *c, size_t k, size_t d)
{
	double worst = 0;
	for (size_t j = 0; j < k; j++) {
		double s = 0;
		for (size_t e = 0; e < d; e++)
			s += (double)c[j * d + e] * c[j * d + e];
		worst = fabs(sqrt(s) - 1) > worst ? fabs(sqrt(s) - 1) : worst;
	}
	return worst;
}

/* vt_kmeans_set_spherical: unit centroids after every update, the same
 * updates as the reference, labels of the largest inner product, weights
 * and hierarchical runs that stay on the sphere, and determinism. */
static void test_spherical(void)
{
	const size_t n = 3000, d = 16, k = 10;
	float *x = check_blobs(n, d, k, 4.0, 1.0, 31, NULL);
	for (size_t i = 0; i < n; i++) /* rows of many norms: <x, c> sees them */
		for (size_t e = 0; e < d; e++)
			x[i * d + e] *= 0.5f + (float)(i % 7) / 4;
	vt_kmeans *km = make(k, 2, 3);
	CHECK(vt_kmeans_spherical(km) == 0, "spherical: off by default");
	vt_kmeans_set_spherical(km, 1);
	CHECK(vt_kmeans_spherical(km) == 1, "spherical: the setting reads back");

	/* from the same start (rows 0..k-1, scaled to unit norm by the run),
	 * the reference's centroids and labels */
	const int iters = 5;
	float *ref = xmalloc(k * d * sizeof *ref);
	memcpy(ref, x, k * d * sizeof *ref);
	for (size_t j = 0; j < k; j++) {
		double s = 0;
		for (size_t e = 0; e < d; e++)
			s += (double)ref[j * d + e] * ref[j * d + e];
		for (size_t e = 0; e < d; e++)
			ref[j * d + e] = (float)(ref[j * d + e] / sqrt(s));
	}
	int32_t *rl = xmalloc(n * sizeof *rl), *lab = xmalloc(n * sizeof *lab);
	int ok = ref_spherical(x, n, d, ref, k, iters, rl);
	vt_kmeans_set_mode(km, VT_KMEANS_FLAT);
	vt_kmeans_set_initial(km, x, d);
	vt_kmeans_set_iters(km, iters);
	vt_kmeans_set_tol(km, 0);
	int rc = vt_kmeans_run(km, x, n, d, NULL, NULL, lab);
	const float *c = vt_kmeans_centroids(km);
	CHECK(rc == 0 && unit_error(c, k, d) < 1e-6, "spherical flat: unit centroids (%.3g off)",
	      rc == 0 ? unit_error(c, k, d) : -1.0);
	double worst = 0;
	for (size_t i = 0; rc == 0 && i < k * d; i++)
		worst = fabs((double)c[i] - ref[i]) > worst ? fabs((double)c[i] - ref[i]) : worst;
	if (!ok)
		check_skip("spherical: a cluster of the reference went empty");
	else
		CHECK(rc == 0 && worst < 1e-6, "spherical flat: %d updates give the reference's "
		      "centroids (%.3g off)", iters, worst);
	/* the final labels: the largest inner product with the centroids written */
	size_t bad = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		double best = -INFINITY;
		int32_t b = 0;
		for (size_t j = 0; j < k; j++) {
			double v = 0;
			for (size_t e = 0; e < d; e++)
				v += (double)x[i * d + e] * c[j * d + e];
			if (v > best) {
				best = v;
				b = (int32_t)j;
			}
		}
		bad += b != lab[i];
	}
	CHECK(rc == 0 && bad == 0, "spherical flat: final labels are argmax <x, c> (%zu differ)",
	      bad);
	/* the reported loss is the L2 one of the unit centroids */
	double bl = brute_loss(x, n, d, NULL, c, k);
	CHECK(rc == 0 && fabs(vt_kmeans_loss(km) - bl) <= 1e-6 * bl,
	      "spherical flat: the loss is ||x - c||^2 of the unit centroids");
	/* the inner products of the accumulated sums (vt_accum_dot) */
	vt_accum *a = NULL;
	double ip = 0;
	if (rc == 0 && vt_accum_new(&a, k, d) == 0 &&
	    vt_accum_add(a, x, n, NULL, NULL, lab, NULL) == 0) {
		for (size_t i = 0; i < n; i++)
			for (size_t e = 0; e < d; e++)
				ip += (double)x[i * d + e] * c[(size_t)lab[i] * d + e];
		CHECK(fabs(vt_accum_dot(a, c) - ip) <= 1e-9 * fabs(ip),
		      "vt_accum_dot: sum_i <x_i, c_a(i)> (%.10g, direct %.10g)", vt_accum_dot(a, c),
		      ip);
	} else {
		CHECK(0, "vt_accum_dot: accumulator made");
	}
	vt_accum_free(a);

	/* seeded (k-means++), weighted, hierarchical: still on the sphere, and
	 * one seed gives the same bytes on any number of threads */
	double *w = xmalloc(n * sizeof *w);
	for (size_t i = 0; i < n; i++)
		w[i] = 1 + (double)(i % 3);
	vt_kmeans *f1 = make(k, 1, 8), *f2 = make(k, 2, 8);
	vt_kmeans_set_spherical(f1, 1);
	vt_kmeans_set_spherical(f2, 1);
	rc = vt_kmeans_run(f1, x, n, d, w, NULL, NULL) | vt_kmeans_run(f2, x, n, d, w, NULL, NULL);
	CHECK(rc == 0 && unit_error(vt_kmeans_centroids(f1), k, d) < 1e-6 &&
	          !memcmp(vt_kmeans_centroids(f1), vt_kmeans_centroids(f2), k * d * sizeof(float)),
	      "spherical weighted k-means++: unit centroids, the same bytes on 1 and 2 threads");
	const size_t kh = 300;
	vt_kmeans *h1 = make(kh, 1, 8), *h2 = make(kh, 2, 8);
	vt_kmeans_set_spherical(h1, 1);
	vt_kmeans_set_spherical(h2, 1);
	vt_kmeans_set_mode(h1, VT_KMEANS_HIER);
	vt_kmeans_set_mode(h2, VT_KMEANS_HIER);
	rc = vt_kmeans_run(h1, x, n, d, NULL, NULL, NULL) | vt_kmeans_run(h2, x, n, d, NULL, NULL, NULL);
	CHECK(rc == 0 && vt_kmeans_was_hierarchical(h1) &&
	          unit_error(vt_kmeans_centroids(h1), kh, d) < 1e-6 &&
	          !memcmp(vt_kmeans_centroids(h1), vt_kmeans_centroids(h2), kh * d * sizeof(float)),
	      "spherical hierarchical k=%zu: unit centroids, the same bytes on 1 and 2 threads", kh);
	/* a plain run of the same settings is not on the sphere */
	vt_kmeans *p = make(k, 2, 8);
	rc = vt_kmeans_run(p, x, n, d, w, NULL, NULL);
	CHECK(rc == 0 && unit_error(vt_kmeans_centroids(p), k, d) > 0.1,
	      "plain k-means of the same rows: centroids off the sphere");

	/* a starting centroid of norm 0 has no direction: it becomes e_(j mod d);
	 * iters 0 writes the starting centroids as they are run */
	float *z = xmalloc(k * d * sizeof *z);
	memcpy(z, x, k * d * sizeof *z);
	memset(z + 2 * d, 0, d * sizeof *z);
	vt_kmeans *zk = make(k, 2, 1);
	vt_kmeans_set_spherical(zk, 1);
	vt_kmeans_set_initial(zk, z, d);
	vt_kmeans_set_iters(zk, 0);
	rc = vt_kmeans_run(zk, x, n, d, NULL, NULL, NULL);
	CHECK(rc == 0 && unit_error(vt_kmeans_centroids(zk), k, d) < 1e-6 &&
	          vt_kmeans_centroids(zk)[2 * d + 2] == 1.0f,
	      "spherical, 0 iterations: the starting centroids on the sphere, a zero one as e_j");

	vt_kmeans_free(zk);
	vt_kmeans_free(p);
	vt_kmeans_free(h1);
	vt_kmeans_free(h2);
	vt_kmeans_free(f1);
	vt_kmeans_free(f2);
	vt_kmeans_free(km);
	free(z);
	free(w);
	free(ref);
	free(rl);
	free(lab);
	free(x);
}

/* The k-means++ of the definition: every step computes every row's exact
 * min(D_i, w_i dd) for every candidate, no row skipped (the rows are all
 * used: n <= the seeding sample), drawing from r as vt_km_seed_pp does. */
static size_t ref_pick(const double *prefix, size_t m, double u)
{
	size_t lo = 0, hi = m - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (prefix[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void ref_seed_pp(const float *x, size_t n, size_t d, const double *w, size_t k,
                        vt_rng *r, float *C)
{
	size_t L = k > VT_KM_HIER_AUTO_K ? 1 : 2 + (size_t)log((double)k);
	L = L > 16 ? 16 : L;
	double *D = xmalloc(n * sizeof *D), *prefix = xmalloc(n * sizeof *prefix);
	double *nd = xmalloc(n * L * sizeof *nd);
	size_t *ci = xmalloc(L * sizeof *ci);
	double tot = 0;
	for (size_t i = 0; i < n; i++)
		prefix[i] = (tot += w ? w[i] : 1.0);
	size_t first = ref_pick(prefix, n, vt_rng_uniform(r) * tot);
	memcpy(C, x + first * d, d * sizeof *C);
	for (size_t i = 0; i < n; i++) {
		double wi = w ? w[i] : 1.0;
		double v = wi * vt_nearest_sqdist(x + i * d, C, d);
		D[i] = wi == 0 ? 0 : v < INFINITY ? v : INFINITY;
	}
	for (size_t c = 1; c < k; c++) {
		tot = 0;
		for (size_t i = 0; i < n; i++)
			prefix[i] = (tot += D[i]);
		if (!(tot > 0)) {
			vt_rng fr;
			vt_rng_init(&fr, vt_rng_u64(r), VT_KM_RNG_FALLBACK);
			for (size_t j = c; j < k; j++)
				memcpy(C + j * d, x + (size_t)vt_rng_below(&fr, n) * d, d * sizeof *C);
			break;
		}
		for (size_t t = 0; t < L; t++)
			ci[t] = ref_pick(prefix, n, vt_rng_uniform(r) * tot);
		size_t best = 0;
		double bestpot = INFINITY;
		/* the potential summed as vt_km_seed_pp sums it: in blocks of 1024
		 * rows, then the blocks in order */
		for (size_t t = 0; t < L; t++) {
			double s = 0, blk = 0;
			for (size_t i = 0; i < n; i++) {
				double wi = w ? w[i] : 1.0, v = D[i];
				if (wi == 0) {
					v = 0;
				} else {
					double wd = wi * vt_nearest_sqdist(x + i * d, x + ci[t] * d, d);
					v = wd < D[i] ? wd : D[i];
				}
				nd[i * L + t] = v;
				blk += v;
				if ((i + 1) % 1024 == 0 || i + 1 == n)
					s += blk, blk = 0;
			}
			if (s < bestpot)
				bestpot = s, best = t;
		}
		memcpy(C + c * d, x + ci[best] * d, d * sizeof *C);
		for (size_t i = 0; i < n; i++)
			D[i] = nd[i * L + best];
	}
	free(D), free(prefix), free(nd), free(ci);
}

/* vt_km_seed_pp skips rows by the triangle inequality and float bounds: its
 * centroids are the definition's to the byte, greedy (small k) and plain
 * (large k), weighted (zeros, a huge weight) or not, on shifted rows where
 * the float values are mostly rounding, with duplicate rows, threaded or
 * not. */
static void test_seed_reference(void)
{
	const struct { size_t n, d, k, blobs; double shift; int weighted, dup; } cs[] = {
		{1000, 16, 12, 12, 0, 0, 0},     {1024, 16, 40, 8, 200, 1, 0},
		{3000, 16, 300, 50, 0, 0, 0},    {3000, 16, 300, 50, 0, 1, 1},
		{4000, 24, 400, 20, 3000, 1, 0}, {2000, 8, 600, 600, 0, 0, 1},
		{1500, 33, 700, 30, 1e6, 0, 0},
	};
	vt_pool *pool = NULL;
	vt_pool_new(&pool, 2);
	for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
		size_t n = cs[ci].n, d = cs[ci].d, k = cs[ci].k;
		float *x = check_blobs(n, d, cs[ci].blobs, 4.0, 1.0, 40 + ci, NULL);
		for (size_t i = 0; i < n * d; i++)
			x[i] += (float)cs[ci].shift;
		if (cs[ci].dup)
			for (size_t i = 0; i < n / 3; i++)
				memcpy(x + (3 * i + 1) * d, x + 3 * i * d, d * sizeof *x);
		double *w = NULL;
		if (cs[ci].weighted) {
			w = xmalloc(n * sizeof *w);
			for (size_t i = 0; i < n; i++)
				w[i] = i % 7 == 0 ? 0 : i % 11 == 0 ? 1e12 : 0.5 + (double)(i % 5);
		}
		float *ref = xmalloc(k * d * sizeof *ref), *got = xmalloc(k * d * sizeof *got);
		vt_rng r;
		vt_rng_init(&r, 9 + ci, 3);
		ref_seed_pp(x, n, d, w, k, &r, ref);
		for (int threaded = 0; threaded < 2; threaded++) {
			struct vt_km_prob p;
			int rc = vt_km_prob_init(&p, NULL, x, w, n, d);
			vt_rng_init(&r, 9 + ci, 3);
			if (!rc)
				rc = vt_km_seed_pp(threaded ? pool : NULL, &p, k, &r, got);
			vt_km_prob_release(&p);
			CHECK(rc == 0 && !memcmp(got, ref, k * d * sizeof *got),
			      "k-means++ n=%zu d=%zu k=%zu shift %g%s%s%s: the definition's bytes", n, d, k,
			      cs[ci].shift, cs[ci].weighted ? ", weighted" : "",
			      cs[ci].dup ? ", duplicates" : "", threaded ? ", 2 threads" : "");
		}
		free(ref), free(got), free(w), free(x);
	}
	vt_pool_free(pool);
}

/* vt_sqdist_f_lower never exceeds the true squared distance (here the
 * exact dd less its own rounding bound), on values of every scale,
 * subnormals included; and it is -1 when the float sum overflowed. */
static void test_sqdist_lower(void)
{
	vt_rng r;
	vt_rng_init(&r, 5, 1);
	size_t bad = 0, tight = 0, cnt = 0, rbad = 0, rcnt = 0;
	const size_t dims[] = {1, 3, 8, 15, 16, 17, 64, 128, 200};
	const double scales[] = {1e-42, 1e-30, 1e-3, 1, 1e3, 1e15, 1e18};
	float x[200], c[200 * 4], f[4];
	for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
		size_t d = dims[di];
		for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++) {
			for (int rep = 0; rep < 200; rep++) {
				for (size_t t = 0; t < d; t++)
					x[t] = (float)(scales[si] * vt_rng_normal(&r));
				for (size_t t = 0; t < 4 * d; t++)
					c[t] = rep % 2 ? x[t % d] * (float)(1 + 1e-6 * vt_rng_normal(&r))
					               : (float)(scales[si] * vt_rng_normal(&r));
				vt_sqdists_f(x, c, d, 4, f);
				for (int j = 0; j < 4; j++) {
					double dd = vt_nearest_sqdist(x, c + j * d, d);
					double lo = vt_sqdist_f_lower(f[j], d);
					bad += lo > dd * (1 - (d + 8) * 0x1p-52);
					tight += lo >= 0.99 * dd || dd < 1e-60;
					cnt++;
					/* the early exit proves only what it claims, and it
					 * claims a value a little below the distance */
					double v = dd * (0.25 + 0.5 * (rep % 3));
					int reach = vt_sqdist_f_reaches(x, c + j * d, d, vt_sqdist_f_threshold(v, d));
					rbad += reach && dd * (1 + (d + 8) * 0x1p-52) < v;
					rcnt += reach;
				}
			}
		}
	}
	CHECK(bad == 0, "float distance bound below the exact one (%zu of %zu violate)", bad, cnt);
	CHECK(tight > cnt * 9 / 10, "and close to it (%zu of %zu within 1%%)", tight, cnt);
	CHECK(rbad == 0 && rcnt > cnt / 3,
	      "the early exit proves a distance only above it (%zu of %zu violate)", rbad, rcnt);
	float big[2] = {3e38f, -3e38f};
	vt_sqdists_f(big, big + 1, 1, 1, f);
	CHECK(vt_sqdist_f_lower(f[0], 1) == -1 && !vt_sqdist_f_reaches(big, big + 1, 1, 1.0f) &&
	          !vt_sqdist_f_reaches(big, big, 1, INFINITY),
	      "an overflowing float distance bounds nothing");
}

int main(void)
{
	test_sqdist_lower();
	test_seed_reference();
	test_planted();
	test_exact_lloyd();
	test_determinism(VT_KMEANS_FLAT, 20, 3000, 16, "flat k=20");
	test_determinism(VT_KMEANS_HIER, 1000, 5000, 8, "hierarchical k=1000");
	test_weights();
	test_misc();
	test_accum_stats();
	test_spherical();
	return check_done();
}
