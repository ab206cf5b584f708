/* Unit tests of lib/train/cindex (narrowed nearest-centroid search), of
 * the grouping of centroids that k-means makes for it, and of the narrowed
 * refinement of hierarchical k-means.
 *
 * Linked with -Wl,--wrap=pthread_create (CMakeLists.txt), so that the
 * test counts the threads the library creates. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "train/cindex.h"
#include "train/kernel.h"
#include "train/kmeans.h"
#include "train/nearest.h"
#include "train/pool.h"
#include "train/rng.h"


/* every pthread_create of the library passes here */
static int threads_made;
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	__atomic_add_fetch(&threads_made, 1, __ATOMIC_SEQ_CST);
	return __real_pthread_create(t, a, fn, arg);
}

/* An index over c grouped as a narrowed refinement groups it: G groups
 * (0: ceil(sqrt k)) by vt_kmeans_group_centroids in the given pool.
 * Returns the status of the first step that failed. */
static int index_of(vt_cindex **ix, vt_pool *pool, const float *c, size_t k, size_t d,
                    size_t G, uint64_t seed)
{
	if (G == 0)
		G = vt_cindex_groups_for(k, 1);
	int32_t *grp = xmalloc(k * sizeof *grp);
	int rc = vt_kmeans_group_centroids(pool, c, k, d, G, seed, grp);
	if (!rc)
		rc = vt_cindex_new(ix, c, k, d, grp, G);
	free(grp);
	return rc;
}

static vt_pool *pool_of(int t)
{
	vt_pool *p = NULL;
	if (vt_pool_new(&p, t)) {
		printf("Bail out! vt_pool_new\n");
		exit(1);
	}
	return p;
}

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
	int rc = index_of(&ix, p2, c, k, d, 0, 7);
	CHECK(rc == 0 && vt_cindex_groups(ix) == 30, "index of 900 centroids has 30 groups");

	int32_t *lb = xmalloc(n * sizeof *lb), *la = xmalloc(n * sizeof *la);
	int32_t *lc = xmalloc(n * sizeof *lc);
	float *db = xmalloc(n * sizeof *db), *da = xmalloc(n * sizeof *da);
	vt_nearest_brute(p2, x, n, d, c, k, 1, lb, NULL);

	/* every group probed: the exact reference, label for label */
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
	rc = index_of(&iy, p1, c, k, d, 0, 7);
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
	int32_t g2[2] = {0, 1};
	CHECK(vt_cindex_new(&bad, nanc, 2, 2, g2, 2) == VT_EDATA && !bad,
	      "a NaN centroid refused");
	CHECK(vt_kmeans_group_centroids(NULL, nanc, 2, 2, 1, 1, g2) == VT_EDATA,
	      "a NaN centroid refused by the grouping");
	{
		int32_t *g0 = xmalloc(k * sizeof *g0);
		memset(g0, 0, k * sizeof *g0);
		CHECK(vt_cindex_new(&bad, c, k, d, g0, VT_CINDEX_MAX_GROUPS + 1) == VT_EINVAL && !bad,
		      "too many groups refused");
		CHECK(vt_cindex_new(&bad, c, k, d, g0, 0) == VT_EINVAL && !bad, "0 groups refused");
		CHECK(vt_cindex_new(&bad, c, k, d, NULL, 1) == VT_EINVAL && !bad,
		      "no grouping refused");
		g0[17] = 3;
		CHECK(vt_cindex_new(&bad, c, k, d, g0, 3) == VT_EINVAL && !bad,
		      "a group label out of range refused");
		g0[17] = -1;
		CHECK(vt_cindex_new(&bad, c, k, d, g0, 3) == VT_EINVAL && !bad,
		      "a negative group label refused");
		CHECK(vt_kmeans_group_centroids(p2, c, k, d, k + 1, 1, g0) == VT_EINVAL &&
		          vt_kmeans_group_centroids(p2, c, k, d, 0, 1, g0) == VT_EINVAL,
		      "grouping: more groups than centroids, or none, refused");
		free(g0);
	}
	/* edge: one centroid, G = 1 */
	rc = index_of(&bad, NULL, c, 1, d, 0, 1);
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
		rc = index_of(&bad, p2, same, 100, d, 10, 1);
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

/* The grouping: what k-means makes, and what the index does with the
 * grouping it is given. */
