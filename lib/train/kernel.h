/* vtrain: the nearest-centroid kernel.
 *
 * For rows x_i (n x d) and centroids c_j (k x d), all row-major float:
 *
 *     dist(i, j) = ||x_i||^2 + ||c_j||^2 - 2 x_i . c_j      (clamped at 0)
 *
 * computed as squared norms plus one cblas_sgemm per block of
 * VT_KERNEL_ROWS rows by up to VT_KERNEL_COLS centroids (sized so the block
 * of inner products stays in L2), with the argmin fused right after each
 * sgemm while the block is hot.  The rows are cut into fixed blocks that do
 * not depend on the number of threads, and each row's result depends only
 * on its block, so any thread count gives the same bytes.
 *
 * Labels are int32_t (so k < 2^31).  Ties go to the lowest centroid index.
 * Norms of the rows are accumulated in double then rounded to float.
 */
#ifndef VT_KERNEL_H
#define VT_KERNEL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "train/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rows per block (the unit of work handed to a thread). */
#ifndef VT_KERNEL_ROWS
#define VT_KERNEL_ROWS 256
#endif
/* Maximum centroids per sgemm block. */
#ifndef VT_KERNEL_COLS
#define VT_KERNEL_COLS 512
#endif

/* Squared norms out[i] = sum_t x[i*d+t]^2, accumulated in double, stored as
 * float.  out holds n floats (caller allocated). */
void vt_sqnorms(const float *x, size_t n, size_t d, float *out);

/* The smallest and second smallest of v[j] + add[j] over j in [0, n), by
 * (value, index): *m1 and its index *a1 (0 when n == 0), *m2 (INFINITY
 * when n < 2).  The sums are the float additions of the plain loop; AVX2
 * where the CPU has it, with the same result. */
void vt_min2(const float *v, const float *add, size_t n, float *m1, int32_t *a1, float *m2);

/* Float squared distances, for bounds only: out[j] = sum_t (x_t - c_jt)^2
 * for the m rows c_j of c (d wide), in float (differences, squares and the
 * sum each rounded to float, with or without FMA, in any order: AVX2+FMA
 * where the CPU has it).  Not reproducible across CPUs; a caller turns each
 * value into a proven lower bound with vt_sqdist_f_lower and decides only
 * what that bound proves. */
void vt_sqdists_f(const float *x, const float *c, size_t d, size_t m, float *out);

/* A lower bound of the true squared distance ||x - c||^2 from the float
 * value f that vt_sqdists_f gave for x and c (d wide): every difference,
 * square and sum is off by at most a relative 2^-24 plus, below FLT_MIN, an
 * absolute 2^-149, so the true value is at least
 *     f (1 - 2e) - (2d + 8) 2^-148,   e = (2d + 8) 2^-24,
 * (the factor 2 of 2e also covers this double arithmetic).  -1 when f is not
 * finite (an overflow proves nothing). */
static inline double vt_sqdist_f_lower(float f, size_t d)
{
	if (!(f < INFINITY))
		return -1;
	double e = (2.0 * (double)d + 8) * 0x1p-24;
	return (double)f * (1 - 2 * e) - (2.0 * (double)d + 8) * 0x1p-148;
}

/* A float thr such that vt_sqdist_f_lower(f, d) >= v for every finite
 * f >= thr: (v + (2d + 8) 2^-148) / (1 - 2e), enlarged by 2^-20 to cover
 * this double arithmetic and the rounding to float (INFINITY when that
 * does not fit a float, or v is not finite). */
static inline float vt_sqdist_f_threshold(double v, size_t d)
{
	double e = (2.0 * (double)d + 8) * 0x1p-24;
	double t = (v + (2.0 * (double)d + 8) * 0x1p-148) / (1 - 2 * e) * (1 + 0x1p-20);
	return t < 0x1.fffffep127 ? (float)t : INFINITY;
}

