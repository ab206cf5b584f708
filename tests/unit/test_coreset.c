/* Unit tests of lib/train/coreset: the loss decomposition against brute
 * force, weights, ids, the budget, determinism. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "train/coreset.h"
#include "train/rng.h"


static double rel(double a, double b)
{
	return fabs(a - b) / (fabs(b) > 0 ? fabs(b) : 1);
}

/* Two levels of grouping by labels: rows -> children -> groups.  Each
 * group's loss must equal the brute-force squared distance of its rows to
 * its point, and its weight their count, and its id their smallest id. */
static void test_two_levels(void)
{
	const size_t n = 5000, d = 12, k1 = 400, k2 = 37;
	float *x = check_blobs(n, d, 30, 20, 1, 7, NULL);
	uint64_t *ids = xmalloc(n * sizeof *ids);
	int32_t *lab1 = xmalloc(n * sizeof *lab1);
	vt_rng r;
	vt_rng_init(&r, 3, 2);
	for (size_t i = 0; i < n; i++) {
		ids[i] = 1000 + 3 * (uint64_t)i + vt_rng_below(&r, 3);
		lab1[i] = (int32_t)vt_rng_below(&r, k1);
	}
	float *cx = xmalloc(k1 * d * sizeof *cx);
	double *cw = xmalloc(k1 * sizeof *cw), *cl = xmalloc(k1 * sizeof *cl);
	uint64_t *cid = xmalloc(k1 * sizeof *cid);
	size_t m1;
	int rc = vt_coreset_from_labels(x, n, d, NULL, NULL, ids, lab1, k1, cx, cw, cl, cid, &m1);
	CHECK(rc == 0 && m1 <= k1 && m1 > k1 - 10, "level 1: %zu groups of %zu (rc %d)", m1, k1, rc);
	int sorted = 1;
	for (size_t p = 1; p < m1; p++)
		sorted &= cid[p - 1] < cid[p];
	CHECK(sorted, "level 1: points in id order");

	/* which child each row went to: by its label's smallest id */
	size_t *child = xmalloc(n * sizeof *child);
	uint64_t *labmin = xmalloc(k1 * sizeof *labmin);
	for (size_t j = 0; j < k1; j++)
		labmin[j] = UINT64_MAX;
	for (size_t i = 0; i < n; i++)
		if (ids[i] < labmin[lab1[i]])
			labmin[lab1[i]] = ids[i];
	for (size_t i = 0; i < n; i++) {
		size_t lo = 0, hi = m1;
		while (lo + 1 < hi) {
			size_t mid = (lo + hi) / 2;
			if (cid[mid] <= labmin[lab1[i]])
				lo = mid;
			else
				hi = mid;
		}
		child[i] = lo;
	}
	double maxrel = 0;
	for (size_t p = 0; p < m1; p++) {
		double bl = 0, bw = 0;
		for (size_t i = 0; i < n; i++)
			if (child[i] == p)
				bl += d2(x + i * d, cx + p * d, d), bw += 1;
		maxrel = fmax(maxrel, rel(cl[p], bl));
		if (bw != cw[p])
			maxrel = INFINITY;
	}
	CHECK(maxrel <= 1e-9, "level 1: losses and weights against brute force (max rel %.3g)",
	      maxrel);

	/* level 2: group the children */
	int32_t *lab2 = xmalloc(m1 * sizeof *lab2);
	for (size_t p = 0; p < m1; p++)
		lab2[p] = (int32_t)vt_rng_below(&r, k2);
	float *gx = xmalloc(k2 * d * sizeof *gx);
	double *gw = xmalloc(k2 * sizeof *gw), *gl = xmalloc(k2 * sizeof *gl);
	uint64_t *gid = xmalloc(k2 * sizeof *gid);
	size_t m2;
	rc = vt_coreset_from_labels(cx, m1, d, cw, cl, cid, lab2, k2, gx, gw, gl, gid, &m2);
	CHECK(rc == 0 && m2 == k2, "level 2: %zu groups (rc %d)", m2, rc);
	/* each group: its rows are those of its children; child p belongs to
	 * the group whose id is the smallest id among the children of its
	 * label */
	size_t *gof = xmalloc(m1 * sizeof *gof);
	for (size_t p = 0; p < m1; p++) {
		uint64_t gmin = UINT64_MAX;
		for (size_t q = 0; q < m1; q++)
			if (lab2[q] == lab2[p] && cid[q] < gmin)
				gmin = cid[q];
		gof[p] = m2;
		for (size_t g = 0; g < m2; g++)
			if (gid[g] == gmin)
				gof[p] = g;
	}
	double wrel = 0, lrel = 0, tw = 0;
	int idok = 1;
	for (size_t g = 0; g < m2; g++) {
		double bl = 0, bw = 0;
		uint64_t bid = UINT64_MAX;
		for (size_t i = 0; i < n; i++) {
			if (gof[child[i]] != g)
				continue;
			bl += d2(x + i * d, gx + g * d, d);
			bw += 1;
			if (ids[i] < bid)
				bid = ids[i];
		}
		wrel = fmax(wrel, rel(gw[g], bw));
		lrel = fmax(lrel, rel(gl[g], bl));
		idok &= bid == gid[g];
		tw += gw[g];
	}
	CHECK(lrel <= 1e-6, "level 2: sum(l_child + w_child |c_child - c|^2) = brute force over "
	      "the rows (max rel %.3g)", lrel);
	CHECK(wrel == 0 && tw == (double)n, "level 2: weights are the rows (total %.17g)", tw);
	CHECK(idok, "level 2: id = the smallest id of the rows");
	free(x), free(ids), free(lab1), free(cx), free(cw), free(cl), free(cid), free(child);
	free(labmin), free(lab2), free(gof), free(gx), free(gw), free(gl), free(gid);
}

