/* Unit tests of lib/train/sq: each mode against brute force, merges of
 * shards against the whole, the partial form, and the subsampled tails of
 * the quantile statistic: exact at level 0, their rank error beyond, and
 * their invariant (a prefix of the subsample and its cut) after adds and
 * merges. */
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

static vt_sq *make(int mode, size_t d, const float *x, size_t n)
{
	vt_sq *s;
	if (vt_sq_new(&s, mode, d) < 0) {
		printf("Bail out! vt_sq_new\n");
		exit(1);
	}
	if (n && vt_sq_add(s, x, NULL, n) < 0) {
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
                     const size_t *ord)
{
	vt_sq **p = xmalloc(nshards * sizeof *p), *m;
	for (size_t i = 0; i < nshards; i++) {
		size_t a = cut[ord[i]], b = cut[ord[i] + 1];
		p[i] = make(mode, d, x + a * d, b - a);
	}
	m = make(mode, d, NULL, 0);
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
	vt_sq *s = make(VT_SQ_DIM, d, x, n), *g = make(VT_SQ_GLOBAL, d, x, n);
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
		vt_sq *a = merged(mode, d, x, cut, 5, ord), *b = merged(mode, d, x, cut, 5, rev);
		CHECK(same_partial(a, w) && same_partial(b, w),
		      "%s: merged shards, in any order, equal the whole (bytes)", vt_sq_mode_name(mode));
		vt_sq_free(a), vt_sq_free(b);
	}
	/* -0 and +0 merge to the same bytes whatever the order */
	float z[2] = {0.0f, -0.0f}, z2[2] = {-0.0f, 0.0f};
	vt_sq *za = make(VT_SQ_DIM, 1, z, 2), *zb = make(VT_SQ_DIM, 1, z2, 2);
	CHECK(same_partial(za, zb), "-0 and +0: min -0, max +0 in any order");
	vt_sq_free(za), vt_sq_free(zb);
	/* empty: no bounds, but an identity for merging */
	vt_sq *e = make(VT_SQ_DIM, d, NULL, 0), *parts[] = {e, s};
	CHECK(vt_sq_bounds(e, 0, lo, hi) == VT_EDATA, "empty: VT_EDATA");
	vt_sq *m = make(VT_SQ_DIM, d, NULL, 0);
	vt_sq_merge(m, (const vt_sq *const *)parts, 2);
	CHECK(same_partial(m, s), "an empty shard merges as nothing");
	vt_sq_free(m), vt_sq_free(e), vt_sq_free(s), vt_sq_free(g);
	free(x);
}

static void test_meanstd(void)
{
	const size_t n = 4000, d = 4;
	float *x = data(n, d, 2);
	vt_sq *s = make(VT_SQ_MEANSTD, d, x, n);
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
	vt_sq *t = make(VT_SQ_MEANSTD, 1, y, 6);
	vt_sq_bounds(t, 1, lo, hi);
	double sd = sqrt(2.0 / 3.0);
	CHECK(lo[0] == 1e7 + 1 - sd && hi[0] == 1e7 + 1 + sd,
	      "no cancellation: mean 1e7+1, std sqrt(2/3) (got %.17g %.17g)", lo[0], hi[0]);
	vt_sq_free(t);

	size_t cut[] = {0, 1, 999, 2000, 3999, n}, o1[] = {0, 1, 2, 3, 4}, o2[] = {3, 4, 1, 0, 2};
	vt_sq *a = merged(VT_SQ_MEANSTD, d, x, cut, 5, o1),
	      *b = merged(VT_SQ_MEANSTD, d, x, cut, 5, o2);
	CHECK(same_partial(a, s) && same_partial(b, s),
	      "meanstd: merged shards, in any order, equal the whole (bytes)");
	/* a merge of merges (another grouping) too */
	vt_sq *ab[] = {a, b}, *m2 = make(VT_SQ_MEANSTD, d, NULL, 0),
	      *ss = make(VT_SQ_MEANSTD, d, NULL, 0);
	vt_sq_add(ss, x, NULL, n);
	vt_sq_add(ss, x, NULL, n);
	vt_sq_merge(m2, (const vt_sq *const *)ab, 2);
	CHECK(same_partial(m2, ss), "a merge of merges equals the rows added twice");
	vt_sq_free(a), vt_sq_free(b), vt_sq_free(m2), vt_sq_free(ss);

	/* extreme values stay exact: sums of huge and tiny floats */
	float big[4] = {3e38f, -3e38f, 1e-45f, 1.5f};
	vt_sq *h1 = make(VT_SQ_MEANSTD, 1, big, 4), *h2 = make(VT_SQ_MEANSTD, 1, NULL, 0);
	for (int i = 3; i >= 0; i--)
		vt_sq_add(h2, big + i, NULL, 1);
	size_t r;
	double *p = partial(h1, &r);
	CHECK(same_partial(h1, h2) && p[1] == 1.5 + 1e-45f, "3e38 - 3e38 + 1e-45 + 1.5 is exact "
	      "in any order (sum %.17g)", p[1]);
	free(p);
	vt_sq_free(h1), vt_sq_free(h2), vt_sq_free(s);
	free(x);
}