/* 1 when the float squared distance of x and c (d wide), summed as
 * vt_sqdists_f sums it but checked every 32 coordinates, reaches the finite
 * thr (and is finite): then the true distance is at least the lower bound
 * that thr stands for (vt_sqdist_f_threshold), since a partial sum of
 * squares is a sum of fewer terms.  0 otherwise.  It stops at the first
 * check that reaches thr, so a far pair costs a fraction of d. */
int vt_sqdist_f_reaches(const float *x, const float *c, size_t d, float thr);

/* Nearest centroid of every row.
 *
 *   pool    thread pool, or NULL to run in the calling thread.
 *   x       n x d rows;  c: k x d centroids (k >= 1, d >= 1).
 *   cnorms  ||c_j||^2 for the k centroids, or NULL to compute them here.
 *   bias    NULL, or k additive penalties: the argmin is taken over
 *           dist(i, j) + bias[j], in float as
 *           (||c_j||^2 + bias[j]) - 2 x_i . c_j (k-means's balance
 *           penalty, whose formula is at vt_kmeans_set_balance).
 *           The distances written out exclude the bias.
 *   labels  n labels (or NULL);  dists: n squared distances (or NULL).
 *   labels2 n second-nearest labels (or NULL), -1 when k == 1;
 *   dists2  n second-nearest squared distances (or NULL), INFINITY when
 *           k == 1.
 * All outputs are caller allocated.  Returns 0, VT_EINVAL (a zero size or
 * k >= 2^31) or VT_ENOMEM.  The arithmetic is float (sgemm); for exact
 * distances of a given assignment use vt_sqdist_labels(). */
int vt_assign(vt_pool *pool, const float *x, size_t n, size_t d,
              const float *c, size_t k, const float *cnorms, const float *bias,
              int32_t *labels, float *dists, int32_t *labels2, float *dists2);

/* Floats of scratch space that vt_assign_serial needs for k centroids. */
size_t vt_assign_scratch_floats(size_t k);

/* vt_assign in the calling thread with caller-provided scratch
 * (vt_assign_scratch_floats(k) floats, no alignment needed), for callers
 * that run their own per-thread blocks.  cnorms is required here.  Rows are
 * processed in blocks of VT_KERNEL_ROWS from the start of x.  Returns 0 or
 * VT_EINVAL. */
int vt_assign_serial(const float *x, size_t n, size_t d, const float *c,
                     size_t k, const float *cnorms, const float *bias,
                     int32_t *labels, float *dists, int32_t *labels2,
                     float *dists2, float *scratch);

/* Residuals: each row of x (n x d, in place) minus its nearest centroid of
 * c (k x d), x_i <- x_i - c_{nearest(x_i)}, the nearest as vt_assign finds
 * it.  labels (n, or NULL) receives the nearest centroids.  Works in blocks
 * of 65,536 rows (memory: 256 KiB of labels when labels is NULL, plus
 * vt_assign's).  Returns 0, VT_EINVAL or VT_ENOMEM.  (The programs take
 * residuals with vt_assigner_subtract, bridge/assign.h, whose nearest is
 * the exact argmin of dd; this one is the kernel's float argmin.) */
int vt_subtract_nearest(vt_pool *pool, float *x, size_t n, size_t d, const float *c,
                        size_t k, int32_t *labels);

/* Exact squared distance of each row to its assigned centroid, in double:
 *     out[i] = sum_t (x[i*d+t] - c[labels[i]*d+t])^2
 * Labels must be in [0, k) (VT_EINVAL otherwise, checked first).  out holds
 * n doubles; sum, if not NULL, receives sum_i out[i] (summed in row order,
 * so independent of the pool).  Returns 0, VT_EINVAL or VT_ENOMEM. */
int vt_sqdist_labels(vt_pool *pool, const float *x, size_t n, size_t d,
                     const float *c, size_t k, const int32_t *labels,
                     double *out, double *sum);

#ifdef __cplusplus
}
#endif
#endif