static void test_grouping(void)
{
	const size_t n = 3000, d = 8, k = 400, G = 20;
	float *x = check_mixture(n, d, 100, 4.0, 2);
	float *c = xmalloc(k * d * sizeof *c);
	for (size_t j = 0; j < k; j++)
		memcpy(c + j * d, x + (j * 7) * d, d * sizeof *c);
	vt_pool *p1 = pool_of(1), *p2 = pool_of(2);
	int32_t *ga = xmalloc(k * sizeof *ga), *gb = xmalloc(k * sizeof *gb);
	int32_t *gc = xmalloc(k * sizeof *gc), *gk = xmalloc(k * sizeof *gk);
	int rc = vt_kmeans_group_centroids(p2, c, k, d, G, 11, ga);
	rc |= vt_kmeans_group_centroids(p1, c, k, d, G, 11, gb);
	rc |= vt_kmeans_group_centroids(NULL, c, k, d, G, 11, gc);
	CHECK(rc == 0 && !memcmp(ga, gb, k * sizeof *ga) && !memcmp(ga, gc, k * sizeof *ga),
	      "grouping: 2 threads, 1 thread and no pool agree");
	size_t used = 0;
	int inrange = 1;
	for (size_t j = 0; j < k; j++)
		inrange &= ga[j] >= 0 && (size_t)ga[j] < G;
	for (size_t g = 0; g < G; g++) {
		int any = 0;
		for (size_t j = 0; j < k && !any; j++)
			any = (size_t)ga[j] == g;
		used += any;
	}
	CHECK(inrange && used > G / 2, "grouping: labels in range, %zu of %zu groups used", used, G);
	/* the same as a flat vt_kmeans run with the documented settings */
	vt_kmeans *km = NULL;
	vt_kmeans_new(&km, G);
	vt_kmeans_set_mode(km, VT_KMEANS_FLAT);
	vt_kmeans_set_iters(km, 10);
	vt_kmeans_set_seed(km, 11);
	vt_kmeans_set_threads(km, 2);
	vt_kmeans_set_allow_duplicates(km, 1);
	rc = vt_kmeans_run(km, c, k, d, NULL, NULL, gk);
	CHECK(rc == 0 && !memcmp(ga, gk, k * sizeof *ga),
	      "grouping = a flat k-means of 10 iterations over the centroids");
	vt_kmeans_free(km);
	rc = vt_kmeans_group_centroids(p2, c, k, d, G, 12, gb);
	CHECK(rc == 0 && memcmp(ga, gb, k * sizeof *ga), "grouping: another seed, other groups");
	rc = vt_kmeans_group_centroids(p2, c, k, d, 1, 11, gb);
	int zero = 1;
	for (size_t j = 0; j < k; j++)
		zero &= gb[j] == 0;
	CHECK(rc == 0 && zero, "grouping: 1 group holds all");
	rc = vt_kmeans_group_centroids(p2, c, k, d, k, 11, gb);
	int ident = 1;
	for (size_t j = 0; j < k; j++)
		ident &= gb[j] == (int32_t)j;
	CHECK(rc == 0 && ident, "grouping: k groups, one centroid each");

	/* the index uses the grouping it is given: centroid k-1 alone in group
	 * 1, the others in group 0; rows at c_{k-1} probe group 1 only (its
	 * centre is c_{k-1}), so each costs G + 1 = 3 distances */
	for (size_t j = 0; j < k; j++)
		gb[j] = j + 1 == k;
	vt_cindex *ix = NULL;
	rc = vt_cindex_new(&ix, c, k, d, gb, 2);
	CHECK(rc == 0 && vt_cindex_groups(ix) == 2 && vt_cindex_largest(ix) == k - 1,
	      "a given grouping: 2 groups, the largest of k - 1 (%zu)", ix ? vt_cindex_largest(ix) : 0);
	const size_t m = 300;
	float *xr = xmalloc(m * d * sizeof *xr);
	for (size_t i = 0; i < m; i++)
		memcpy(xr + i * d, c + (k - 1) * d, d * sizeof *xr);
	int32_t *la = xmalloc(m * sizeof *la);
	double ev = 0;
	rc = vt_cindex_assign(ix, p2, xr, m, 1, 0, la, NULL, &ev);
	int all = 1;
	for (size_t i = 0; i < m; i++)
		all &= la[i] == (int32_t)(k - 1);
	CHECK(rc == 0 && all && ev == 3.0 * (double)m,
	      "a given grouping is the one probed (%.0f distances for %zu rows)", ev, m);
	vt_cindex_free(ix);
	/* the index built by k-means's grouping spends more on these rows */
	ix = NULL;
	rc = vt_cindex_new(&ix, c, k, d, ga, G);
	rc |= vt_cindex_assign(ix, p2, xr, m, 1, 0, la, NULL, &ev);
	CHECK(rc == 0 && ev > (double)m * (G + 1) && ev < (double)m * (G + k),
	      "k-means's grouping: G + the probed group's size per row (%.0f)", ev);
	vt_cindex_free(ix);

	vt_pool_free(p1);
	vt_pool_free(p2);
	free(x);
	free(c);
	free(xr);
	free(la);
	free(ga);
	free(gb);
	free(gc);
	free(gk);
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
	int made = threads_made;
	rc = vt_kmeans_run(na, x, n, d, NULL, NULL, NULL);
	made = threads_made - made;
	CHECK(rc == 0 && vt_kmeans_probe_used(na) == 4, "probe 4: narrowed refinement");
	CHECK(made == 1,
	      "a narrowed run of 2 threads and %d passes creates 1 thread, its pool's worker (%d)",
	      vt_kmeans_iterations(na) + 1, made);
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

/* Issue 18's rule in the index: on rows and centroids whose norms dwarf
 * their distances (shifted far from the origin, so that the float
 * distances are mostly rounding), the labels are the definition: the P
 * groups of least (dd to the centre, group), then the member of least
 * (dd, index) among theirs (the centres as the index makes them: the mean
 * of the members in double, in id order, rounded to float). */
static void test_exact(void)
{
	const size_t n = 3000, d = 12, k = 200, G = 20, P = 3;
	for (int shifted = 0; shifted < 2; shifted++) {
		float *x = check_mixture(n, d, 60, 2.0, 4);
		float *c = xmalloc(k * d * sizeof *c), *m = xmalloc(G * d * sizeof *m);
		for (size_t j = 0; j < k; j++)
			memcpy(c + j * d, x + (j * 7) * d, d * sizeof *c);
		for (size_t i = 0; shifted && i < n * d; i++)
			x[i] += 2000.0f;
		for (size_t i = 0; shifted && i < k * d; i++)
			c[i] += 2000.0f;
		int32_t *grp = xmalloc(k * sizeof *grp), *la = xmalloc(n * sizeof *la);
		for (size_t j = 0; j < k; j++)
			grp[j] = (int32_t)((j * 13) % G);
		for (size_t g = 0; g < G; g++) {
			double s[64] = {0}, cnt = 0;
			for (size_t j = 0; j < k; j++)
				if ((size_t)grp[j] == g) {
					for (size_t e = 0; e < d; e++)
						s[e] += c[j * d + e];
					cnt++;
				}
			for (size_t e = 0; e < d; e++)
				m[g * d + e] = (float)(s[e] / cnt);
		}
		vt_cindex *ix = NULL;
		vt_pool *p2 = pool_of(2);
		int rc = vt_cindex_new(&ix, c, k, d, grp, G);
		rc |= vt_cindex_assign(ix, p2, x, n, P, 0, la, NULL, NULL);
		size_t bad = 0;
		for (size_t i = 0; i < n; i++) {
			const float *xr = x + i * d;
			int32_t top[3] = {-1, -1, -1};
			double tv[3] = {INFINITY, INFINITY, INFINITY};
			for (size_t g = 0; g < G; g++) {
				double v = vt_nearest_sqdist(xr, m + g * d, d);
				size_t q = 3;
				while (q > 0 && v < tv[q - 1])
					q--;
				if (q == 3)
					continue;
				for (size_t u = 2; u > q; u--)
					tv[u] = tv[u - 1], top[u] = top[u - 1];
				tv[q] = v, top[q] = (int32_t)g;
			}
			int32_t b = -1;
			double bd = INFINITY;
			for (size_t j = 0; j < k; j++) {
				if (grp[j] != top[0] && grp[j] != top[1] && grp[j] != top[2])
					continue;
				double v = vt_nearest_sqdist(xr, c + j * d, d);
				if (b < 0 || v < bd)
					bd = v, b = (int32_t)j;
			}
			bad += la[i] != b;
		}
		CHECK(rc == 0 && bad == 0, "%s rows, %zu of %zu groups probed: the labels of the "
		      "definition (%zu differ)", shifted ? "shifted" : "centred", P, G, bad);
		vt_cindex_free(ix);
		vt_pool_free(p2);
		free(x), free(c), free(m), free(grp), free(la);
	}
}

int main(void)
{
	test_exact();
	test_index();
	test_grouping();
	test_kmeans_narrowed();
	return check_done();
}