static void test_partial_forms(void)
{
	const size_t n = 300, d = 3;
	float *x = data(n, d, 5);
	for (int mode = VT_SQ_GLOBAL; mode <= VT_SQ_QUANTILE; mode++) {
		vt_sq *s = make(mode, d, x, n), *t;
		size_t r, used;
		double *p = partial(s, &r);
		int rc = vt_sq_partial_read(&t, mode, d, p, r, &used, NULL, 0);
		CHECK(rc == 0 && used == r && same_partial(s, t), "%s: the partial form round-trips",
		      vt_sq_mode_name(mode));
		if (rc == 0)
			vt_sq_free(t);
		if (mode == VT_SQ_MEANSTD) {
			p[3 * d] = 0.5; /* a digit that is not an integer */
			CHECK(vt_sq_partial_read(&t, mode, d, p, r, &used, NULL, 0) == VT_EFORMAT,
			      "meanstd: a bad digit is VT_EFORMAT");
		}
		if (mode == VT_SQ_DIM) {
			double sw = p[0];
			p[0] = p[d], p[d] = sw; /* min > max */
			CHECK(vt_sq_partial_read(&t, mode, d, p, r, &used, NULL, 0) == VT_EFORMAT,
			      "dim: min above max is VT_EFORMAT");
		}
		free(p);
		vt_sq_free(s);
	}
	vt_sq *s;
	CHECK(vt_sq_new(&s, 9, 2) == VT_EINVAL && !s, "unknown mode: VT_EINVAL");
	CHECK(vt_sq_mode_parse("meanstd") == VT_SQ_MEANSTD && vt_sq_mode_parse("x") == 0,
	      "mode names");
	free(x);
}

/* ---- the quantile statistic ------------------------------------------- */

static void bail(const char *what)
{
	printf("Bail out! %s\n", what);
	exit(1);
}

/* A quantile statistic of tail C and design quantile q (seed 42) over the
 * n rows x with ids (NULL: their positions in x). */
static vt_sq *make_q(size_t d, const float *x, const uint64_t *ids, size_t n, size_t C,
                     double q)
{
	vt_sq *s;
	if (vt_sq_new(&s, VT_SQ_QUANTILE, d) < 0 || vt_sq_set_sketch(s, C, q, 42) < 0)
		bail("make_q");
	if (n && vt_sq_add(s, x, ids, n) < 0)
		bail("vt_sq_add");
	return s;
}

/* The flat merge of the shards [cut[i], cut[i+1]) of x, made in the order
 * ord; a shard's ids are its slice of ids, or its own positions (NULL). */
