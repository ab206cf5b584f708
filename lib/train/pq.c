#define _POSIX_C_SOURCE 200809L
#include "train/pq.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "train/kernel.h"
#include "train/kmeans.h"
#include "train/nearest.h"
#include "train/rng.h"

/* rows per block of encode / mse */
#define ENC_ROWS 4096

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void vt_pq_opts_init(vt_pq_opts *o, size_t m)
{
	memset(o, 0, sizeof *o);
	o->m = m;
	o->nbits = 8;
	o->iters = VT_PQ_ITERS;
}

uint64_t vt_pq_subspace_seed(uint64_t seed, size_t m)
{
	uint64_t s = seed ^ vt_splitmix64(&(uint64_t){0x7071ULL + (uint64_t)m});
	return vt_splitmix64(&s);
}

/* Copy columns [m ds, (m + 1) ds) of rows x (n x d) into out (n x ds). */
static void gather(const float *x, size_t n, size_t d, size_t m, size_t ds, float *out)
{
	const float *src = x + m * ds;
	for (size_t i = 0; i < n; i++)
		memcpy(out + i * ds, src + i * d, ds * sizeof *out);
}

/* The shape of a codebook for training (any nbits up to VT_PQ_MAX_NBITS)
 * or for codes of one byte (code: up to VT_PQ_MAX_CODE_NBITS). */
static int check_shape(size_t m, int nbits, size_t d, int code)
{
	if (m == 0 || d % m != 0)
		return VT_EDIM;
	if (d == 0 || nbits < 1 || nbits > (code ? VT_PQ_MAX_CODE_NBITS : VT_PQ_MAX_NBITS))
		return VT_EINVAL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* training                                                            */

struct train {
	const vt_pq_opts *o;
	const float *x;
	size_t n, d, ds, K;
	int inner;          /* threads of each k-means */
	float **buf;        /* per worker: n x ds */
	int32_t **lab;      /* per worker: n labels */
	float *codebook;
	vt_pq_sub *sub;     /* M */
	int *rc;            /* M */
	pthread_mutex_t lock;   /* for the progress callback */
	size_t done;
};

/* Move each non-empty centroid of C (K x ds) to the mean of the rows b
 * (n x ds) labelled with it, then relabel every row with its nearest
 * centroid (exact: the argmin of dd, nearest.h, whatever the BLAS) and
 * return the exact loss of that assignment in *loss.
 *
 * The k-means splits empty clusters after its last update too, which
 * leaves a heavy cluster's centroid perturbed by 1/1024 when a sub-space
 * has fewer distinct sub-vectors than centroids; this last update without
 * a split puts it back on its rows' mean.  Neither step can raise the loss
 * (the mean minimises it for fixed labels, the nearest centroid for fixed
 * centroids). */
static int polish(const float *b, size_t n, size_t ds, size_t K, float *C, int32_t *lab,
                  double *loss)
{
	double *S = calloc(K * ds, sizeof *S), *W = calloc(K, sizeof *W);
	float *cn = malloc(K * sizeof *cn);
	void *scr = malloc(vt_nearest_brute_scratch(ds, K));
	int rc = VT_ENOMEM;
	if (!S || !W || !cn || !scr)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const float *r = b + i * ds;
		double *s = S + (size_t)lab[i] * ds;
		for (size_t t = 0; t < ds; t++)
			s[t] += r[t];
		W[lab[i]] += 1;
	}
	for (size_t j = 0; j < K; j++)
		if (W[j] > 0)
			for (size_t t = 0; t < ds; t++)
				C[j * ds + t] = (float)(S[j * ds + t] / W[j]);
	vt_sqnorms(C, K, ds, cn);
	vt_nearest_brute_serial(b, n, ds, C, K, cn, lab, NULL, scr);
	double e = 0;
	for (size_t i = 0; i < n; i++) {
		const float *r = b + i * ds, *c = C + (size_t)lab[i] * ds;
		for (size_t t = 0; t < ds; t++) {
			double v = (double)r[t] - (double)c[t];
			e += v * v;
		}
	}
	*loss = e;
	rc = 0;
out:
	free(S);
	free(W);
	free(cn);
	free(scr);
	return rc;
}