static void test_reduce(void)
{
	const size_t n = 6000, d = 8, t1 = 600, t2 = 300;
	float *x = check_blobs(n, d, 40, 20, 1, 11, NULL);
	float *cx = xmalloc(t1 * d * sizeof *cx);
	double *cw = xmalloc(t1 * sizeof *cw), *cl = xmalloc(t1 * sizeof *cl);
	uint64_t *cid = xmalloc(t1 * sizeof *cid);
	vt_coreset_params par;
	vt_coreset_params_default(&par);
	par.seed = 5;
	par.threads = 1;
	size_t m1;
	int rc = vt_coreset_reduce(x, n, d, NULL, NULL, NULL, t1, &par, cx, cw, cl, cid, &m1);
	CHECK(rc == 0 && m1 <= t1 && m1 > t1 / 2, "reduce rows: %zu points for a target of %zu",
	      m1, t1);
	double W = 0, L = 0;
	for (size_t p = 0; p < m1; p++)
		W += cw[p], L += cl[p];
	CHECK(W == (double)n, "reduce rows: weights sum to the rows (%.17g)", W);
	CHECK(cid[0] == 0, "reduce rows: the smallest id is kept");
	/* the loss is that of the rows about their points, under some
	 * assignment: at least the loss of the nearest point */
	double best = 0;
	for (size_t i = 0; i < n; i++) {
		double b = INFINITY;
		for (size_t p = 0; p < m1; p++)
			b = fmin(b, d2(x + i * d, cx + p * d, d));
		best += b;
	}
	CHECK(L >= best * (1 - 1e-9) && L <= best * 1.5, "reduce rows: loss %.10g >= nearest %.10g",
	      L, best);

	/* a second level carries the loss: it only grows */
	float *gx = xmalloc(t2 * d * sizeof *gx);
	double *gw = xmalloc(t2 * sizeof *gw), *gl = xmalloc(t2 * sizeof *gl);
	uint64_t *gid = xmalloc(t2 * sizeof *gid);
	size_t m2;
	rc = vt_coreset_reduce(cx, m1, d, cw, cl, cid, t2, &par, gx, gw, gl, gid, &m2);
	double W2 = 0, L2 = 0;
	int sorted = 1;
	for (size_t p = 0; p < m2; p++) {
		W2 += gw[p], L2 += gl[p];
		if (p)
			sorted &= gid[p - 1] < gid[p];
	}
	CHECK(rc == 0 && m2 <= t2, "reduce points: %zu <= %zu", m2, t2);
	CHECK(W2 == W, "reduce points: weight kept (%.17g)", W2);
	CHECK(L2 >= L, "reduce points: loss carried (%.10g >= %.10g)", L2, L);
	CHECK(sorted && gid[0] == 0, "reduce points: sorted by id, smallest kept");

	/* threads do not change the result */
	float *hx = xmalloc(t2 * d * sizeof *hx);
	double *hw = xmalloc(t2 * sizeof *hw), *hl = xmalloc(t2 * sizeof *hl);
	uint64_t *hid = xmalloc(t2 * sizeof *hid);
	size_t m3;
	par.threads = 3;
	rc = vt_coreset_reduce(cx, m1, d, cw, cl, cid, t2, &par, hx, hw, hl, hid, &m3);
	CHECK(rc == 0 && m3 == m2 && !memcmp(hx, gx, m2 * d * sizeof *hx) &&
	      !memcmp(hw, gw, m2 * sizeof *hw) && !memcmp(hl, gl, m2 * sizeof *hl) &&
	      !memcmp(hid, gid, m2 * sizeof *hid), "reduce: 1 and 3 threads give the same bytes");

	/* under the target: copied, in id order */
	uint64_t ids[4] = {9, 2, 7, 5};
	double w[4] = {1, 2, 3, 4}, l[4] = {0.5, 0, 1, 2};
	float px[4 * 8];
	double pw[4], pl[4];
	uint64_t pid[4];
	size_t m;
	rc = vt_coreset_reduce(x, 4, d, w, l, ids, 4, &par, px, pw, pl, pid, &m);
	CHECK(rc == 0 && m == 4 && pid[0] == 2 && pid[3] == 9 && pw[0] == 2 && pl[3] == 0.5 &&
	      !memcmp(px, x + 1 * d, d * sizeof *px), "reduce: at most target points are copied in "
	      "id order");
	free(x), free(cx), free(cw), free(cl), free(cid), free(gx), free(gw), free(gl), free(gid);
	free(hx), free(hw), free(hl), free(hid);
}

