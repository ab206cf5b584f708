/* bench_kernel: throughput of the nearest-centroid kernel against plain
 * OpenBLAS sgemm on the same shapes, and (optionally) k-means on
 * Fashion-MNIST-shaped random data.  Reads nothing; prints one line per
 * measurement.
 *
 *   bench_kernel [-n ROWS] [-d DIM] [-k K] [-r REPS] [--kmeans]
 *
 * Build (from the top of the tree):
 *   gcc -O3 -march=x86-64-v2 -std=c11 -Ilib lib/error.c lib/train/[a-z]*.c \
 *       pipelines/bench/bench_kernel.c -o bench_kernel -lopenblas -lm -lpthread
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "train/kernel.h"
#include "train/kmeans.h"
#include "train/pool.h"
#include "train/rng.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fill(float *a, size_t n, uint64_t seed)
{
	vt_rng r;
	vt_rng_init(&r, seed, 0);
	for (size_t i = 0; i < n; i++)
		a[i] = (float)vt_rng_normal(&r);
}

struct sg_ctx {
	const float *x, *c;
	float *out;
	size_t n, d, k, rows;
};

/* plain sgemm, row blocks spread over our own pool (same split as the
 * kernel), output thrown away into one block per worker */
static void sg_task(void *arg, size_t t, int worker)
{
	struct sg_ctx *a = arg;
	size_t r0 = t * a->rows, m = a->n - r0 < a->rows ? a->n - r0 : a->rows;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)a->k, (int)a->d,
	            -2.0f, a->x + r0 * a->d, (int)a->d, a->c, (int)a->d, 0.0f,
	            a->out + (size_t)worker * a->rows * a->k, (int)a->k);
}

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
	size_t n = 65536, d = 128, k = 4096;
	int reps = 3, do_kmeans = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			n = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-d") && i + 1 < argc)
			d = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-k") && i + 1 < argc)
			k = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-r") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--kmeans"))
			do_kmeans = 1;
		else {
			fprintf(stderr, "usage: bench_kernel [-n N] [-d D] [-k K] [-r REPS] [--kmeans]\n");
			return 2;
		}
	}
	if (reps < 1 || reps > 100 || n == 0 || d == 0 || k == 0) {
		fprintf(stderr, "bench_kernel: bad arguments\n");
		return 2;
	}
	float *x = malloc(n * d * sizeof *x), *c = malloc(k * d * sizeof *c);
	float *big = malloc(n * k * sizeof *big);
	float *dist = malloc(n * sizeof *dist), *dist2 = malloc(n * sizeof *dist2);
	int32_t *lab = malloc(n * sizeof *lab), *lab2 = malloc(n * sizeof *lab2);
	float *blk = malloc(2 * (size_t)VT_KERNEL_ROWS * k * sizeof *blk);
	if (!x || !c || !big || !dist || !dist2 || !lab || !lab2 || !blk) {
		fprintf(stderr, "bench_kernel: out of memory\n");
		return 1;
	}
	fill(x, n * d, 1);
	fill(c, k * d, 2);
	double flop = 2.0 * n * d * k;
	printf("shape: %zu x %zu rows, %zu centroids, %.1f GFLOP per pass, %d reps (median)\n",
	       n, d, k, flop * 1e-9, reps);
	const char *ct = getenv("OPENBLAS_CORETYPE");
	printf("OPENBLAS_CORETYPE=%s, openblas config: %s\n", ct ? ct : "(unset)",
	       openblas_get_config());

	for (int T = 1; T <= 2; T++) {
		double ts[100];
		/* plain sgemm: OpenBLAS's own threads, one call, n x k output */
		openblas_set_num_threads(T);
		for (int r = 0; r < reps; r++) {
			double t0 = now();
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)d,
			            -2.0f, x, (int)d, c, (int)d, 0.0f, big, (int)k);
			ts[r] = now() - t0;
		}
		double t_sg = median(ts, reps);
		vt_pool *pool;
		if (vt_pool_new(&pool, T)) {
			fprintf(stderr, "bench_kernel: pool failed\n");
			return 1;
		}
		/* plain sgemm in our row blocks on our pool */
		struct sg_ctx sc = {x, c, blk, n, d, k, VT_KERNEL_ROWS};
		for (int r = 0; r < reps; r++) {
			double t0 = now();
			vt_pool_run(pool, (n + VT_KERNEL_ROWS - 1) / VT_KERNEL_ROWS, sg_task, &sc);
			ts[r] = now() - t0;
		}
		double t_sgb = median(ts, reps);
		for (int r = 0; r < reps; r++) {
			double t0 = now();
			vt_assign(pool, x, n, d, c, k, NULL, NULL, lab, dist, NULL, NULL);
			ts[r] = now() - t0;
		}
		double t_a1 = median(ts, reps);
		for (int r = 0; r < reps; r++) {
			double t0 = now();
			vt_assign(pool, x, n, d, c, k, NULL, NULL, lab, dist, lab2, dist2);
			ts[r] = now() - t0;
		}
		double t_a2 = median(ts, reps);
		printf("threads=%d sgemm(one call, n x k out) %.3f s %.1f GFLOP/s\n", T, t_sg,
		       flop / t_sg * 1e-9);
		printf("threads=%d sgemm(256-row blocks)       %.3f s %.1f GFLOP/s\n", T, t_sgb,
		       flop / t_sgb * 1e-9);
		printf("threads=%d assign(nearest)             %.3f s %.1f GFLOP/s  ratio %.3f\n", T,
		       t_a1, flop / t_a1 * 1e-9, t_sg / t_a1);
		printf("threads=%d assign(nearest+second)      %.3f s %.1f GFLOP/s  ratio %.3f\n", T,
		       t_a2, flop / t_a2 * 1e-9, t_sg / t_a2);
		fflush(stdout);
		vt_pool_free(pool);
	}

	if (do_kmeans) {
		/* Fashion-MNIST shape: 60000 x 784, k = 256, 25 iterations */
		size_t fn = 60000, fd = 784, fk = 256;
		float *fx = malloc(fn * fd * sizeof *fx);
		if (!fx) {
			fprintf(stderr, "bench_kernel: out of memory\n");
			return 1;
		}
		/* a mixture of 64 blobs so that the bounds have something to do */
		vt_rng r;
		vt_rng_init(&r, 7, 0);
		float *mu = malloc(64 * fd * sizeof *mu);
		if (!mu)
			return 1;
		for (size_t i = 0; i < 64 * fd; i++)
			mu[i] = (float)(4.0 * vt_rng_normal(&r));
		for (size_t i = 0; i < fn; i++) {
			size_t j = vt_rng_below(&r, 64);
			for (size_t t = 0; t < fd; t++)
				fx[i * fd + t] = mu[j * fd + t] + (float)vt_rng_normal(&r);
		}
		for (int T = 1; T <= 2; T++) {
			vt_kmeans *km;
			if (vt_kmeans_new(&km, fk)) {
				fprintf(stderr, "bench_kernel: kmeans_new failed\n");
				return 1;
			}
			vt_kmeans_set_threads(km, T);
			vt_kmeans_set_iters(km, 25);
			vt_kmeans_set_tol(km, 0);
			vt_kmeans_set_seed(km, 1234);
			double t0 = now();
			int rc = vt_kmeans_run(km, fx, fn, fd, NULL, NULL, NULL);
			double t1 = now() - t0;
			if (rc) {
				fprintf(stderr, "bench_kernel: kmeans: %s\n", vt_strerror(rc));
				return 1;
			}
			double rec, near, ref;
			vt_kmeans_ties(km, &rec, &near, &ref);
			printf("kmeans 60000x784 k=256 iters=%d threads=%d: %.3f s loss %.6g; rows "
			       "recomputed %.0f, near a tie %.0f (%.3f%%), to brute force %.0f\n",
			       vt_kmeans_iterations(km), T, t1, vt_kmeans_loss(km), rec, near,
			       rec > 0 ? 100 * near / rec : 0.0, ref);
			vt_kmeans_free(km);
		}
		free(mu);
		free(fx);
	}
	free(x);
	free(c);
	free(big);
	free(dist);
	free(dist2);
	free(lab);
	free(lab2);
	free(blk);
	return 0;
}