static void train_task(void *arg, size_t m, int worker)
{
	struct train *T = arg;
	double t0 = now();
	float *b = T->buf[worker];
	int32_t *lab = T->lab[worker];
	float *C = T->codebook + m * T->K * T->ds;
	gather(T->x, T->n, T->d, m, T->ds, b);
	vt_kmeans *km = NULL;
	int rc = vt_kmeans_new(&km, T->K);
	if (rc == 0) {
		vt_kmeans_set_mode(km, VT_KMEANS_FLAT);
		vt_kmeans_set_init(km, VT_KMEANS_INIT_PP);
		vt_kmeans_set_iters(km, T->o->iters);
		vt_kmeans_set_tol(km, 0);
		vt_kmeans_set_seed(km, vt_pq_subspace_seed(T->o->seed, m));
		vt_kmeans_set_threads(km, T->inner);
		vt_kmeans_set_allow_duplicates(km, 1);
		/* One lower bound per row (Hamerly) instead of one per centroid
		 * (Elkan): at d / M = 8 to 32 keeping K bounds per row costs more
		 * than the distances they skip (25 iterations of 65,536 x 8 rows,
		 * K = 256: 0.22 s against 0.42 s), and it saves n x K x 4 bytes. */
		vt_kmeans_set_bounds_bytes(km, T->n * sizeof(float) > 1024 ? T->n * sizeof(float)
		                                                            : 1024);
		rc = vt_kmeans_run(km, b, T->n, T->ds, NULL, NULL, lab);
	}
	if (rc == 0) {
		memcpy(C, vt_kmeans_centroids(km), T->K * T->ds * sizeof *C);
		T->sub[m].iters = vt_kmeans_iterations(km);
		rc = polish(b, T->n, T->ds, T->K, C, lab, &T->sub[m].loss);
		T->sub[m].seconds = now() - t0;
	}
	vt_kmeans_free(km);
	T->rc[m] = rc;
	if (T->o->progress) {
		pthread_mutex_lock(&T->lock);
		T->o->progress(T->o->progress_ctx, ++T->done, T->o->m);
		pthread_mutex_unlock(&T->lock);
	}
}

int vt_pq_train(const vt_pq_opts *o, const float *x, size_t n, size_t d, float *codebook,
                vt_pq_sub *sub, double *mse)
{
	int rc = check_shape(o->m, o->nbits, d, 0);
	if (rc)
		return rc;
	const size_t M = o->m, ds = d / M, K = (size_t)1 << o->nbits;
	if (o->iters < 0 || n < K || n > SIZE_MAX / sizeof(float) / d)
		return VT_EINVAL;
	int threads = o->threads > 0 ? o->threads : vt_cpu_count();
	if (threads > 1024)
		return VT_EINVAL;
	/* Whole sub-spaces per thread: at d / M = 8 the sgemm of one k-means is
	 * too thin to split well, and the sub-spaces need no synchronisation. */
	int outer = (size_t)threads < M ? threads : (int)M;
	struct train T = {.o = o, .x = x, .n = n, .d = d, .ds = ds, .K = K,
	                  .inner = threads / outer, .codebook = codebook};
	pthread_mutex_init(&T.lock, NULL);
	vt_pool *pool = NULL;
	rc = VT_ENOMEM;
	T.buf = calloc((size_t)outer, sizeof *T.buf);
	T.lab = calloc((size_t)outer, sizeof *T.lab);
	T.sub = calloc(M, sizeof *T.sub);
	T.rc = calloc(M, sizeof *T.rc);
	if (!T.buf || !T.lab || !T.sub || !T.rc)
		goto out;
	for (int w = 0; w < outer; w++)
		if (!(T.buf[w] = malloc(n * ds * sizeof **T.buf)) ||
		    !(T.lab[w] = malloc(n * sizeof **T.lab)))
			goto out;
	if ((rc = vt_pool_new(&pool, outer)))
		goto out;
	vt_pool_run(pool, M, train_task, &T);
	rc = 0;
	double tot = 0;
	for (size_t m = 0; m < M; m++) {
		if (T.rc[m] && !rc)
			rc = T.rc[m];
		tot += T.sub[m].loss;
	}
	if (rc)
		goto out;
	if (sub)
		memcpy(sub, T.sub, M * sizeof *sub);
	if (mse)
		*mse = tot / (double)n;
out:
	vt_pool_free(pool);
	for (int w = 0; w < outer; w++) {
		if (T.buf)
			free(T.buf[w]);
		if (T.lab)
			free(T.lab[w]);
	}
	free(T.buf);
	free(T.lab);
	free(T.sub);
	free(T.rc);
	pthread_mutex_destroy(&T.lock);
	return rc;
}

