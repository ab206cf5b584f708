/* Unit tests of lib/train/cindex (narrowed nearest-centroid search) and of
 * the narrowed refinement of hierarchical k-means. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "train/cindex.h"
#include "train/kernel.h"
#include "train/kmeans.h"
#include "train/pool.h"
#include "train/rng.h"


static void test_index(void)
{
	const size_t n = 20000, d = 16, k = 900;
	float *x = check_mixture(n, d, 300, 4.0, 1);
	/* centroids: rows of the data (as seeding would take them) */
	float *c = xmalloc(k * d * sizeof *c);
	for (size_t j = 0; j < k; j++)
		memcpy(c + j * d, x + (j * 13) * d, d * sizeof *c);
	vt_pool *p1 = check_pool(1), *p2 = check_pool(2);
	vt_cindex *ix = NULL;
	int rc = vt_cindex_new(&ix, p2, c, k, d, 0, 7);
	CHECK(rc == 0 && vt_cindex_groups(ix) == 30, "index of 900 centroids has 30 groups");

	int32_t *lb = xmalloc(n * sizeof *lb), *la = xmalloc(n * sizeof *la);
	int32_t *lc = xmalloc(n * sizeof *lc);
	float *db = xmalloc(n * sizeof *db), *da = xmalloc(n * sizeof *da);
	vt_assign(p2, x, n, d, c, k, NULL, NULL, lb, db, NULL, NULL);

	/* every group probed: the brute force, label for label */
	double ev = 0;
	rc = vt_cindex_assign(ix, p2, x, n, 30, 0, la, da, &ev);
	CHECK(rc == 0 && !memcmp(la, lb, n * sizeof *la), "all groups probed = brute force labels");
	CHECK(ev == (double)n * (30 + k), "distances counted: G + k per row (%.0f)", ev);

	/* few probes: mostly right, never better than the nearest */
	rc = vt_cindex_assign(ix, p2, x, n, 3, 0, la, da, &ev);
	size_t agree = 0, worse = 0;
	for (size_t i = 0; i < n; i++) {
		agree += la[i] == lb[i];
		worse += d2(x + i * d, c + (size_t)la[i] * d, d) <
		         d2(x + i * d, c + (size_t)lb[i] * d, d) * (1 - 1e-5);
	}
	CHECK(rc == 0 && agree > n * 9 / 10, "3 of 30 groups probed: %zu of %zu agree", agree, n);
	CHECK(worse == 0, "a narrowed label is never nearer than the nearest");
	CHECK(ev < (double)n * (30 + 0.3 * k), "3 probes compute far fewer distances (%.0f)", ev);

	/* thread count does not matter */
	rc = vt_cindex_assign(ix, p1, x, n, 3, 0, lc, NULL, NULL);
	CHECK(rc == 0 && !memcmp(la, lc, n * sizeof *la), "-j1 and -j2 give the same labels");
	vt_cindex *iy = NULL;
	rc = vt_cindex_new(&iy, p1, c, k, d, 0, 7);
	int32_t *ld = xmalloc(n * sizeof *ld);
	rc |= vt_cindex_assign(iy, NULL, x, n, 3, 0, ld, NULL, NULL);
	CHECK(rc == 0 && !memcmp(la, ld, n * sizeof *la), "an index built with 1 thread is the same");

	/* keep: a row never moves to a farther centroid than its current one */
	vt_rng r;
	vt_rng_init(&r, 5, 0);
	for (size_t i = 0; i < n; i++)
		lc[i] = (int32_t)vt_rng_below(&r, k);
	memcpy(ld, lc, n * sizeof *ld);
	rc = vt_cindex_assign(ix, p2, x, n, 1, 1, lc, da, NULL);
	size_t farther = 0;
	for (size_t i = 0; i < n; i++)
		farther += d2(x + i * d, c + (size_t)lc[i] * d, d) >
		           d2(x + i * d, c + (size_t)ld[i] * d, d) * (1 + 1e-5) + 1e-4;
	CHECK(rc == 0 && farther == 0, "keep: no row moves farther than its current centroid");
	size_t near_ok = 0;
	for (size_t i = 0; i < n; i++)
		near_ok += fabs(da[i] - d2(x + i * d, c + (size_t)lc[i] * d, d)) <=
		           1e-3 * (1 + da[i]);
	CHECK(near_ok == n, "distances written are those of the labels");

	/* a NaN row: a valid label all the same (memory-safe, meaningless) */
	{
		float keepx = x[5 * d];
		x[5 * d] = NAN;
		rc = vt_cindex_assign(ix, p2, x, 50, 3, 0, la, NULL, NULL);
		CHECK(rc == 0 && la[5] >= 0 && (size_t)la[5] < k, "a NaN row gets a label in range");
		x[5 * d] = keepx;
	}

	/* errors */
	CHECK(vt_cindex_assign(ix, p2, x, n, 0, 0, la, NULL, NULL) == VT_EINVAL, "nprobe 0 refused");
	CHECK(vt_cindex_assign(ix, p2, x, n, 31, 0, la, NULL, NULL) == VT_EINVAL,
	      "nprobe above the groups refused");
	lc[7] = (int32_t)k;
	CHECK(vt_cindex_assign(ix, p2, x, n, 2, 1, lc, NULL, NULL) == VT_EINVAL,
	      "keep with a label out of range refused");
	vt_cindex *bad = NULL;
	float nanc[4] = {0, NAN, 1, 2};
	CHECK(vt_cindex_new(&bad, NULL, nanc, 2, 2, 0, 1) == VT_EDATA && !bad,
	      "a NaN centroid refused");
	CHECK(vt_cindex_new(&bad, NULL, c, k, d, VT_CINDEX_MAX_GROUPS + 1, 1) == VT_EINVAL,
	      "too many groups refused");
	/* edge: one centroid, G = 1 */
	rc = vt_cindex_new(&bad, NULL, c, 1, d, 0, 1);
	rc |= vt_cindex_assign(bad, NULL, x, 10, 1, 0, la, NULL, NULL);
	int zero = 1;
	for (size_t i = 0; i < 10; i++)
		zero &= la[i] == 0;
	CHECK(rc == 0 && zero, "one centroid: every row gets label 0");
	vt_cindex_free(bad);
	vt_cindex_free(NULL);
	/* edge: many equal centroids (groups may stay empty) */
	{
		float *same = xmalloc(100 * d * sizeof *same);
		for (size_t j = 0; j < 100; j++)
			memcpy(same + j * d, c, d * sizeof *same);
		bad = NULL;
		rc = vt_cindex_new(&bad, p2, same, 100, d, 10, 1);
		rc |= vt_cindex_assign(bad, p2, x, 500, 3, 0, la, da, NULL);
		int fine = 1;
		for (size_t i = 0; i < 500; i++)
			fine &= la[i] >= 0 && la[i] < 100 &&
			        fabs(da[i] - d2(x + i * d, c, d)) <= 1e-3 * (1 + da[i]);
		CHECK(rc == 0 && fine, "equal centroids: valid labels and distances (largest group %zu of 100)",
		      vt_cindex_largest(bad));
		vt_cindex_free(bad);
		free(same);
	}

	vt_cindex_free(ix);
	vt_cindex_free(iy);
	vt_pool_free(p1);
	vt_pool_free(p2);
	free(x);
	free(c);
	free(la);
	free(lb);
	free(lc);
	free(ld);
	free(da);
	free(db);
}

