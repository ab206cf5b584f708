/* Unit tests of lib/train/pq. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "train/pq.h"
#include "train/rng.h"


/* n x d rows of 3 * N(0, 1), from stream 1 of seed (caller frees). */
static float *gauss(size_t n, size_t d, uint64_t seed)
{
	float *x = xmalloc(n * d * sizeof *x);
	check_normal(x, n * d, seed, 1, 3, 0);
	return x;
}

/* n x d rows that a PQ of M sub-spaces with 2^nbits centroids represents
 * exactly: each sub-vector is one of `values` (<= 2^nbits) fixed random
 * sub-vectors of its sub-space. */
static float *representable(size_t n, size_t d, size_t M, size_t values, uint64_t seed)
{
	size_t ds = d / M;
	float *v = gauss(M * values, ds, seed + 100);
	float *x = xmalloc(n * d * sizeof *x);
	vt_rng r;
	vt_rng_init(&r, seed, 2);
	for (size_t i = 0; i < n; i++)
		for (size_t m = 0; m < M; m++) {
			size_t c = (size_t)vt_rng_below(&r, values);
			memcpy(x + i * d + m * ds, v + (m * values + c) * ds, ds * sizeof *x);
		}
	free(v);
	return x;
}

/* (1/n) sum_i sum_m min_c ||x_i^(m) - C_m[c]||^2, all in double. */
static double brute_mse(const float *cb, size_t M, int nbits, const float *x, size_t n, size_t d)
{
	size_t K = (size_t)1 << nbits, ds = d / M;
	double tot = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t m = 0; m < M; m++) {
			double best = INFINITY;
			for (size_t c = 0; c < K; c++) {
				const float *cc = cb + (m * K + c) * ds, *xr = x + i * d + m * ds;
				double s = 0;
				for (size_t t = 0; t < ds; t++) {
					double e = (double)xr[t] - cc[t];
					s += e * e;
				}
				best = s < best ? s : best;
			}
			tot += best;
		}
	return tot / (double)n;
}

static int train(const float *x, size_t n, size_t d, size_t M, int nbits, uint64_t seed,
                 int threads, float **cb, double *mse, vt_pq_sub *sub)
{
	vt_pq_opts o;
	vt_pq_opts_init(&o, M);
	o.nbits = nbits;
	o.seed = seed;
	o.threads = threads;
	size_t K = (size_t)1 << nbits;
	*cb = xmalloc(M * K * (d / (M ? M : 1)) * sizeof **cb);
	return vt_pq_train(&o, x, n, d, *cb, sub, mse);
}

static void test_defaults(void)
{
	vt_pq_opts o;
	vt_pq_opts_init(&o, 16);
	CHECK(o.m == 16 && o.nbits == 8 && o.iters == VT_PQ_ITERS && o.iters == 25 && o.seed == 0 &&
	      o.threads == 0, "defaults: nbits 8, 25 iterations, seed 0, all cores");
	CHECK(vt_pq_subspace_seed(1, 0) != vt_pq_subspace_seed(1, 1) &&
	      vt_pq_subspace_seed(1, 0) != vt_pq_subspace_seed(2, 0) &&
	      vt_pq_subspace_seed(1, 3) == vt_pq_subspace_seed(1, 3),
	      "sub-space seeds depend on (seed, m), and only on them");
}

static void test_exact(void)
{
	size_t n = 3000, d = 24, M = 6;
	int nbits = 3;
	float *x = representable(n, d, M, 8, 1), *cb;
	double mse = -1;
	vt_pq_sub sub[6];
	int rc = train(x, n, d, M, nbits, 1, 2, &cb, &mse, sub);
	CHECK(rc == 0, "trains on representable data (rc %d)", rc);
	CHECK(mse >= 0 && mse < 1e-9, "exactly representable data gives MSE ~ 0 (%g)", mse);
	double ls = 0;
	for (size_t m = 0; m < M; m++)
		ls += sub[m].loss;
	CHECK(fabs(ls / n - mse) <= 1e-12 * (1 + mse) && sub[0].iters == 25,
	      "mse is the sub-space losses over n; 25 iterations each");
	/* encode then decode gives the rows back */
	uint8_t *codes = xmalloc(n * M);
	float *y = xmalloc(n * d * sizeof *y);
	rc = vt_pq_encode(NULL, cb, M, nbits, x, n, d, codes);
	int rc2 = vt_pq_decode(cb, M, nbits, d, codes, n, y);
	double maxe = 0;
	for (size_t i = 0; i < n * d; i++)
		maxe = fmax(maxe, fabs((double)x[i] - y[i]));
	CHECK(rc == 0 && rc2 == 0 && maxe < 1e-5, "encode + decode reconstructs the rows (max %g)",
	      maxe);
	int inrange = 1;
	for (size_t i = 0; i < n * M; i++)
		inrange &= codes[i] < 8;
	CHECK(inrange, "codes are below 2^nbits");
	free(cb);
	free(x);
	/* fewer distinct values than centroids: duplicates are allowed */
	x = representable(n, d, M, 5, 2);
	rc = train(x, n, d, M, nbits, 1, 1, &cb, &mse, NULL);
	CHECK(rc == 0 && mse < 1e-9, "5 distinct sub-vectors for 8 centroids: MSE ~ 0 (rc %d, %g)",
	      rc, mse);
	free(cb);
	free(x);
	free(codes);
	free(y);
}