/* ------------------------------------------------------------------ */
/* encoding                                                            */

/* Encode rows x (n x d) into codes (n x M), and add their exact squared
 * reconstruction error to *err if err is not NULL.  Blocks of ENC_ROWS
 * rows, sub-spaces in order, rows in order: a fixed summation order. */
static int encode(vt_pool *pool, const float *cb, size_t M, int nbits, const float *x,
                  size_t n, size_t d, uint8_t *codes, double *err)
{
	int rc = check_shape(M, nbits, d, 1);
	if (rc || n == 0)
		return rc;
	const size_t ds = d / M, K = (size_t)1 << nbits;
	size_t bn = n < ENC_ROWS ? n : ENC_ROWS;
	float *b = malloc(bn * ds * sizeof *b);
	int32_t *lab = malloc(bn * sizeof *lab);
	rc = VT_ENOMEM;
	if (!b || !lab)
		goto out;
	double e = 0;
	for (size_t i0 = 0; i0 < n; i0 += bn) {
		size_t nr = n - i0 < bn ? n - i0 : bn;
		const float *xr = x + i0 * d;
		for (size_t m = 0; m < M; m++) {
			const float *cm = cb + m * K * ds;
			gather(xr, nr, d, m, ds, b);
			if ((rc = vt_nearest_brute(pool, b, nr, ds, cm, K, 1, lab, NULL)))
				goto out;
			for (size_t i = 0; i < nr; i++) {
				if (codes)
					codes[(i0 + i) * M + m] = (uint8_t)lab[i];
				if (err) {
					const float *r = b + i * ds, *c = cm + (size_t)lab[i] * ds;
					for (size_t t = 0; t < ds; t++) {
						double v = (double)r[t] - (double)c[t];
						e += v * v;
					}
				}
			}
		}
	}
	if (err)
		*err = e;
	rc = 0;
out:
	free(b);
	free(lab);
	return rc;
}

int vt_pq_encode(vt_pool *pool, const float *codebook, size_t m, int nbits,
                 const float *x, size_t n, size_t d, uint8_t *codes)
{
	return encode(pool, codebook, m, nbits, x, n, d, codes, NULL);
}

/* The exact encoder.  dd of a sub-vector to every codeword of its
 * sub-space, in exactly vt_nearest_sqdist's order (four partial sums over
 * t mod 4, the tail into the first, then (s0 + s1) + (s2 + s3)), for
 * EXACT_CB codewords at a time so that the sums stay in registers; the
 * codebook is held transposed in double (M x ds x Kp, Kp = K rounded up to
 * EXACT_CB, the padding 0 and never compared). */
enum { EXACT_CB = 4, EXACT_ROWS = 256 };

typedef struct {
	const double *cbt;
	const float *x;
	uint8_t *codes;
	size_t m, K, Kp, ds, d, n;
} exact_job;

/* v[q] = dd(xs, codeword q) for the EXACT_CB codewords whose transposed
 * coordinates start at ct (coordinate t of codeword q at ct[t Kp + q]). */
#if defined(__SSE2__)
#include <emmintrin.h>

static void exact_block(const float *xs, const double *ct, size_t ds, size_t Kp, double *v)
{
	/* lanes are codewords; each lane adds in vt_nearest_sqdist's order
	 * (no FMA: _mm_mul_pd then _mm_add_pd round as the scalar code does) */
	__m128d s[4][EXACT_CB / 2];
	for (int r = 0; r < 4; r++)
		for (int q = 0; q < EXACT_CB / 2; q++)
			s[r][q] = _mm_setzero_pd();
	size_t t = 0;
	for (; t + 4 <= ds; t += 4) {
		for (int r = 0; r < 4; r++) {
			const __m128d xv = _mm_set1_pd((double)xs[t + r]);
			const double *row = ct + (t + r) * Kp;
			for (int q = 0; q < EXACT_CB / 2; q++) {
				__m128d a = _mm_sub_pd(xv, _mm_loadu_pd(row + 2 * q));
				s[r][q] = _mm_add_pd(s[r][q], _mm_mul_pd(a, a));
			}
		}
	}
	for (; t < ds; t++) {
		const __m128d xv = _mm_set1_pd((double)xs[t]);
		const double *row = ct + t * Kp;
		for (int q = 0; q < EXACT_CB / 2; q++) {
			__m128d a = _mm_sub_pd(xv, _mm_loadu_pd(row + 2 * q));
			s[0][q] = _mm_add_pd(s[0][q], _mm_mul_pd(a, a));
		}
	}
	for (int q = 0; q < EXACT_CB / 2; q++)
		_mm_storeu_pd(v + 2 * q, _mm_add_pd(_mm_add_pd(s[0][q], s[1][q]),
		                                    _mm_add_pd(s[2][q], s[3][q])));
}
#else
static void exact_block(const float *xs, const double *ct, size_t ds, size_t Kp, double *v)
{
	double s[4][EXACT_CB] = {{0}};
	size_t t = 0;
	for (; t + 4 <= ds; t += 4)
		for (int r = 0; r < 4; r++)
			for (int q = 0; q < EXACT_CB; q++) {
				double a = (double)xs[t + r] - ct[(t + r) * Kp + q];
				s[r][q] += a * a;
			}
	for (; t < ds; t++)
		for (int q = 0; q < EXACT_CB; q++) {
			double a = (double)xs[t] - ct[t * Kp + q];
			s[0][q] += a * a;
		}
	for (int q = 0; q < EXACT_CB; q++)
		v[q] = (s[0][q] + s[1][q]) + (s[2][q] + s[3][q]);
}
#endif

