/* Unit tests of lib/train/gen (vgen's generator): row i depends only on
 * (seed, i) whatever the blocks and threads; seeds differ; the means,
 * sigma and cluster sizes have the laws gen.h states; bad parameters. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "train/gen.h"

static vt_gen *gen_of(uint64_t seed, uint32_t dim, uint32_t means, double spread,
                      double sigma, double skew)
{
	vt_gen_params p = {seed, dim, means, spread, sigma, skew, 0, 0};
	vt_gen *g = NULL;
	if (vt_gen_new(&g, &p) || !g) {
		printf("Bail out! vt_gen_new\n");
		exit(1);
	}
	return g;
}

/* Rows [first, first + n) of g (caller frees), labels into *labels. */
static float *rows_of(const vt_gen *g, uint32_t dim, uint64_t first, size_t n,
                      uint32_t **labels, int threads)
{
	float *x = xmalloc(n * dim * sizeof *x);
	uint32_t *l = labels ? xmalloc(n * sizeof *l) : NULL;
	if (vt_gen_rows(g, first, n, x, l, threads) != 0) {
		printf("Bail out! vt_gen_rows\n");
		exit(1);
	}
	if (labels)
		*labels = l;
	return x;
}

static void test_blocks(void)
{
	const uint32_t d = 7;   /* odd: the last polar pair is cut */
	const size_t n = 5000;
	vt_gen *g = gen_of(42, d, 13, 4.0, 1.5, 0.7);
	uint32_t *lab;
	float *whole = rows_of(g, d, 0, n, &lab, 1);

	static const int threads[] = {2, 3, 8, 64, 200};
	int same = 1;
	for (size_t a = 0; a < sizeof threads / sizeof *threads; a++) {
		uint32_t *l2;
		float *x = rows_of(g, d, 0, n, &l2, threads[a]);
		same &= memcmp(x, whole, n * d * sizeof *x) == 0 &&
		        memcmp(l2, lab, n * sizeof *l2) == 0;
		free(x), free(l2);
	}
	CHECK(same, "threads 1, 2, 3, 8, 64, 200 give the same rows and labels");

	/* blocks of uneven sizes, made in reverse order, each with its own
	 * thread count */
	static const size_t cut[] = {0, 1, 2, 255, 256, 257, 1000, 3333, 4999, 5000};
	const size_t ncut = sizeof cut / sizeof *cut;
	float *y = xmalloc(n * d * sizeof *y);
	uint32_t *ly = xmalloc(n * sizeof *ly);
	memset(y, 0xff, n * d * sizeof *y);
	int rc_ok = 1;
	for (size_t k = ncut - 1; k > 0; k--) {
		size_t lo = cut[k - 1], hi = cut[k];
		if (vt_gen_rows(g, lo, hi - lo, y + lo * d, ly + lo, (int)(k % 4) + 1) != 0)
			rc_ok = 0;
	}
	CHECK(rc_ok && memcmp(y, whole, n * d * sizeof *y) == 0 && memcmp(ly, lab, n * sizeof *ly) == 0,
	      "9 uneven blocks made in reverse order equal the whole");

	/* one row alone, anywhere */
	int alone = 1;
	for (size_t i = 0; i < n; i += 499) {
		float r[7];
		uint32_t li;
		alone &= vt_gen_rows(g, i, 1, r, &li, 1) == 0 &&
		         memcmp(r, whole + i * d, sizeof r) == 0 && li == lab[i];
	}
	CHECK(alone, "a row made alone equals its row of the whole");

	/* far rows: row 2^40 + 5 depends only on its index */
	float far1[7 * 3], far2[7];
	CHECK(vt_gen_rows(g, (1ULL << 40) + 3, 3, far1, NULL, 2) == 0 &&
	      vt_gen_rows(g, (1ULL << 40) + 5, 1, far2, NULL, 1) == 0 &&
	      memcmp(far1 + 2 * d, far2, sizeof far2) == 0,
	      "row 2^40 + 5 is the same in a block and alone");

	/* a new generator of the same parameters: the same bytes */
	vt_gen *g2 = gen_of(42, d, 13, 4.0, 1.5, 0.7);
	float *again = rows_of(g2, d, 0, n, NULL, 3);
	CHECK(memcmp(again, whole, n * d * sizeof *again) == 0 &&
	      memcmp(vt_gen_means(g2), vt_gen_means(g), 13 * d * sizeof(float)) == 0,
	      "a second generator of the same seed: the same means and rows");
	CHECK(vt_gen_rows(g, 7, 0, NULL, NULL, 4) == 0, "0 rows: nothing to do, returns 0");
	free(again), free(y), free(ly), free(whole), free(lab);
	vt_gen_free(g2);
	vt_gen_free(g);
}

