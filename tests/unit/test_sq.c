/* Unit tests of lib/train/sq: each mode against brute force, merges of
 * shards against the whole, the partial form, and the KLL rank error. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "train/rng.h"
#include "train/sq.h"
#include "train/sqcode.h"


/* n x d rows: dimension j is N(j, 1 + j) scaled, dimension 1 skewed
 * (exponential), and some exact zeros of both signs. */
static float *data(size_t n, size_t d, uint64_t seed)
{
	vt_rng r;
	vt_rng_init(&r, seed, 7);
	float *x = xmalloc(n * d * sizeof *x);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < d; j++) {
			double v = j == 1 ? -log(1 - vt_rng_uniform(&r)) * 3
			                  : (double)j * 10 + (1 + j) * vt_rng_normal(&r);
			if (vt_rng_below(&r, 50) == 0)
				v = vt_rng_below(&r, 2) ? 0.0 : -0.0;
			x[i * d + j] = (float)v;
		}
	return x;
}

static vt_sq *make(int mode, size_t d, const float *x, size_t n, unsigned k)
{
	vt_sq *s;
	if (vt_sq_new(&s, mode, d, k, 42) < 0) {
		printf("Bail out! vt_sq_new\n");
		exit(1);
	}
	if (n && vt_sq_add(s, x, n) < 0) {
		printf("Bail out! vt_sq_add\n");
		exit(1);
	}
	return s;
}

/* The partial form of s (*rows rows). */
static double *partial(const vt_sq *s, size_t *rows)
{
	*rows = vt_sq_partial_rows(s);
	double *p = xmalloc(*rows * vt_sq_dim(s) * sizeof *p);
	if (vt_sq_partial_write(s, p) < 0) {
		printf("Bail out! partial_write\n");
		exit(1);
	}
	return p;
}

/* Whether the partial forms of a and b are the same bytes. */
static int same_partial(const vt_sq *a, const vt_sq *b)
{
	size_t ra, rb;
	double *pa = partial(a, &ra), *pb = partial(b, &rb);
	int same = ra == rb && memcmp(pa, pb, ra * vt_sq_dim(a) * sizeof *pa) == 0;
	free(pa), free(pb);
	return same;
}

/* Merge the shards [cut[i], cut[i+1]) of x, given in the order ord. */
static vt_sq *merged(int mode, size_t d, const float *x, const size_t *cut, size_t nshards,
                     const size_t *ord, unsigned k)
{
	vt_sq **p = xmalloc(nshards * sizeof *p), *m;
	for (size_t i = 0; i < nshards; i++) {
		size_t a = cut[ord[i]], b = cut[ord[i] + 1];
		p[i] = make(mode, d, x + a * d, b - a, k);
	}
	m = make(mode, d, NULL, 0, k);
	int rc = vt_sq_merge(m, (const vt_sq *const *)p, nshards);
	if (rc < 0) {
		printf("Bail out! merge %d\n", rc);
		exit(1);
	}
	for (size_t i = 0; i < nshards; i++)
		vt_sq_free(p[i]);
	free(p);
	return m;
}

