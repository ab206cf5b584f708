/* Unit tests of lib/train/pool and lib/train/kernel: the blocked
 * nearest-centroid kernel against a double-precision brute force. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "train/kernel.h"
#include "train/pool.h"
#include "train/rng.h"


struct counter {
	int *hits;
};

static void count_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct counter *c = arg;
	c->hits[t]++;
}

/* the kernel against brute force for one shape */
static void test_shape(vt_pool *p1, vt_pool *p2, size_t n, size_t d, size_t k, const char *tag)
{
	char name[128];
	float *x = malloc(n * d * sizeof *x), *c = malloc(k * d * sizeof *c);
	float *ds = malloc(n * sizeof *ds), *ds2 = malloc(n * sizeof *ds2);
	float *es = malloc(n * sizeof *es), *es2 = malloc(n * sizeof *es2);
	int32_t *lb = malloc(n * sizeof *lb), *lb2 = malloc(n * sizeof *lb2);
	int32_t *mb = malloc(n * sizeof *mb), *mb2 = malloc(n * sizeof *mb2);
	double *ex = malloc(n * sizeof *ex);
	if (!x || !c || !ds || !ds2 || !es || !es2 || !lb || !lb2 || !mb || !mb2 || !ex) {
		CHECK(0, "allocation");
		exit(1);
	}
	check_normal(x, n * d, 1 + n, 3, 1.0, 0.5);
	check_normal(c, k * d, 2 + k, 3, 1.0, 0.5);
	int rc = vt_assign(p1, x, n, d, c, k, NULL, NULL, lb, ds, lb2, ds2);
	snprintf(name, sizeof name, "%s: vt_assign returns 0", tag);
	CHECK(rc == 0, "%s", name);
	int lab_ok = 1, dist_ok = 1, sec_ok = 1;
	for (size_t i = 0; i < n; i++) {
		double b1 = INFINITY, b2 = INFINITY;
		for (size_t j = 0; j < k; j++) {
			double v = d2(x + i * d, c + j * d, d);
			if (v < b1) {
				b2 = b1;
				b1 = v;
			} else if (v < b2) {
				b2 = v;
			}
		}
		/* labels: the chosen centroid is the nearest up to float rounding */
		double mine = d2(x + i * d, c + (size_t)lb[i] * d, d);
		if (mine > b1 * (1 + 1e-5))
			lab_ok = 0;
		if (fabs(ds[i] - b1) > 1e-4 * b1)
			dist_ok = 0;
		if (k > 1) {
			double sec = d2(x + i * d, c + (size_t)lb2[i] * d, d);
			if (lb2[i] == lb[i] || sec > b2 * (1 + 1e-5) || fabs(ds2[i] - b2) > 1e-4 * b2)
				sec_ok = 0;
		} else if (lb2[i] != -1 || !isinf(ds2[i])) {
			sec_ok = 0;
		}
	}
	snprintf(name, sizeof name, "%s: labels are the brute-force nearest", tag);
	CHECK(lab_ok, "%s", name);
	snprintf(name, sizeof name, "%s: distances within 1e-4 relative", tag);
	CHECK(dist_ok, "%s", name);
	snprintf(name, sizeof name, "%s: second nearest label and distance", tag);
	CHECK(sec_ok, "%s", name);
	rc = vt_assign(p2, x, n, d, c, k, NULL, NULL, mb, es, mb2, es2);
	snprintf(name, sizeof name, "%s: -j1 and -j2 give the same bytes", tag);
	CHECK(rc == 0 && !memcmp(lb, mb, n * sizeof *lb) && !memcmp(ds, es, n * sizeof *ds) &&
	          !memcmp(lb2, mb2, n * sizeof *lb2) && !memcmp(ds2, es2, n * sizeof *ds2),
	      "%s", name);
	rc = vt_assign(p2, x, n, d, c, k, NULL, NULL, mb, NULL, NULL, NULL);
	snprintf(name, sizeof name, "%s: nearest-only labels equal the full call", tag);
	CHECK(rc == 0 && !memcmp(lb, mb, n * sizeof *lb), "%s", name);
	double sum = 0, bsum = 0;
	rc = vt_sqdist_labels(p2, x, n, d, c, k, lb, ex, &sum);
	int sq_ok = rc == 0;
	for (size_t i = 0; i < n && sq_ok; i++) {
		double v = d2(x + i * d, c + (size_t)lb[i] * d, d);
		bsum += v;
		sq_ok = fabs(ex[i] - v) <= 1e-12 * (v + 1);
	}
	snprintf(name, sizeof name, "%s: vt_sqdist_labels is exact", tag);
	CHECK(sq_ok && fabs(sum - bsum) <= 1e-12 * bsum, "%s", name);
	free(x);
	free(c);
	free(ds);
	free(ds2);
	free(es);
	free(es2);
	free(lb);
	free(lb2);
	free(mb);
	free(mb2);
	free(ex);
}