static void test_errors(void)
{
	float x[6] = {0, 1, 2, 3, 4, 5}, cx[6];
	int32_t lab[3] = {0, 2, 1};
	double cw[3], cl[3], w[3] = {0, 0, 0}, neg[3] = {1, -1, 1};
	uint64_t cid[3];
	size_t m = 99;
	CHECK(vt_coreset_from_labels(x, 3, 2, NULL, NULL, NULL, lab, 2, cx, cw, cl, cid, &m) ==
	      VT_EINVAL && m == 0, "a label out of range is VT_EINVAL");
	CHECK(vt_coreset_reduce(x, 0, 2, NULL, NULL, NULL, 1, NULL, cx, cw, cl, cid, &m) ==
	      VT_EINVAL, "no points is VT_EINVAL");
	CHECK(vt_coreset_reduce(x, 3, 2, neg, NULL, NULL, 1, NULL, cx, cw, cl, cid, &m) ==
	      VT_EDATA, "a negative weight is VT_EDATA");
	int32_t one[3] = {1, 1, 1};
	int rc = vt_coreset_from_labels(x, 3, 2, w, NULL, NULL, one, 2, cx, cw, cl, cid, &m);
	CHECK(rc == 0 && m == 1 && cw[0] == 0 && cx[0] == 2 && cx[1] == 3 && cid[0] == 0,
	      "a group of weight 0 keeps the plain mean of its members");
}

int main(void)
{
	test_two_levels();
	test_reduce();
	test_errors();
	return check_done();
}