static void exact_task(void *arg, size_t task, int worker)
{
	(void)worker;
	const exact_job *j = arg;
	const size_t ds = j->ds, Kp = j->Kp;
	size_t hi = (task + 1) * EXACT_ROWS < j->n ? (task + 1) * EXACT_ROWS : j->n;
	for (size_t i = task * EXACT_ROWS; i < hi; i++) {
		for (size_t sub = 0; sub < j->m; sub++) {
			const float *xs = j->x + i * j->d + sub * ds;
			const double *ct = j->cbt + sub * ds * Kp;
			double best = INFINITY;
			size_t arg_best = 0;
			for (size_t c0 = 0; c0 < j->K; c0 += EXACT_CB) {
				double v[EXACT_CB];
				exact_block(xs, ct + c0, ds, Kp, v);
				size_t qn = j->K - c0 < EXACT_CB ? j->K - c0 : EXACT_CB;
				for (size_t q = 0; q < qn; q++) {
					if (v[q] < best)
						best = v[q], arg_best = c0 + q;
				}
			}
			j->codes[i * j->m + sub] = (uint8_t)arg_best;
		}
	}
}

int vt_pq_encode_exact(vt_pool *pool, const float *codebook, size_t m, int nbits,
                       const float *x, size_t n, size_t d, uint8_t *codes)
{
	int rc = check_shape(m, nbits, d, 1);
	if (rc || n == 0)
		return rc;
	const size_t ds = d / m, K = (size_t)1 << nbits;
	const size_t Kp = (K + EXACT_CB - 1) / EXACT_CB * EXACT_CB;
	double *cbt = calloc(m * ds * Kp, sizeof *cbt);
	if (!cbt)
		return VT_ENOMEM;
	for (size_t s = 0; s < m; s++)
		for (size_t c = 0; c < K; c++)
			for (size_t t = 0; t < ds; t++)
				cbt[(s * ds + t) * Kp + c] = codebook[(s * K + c) * ds + t];
	exact_job j = {cbt, x, codes, m, K, Kp, ds, d, n};
	vt_pool_run(pool, (n + EXACT_ROWS - 1) / EXACT_ROWS, exact_task, &j);
	free(cbt);
	return 0;
}

int vt_pq_decode(const float *codebook, size_t m, int nbits, size_t d,
                 const uint8_t *codes, size_t n, float *out)
{
	int rc = check_shape(m, nbits, d, 1);
	if (rc)
		return rc;
	const size_t ds = d / m, K = (size_t)1 << nbits;
	for (size_t i = 0; i < n * m; i++)
		if (codes[i] >= K)
			return VT_EINVAL;
	for (size_t i = 0; i < n; i++)
		for (size_t s = 0; s < m; s++)
			memcpy(out + i * d + s * ds, codebook + (s * K + codes[i * m + s]) * ds,
			       ds * sizeof *out);
	return 0;
}

int vt_pq_mse(vt_pool *pool, const float *codebook, size_t m, int nbits,
              const float *x, size_t n, size_t d, double *mse)
{
	double e = 0;
	int rc = encode(pool, codebook, m, nbits, x, n, d, NULL, &e);
	if (rc)
		return rc;
	*mse = n ? e / (double)n : 0;
	return 0;
}