static void test_mse_brute(void)
{
	size_t n = 1500, d = 32, M = 4;
	int nbits = 4;
	float *x = gauss(n, d, 3), *cb;
	double mse, mse2, ref;
	int rc = train(x, n, d, M, nbits, 9, 2, &cb, &mse, NULL);
	int rc2 = vt_pq_mse(NULL, cb, M, nbits, x, n, d, &mse2);
	ref = brute_mse(cb, M, nbits, x, n, d);
	CHECK(rc == 0 && rc2 == 0, "train and mse succeed");
	CHECK(fabs(mse - ref) <= 1e-6 * ref && fabs(mse2 - ref) <= 1e-6 * ref,
	      "training MSE %.12g and vt_pq_mse %.12g equal brute force %.12g", mse, mse2, ref);
	/* trained is much better than the variance (9 per coordinate, 288 a row) */
	CHECK(mse < 0.8 * 9 * d, "the codebook fits the data (%g < %g)", mse, 0.8 * 9 * d);
	vt_pool *pool;
	vt_pool_new(&pool, 2);
	rc = vt_pq_mse(pool, cb, M, nbits, x, n, d, &mse2);
	CHECK(rc == 0 && fabs(mse2 - ref) <= 1e-6 * ref, "vt_pq_mse with a pool");
	vt_pool_free(pool);
	free(cb);
	free(x);
}

static void test_determinism(void)
{
	size_t n = 2000, d = 16, M = 4, K = 32, ds = 4;
	float *x = gauss(n, d, 4), *a, *b, *c, *e, *f, *g;
	double ma, mb, mc, me, mf, mg;
	train(x, n, d, M, 5, 7, 1, &a, &ma, NULL);
	train(x, n, d, M, 5, 7, 1, &b, &mb, NULL);
	train(x, n, d, M, 5, 7, 2, &c, &mc, NULL);
	train(x, n, d, M, 5, 7, 3, &e, &me, NULL);
	train(x, n, d, M, 5, 7, 8, &f, &mf, NULL);
	train(x, n, d, M, 5, 8, 1, &g, &mg, NULL);
	size_t bytes = M * K * ds * sizeof(float);
	CHECK(memcmp(a, b, bytes) == 0 && ma == mb, "the same seed gives the same bytes");
	CHECK(memcmp(a, c, bytes) == 0 && memcmp(a, e, bytes) == 0 && memcmp(a, f, bytes) == 0 &&
	      ma == mc && ma == me && ma == mf, "threads 1, 2, 3 and 8 give the same bytes");
	CHECK(memcmp(a, g, bytes) != 0, "another seed gives another codebook");
	free(a), free(b), free(c), free(e), free(f), free(g);
	free(x);
}

static void test_errors(void)
{
	size_t n = 300, d = 12;
	float *x = gauss(n, d, 5), *cb = xmalloc(256 * 12 * sizeof *cb);
	vt_pq_opts o;
	double mse;
	vt_pq_opts_init(&o, 5);
	CHECK(vt_pq_train(&o, x, n, d, cb, NULL, &mse) == VT_EDIM, "M = 5 does not divide d = 12");
	o.m = 0;
	CHECK(vt_pq_train(&o, x, n, d, cb, NULL, &mse) == VT_EDIM, "M = 0 is refused");
	o.m = 3;
	o.nbits = 0;
	CHECK(vt_pq_train(&o, x, n, d, cb, NULL, &mse) == VT_EINVAL, "nbits 0 is refused");
	o.nbits = 9;
	CHECK(vt_pq_train(&o, x, n, d, cb, NULL, &mse) == VT_EINVAL, "nbits 9 is refused");
	o.nbits = 8;
	CHECK(vt_pq_train(&o, x, 255, d, cb, NULL, &mse) == VT_EINVAL,
	      "255 rows for 256 centroids is too few");
	CHECK(vt_pq_train(&o, x, 256, d, cb, NULL, &mse) == 0, "256 rows for 256 centroids is enough");
	o.nbits = 2;
	o.iters = -1;
	CHECK(vt_pq_train(&o, x, n, d, cb, NULL, &mse) == VT_EINVAL, "negative iterations");
	o.iters = 0;
	CHECK(vt_pq_train(&o, x, n, d, cb, NULL, &mse) == 0, "0 iterations: seeding only");
	x[7 * d + 5] = NAN;
	o.iters = 3;
	CHECK(vt_pq_train(&o, x, n, d, cb, NULL, &mse) == VT_EDATA, "a NaN is VT_EDATA");
	uint8_t codes[3] = {0, 4, 1};
	float out[12];
	CHECK(vt_pq_decode(cb, 3, 2, d, codes, 1, out) == VT_EINVAL, "a code >= 2^nbits is refused");
	CHECK(vt_pq_decode(cb, 5, 2, d, codes, 1, out) == VT_EDIM &&
	      vt_pq_encode(NULL, cb, 5, 2, out, 1, d, codes) == VT_EDIM,
	      "encode and decode check that M divides d");
	free(x);
	free(cb);
}

