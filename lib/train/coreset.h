/* vtrain: coresets of weighted points.
 *
 * A coreset stands for a set of rows by fewer weighted points.  Each point
 * p carries
 *     weight w_p = sum_{i in p} w_i
 *     loss   l_p = sum_{i in p} ( l_i + w_i ||x_i - c_p||^2 )
 *     id     id_p = min_{i in p} id_i
 * where the members i are rows (w_i = 1, l_i = 0) or weighted points
 * themselves, and c_p is the weighted mean of the members,
 *     c_p = sum_i w_i x_i / w_p.
 * With this loss the objective of any centroids c over the coreset,
 * sum_p ( l_p + w_p min_j ||c_p - c_j||^2 ), is the objective over the rows
 * under the coreset's assignment (the decomposition of the squared distance
 * about a mean), so a coreset of a coreset still carries the loss of the
 * original rows.  Weights and losses are summed in double, in member order.
 *
 * A group of weight 0 (all its members have weight 0) keeps the unweighted
 * mean of its members as its point.
 */
#ifndef VT_CORESET_H
#define VT_CORESET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Settings of the weighted k-means inside vt_coreset_reduce. */
typedef struct {
	uint64_t seed;     /* seed of the k-means (the caller derives one per chunk) */
	int threads;       /* <= 0: all online CPUs */
	int iters;         /* Lloyd iterations of a flat run (>= 0) */
	double tol;        /* relative tolerance of the Lloyd loop (>= 0) */
} vt_coreset_params;

/* The defaults: seed 0, all cores, 10 iterations, tol 1e-4. */
void vt_coreset_params_default(vt_coreset_params *p);

/* ---- process ---- */

/* Group labelled points into a coreset.
 *
 *   x, n, d   n x d points (row-major float)
 *   w, lloss  n weights and n local losses, or NULL for 1 and 0 each
 *   ids       n ids, or NULL for the row index (0 .. n-1)
 *   labels    n labels in [0, k)
 *   k         number of groups
 * Outputs, caller allocated for up to k points (any may be NULL except
 * cx): cx (k x d) the groups' weighted means, cw their weights, cl their
 * losses (formula above), cid their smallest member id.  Groups without
 * members are dropped; the others are written sorted by id (ties by the
 * label).  *m receives the number of points written (<= k, <= n).
 * Returns 0, VT_EINVAL (a label out of range, checked first, or n, d or k
 * zero) or VT_ENOMEM. */
int vt_coreset_from_labels(const float *x, size_t n, size_t d, const double *w,
                           const double *lloss, const uint64_t *ids,
                           const int32_t *labels, size_t k, float *cx, double *cw,
                           double *cl, uint64_t *cid, size_t *m);

/* Reduce n weighted points to at most target points.
 *
 * When n <= target the points are copied through unchanged (sorted by id).
 * Otherwise they are labelled by weighted k-means (vt_kmeans, flat:
 * k-means++ seeding and params->iters Lloyd iterations; duplicates
 * allowed) and grouped by vt_coreset_from_labels, so that weights and
 * losses carry exactly:
 *     l_group = sum_child ( l_child + w_child ||x_child - c_group||^2 ).
 * Up to 64 groups, one k-means with target centroids labels the points.
 * Above, two levels, so that no point is compared with all the target's
 * centroids: g = ceil(sqrt(target)) groups first, then each group j into
 * its share q_j of the target by a k-means over its own points, where
 * q_j is in proportion to the group's weight (largest remainders), at
 * least 1 and at most the group's size; the groups run in parallel, one
 * thread each, with seeds drawn from (params->seed, j + 1).
 * Inputs and outputs as vt_coreset_from_labels (outputs sized for target
 * points); params NULL means the defaults.  The result depends only on the
 * inputs and params->seed, never on params->threads.
 * Memory beyond inputs and outputs: n labels and the k-means' state (see
 * kmeans.h), plus, for two levels, n indices and threads x the largest
 * group's points.
 * Returns 0, VT_EINVAL (n, d or target zero), VT_EDATA (NaN or Inf, or a
 * negative weight or loss), VT_ENOMEM. */
int vt_coreset_reduce(const float *x, size_t n, size_t d, const double *w,
                      const double *lloss, const uint64_t *ids, size_t target,
                      const vt_coreset_params *params, float *cx, double *cw,
                      double *cl, uint64_t *cid, size_t *m);

/* ---- memory plan (vcoreset(1), MEMORY) ---- */

/* Above this many target points, vt_coreset_reduce works in two levels. */
#define VT_CORESET_TWO_LEVEL 64
/* The most bytes of lower bounds a chunk's k-means keeps (and at most a
 * quarter of the chunk's rows' bytes). */
#define VT_CORESET_BOUNDS_MAX ((size_t)64 << 20)

/* The peak memory in bytes of reducing chunks of C rows of dimension d
 * to k points each with T threads (vcoreset(1), MEMORY):
 *   C (4d + 96)               the chunk, its ids, weights, losses, labels,
 *                             and the k-means' per-row state
 *   min(4 C g, C d, 64 MiB)   the k-means' lower bounds, g = k (k <= 64) or
 *                             ceil(sqrt k) first-level groups
 *   T (2C/g) (4d + 4k/g + 96) two levels: each thread's group, taken as
 *                             twice the mean group
 *   24 k d                    the points and the grouping's state per point
 *                             (4 k d + 80 k), with a margin
 *   T x 8 MiB                 each thread's scratch (measured)
 *   8 MiB                     frames, threads, the program */
unsigned long long vt_coreset_peak_bytes(unsigned long long C, unsigned long long d,
                                         unsigned long long k, unsigned long long T);

/* The points a chunk of r rows gets when a budget of points is shared
 * among total rows in proportion: floor(budget min(r, total) / total);
 * 1 when total is 0. */
unsigned long long vt_coreset_chunk_points(unsigned long long budget, unsigned long long r,
                                           unsigned long long total);

/* The largest chunk C (in rows) whose vt_coreset_peak_bytes, with the
 * points vt_coreset_chunk_points(budget, C, total), is at most mem; 0 when
 * not even one row fits. */
unsigned long long vt_coreset_chunk_for_mem(unsigned long long mem, unsigned long long d,
                                            unsigned long long budget,
                                            unsigned long long total, unsigned long long T);

#ifdef __cplusplus
}
#endif
#endif