static vt_sq *merged_q(size_t d, const float *x, const uint64_t *ids, const size_t *cut,
                       size_t nshards, const size_t *ord, size_t C, double q)
{
	vt_sq **p = xmalloc(nshards * sizeof *p), *m = make_q(d, NULL, NULL, 0, C, q);
	for (size_t i = 0; i < nshards; i++) {
		size_t a = cut[ord[i]], b = cut[ord[i] + 1];
		p[i] = make_q(d, x + a * d, ids ? ids + a : NULL, b - a, C, q);
	}
	if (vt_sq_merge(m, (const vt_sq *const *)p, nshards) < 0)
		bail("merge");
	for (size_t i = 0; i < nshards; i++)
		vt_sq_free(p[i]);
	free(p);
	return m;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

/* Column j of x (n x d), sorted (numerically; -0 and +0 are equal here). */
static float *sorted_col(const float *x, size_t n, size_t d, size_t j)
{
	float *c = xmalloc((n ? n : 1) * sizeof *c);
	for (size_t i = 0; i < n; i++)
		c[i] = x[i * d + j];
	qsort(c, n, sizeof *c, cmp_float);
	return c;
}

/* numpy's quantile(method="inverted_cdf") of a sorted column of n. */
static float np_quantile(const float *col, size_t n, double p)
{
	double r = ceil(p * (double)n);
	size_t i = r < 1 ? 0 : r > (double)n ? n - 1 : (size_t)r - 1;
	return col[i];
}

/* |rank of v - p n| / (q n), where the rank of v is anything in
 * [#(x < v) + 1, #(x <= v)] (column j). */
static double rank_err(const float *x, size_t n, size_t d, size_t j, double v, double p,
                       double q)
{
	size_t below = 0, le = 0;
	for (size_t i = 0; i < n; i++) {
		below += x[i * d + j] < v;
		le += x[i * d + j] <= v;
	}
	double r = ceil(p * (double)n), e = r < below + 1 ? below + 1 - r : r > le ? r - le : 0;
	return e / (q * (double)n);
}

/* Whether s's bounds at q equal numpy's exact ones. */
static int bounds_exact(const vt_sq *s, const float *x, size_t n, size_t d, double q)
{
	double *lo = xmalloc(d * sizeof *lo), *hi = xmalloc(d * sizeof *hi);
	int ok = vt_sq_bounds(s, q, lo, hi) == 0;
	for (size_t j = 0; ok && j < d; j++) {
		float *c = sorted_col(x, n, d, j);
		ok = lo[j] == np_quantile(c, n, q) && hi[j] == np_quantile(c, n, 1 - q);
		free(c);
	}
	free(lo), free(hi);
	return ok;
}

static void test_quantile_exact(void)
{
	/* few values: all kept, every quantile exact */
	const size_t n0 = 150, d = 3;
	float *x = data(n0, d, 3);
	vt_sq *s = make_q(d, x, NULL, n0, VT_SQ_DEFAULT_TAIL, VT_SQ_DEFAULT_QUANTILE);
	int ok = vt_sq_level(s) == 0;
	const double ps[] = {0, 0.001, 0.013, 0.3, 0.5};
	for (size_t t = 0; t < 5; t++)
		ok &= bounds_exact(s, x, n0, d, ps[t]);
	vt_sq_qrank qr;
	CHECK(ok && vt_sq_quantile_rank(s, 0.013, &qr) == 0 && qr.exact && qr.rank == 2,
	      "quantile: 150 values, level 0: Q(q), Q(1-q) are numpy's inverted_cdf");
	vt_sq_free(s);
	free(x);

	/* more values than the tail, still level 0: exact while r <= C */
	const size_t n = 20000, C = 1024;
	x = data(n, d, 4);
	s = make_q(d, x, NULL, n, C, 0.01);
	ok = vt_sq_level(s) == 0;
	const double qs[] = {0.0001, 0.001, 0.01, 0.05, 0.0511};
	for (size_t t = 0; t < 5; t++)
		ok &= bounds_exact(s, x, n, d, qs[t]);
	CHECK(ok, "quantile: 20000 values, tail 1024, level 0: exact at every q with ceil(q n) "
	      "+ 1 <= 1024 (0.0001 .. 0.0511)");
	/* beyond the tail: said, and the last kept value given */
	double lo[3];
	CHECK(vt_sq_quantile_rank(s, 0.1, &qr) == 0 && !qr.exact && qr.beyond == d &&
	      qr.index == 1999 && vt_sq_quantile(s, 0.1, lo) == 0,
	      "quantile: rank 2000 beyond the tail of 1024: not exact, %zu dimensions short",
	      qr.beyond);
	ok = 1;
	for (size_t j = 0; j < d; j++) {
		float *c = sorted_col(x, n, d, j);
		ok &= lo[j] == c[C - 1];
		free(c);
	}
	CHECK(ok, "quantile: beyond the tail, the last kept value (the 1024th)");
	CHECK(vt_sq_quantile_rank(s, 1.5, &qr) == VT_EINVAL && vt_sq_quantile(s, -1, lo) ==
	      VT_EINVAL, "quantile: p outside [0, 1] is VT_EINVAL");
	vt_sq_free(s);
	s = make_q(d, NULL, NULL, 0, C, 0.01);
	CHECK(vt_sq_quantile(s, 0.5, lo) == VT_EDATA && vt_sq_bounds(s, 0.1, lo, lo) == VT_EDATA,
	      "quantile: empty is VT_EDATA");
	CHECK(vt_sq_set_sketch(s, 63, 0.01, 1) == VT_EINVAL &&
	      vt_sq_set_sketch(s, 1024, 0.6, 1) == VT_EINVAL &&
	      vt_sq_set_sketch(s, VT_SQ_MAX_TAIL + 1, 0.01, 1) == VT_EINVAL,
	      "set_sketch: a tail below 64 or above 2^24, q above 0.5: VT_EINVAL");
	vt_sq_add(s, x, NULL, 1);
	CHECK(vt_sq_set_sketch(s, 1024, 0.01, 1) == VT_EINVAL, "set_sketch after an add: VT_EINVAL");
	vt_sq_free(s);
	free(x);
}

/* The worst rank error, relative to q n, of s's bounds at q over the d
 * columns of x; *sd receives the stated relative standard deviation. */
static double worst_err(const vt_sq *s, const float *x, size_t n, size_t d, double q, double *sd)
{
	double *lo = xmalloc(d * sizeof *lo), *hi = xmalloc(d * sizeof *hi), w = 0;
	vt_sq_qrank a, b;
	if (vt_sq_bounds(s, q, lo, hi) < 0 || vt_sq_quantile_rank(s, q, &a) < 0 ||
	    vt_sq_quantile_rank(s, 1 - q, &b) < 0 || a.beyond || b.beyond)
		w = INFINITY;
	for (size_t j = 0; j < d && w < INFINITY; j++)
		w = fmax(w, fmax(rank_err(x, n, d, j, lo[j], q, q), rank_err(x, n, d, j, hi[j], 1 - q, q)));
	*sd = fmax(a.rel_sd, b.rel_sd);
	free(lo), free(hi);
	return w;
}

static void test_quantile_accuracy(void)
{
	/* level >= 1 at the design q: the rank error within 0.1 q.  Sizes so
	 * that L = 1 (n = 1.5M, q = 0.001, C = 1900: need = 1501 > K = 1425)
	 * and L = 2 (q = 0.01, C = 8192), from positions >= 750 and >= 3750 of
	 * the subsample: relative standard deviations 2.6% and 1.4%, so 0.1 q
	 * is 3.9 and 7 of them. */
	const size_t n = 1500000, d = 2;
	float *x = data(n, d, 6);
	struct { size_t C; double q; unsigned L; } cs[] = {{1900, 0.001, 1}, {8192, 0.01, 2}};
	for (size_t t = 0; t < 2; t++) {
		vt_sq *s = make_q(d, x, NULL, n, cs[t].C, cs[t].q);
		double sd, w = worst_err(s, x, n, d, cs[t].q, &sd);
		printf("# tails C=%zu q=%g n=%zu: level %u, worst rank error %.4f q (stated sd %.4f)\n",
		       cs[t].C, cs[t].q, n, vt_sq_level(s), w, sd);
		CHECK(vt_sq_level(s) == cs[t].L && w <= 0.1,
		      "quantile: C=%zu q=%g, level %u: rank error %.4f q <= 0.1 q", cs[t].C, cs[t].q,
		      vt_sq_level(s), w);
		vt_sq_free(s);
	}
	/* a deep level (small C): the error is within 5 of the stated standard
	 * deviations */
	vt_sq *s = make_q(d, x, NULL, n, 256, 0.05);
	double sd, w = worst_err(s, x, n, d, 0.05, &sd);
	printf("# tails C=256 q=0.05: level %u, worst rank error %.4f q (stated sd %.4f)\n",
	       vt_sq_level(s), w, sd);
	CHECK(vt_sq_level(s) >= 8 && sd > 0.05 && w <= 5 * sd,
	      "quantile: C=256, level %u: rank error %.4f q within 5 stated sd (%.4f)",
	      vt_sq_level(s), w, sd);
	vt_sq_free(s);
	free(x);
}

/* The partial form's head, per the layout of docs/FORMAT.md. */
enum { H_N = 1, H_C = 2, H_Q = 3, H_L = 6, H_SIDE = 7, HEAD = 15 };

/* Check s against its rows (x, n x d, with ids): at s's level L, each side
 * of each column keeps a prefix of S_L in its order, and when trimmed
 * every element of S_L before the cut (and none after).  Brute force. */
static int tails_valid(const vt_sq *s, const float *x, const uint64_t *ids, size_t n, size_t d)
{
	size_t rows;
	double *p = partial(s, &rows);
	unsigned L = (unsigned)p[H_L * d];
	size_t most[2] = {0, 0};
	for (int u = 0; u < 2; u++)
		for (size_t j = 0; j < d; j++)
			if (p[(H_SIDE + 4 * u) * d + j] > most[u])
				most[u] = (size_t)p[(H_SIDE + 4 * u) * d + j];
	uint64_t *sl = xmalloc((n ? n : 1) * sizeof *sl);
	int ok = 1;
	const double *el = p + HEAD * d;
	for (int u = 0; u < 2; u++, el += 2 * most[u - 1] * d)
		for (size_t j = 0; j < d; j++) {
			/* S_L sorted: keys (value order, 63 - tz), the value order
			 * reversed on the upper side */
			size_t m = 0;
			for (size_t i = 0; i < n; i++) {
				unsigned tz = vt_sq_row_tz(s, ids ? ids[i] : i);
				if (tz < L)
					continue;
				float v = x[i * d + j];
				uint32_t b;
				memcpy(&b, &v, sizeof b);
				b = (b >> 31) ? ~b : b | 0x80000000u;
				sl[m++] = (uint64_t)(u ? ~b : b) << 6 | (63 - tz);
			}
			qsort(sl, m, sizeof *sl, cmp_u64);
			size_t cnt = (size_t)p[(H_SIDE + 4 * u) * d + j];
			int tr = p[(H_SIDE + 4 * u + 1) * d + j] == 1;
			for (size_t i = 0; i < cnt && ok; i++) {
				float v = (float)el[i * d + j];
				unsigned tz = (unsigned)el[(most[u] + i) * d + j];
				uint32_t b;
				memcpy(&b, &v, sizeof b);
				b = (b >> 31) ? ~b : b | 0x80000000u;
				ok = i < m && sl[i] == ((uint64_t)(u ? ~b : b) << 6 | (63 - tz));
			}
			if (!tr) {
				ok &= cnt == m;
			} else {
				float v = (float)p[(H_SIDE + 4 * u + 2) * d + j];
				unsigned tz = (unsigned)p[(H_SIDE + 4 * u + 3) * d + j];
				uint32_t b;
				memcpy(&b, &v, sizeof b);
				b = (b >> 31) ? ~b : b | 0x80000000u;
				uint64_t cut = (uint64_t)(u ? ~b : b) << 6 | (63 - tz);
				size_t before = 0;
				while (before < m && sl[before] < cut)
					before++;
				ok &= cnt >= before && (cnt == 0 || sl[cnt - 1] <= cut);
			}
			if (!ok) {
				printf("# tails_valid: side %d column %zu: %zu kept of %zu (L %u, trimmed %d)\n",
				       u, j, cnt, m, L, tr);
				break;
			}
		}
	free(sl), free(p);
	return ok;
}

/* Whether the bounds at q of a and b are the same bytes. */
static int same_bounds(const vt_sq *a, const vt_sq *b, double q)
{
	size_t d = vt_sq_dim(a);
	double *x = xmalloc(4 * d * sizeof *x);
	int ok = vt_sq_bounds(a, q, x, x + d) == 0 && vt_sq_bounds(b, q, x + 2 * d, x + 3 * d) == 0 &&
	         memcmp(x, x + 2 * d, 2 * d * sizeof *x) == 0;
	free(x);
	return ok;
}

static void test_quantile_merge(void)
{
	/* 400,000 rows, C = 512, q = 0.01: level 4; shards of very uneven sizes */
	const size_t n = 400000, d = 3, C = 512;
	const double q = 0.01;
	float *x = data(n, d, 7);
	uint64_t *ids = xmalloc(n * sizeof *ids), *pos = xmalloc(n * sizeof *pos);
	for (size_t i = 0; i < n; i++)
		ids[i] = 1000000007ull * i + 5; /* ids, not positions */
	size_t cut[] = {0, 1, 37, 5000, 5001, 150000, 390000, n}, ord[] = {0, 1, 2, 3, 4, 5, 6},
	       rev[] = {6, 4, 2, 0, 5, 3, 1}, mid[] = {3, 6, 0, 5, 1, 2, 4};
	for (size_t k = 0; k < 7; k++)
		for (size_t i = cut[k]; i < cut[k + 1]; i++)
			pos[i] = i - cut[k];
	vt_sq *w = make_q(d, x, ids, n, C, q);
	vt_sq *a = merged_q(d, x, ids, cut, 7, ord, C, q), *b = merged_q(d, x, ids, cut, 7, rev, C, q),
	      *c = merged_q(d, x, ids, cut, 7, mid, C, q);
	CHECK(vt_sq_level(w) == 4 && vt_sq_level(a) == 4 && vt_sq_count(a) == n,
	      "merge: level %u of %llu values", vt_sq_level(a), (unsigned long long)vt_sq_count(a));
	CHECK(same_partial(a, b) && same_partial(a, c),
	      "merge: 7 uneven shards merged in 3 orders: the same bytes");
	CHECK(tails_valid(w, x, ids, n, d) && tails_valid(a, x, ids, n, d),
	      "merge: the whole and the merge keep a prefix of S_L and its cut (brute force)");
	int ok = 1;
	const double ps[] = {q, 0.005, 0.002};
	for (size_t t = 0; t < 3; t++)
		ok &= same_bounds(w, a, ps[t]);
	CHECK(ok, "merge: with ids, the shards merged give the bounds of the whole (q = 0.01, "
	      "0.005, 0.002)");
	/* another grouping: ((s0 s1 s2) (s3 .. s6)), and a merge into a part */
	vt_sq *g1 = merged_q(d, x, ids, cut, 3, ord, C, q);
	vt_sq *g2 = merged_q(d, x + cut[3] * d, ids + cut[3], (size_t[]){0, 1, 145001, 385001, 395000},
	                     4, ord, C, q);
	const vt_sq *gg[] = {g2};
	CHECK(vt_sq_merge(g1, gg, 1) == 0 && tails_valid(g1, x, ids, n, d) && same_bounds(g1, w, q),
	      "merge: another grouping keeps the invariant and gives the same bounds");
	/* without ids, positions restart in each shard: another subsample,
	 * within the stated error */
	vt_sq *np = merged_q(d, x, NULL, cut, 7, rev, C, q);
	double sd, e = worst_err(np, x, n, d, q, &sd);
	CHECK(tails_valid(np, x, pos, n, d) && e <= 5 * sd,
	      "merge: without ids, the invariant holds and the error %.4f q is within 5 sd (%.4f)",
	      e, sd);
	vt_sq_free(g1), vt_sq_free(g2), vt_sq_free(np);
	vt_sq_free(w), vt_sq_free(a), vt_sq_free(b), vt_sq_free(c);
	/* statistics of other parameters do not merge */
	vt_sq *p[4];
	for (int i = 0; i < 4; i++)
		if (vt_sq_new(&p[i], VT_SQ_QUANTILE, d) < 0 ||
		    vt_sq_set_sketch(p[i], i == 1 ? 1024 : C, i == 2 ? 0.02 : q, i == 3 ? 7 : 42) < 0)
			bail("new");
	ok = 1;
	for (int i = 1; i < 4; i++)
		ok &= vt_sq_merge(p[0], (const vt_sq *const *)&p[i], 1) == VT_EINVAL;
	vt_sq *dm = make(VT_SQ_DIM, d, NULL, 0);
	ok &= vt_sq_merge(p[0], (const vt_sq *const *)&dm, 1) == VT_EINVAL;
	CHECK(ok, "merge: another tail, quantile, seed or mode is VT_EINVAL");
	for (int i = 0; i < 4; i++)
		vt_sq_free(p[i]);
	vt_sq_free(dm);
	free(x), free(ids), free(pos);
}

/* Random shards of rows with many ties, merged flat in random orders and
 * in random groupings, and added in random batches: every result keeps a
 * prefix of its S_L (brute force); flat merges of the same shards are the
 * same bytes in any order. */
static void test_quantile_invariant(void)
{
	const size_t d = 2, C = 1024;
	vt_rng r;
	vt_rng_init(&r, 11, 0);
	int valid = 1, same = 1, bounds = 1, rounds = 40, short_rounds = 0, deep = 0;
	for (int round = 0; round < rounds; round++) {
		size_t n = 1 + vt_rng_below(&r, 60000);
		double q = round % 3 == 0 ? 0.05 : round % 3 == 1 ? 0.001 : 0.5;
		float *x = xmalloc(n * d * sizeof *x);
		uint64_t *ids = xmalloc(n * sizeof *ids);
		for (size_t i = 0; i < n; i++) {
			ids[i] = vt_rng_below(&r, 4) ? i : i / 2; /* some ids twice */
			for (size_t j = 0; j < d; j++) {
				int k = (int)vt_rng_below(&r, j ? 7 : 100000);
				x[i * d + j] = j ? (float)(k - 3) * (k == 3 && vt_rng_below(&r, 2) ? -1.0f : 1.0f)
				                 : (float)k / 7;
			}
		}
		size_t ns = 1 + vt_rng_below(&r, 8), cut[10], ord[9], ord2[9];
		cut[0] = 0, cut[ns] = n;
		for (size_t k = 1; k < ns; k++)
			cut[k] = vt_rng_below(&r, n + 1);
		for (size_t k = 1; k < ns; k++) /* sort the cuts */
			for (size_t m = k; m > 1 && cut[m - 1] > cut[m]; m--) {
				size_t t = cut[m];
				cut[m] = cut[m - 1], cut[m - 1] = t;
			}
		for (size_t k = 0; k < ns; k++)
			ord[k] = k, ord2[k] = k;
		for (size_t k = ns; k > 1; k--) { /* shuffle */
			size_t m = vt_rng_below(&r, k), t = ord2[k - 1];
			ord2[k - 1] = ord2[m], ord2[m] = t;
		}
		vt_sq *a = merged_q(d, x, ids, cut, ns, ord, C, q), *b = merged_q(d, x, ids, cut, ns, ord2, C, q);
		same &= same_partial(a, b);
		valid &= tails_valid(a, x, ids, n, d);
		/* a random grouping: merge shards one by one into a running merge */
		vt_sq *run = make_q(d, NULL, NULL, 0, C, q);
		for (size_t k = 0; k < ns; k++) {
			size_t o = ord2[k];
			vt_sq *part = make_q(d, x + cut[o] * d, ids + cut[o], cut[o + 1] - cut[o], C, q);
			const vt_sq *pp[] = {part};
			if (vt_sq_merge(run, pp, 1) < 0)
				bail("merge");
			vt_sq_free(part);
		}
		valid &= tails_valid(run, x, ids, n, d);
		/* the whole, added in random batches */
		vt_sq *w = make_q(d, NULL, NULL, 0, C, q);
		for (size_t i = 0; i < n;) {
			size_t m = 1 + vt_rng_below(&r, 5000);
			m = m < n - i ? m : n - i;
			vt_sq_add(w, x + i * d, ids + i, m);
			i += m;
		}
		valid &= tails_valid(w, x, ids, n, d);
		/* the same S_L: the bounds agree unless a tail ends before them */
		size_t beyond = 0;
		const vt_sq *all[] = {w, a, run};
		for (int k = 0; k < 6; k++) {
			vt_sq_qrank qr;
			vt_sq_quantile_rank(all[k / 2], k % 2 ? 1 - q : q, &qr);
			beyond += qr.beyond;
		}
		short_rounds += beyond > 0;
		deep += vt_sq_level(w) >= 2;
		if (!beyond)
			bounds &= same_bounds(w, a, q) && same_bounds(w, run, q);
		vt_sq_free(a), vt_sq_free(b), vt_sq_free(run), vt_sq_free(w);
		free(x), free(ids);
	}
	CHECK(valid && deep >= rounds / 4, "invariant: %d random rounds (ties, repeated ids, uneven "
	      "shards, batches, groupings; %d at level >= 2) keep a prefix of S_L and its cut",
	      rounds, deep);
	CHECK(same, "invariant: flat merges in two orders are the same bytes");
	CHECK(bounds && short_rounds == 0, "invariant: whole, flat and running merges give the "
	      "same bounds (%d rounds of %d had a tail short of them)", short_rounds, rounds);
}

/* A corrupt copy of the partial form p (rows x d) must be refused with a
 * message holding what. */
static void refused(const double *p, size_t rows, size_t d, size_t at, double v,
                    const char *what)
{
	double *c = xmalloc(rows * d * sizeof *c);
	memcpy(c, p, rows * d * sizeof *c);
	if (at < rows * d)
		c[at] = v;
	else /* the whole row */
		for (size_t j = 0; j < d; j++)
			c[(at - rows * d) * d + j] = v;
	vt_sq *t = NULL;
	size_t used;
	char err[300] = "";
	int rc = vt_sq_partial_read(&t, VT_SQ_QUANTILE, d, c, rows, &used, err, sizeof err);
	CHECK(rc == VT_EFORMAT && !t && strstr(err, what), "partial: refused, \"%s\" (%s)", err,
	      what);
	vt_sq_free(t);
	free(c);
}

static void test_quantile_partial(void)
{
	const size_t n = 20000, d = 3, C = 256;
	float *x = data(n, d, 8);
	vt_sq *s = make_q(d, x, NULL, n, C, 0.01), *z = make_q(d, x, NULL, 100, C, 0.01);
	size_t rs, rz, us, uz;
	double *ps = partial(s, &rs), *pz = partial(z, &rz);
	CHECK(vt_sq_level(s) == 1 && vt_sq_level(z) == 0, "partial: levels 1 and 0");
	/* two after each other, read back */
	double *both = xmalloc((rs + rz) * d * sizeof *both);
	memcpy(both, ps, rs * d * sizeof *both);
	memcpy(both + rs * d, pz, rz * d * sizeof *both);
	vt_sq *a = NULL, *b = NULL;
	int rc = vt_sq_partial_read(&a, VT_SQ_QUANTILE, d, both, rs + rz, &us, NULL, 0);
	int rc2 = rc ? rc : vt_sq_partial_read(&b, VT_SQ_QUANTILE, d, both + us * d, rs + rz - us,
	                                       &uz, NULL, 0);
	CHECK(rc == 0 && rc2 == 0 && us == rs && uz == rz && same_partial(a, s) &&
	      same_partial(b, z) && same_bounds(a, s, 0.01),
	      "partial: two forms read back, one after the other, to the same bytes and bounds");
	vt_sq_free(a), vt_sq_free(b);
	CHECK(vt_sq_partial_read(&a, VT_SQ_QUANTILE, d, ps, rs - 1, &us, NULL, 0) == VT_ETRUNC &&
	      vt_sq_partial_read(&a, VT_SQ_QUANTILE, d, ps, 14, &us, NULL, 0) == VT_ETRUNC,
	      "partial: rows that end inside it are VT_ETRUNC");
	/* where things are: the lower tail's counts in row 7, its elements
	 * from row 15 (values), then its tz */
	size_t most = 0;
	for (size_t j = 0; j < d; j++)
		most = ps[7 * d + j] > most ? (size_t)ps[7 * d + j] : most;
	const size_t R = rs * d, val0 = HEAD * d, tz0 = (HEAD + most) * d;
	refused(ps, rs, d, R + 0, 20000, "an earlier vsqbounds wrote a KLL sketch");
	refused(ps, rs, d, R + H_L, 2, "row 6: level 2, but n = 20000, tail 256 and quantile "
	        "0.01 give level 1");
	refused(ps, rs, d, R + H_L, 0, "give level 1");
	refused(ps, rs, d, R + H_N, 20000.5, "row 1: not one count");
	refused(ps, rs, d, R + H_C, 32, "row 2: not one tail in 64 .. 16777216");
	refused(ps, rs, d, R + H_Q, 0.7, "row 3: not one quantile");
	refused(ps, rs, d, 7 * d + 1, C + 1, "row 7, column 1: 257 lower elements");
	refused(ps, rs, d, 8 * d, 2, "a trimmed flag 2");
	refused(ps, rs, d, val0 + d, ps[val0] - 1, "the lower tail is not sorted");
	refused(ps, rs, d, val0 + d, 0.1, "is not a finite float32");
	refused(ps, rs, d, val0 + d, NAN, "is not a finite float32");
	refused(ps, rs, d, tz0 + d, 0, "tz 0, not in 1 .. 63");
	refused(ps, rs, d, tz0 + d, 64, "tz 64");
	/* a cut before the last kept element */
	refused(ps, rs, d, 9 * d, ps[val0], "a lower element past the cut");
	/* padding past a column's count */
	size_t short_j = d, cnt = 0;
	for (size_t j = 0; j < d; j++)
		if ((size_t)ps[7 * d + j] < most)
			short_j = j, cnt = (size_t)ps[7 * d + j];
	if (short_j < d)
		refused(ps, rs, d, val0 + cnt * d + short_j, 1, "not 0");
	/* level 0: the count and the trim follow from n */
	refused(pz, rz, d, 7 * d, 99, "at level 0, 99 lower elements, but n = 100");
	refused(pz, rz, d, 8 * d + 2, 1, "at level 0");
	free(ps), free(pz), free(both);
	vt_sq_free(s), vt_sq_free(z);
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
	test_partial_forms();
	test_quantile_exact();
	test_quantile_accuracy();
	test_quantile_merge();
	test_quantile_invariant();
	test_quantile_partial();
	return check_done();
}