static double prev_loss;
static int rises;
static int watch(void *user, int iter, double loss, double s)
{
	(void)user;
	(void)s;
	if (iter > 1 && loss > prev_loss * (1 + 1e-9))
		rises++;
	prev_loss = loss;
	return 0;
}

static void test_kmeans_narrowed(void)
{
	const size_t n = 60000, d = 16, k = 1024;
	float *x = check_mixture(n, d, 2000, 3.0, 9);
	vt_kmeans *ex = NULL, *na = NULL, *nb = NULL;
	vt_kmeans_new(&ex, k);
	vt_kmeans_new(&na, k);
	vt_kmeans_new(&nb, k);
	vt_kmeans *all[3] = {ex, na, nb};
	for (int q = 0; q < 3; q++) {
		vt_kmeans_set_mode(all[q], VT_KMEANS_HIER);
		vt_kmeans_set_seed(all[q], 3);
		vt_kmeans_set_threads(all[q], q == 2 ? 1 : 2);
	}
	vt_kmeans_set_probe(ex, 0);
	vt_kmeans_set_probe(na, 4);
	vt_kmeans_set_probe(nb, 4);
	vt_kmeans_set_callback(na, watch, NULL);
	int rc = vt_kmeans_run(ex, x, n, d, NULL, NULL, NULL);
	CHECK(rc == 0 && vt_kmeans_probe_used(ex) == 0, "probe 0: exact refinement");
	rc = vt_kmeans_run(na, x, n, d, NULL, NULL, NULL);
	CHECK(rc == 0 && vt_kmeans_probe_used(na) == 4, "probe 4: narrowed refinement");
	CHECK(rises == 0, "a narrowed refinement never raises the loss");
	double le = vt_kmeans_loss(ex), ln = vt_kmeans_loss(na);
	CHECK(ln <= le * 1.01, "narrowed loss within 1%% of exact (%.6g against %.6g)", ln, le);
	CHECK(vt_kmeans_work_fraction(na) < 0.5 * vt_kmeans_work_fraction(ex) ||
	          vt_kmeans_work_fraction(na) < 0.25,
	      "narrowed work fraction %.3f (exact %.3f)", vt_kmeans_work_fraction(na),
	      vt_kmeans_work_fraction(ex));
	rc = vt_kmeans_run(nb, x, n, d, NULL, NULL, NULL);
	CHECK(rc == 0 && !memcmp(vt_kmeans_centroids(na), vt_kmeans_centroids(nb),
	                         k * d * sizeof(float)),
	      "narrowed: -j1 and -j2 give the same centroids");
	const double *cw = vt_kmeans_weights(na);
	double sw = 0;
	for (size_t j = 0; j < k; j++)
		sw += cw[j];
	CHECK(sw == (double)n, "narrowed: weights add up to the rows");
	CHECK(vt_kmeans_set_probe(na, -2) == VT_EINVAL && vt_kmeans_set_probe(na, 257) == VT_EINVAL,
	      "probe out of range refused");
	vt_kmeans_free(ex);
	vt_kmeans_free(na);
	vt_kmeans_free(nb);
	free(x);
}

int main(void)
{
	test_index();
	test_kmeans_narrowed();
	return check_done();
}