static void test_minmax(void)
{
	const size_t n = 3001, d = 5;
	float *x = data(n, d, 1);
	vt_sq *s = make(VT_SQ_DIM, d, x, n, 0), *g = make(VT_SQ_GLOBAL, d, x, n, 0);
	double lo[5], hi[5], glo[5], ghi[5];
	CHECK(vt_sq_bounds(s, 0, lo, hi) == 0 && vt_sq_bounds(g, 0, glo, ghi) == 0, "bounds");
	int ok = 1, gok = 1;
	double gmn = INFINITY, gmx = -INFINITY;
	for (size_t j = 0; j < d; j++) {
		double mn = INFINITY, mx = -INFINITY;
		for (size_t i = 0; i < n; i++)
			mn = fmin(mn, x[i * d + j]), mx = fmax(mx, x[i * d + j]);
		ok &= lo[j] == mn && hi[j] == mx;
		gmn = fmin(gmn, mn), gmx = fmax(gmx, mx);
	}
	for (size_t j = 0; j < d; j++)
		gok &= glo[j] == gmn && ghi[j] == gmx;
	CHECK(ok, "dim: per-dimension min and max equal brute force");
	CHECK(gok, "global: one min and max over all values, in every column");
	CHECK(vt_sq_count(s) == n, "count %llu", (unsigned long long)vt_sq_count(s));

	size_t cut[] = {0, 17, 1000, 1001, 2500, n}, ord[] = {0, 1, 2, 3, 4}, rev[] = {4, 2, 0, 3, 1};
	for (int mode = VT_SQ_GLOBAL; mode <= VT_SQ_DIM; mode++) {
		vt_sq *w = mode == VT_SQ_DIM ? s : g;
		vt_sq *a = merged(mode, d, x, cut, 5, ord, 0), *b = merged(mode, d, x, cut, 5, rev, 0);
		CHECK(same_partial(a, w) && same_partial(b, w),
		      "%s: merged shards, in any order, equal the whole (bytes)", vt_sq_mode_name(mode));
		vt_sq_free(a), vt_sq_free(b);
	}
	/* -0 and +0 merge to the same bytes whatever the order */
	float z[2] = {0.0f, -0.0f}, z2[2] = {-0.0f, 0.0f};
	vt_sq *za = make(VT_SQ_DIM, 1, z, 2, 0), *zb = make(VT_SQ_DIM, 1, z2, 2, 0);
	CHECK(same_partial(za, zb), "-0 and +0: min -0, max +0 in any order");
	vt_sq_free(za), vt_sq_free(zb);
	/* empty: no bounds, but an identity for merging */
	vt_sq *e = make(VT_SQ_DIM, d, NULL, 0, 0), *parts[] = {e, s};
	CHECK(vt_sq_bounds(e, 0, lo, hi) == VT_EDATA, "empty: VT_EDATA");
	vt_sq *m = make(VT_SQ_DIM, d, NULL, 0, 0);
	vt_sq_merge(m, (const vt_sq *const *)parts, 2);
	CHECK(same_partial(m, s), "an empty shard merges as nothing");
	vt_sq_free(m), vt_sq_free(e), vt_sq_free(s), vt_sq_free(g);
	free(x);
}