static void test_seeds_differ(void)
{
	const uint32_t d = 8, m = 5;
	const size_t n = 1000;
	vt_gen *a = gen_of(1, d, m, 3, 1, 0), *b = gen_of(2, d, m, 3, 1, 0);
	float *xa = rows_of(a, d, 0, n, NULL, 1), *xb = rows_of(b, d, 0, n, NULL, 1);
	size_t same = 0;
	for (size_t i = 0; i < n * d; i++)
		same += xa[i] == xb[i];
	size_t msame = 0;
	for (size_t i = 0; i < m * d; i++)
		msame += vt_gen_means(a)[i] == vt_gen_means(b)[i];
	CHECK(same == 0 && msame == 0, "seeds 1 and 2: no coordinate of a row or a mean alike "
	      "(%zu, %zu)", same, msame);
	/* neighbouring rows of one seed differ too (no stream reuse) */
	size_t dup = 0;
	for (size_t i = 1; i < n; i++)
		dup += memcmp(xa + i * d, xa + (i - 1) * d, d * sizeof *xa) == 0;
	CHECK(dup == 0, "no row equals the one before it");
	free(xa), free(xb);
	vt_gen_free(a), vt_gen_free(b);
}

/* One mean: the rows are N(mean, sigma^2 I).  Tolerances are about 8
 * standard errors of the estimates at n = 200000. */
static void test_one_mean(void)
{
	const uint32_t d = 6;
	const size_t n = 200000;
	const double sigma = 2.0;
	vt_gen *g = gen_of(5, d, 1, 10.0, sigma, 0);
	uint32_t *lab;
	float *x = rows_of(g, d, 0, n, &lab, 2);
	const float *mu = vt_gen_means(g);
	double mean[6] = {0}, var[6] = {0}, cov01 = 0;
	int labels0 = 1;
	for (size_t i = 0; i < n; i++) {
		labels0 &= lab[i] == 0;
		for (size_t t = 0; t < d; t++)
			mean[t] += x[i * d + t];
	}
	for (size_t t = 0; t < d; t++)
		mean[t] /= (double)n;
	for (size_t i = 0; i < n; i++) {
		for (size_t t = 0; t < d; t++) {
			double e = x[i * d + t] - mean[t];
			var[t] += e * e;
		}
		cov01 += (x[i * d] - mean[0]) * (x[i * d + 1] - mean[1]);
	}
	double worst_mean = 0, worst_var = 0;
	for (size_t t = 0; t < d; t++) {
		var[t] /= (double)(n - 1);
		worst_mean = fmax(worst_mean, fabs(mean[t] - mu[t]));
		worst_var = fmax(worst_var, fabs(var[t] / (sigma * sigma) - 1));
	}
	cov01 /= (double)(n - 1);
	CHECK(labels0, "one mean: every label is 0");
	CHECK(worst_mean < 8 * sigma / sqrt((double)n), "the rows' mean is the mean (off by %.3g)",
	      worst_mean);
	CHECK(worst_var < 8 * sqrt(2.0 / (double)n), "the rows' variance is sigma^2 (off by %.3g)",
	      worst_var);
	CHECK(fabs(cov01) < 8 * sigma * sigma / sqrt((double)n),
	      "the two values of a polar pair are uncorrelated (cov %.3g)", cov01);
	free(x), free(lab);
	vt_gen_free(g);

	/* sigma 0: every row is its mean, bit for bit */
	g = gen_of(6, d, 9, 3.0, 0.0, 0);
	x = rows_of(g, d, 0, 500, &lab, 1);
	int exact = 1;
	for (size_t i = 0; i < 500; i++)
		exact &= lab[i] < 9 && memcmp(x + i * d, vt_gen_means(g) + lab[i] * d,
		                              d * sizeof *x) == 0;
	CHECK(exact, "sigma 0: every row is its labelled mean");
	free(x), free(lab);
	vt_gen_free(g);
}

/* The means' coordinates are N(0, spread^2); rows sit sigma^2 d from their
 * mean on average. */
