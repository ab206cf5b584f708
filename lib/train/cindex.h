/* vtrain: nearest-centroid search narrowed by an index over the centroids.
 *
 * A full assignment compares every row with all k centroids, which at
 * k = 131,072 and d = 128 is 34 MFLOP per row.  The index groups the
 * centroids into G groups by a flat k-means over the centroids themselves
 * (G = ceil(sqrt k) unless given), each group with a centre, the mean of
 * its members.  A row x is compared with the G centres, the P nearest
 * groups are probed, and, when asked, also the group of the row's current
 * label; the row goes to the nearest member of the probed groups:
 *
 *     label(x) = argmin_{j in probed(x)} ||x - c_j||^2
 *
 * (ties to the lowest centroid index).  Rows must be finite: a row with a
 * NaN still gets a valid label, of no meaning.  That is G + P k / G distance
 * evaluations per row instead of k.  It is an approximation of the nearest
 * centroid; vt_cindex_assign can say how often it differs.  With the current
 * label's group probed, a row never moves to a centroid farther than its
 * current one, so a Lloyd iteration that assigns through the index still
 * never increases the loss.
 *
 * Each row is computed in fixed batches of rows, and its result depends
 * only on the row, the centroids, the groups and the batch it falls in,
 * never on the number of threads.
 */
#ifndef VT_CINDEX_H
#define VT_CINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "train/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_cindex vt_cindex;

/* Most groups an index may have (the coarse step holds a row block by G). */
#define VT_CINDEX_MAX_GROUPS 65536
/* Most groups probed per row. */
#define VT_CINDEX_MAX_PROBE 256

/* ---- create / destroy ---- */

/* Build an index over the k x d centroids c (copied; k >= 1, d >= 1):
 * groups G (0: ceil(sqrt k)), at most k and VT_CINDEX_MAX_GROUPS, made by
 * flat k-means++ and 10 Lloyd iterations over the centroids with the given
 * seed (G = 1 or G = k need no k-means).  pool may be NULL.  *out is NULL
 * on failure.  Memory: about 4 k d + 16 k bytes beyond the k-means.
 * Returns 0, VT_EINVAL (a zero size, k >= 2^31, G too large), VT_EDATA
 * (a centroid not finite) or VT_ENOMEM. */
int vt_cindex_new(vt_cindex **out, vt_pool *pool, const float *c, size_t k, size_t d,
                  size_t groups, uint64_t seed);

/* Free the index.  NULL-safe. */
void vt_cindex_free(vt_cindex *ix);

/* ---- process ---- */

/* Label each of the n rows x (n x d) with its nearest centroid among the
 * nprobe nearest groups (1 <= nprobe <= VT_CINDEX_MAX_PROBE, at most G),
 * plus the group of labels[i] when keep is nonzero (labels[i] must then
 * be a valid label on entry).  labels (n, in/out) and dists (n squared
 * distances ||x||^2 + ||c||^2 - 2 x.c in float, clamped at 0; may be NULL)
 * are caller allocated.  evals, if not NULL, receives the number of
 * row-to-centroid distances computed (group centres included), summed in
 * double.  pool may be NULL.  Memory: 1 MiB x (nprobe + 1) for a batch
 * of 65,536 rows, plus, per thread, the larger of 1 KiB x G and
 * 1 KiB x (d + 2) + 4 vt_assign_scratch_floats(largest group) bytes.  Returns 0, VT_EINVAL (a zero size, a bad nprobe, a label out of
 * range with keep) or VT_ENOMEM. */
int vt_cindex_assign(const vt_cindex *ix, vt_pool *pool, const float *x, size_t n,
                     size_t nprobe, int keep, int32_t *labels, float *dists,
                     double *evals);

/* ---- get ---- */

size_t vt_cindex_groups(const vt_cindex *ix);
/* Centroids in the largest group. */
size_t vt_cindex_largest(const vt_cindex *ix);

#ifdef __cplusplus
}
#endif
#endif