static void test_meanstd(void)
{
	const size_t n = 4000, d = 4;
	float *x = data(n, d, 2);
	vt_sq *s = make(VT_SQ_MEANSTD, d, x, n, 0);
	double lo[4], hi[4];
	CHECK(vt_sq_bounds(s, 2.5, lo, hi) == 0, "bounds");
	double worst = 0;
	for (size_t j = 0; j < d; j++) {
		/* brute force: two passes in long double */
		long double m = 0, v = 0;
		for (size_t i = 0; i < n; i++)
			m += x[i * d + j];
		m /= n;
		for (size_t i = 0; i < n; i++)
			v += (x[i * d + j] - m) * (x[i * d + j] - m);
		double sd = sqrtl(v / n), rl = (double)m - 2.5 * sd, rh = (double)m + 2.5 * sd;
		double e = fmax(fabs(lo[j] - rl), fabs(hi[j] - rh)) / (fabs((double)m) + sd);
		worst = fmax(worst, e);
	}
	CHECK(worst < 1e-14, "mean -/+ 2.5 std equals a two-pass brute force (rel. error %.2g)",
	      worst);
	/* exact: integers whose variance is known */
	float y[6] = {1e7f, 1e7f + 1, 1e7f + 2, 1e7f, 1e7f + 1, 1e7f + 2}; /* d = 1 */
	vt_sq *t = make(VT_SQ_MEANSTD, 1, y, 6, 0);
	vt_sq_bounds(t, 1, lo, hi);
	double sd = sqrt(2.0 / 3.0);
	CHECK(lo[0] == 1e7 + 1 - sd && hi[0] == 1e7 + 1 + sd,
	      "no cancellation: mean 1e7+1, std sqrt(2/3) (got %.17g %.17g)", lo[0], hi[0]);
	vt_sq_free(t);

	size_t cut[] = {0, 1, 999, 2000, 3999, n}, o1[] = {0, 1, 2, 3, 4}, o2[] = {3, 4, 1, 0, 2};
	vt_sq *a = merged(VT_SQ_MEANSTD, d, x, cut, 5, o1, 0),
	      *b = merged(VT_SQ_MEANSTD, d, x, cut, 5, o2, 0);
	CHECK(same_partial(a, s) && same_partial(b, s),
	      "meanstd: merged shards, in any order, equal the whole (bytes)");
	/* a merge of merges (another grouping) too */
	vt_sq *ab[] = {a, b}, *m2 = make(VT_SQ_MEANSTD, d, NULL, 0, 0),
	      *ss = make(VT_SQ_MEANSTD, d, NULL, 0, 0);
	vt_sq_add(ss, x, n);
	vt_sq_add(ss, x, n);
	vt_sq_merge(m2, (const vt_sq *const *)ab, 2);
	CHECK(same_partial(m2, ss), "a merge of merges equals the rows added twice");
	vt_sq_free(a), vt_sq_free(b), vt_sq_free(m2), vt_sq_free(ss);

	/* extreme values stay exact: sums of huge and tiny floats */
	float big[4] = {3e38f, -3e38f, 1e-45f, 1.5f};
	vt_sq *h1 = make(VT_SQ_MEANSTD, 1, big, 4, 0), *h2 = make(VT_SQ_MEANSTD, 1, NULL, 0, 0);
	for (int i = 3; i >= 0; i--)
		vt_sq_add(h2, big + i, 1);
	size_t r;
	double *p = partial(h1, &r);
	CHECK(same_partial(h1, h2) && p[1] == 1.5 + 1e-45f, "3e38 - 3e38 + 1e-45 + 1.5 is exact "
	      "in any order (sum %.17g)", p[1]);
	free(p);
	vt_sq_free(h1), vt_sq_free(h2), vt_sq_free(s);
	free(x);
}

/* The rank of v among the n values of column j of x, as a fraction:
 * [below, below_or_equal] / n. */
static void rank_of(const float *x, size_t n, size_t d, size_t j, double v, double *lo,
                    double *hi)
{
	size_t b = 0, e = 0;
	for (size_t i = 0; i < n; i++) {
		b += x[i * d + j] < v;
		e += x[i * d + j] <= v;
	}
	*lo = (double)b / n, *hi = (double)e / n;
}