static void test_spread(void)
{
	const uint32_t d = 4, m = 4000;
	const double spread = 7.0, sigma = 0.5;
	vt_gen *g = gen_of(9, d, m, spread, sigma, 0);
	const float *mu = vt_gen_means(g);
	size_t nc = (size_t)m * d;
	double s = 0, s2 = 0;
	for (size_t i = 0; i < nc; i++)
		s += mu[i], s2 += (double)mu[i] * mu[i];
	double mean = s / (double)nc, var = s2 / (double)nc - mean * mean;
	CHECK(fabs(mean) < 8 * spread / sqrt((double)nc), "the means' coordinates average 0 (%.3g)",
	      mean);
	CHECK(fabs(var / (spread * spread) - 1) < 8 * sqrt(2.0 / (double)nc),
	      "their variance is spread^2 (%.4g vs %.4g)", var, spread * spread);

	const size_t n = 50000;
	uint32_t *lab;
	float *x = rows_of(g, d, 0, n, &lab, 2);
	double dist = 0;
	int inrange = 1;
	for (size_t i = 0; i < n; i++) {
		inrange &= lab[i] < m;
		if (lab[i] < m)
			dist += d2(x + i * d, mu + (size_t)lab[i] * d, d);
	}
	dist /= (double)n * d * sigma * sigma;
	CHECK(inrange, "labels are in [0, means)");
	CHECK(fabs(dist - 1) < 8 * sqrt(2.0 / ((double)n * d)),
	      "a row is sigma^2 per coordinate from its labelled mean (ratio %.4f)", dist);
	free(x), free(lab);
	vt_gen_free(g);
}

/* Cluster sizes: uniform without skew, Zipf 1/(j+1)^skew with it. */
static void test_sizes(void)
{
	const size_t n = 200000;
	const uint32_t m = 4;
	for (int z = 0; z < 2; z++) {
		double skew = z ? 1.0 : 0.0;
		vt_gen *g = gen_of(11, 2, m, 1, 1, skew);
		uint32_t *lab;
		float *x = rows_of(g, 2, 0, n, &lab, 2);
		size_t count[4] = {0};
		for (size_t i = 0; i < n; i++)
			if (lab[i] < m)
				count[lab[i]]++;
		double w[4], ws = 0, worst = 0;
		for (uint32_t j = 0; j < m; j++)
			ws += (w[j] = skew ? pow(j + 1.0, -skew) : 1.0);
		for (uint32_t j = 0; j < m; j++) {
			double p = w[j] / ws, se = sqrt(p * (1 - p) / (double)n);
			worst = fmax(worst, fabs((double)count[j] / (double)n - p) / se);
		}
		CHECK(count[0] + count[1] + count[2] + count[3] == n && worst < 6,
		      "skew %g: cluster shares match the weights (worst %.2f standard errors)", skew,
		      worst);
		free(x), free(lab);
		vt_gen_free(g);
	}
}

static void test_errors(void)
{
	static const vt_gen_params bad[] = {
		{1, 0, 4, 1, 1, 0, 0, 0},          /* dim 0 */
		{1, 8, 0, 1, 1, 0, 0, 0},          /* no means */
		{1, 8, 4, -1, 1, 0, 0, 0},         /* negative spread */
		{1, 8, 4, 1, -0.5, 0, 0, 0},       /* negative sigma */
		{1, 8, 4, 1, 1, -1, 0, 0},         /* negative skew */
		{1, 8, 4, NAN, 1, 0, 0, 0},        /* NaN spread */
		{1, 8, 4, 1, INFINITY, 0, 0, 0},   /* infinite sigma */
		{1, 8, 4, 1, 1, NAN, 0, 0},        /* NaN skew */
	};
	int ok = 1;
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
		vt_gen *g = (vt_gen *)&ok;   /* must be overwritten */
		int rc = vt_gen_new(&g, &bad[k]);
		if (rc != VT_EINVAL || g != NULL) {
			printf("# bad parameters %zu: rc %d\n", k, rc);
			ok = 0;
		}
		if (rc == 0)
			vt_gen_free(g);
	}
	CHECK(ok, "dim 0, no means, negative or non-finite spread, sigma, skew: VT_EINVAL, *out NULL");
}

static void free_null(void *unused)
{
	(void)unused;
	vt_gen_free(NULL);
}

int main(void)
{
	test_blocks();
	test_seeds_differ();
	test_one_mean();
	test_spread();
	test_sizes();
	test_errors();
	CHECK(check_survives(free_null, NULL), "vt_gen_free(NULL) returns");
	return check_done();
}
