/* vtrain: nearest-centroid search narrowed by an index over the centroids.
 *
 * A full assignment compares every row with all k centroids, which at
 * k = 131,072 and d = 128 is 34 MFLOP per row.  The index holds the
 * centroids in G groups that its caller makes (k-means makes them by a
 * flat k-means over the centroids themselves, vt_kmeans_group_centroids),
 * each group with a centre, the mean of its members.  A row x is compared
 * with the G centres, the P nearest groups are probed, and, when asked,
 * also the group of the row's current label; the row goes to the nearest
 * member of the probed groups:
 *
 *     label(x) = argmin_{j in probed(x)} dd(x, c_j)
 *
 * (ties to the lowest centroid index), with probed(x) the P groups of least
 * dd(x, centre), ties to the lower group: dd is the exact distance of
 * nearest.h, and the float sgemm distances only find these fast, dd
 * deciding wherever their proven rounding margin leaves a doubt (issue 18),
 * so the labels depend on no BLAS kernel.  Rows must be finite: a row with
 * a NaN still gets a valid label, of no meaning.  That is G + P k / G distance
 * evaluations per row instead of k.  It is an approximation of the nearest
 * centroid; vt_nearest_agreement (nearest.h) measures how often it
 * differs.  With the current label's group probed, a row never moves to a
 * centroid farther than its current one, so a Lloyd iteration that assigns
 * through the index still never increases the loss.
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

/* Build an index over the k x d centroids c (copied; k >= 1, d >= 1) with
 * the grouping given: group[j] in [0, groups) is the group of centroid j,
 * 1 <= groups <= VT_CINDEX_MAX_GROUPS (a group may be empty).  Each group's
 * centre is the mean of its members, in double.  The caller makes the
 * grouping, usually vt_kmeans_group_centroids (kmeans.h) with groups from
 * vt_cindex_groups_for.  *out is NULL on failure.  Memory: about
 * 4 k d + 12 k + 4 groups (d + 3) bytes.  Needs no thread pool.  Returns 0, VT_EINVAL (a zero
 * size, k >= 2^31, groups out of range, a group label out of range) or
 * VT_EDATA (a centroid not finite) or VT_ENOMEM. */
int vt_cindex_new(vt_cindex **out, const float *c, size_t k, size_t d, const int32_t *group,
                  size_t groups);

/* Free the index.  NULL-safe. */
void vt_cindex_free(vt_cindex *ix);

/* ---- process ---- */

/* Label each of the n rows x (n x d) with its nearest centroid among the
 * nprobe nearest groups (1 <= nprobe <= VT_CINDEX_MAX_PROBE, at most G),
 * plus the group of labels[i] when keep is nonzero (labels[i] must then
 * be a valid label on entry).  labels (n, in/out) and dists (n squared
 * distances ||x||^2 + ||c||^2 - 2 x.c in float, clamped at 0, or dd rounded
 * to float for a label that dd decided; may be NULL) are caller allocated.  evals, if not NULL, receives the number of
 * row-to-centroid distances computed (group centres included), summed in
 * double.  pool may be NULL.  Memory: 1.25 MiB x (nprobe + 1) + 256 KiB
 * for a batch of 65,536 rows, plus, per thread, the larger of
 * 1 KiB x G + 8 G and 1 KiB x (d + 4) + 4 vt_assign_scratch_floats(largest
 * group) bytes.
 * Returns 0, VT_EINVAL (a zero size, a bad nprobe, a label out of range
 * with keep) or VT_ENOMEM. */
int vt_cindex_assign(const vt_cindex *ix, vt_pool *pool, const float *x, size_t n,
                     size_t nprobe, int keep, int32_t *labels, float *dists,
                     double *evals);

/* ---- get ---- */

/* The number of groups G that makes the G + nprobe k / G distances per
 * row least: ceil(sqrt(nprobe k)), at most k (nprobe 1: ceil(sqrt k)). */
size_t vt_cindex_groups_for(size_t k, size_t nprobe);

size_t vt_cindex_groups(const vt_cindex *ix);
/* Centroids in the largest group. */
size_t vt_cindex_largest(const vt_cindex *ix);

#ifdef __cplusplus
}
#endif
#endif