/* Worst |rank(Q(p)) - p| over p = 0, 0.001, ..., 1 and all dimensions. */
static double rank_error(const vt_sq *s, const float *x, size_t n, size_t d)
{
	double worst = 0, *q = xmalloc(d * sizeof *q);
	for (int t = 0; t <= 1000; t++) {
		double p = t / 1000.0;
		vt_sq_quantile(s, p, q);
		for (size_t j = 0; j < d; j++) {
			double lo, hi;
			rank_of(x, n, d, j, q[j], &lo, &hi);
			double e = p < lo ? lo - p : p > hi ? p - hi : 0;
			worst = fmax(worst, e);
		}
	}
	free(q);
	return worst;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

static void test_quantile(void)
{
	/* few values: the sketch holds them all and is exact */
	const size_t n0 = 150, d = 3; /* < k */
	float *x = data(n0, d, 3), *col = xmalloc(n0 * sizeof *col);
	vt_sq *s = make(VT_SQ_QUANTILE, d, x, n0, 200);
	double lo[3], hi[3];
	CHECK(vt_sq_bounds(s, 0.013, lo, hi) == 0, "bounds");
	int ok = 1;
	for (size_t j = 0; j < d; j++) {
		for (size_t i = 0; i < n0; i++)
			col[i] = x[i * d + j];
		qsort(col, n0, sizeof *col, cmp_float);
		/* the smallest value whose rank reaches q n: index ceil(q n) - 1 */
		ok &= lo[j] == col[(size_t)ceil(0.013 * n0) - 1] &&
		      hi[j] == col[(size_t)ceil(0.987 * n0) - 1];
	}
	CHECK(ok, "quantile: below capacity, Q(q) and Q(1-q) equal the sorted values");
	vt_sq_free(s);
	free(x), free(col);

	/* many values: the rank error, alone and merged */
	const size_t n = 200000;
	x = data(n, d, 4);
	s = make(VT_SQ_QUANTILE, d, x, n, 200);
	double e1 = rank_error(s, x, n, d);
	size_t cut[11], ord[10], rev[10];
	for (size_t i = 0; i <= 10; i++)
		cut[i] = n * i * i / 100; /* shards of unequal sizes */
	for (size_t i = 0; i < 10; i++)
		ord[i] = i, rev[i] = (i * 7) % 10;
	vt_sq *a = merged(VT_SQ_QUANTILE, d, x, cut, 10, ord, 200),
	      *b = merged(VT_SQ_QUANTILE, d, x, cut, 10, rev, 200);
	double e2 = rank_error(a, x, n, d);
	size_t r = vt_sq_partial_rows(s);
	fprintf(stderr, "test_sq: KLL k=200, n=%zu, d=%zu: rank error %.4f alone, %.4f for 10 "
	        "merged shards; %zu items retained\n", n, d, e1, e2, r - 5);
	printf("# KLL k=200 rank error: %.4f alone, %.4f merged (n=%zu)\n", e1, e2, n);
	CHECK(e1 < 0.0165 && e2 < 0.0165, "rank error within the stated 1.65%% (%.4f, %.4f)", e1, e2);
	CHECK(same_partial(a, b), "quantile: the merge does not depend on the order of the shards");
	CHECK(vt_sq_count(a) == n, "merged count %llu", (unsigned long long)vt_sq_count(a));
	/* k = 1000 is about five times tighter */
	vt_sq *s5 = make(VT_SQ_QUANTILE, d, x, n, 1000);
	double e5 = rank_error(s5, x, n, d);
	printf("# KLL k=1000 rank error: %.4f\n", e5);
	CHECK(e5 < 0.004, "k=1000: rank error %.4f", e5);
	vt_sq_free(s5);

	/* the partial form round-trips, and several follow each other */
	size_t ra, rb;
	double *pa = partial(a, &ra), *pb = partial(s, &rb);
	double *both = xmalloc((ra + rb) * d * sizeof *both);
	memcpy(both, pa, ra * d * sizeof *both);
	memcpy(both + ra * d, pb, rb * d * sizeof *both);
	vt_sq *ba, *bb;
	size_t ua, ub;
	int rc = vt_sq_partial_read(&ba, VT_SQ_QUANTILE, d, both, ra + rb, &ua);
	int rc2 = rc == 0 ? vt_sq_partial_read(&bb, VT_SQ_QUANTILE, d, both + ua * d, ra + rb - ua,
	                                        &ub) : rc;
	CHECK(rc == 0 && rc2 == 0 && ua == ra && ub == rb && same_partial(ba, a) &&
	      same_partial(bb, s), "quantile: partial forms read back, one after another");
	if (rc2 == 0)
		vt_sq_free(bb);
	if (rc == 0)
		vt_sq_free(ba);
	CHECK(vt_sq_partial_read(&ba, VT_SQ_QUANTILE, d, pa, ra - 1, &ua) == VT_ETRUNC,
	      "quantile: a cut partial form is VT_ETRUNC");
	pa[0] += 1; /* n no longer the sum of the weights */
	for (size_t j = 1; j < d; j++)
		pa[j] = pa[0];
	CHECK(vt_sq_partial_read(&ba, VT_SQ_QUANTILE, d, pa, ra, &ua) == VT_EFORMAT,
	      "quantile: weights that do not add up to n are VT_EFORMAT");
	free(pa), free(pb), free(both);
	vt_sq_free(a), vt_sq_free(b), vt_sq_free(s);
	free(x);
}

static void test_partial_forms(void)
{
	const size_t n = 300, d = 3;
	float *x = data(n, d, 5);
	for (int mode = VT_SQ_GLOBAL; mode <= VT_SQ_QUANTILE; mode++) {
		vt_sq *s = make(mode, d, x, n, 64), *t;
		size_t r, used;
		double *p = partial(s, &r);
		int rc = vt_sq_partial_read(&t, mode, d, p, r, &used);
		CHECK(rc == 0 && used == r && same_partial(s, t), "%s: the partial form round-trips",
		      vt_sq_mode_name(mode));
		if (rc == 0)
			vt_sq_free(t);
		if (mode == VT_SQ_MEANSTD) {
			p[3 * d] = 0.5; /* a digit that is not an integer */
			CHECK(vt_sq_partial_read(&t, mode, d, p, r, &used) == VT_EFORMAT,
			      "meanstd: a bad digit is VT_EFORMAT");
		}
		if (mode == VT_SQ_DIM) {
			double sw = p[0];
			p[0] = p[d], p[d] = sw; /* min > max */
			CHECK(vt_sq_partial_read(&t, mode, d, p, r, &used) == VT_EFORMAT,
			      "dim: min above max is VT_EFORMAT");
		}
		free(p);
		vt_sq_free(s);
	}
	vt_sq *s;
	CHECK(vt_sq_new(&s, VT_SQ_QUANTILE, 2, 4, 1) == VT_EINVAL && !s, "sketch k 4: VT_EINVAL");
	CHECK(vt_sq_new(&s, 9, 2, 200, 1) == VT_EINVAL, "unknown mode: VT_EINVAL");
	CHECK(vt_sq_mode_parse("meanstd") == VT_SQ_MEANSTD && vt_sq_mode_parse("x") == 0,
	      "mode names");
	vt_sq *a = make(VT_SQ_QUANTILE, 2, NULL, 0, 200), *b = make(VT_SQ_QUANTILE, 2, NULL, 0, 100);
	const vt_sq *bb[] = {b};
	CHECK(vt_sq_merge(a, bb, 1) == VT_EINVAL, "merging sketches of another k: VT_EINVAL");
	vt_sq *c = make(VT_SQ_DIM, 3, NULL, 0, 0);
	const vt_sq *cc[] = {c};
	CHECK(vt_sq_merge(a, cc, 1) == VT_EINVAL, "merging another mode: VT_EINVAL");
	vt_sq_free(a), vt_sq_free(b), vt_sq_free(c);
	free(x);
}

/* FAISS QT_8bit's encoding: the edges of the range, clipping, a zero range. */
static void test_sq8(void)
{
	const double bounds[] = {-1.0, 0.0, 5.0, 1.0, 0.0, 5.0}; /* d = 3: mins, maxs */
	float vmin[3], vdiff[3];
	vt_sq8_trained(bounds, 3, vmin, vdiff);
	CHECK(vmin[0] == -1.0f && vdiff[0] == 2.0f && vdiff[2] == 0.0f, "trained: vmin, vdiff");
	const float x[] = {-1.0f, 0.0f, 5.0f,    /* the minima */
	                   1.0f, -0.5f, 7.0f,    /* the max; below; a zero range */
	                   -3.0f, 9.0f, -9.0f,   /* clipped on both sides */
	                   0.0f, 0.0f, 5.0f};    /* t = 0.5: 127.5 truncates to 127 */
	uint8_t c[12];
	vt_sq8_encode(vmin, vdiff, 3, x, 4, c);
	const uint8_t want[12] = {0, 0, 0, 255, 0, 0, 0, 0, 0, 127, 0, 0};
	CHECK(memcmp(c, want, 12) == 0, "codes %u %u %u / %u %u %u / %u %u %u / %u", c[0], c[1],
	      c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]);
	/* a float bound rounds first: vdiff is the float difference of floats */
	const double b2[] = {0.1, 0.7};
	vt_sq8_trained(b2, 1, vmin, vdiff);
	CHECK(vmin[0] == 0.1f && vdiff[0] == 0.7f - 0.1f, "trained rounds the bounds to float");
}

int main(void)
{
	test_sq8();
	test_minmax();
	test_meanstd();
	test_quantile();
	test_partial_forms();
	return check_done();
}