/* vt_min2 against the plain (value, index) order: m1 the smallest value of
 * v + add (NaN never counts), a1 its lowest index (0 if none), m2 the next
 * value in that order. */
static void min2_ref(const float *v, const float *add, size_t n, float *m1, int32_t *a1,
                     float *m2)
{
	float b1 = INFINITY, b2 = INFINITY;
	int32_t i1 = -1;
	for (size_t j = 0; j < n; j++) {
		float x = v[j] + add[j];
		if (!(x < INFINITY))
			continue; /* NaN and +inf: never a best (nor after one) */
		if (i1 < 0 || x < b1) {
			b2 = b1;
			b1 = x, i1 = (int32_t)j;
		} else if (x < b2 || x == b1) {
			b2 = x < b2 ? x : b2;
		}
	}
	*m1 = b1, *a1 = i1 < 0 ? 0 : i1, *m2 = b2;
}

static void test_min2(void)
{
	vt_rng r;
	vt_rng_init(&r, 17, 0);
	float v[80], add[80];
	int ok = 1, sign_ok = 1;
	for (int round = 0; round < 20000 && ok; round++) {
		size_t n = 1 + (size_t)vt_rng_below(&r, 80);
		int kind = round % 4; /* 0: random; 1: few values (ties); 2: zeros of both signs; 3: NaN and inf */
		for (size_t j = 0; j < n; j++) {
			uint64_t u = vt_rng_below(&r, 1000);
			v[j] = kind == 1 ? (float)(u % 3) : kind == 2 ? ((u & 1) ? -0.0f : 0.0f) + (float)(u % 2)
			                                           : (float)vt_rng_uniform(&r) * 10 - 5;
			add[j] = kind == 2 ? 0.0f : (float)(u % 4);
			if (kind == 3 && u < 100)
				v[j] = u < 50 ? NAN : INFINITY;
		}
		float m1, m2, r1, r2;
		int32_t a1, ra;
		vt_min2(v, add, n, &m1, &a1, &m2);
		min2_ref(v, add, n, &r1, &ra, &r2);
		/* with no finite value the index means nothing (callers compare m1) */
		if (!(m1 == r1 && (a1 == ra || !(r1 < INFINITY)) && m2 == r2)) {
			ok = 0;
			fprintf(stderr, "# n=%zu kind=%d: got (%g, %d, %g), want (%g, %d, %g)\n", n, kind,
			        m1, a1, m2, r1, ra, r2);
		}
		/* the best's own value, with its sign (-0 and +0 tie by index) */
		if (ok && m1 == 0 && signbit(m1) != signbit(v[a1] + add[a1]))
			sign_ok = 0;
	}
	CHECK(ok, "vt_min2: best, its lowest index and the second, as the plain scan (ties, NaN, inf, every length to 80)");
	CHECK(sign_ok, "vt_min2: the best value is the winning element's (-0 or +0)");
}

