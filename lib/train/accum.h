/* vtrain: Lloyd accumulators.
 *
 * One Lloyd pass, split over any number of blocks or workers, needs per
 * centroid j:
 *     sum[j]    = sum_{i: a(i)=j} w_i x_i          (d doubles)
 *     weight[j] = sum_{i: a(i)=j} w_i
 *     loss[j]   = sum_{i: a(i)=j} (l_i + w_i ||x_i - c_j||^2)
 * (w_i = 1 and l_i = 0 for plain vectors; l_i is a weighted point's local
 * loss) plus the totals.  Accumulators of disjoint blocks merge by summing,
 * and the new centroid is sum[j] / weight[j].
 *
 * The struct is public so that the stream wing can serialise it: the arrays
 * are owned by the accumulator (made by vt_accum_new) and may be read and
 * written by the caller, who must keep k and d unchanged.
 */
#ifndef VT_ACCUM_H
#define VT_ACCUM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	size_t k, d;
	double *sum;      /* k x d, row-major */
	double *weight;   /* k */
	double *loss;     /* k */
	double total_weight;
	double total_loss;
	uint64_t rows;    /* number of points added */
} vt_accum;

/* A zeroed accumulator for k centroids of dimension d.  *out is NULL on
 * failure.  Returns 0, VT_EINVAL (k or d zero, or k*d overflows) or
 * VT_ENOMEM. */
int vt_accum_new(vt_accum **out, size_t k, size_t d);

/* NULL-safe. */
void vt_accum_free(vt_accum *a);

/* Set every sum, weight, loss and count back to zero. */
void vt_accum_reset(vt_accum *a);

/* Add a block of n points:
 *   x       n x d points (a->d columns)
 *   w       n weights, or NULL for weight 1 each
 *   lloss   n local losses, or NULL for 0 each
 *   labels  n labels in [0, k)
 *   dist2   n squared distances ||x_i - c_{labels[i]}||^2 (for example from
 *           vt_sqdist_labels), or NULL to leave the loss out.
 * Points are added in row order (so the same blocks in the same order give
 * the same bytes).  Returns 0 or VT_EINVAL (a label out of range, checked
 * before anything is added). */
int vt_accum_add(vt_accum *a, const float *x, size_t n, const double *w,
                 const double *lloss, const int32_t *labels, const double *dist2);

/* dst += src, element by element.  Returns 0 or VT_EDIM (k or d differ).
 * Double addition is commutative, so merge(a, b) and merge(b, a) give the
 * same bytes; for more than two parts, merge in a fixed order. */
int vt_accum_merge(vt_accum *dst, const vt_accum *src);

/* New centroids: out[j] = sum[j] / weight[j] rounded to float, or old[j]
 * for a centroid with weight 0 (old may be NULL, then such rows are left
 * as they are in out).  out is k x d, caller allocated; it may be old.
 * *nempty (if not NULL) receives the number of empty centroids.
 * Returns 0. */
int vt_accum_centroids(const vt_accum *a, const float *old, float *out,
                       size_t *nempty);

/* The summed inner product of the points with the centroids they were
 * assigned to:
 *     ip = sum_j <sum[j], c_j> = sum_i w_i <x_i, c_{a(i)}>
 * in double, over c (k x d, the centroids of the pass), in index order.
 * (A weighted point stands for the points of its weight, and its mean's
 * inner product times its weight is theirs summed, so ip is exact for
 * coresets too.)  Under the dot metric, the objective that spherical
 * k-means maximises. */
double vt_accum_dot(const vt_accum *a, const float *c);

#ifdef __cplusplus
}
#endif
#endif