/* vt_pq_encode_exact: the double argmin per sub-space, ties to the lower
 * index (a codebook with duplicated codewords), and the same codes with or
 * without a pool. */
static void test_encode_exact(void)
{
	const size_t n = 700, d = 12, M = 3, ds = d / M;
	const int nbits = 4;
	const size_t K = (size_t)1 << nbits;
	float *x = gauss(n, d, 11), *cb = gauss(M * K, ds, 12);
	/* codeword 9 of every sub-space repeats codeword 2; codeword 5 is a row's sub-vector */
	for (size_t m = 0; m < M; m++) {
		memcpy(cb + (m * K + 9) * ds, cb + (m * K + 2) * ds, ds * sizeof *cb);
		memcpy(cb + (m * K + 5) * ds, x + 3 * d + m * ds, ds * sizeof *cb);
	}
	uint8_t *a = xmalloc(n * M), *b = xmalloc(n * M);
	int rc = vt_pq_encode_exact(NULL, cb, M, nbits, x, n, d, a);
	vt_pool *pool = check_pool(3);
	int rc2 = vt_pq_encode_exact(pool, cb, M, nbits, x, n, d, b);
	size_t wrong = 0, nine = 0, two = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t m = 0; m < M; m++) {
			size_t best = 0;
			double bd = INFINITY;
			for (size_t c = 0; c < K; c++) {
				double s = 0;
				for (size_t t = 0; t < ds; t++) {
					double e = (double)x[i * d + m * ds + t] - cb[(m * K + c) * ds + t];
					s += e * e;
				}
				if (s < bd)
					bd = s, best = c;
			}
			wrong += a[i * M + m] != best;
			nine += a[i * M + m] == 9;
			two += a[i * M + m] == 2;
		}
	CHECK(rc == 0 && wrong == 0, "exact codes equal the double brute force (%zu differ)", wrong);
	CHECK(nine == 0 && two > 0, "a duplicated codeword goes to the lower index (%zu at 9, %zu at 2)",
	      nine, two);
	CHECK(a[3 * M] == 5 && a[3 * M + 1] == 5, "a sub-vector that is a codeword gets it");
	CHECK(rc2 == 0 && memcmp(a, b, n * M) == 0, "the pool changes no code");
	/* vt_pq_encode (float sgemm, dd at the near-ties) gives the same codes,
	 * on these rows and on rows whose norms dwarf their distances (shifted
	 * far from the origin: the float distances are mostly rounding there) */
	rc = vt_pq_encode(pool, cb, M, nbits, x, n, d, b);
	CHECK(rc == 0 && memcmp(a, b, n * M) == 0, "vt_pq_encode = vt_pq_encode_exact");
	for (size_t i = 0; i < n * d; i++)
		x[i] += 1000.0f;
	for (size_t i = 0; i < M * K * ds; i++)
		cb[i] += 1000.0f;
	rc = vt_pq_encode_exact(pool, cb, M, nbits, x, n, d, a);
	rc2 = vt_pq_encode(NULL, cb, M, nbits, x, n, d, b);
	CHECK(rc == 0 && rc2 == 0 && memcmp(a, b, n * M) == 0,
	      "shifted rows: vt_pq_encode = vt_pq_encode_exact");
	CHECK(vt_pq_encode_exact(NULL, cb, 5, nbits, x, n, d, a) == VT_EDIM &&
	      vt_pq_encode_exact(NULL, cb, M, 9, x, n, d, a) == VT_EINVAL, "bad shapes are refused");
	vt_pool_free(pool);
	free(x), free(cb), free(a), free(b);
}

int main(void)
{
	test_encode_exact();
	test_defaults();
	test_exact();
	test_mse_brute();
	test_determinism();
	test_errors();
	return check_done();
}