int main(void)
{
	test_min2();
	vt_pool *p1 = NULL, *p2 = NULL;
	CHECK(vt_pool_new(&p1, 1) == 0 && vt_pool_new(&p2, 2) == 0, "pools of 1 and 2 threads");
	CHECK(vt_pool_size(p2) == 2 && vt_pool_size(NULL) == 1, "vt_pool_size");
	{
		int hits[1000] = {0};
		struct counter cn = {hits};
		for (int rep = 0; rep < 3; rep++)
			vt_pool_run(p2, 1000, count_task, &cn);
		int ok = 1;
		for (int i = 0; i < 1000; i++)
			ok &= hits[i] == 3;
		CHECK(ok, "vt_pool_run runs every task once per batch");
	}
	vt_pool_free(NULL);

	test_shape(p1, p2, 1000, 37, 70, "n=1000 d=37 k=70");
	test_shape(p1, p2, 700, 20, 1300, "n=700 d=20 k=1300 (several column blocks)");
	test_shape(p1, p2, 300, 5, 1, "k=1");
	test_shape(NULL, p2, 257, 3, 9, "n=257 d=3 k=9, NULL pool");

	{
		/* balance penalty: a huge bias on centroid 0 keeps every row away */
		size_t n = 200, d = 4, k = 3;
		float x[800], c[12], bias[3] = {1e9f, 0, 0}, ds[200];
		int32_t lb[200];
		check_normal(x, n * d, 5, 3, 1, 0);
		memset(c, 0, sizeof c); /* three identical centroids: ties */
		int rc = vt_assign(p2, x, n, d, c, k, NULL, NULL, lb, NULL, NULL, NULL);
		int ok = rc == 0;
		for (size_t i = 0; i < n; i++)
			ok &= lb[i] == 0;
		CHECK(ok, "ties go to the lowest index");
		rc = vt_assign(p2, x, n, d, c, k, NULL, bias, lb, ds, NULL, NULL);
		ok = rc == 0;
		for (size_t i = 0; i < n; i++)
			ok &= lb[i] == 1 && fabs(ds[i] - d2(x + i * d, c, d)) < 1e-3;
		CHECK(ok, "bias moves the argmin, distances exclude it");
	}
	{
		float x[4] = {0}, c[4] = {0};
		int32_t lb[1];
		CHECK(vt_assign(p1, x, 0, 4, c, 1, NULL, NULL, lb, NULL, NULL, NULL) == VT_EINVAL,
		      "n == 0 is VT_EINVAL");
		CHECK(vt_assign(p1, x, 1, 4, c, 0, NULL, NULL, lb, NULL, NULL, NULL) == VT_EINVAL,
		      "k == 0 is VT_EINVAL");
		int32_t bad[1] = {3};
		double out[1];
		CHECK(vt_sqdist_labels(p1, x, 1, 4, c, 1, bad, out, NULL) == VT_EINVAL,
		      "vt_sqdist_labels rejects a label out of range");
	}
	{
		/* residuals */
		size_t n = 3000, d = 6, k = 40;
		float *x = malloc(n * d * sizeof *x), *r = malloc(n * d * sizeof *r);
		float *c = malloc(k * d * sizeof *c);
		int32_t *lb = malloc(n * sizeof *lb), *lr = malloc(n * sizeof *lr);
		check_normal(x, n * d, 8, 3, 3, 0);
		check_normal(c, k * d, 9, 3, 3, 0);
		memcpy(r, x, n * d * sizeof *r);
		int rc = vt_assign(p2, x, n, d, c, k, NULL, NULL, lb, NULL, NULL, NULL);
		rc |= vt_subtract_nearest(p2, r, n, d, c, k, lr);
		int ok = rc == 0 && !memcmp(lb, lr, n * sizeof *lb);
		for (size_t i = 0; ok && i < n * d; i++)
			ok = r[i] == x[i] - c[(size_t)lb[i / d] * d + i % d];
		CHECK(ok, "vt_subtract_nearest: x minus its nearest centroid, and the labels");
		free(x), free(r), free(c), free(lb), free(lr);
	}
	vt_pool_free(p1);
	vt_pool_free(p2);
	return check_done();
}
