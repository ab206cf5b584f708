/* vtrain: weighted k-means, flat and hierarchical.
 *
 * Minimises over centroids c_1..c_k the objective
 *     loss = sum_i ( l_i + w_i * min_j ||x_i - c_j||^2 )
 * for points x_i (n x d, row-major float), weights w_i >= 0 (1 when not
 * given) and local losses l_i >= 0 (0 when not given; a weighted point from
 * a coreset carries the loss of the points it stands for, so that the loss
 * reported is the exact decomposition over the original points).
 *
 * Flat: weighted k-means++ seeding on a sample of max(32 k, 1024) rows
 * (greedy, the best of 2 + ln k candidates per step, for k <= 256; plain,
 * one candidate per step, for a larger k), or random rows, then Lloyd
 * iterations.  Each assignment uses blocked sgemm (as kernel.h) but skips
 * the points that cannot change cluster: every point keeps an upper bound
 * u on the distance to its centroid and lower bounds on the distance to
 * the other centroids, one per centroid (Elkan) while n x k floats fit in
 * 64 MiB, else one per group of centroids (Yinyang); after each update u
 * grows by its centroid's drift and each lower bound shrinks by the largest
 * drift in its group.  A point is skipped when u <= max(min lower bound,
 * half the distance from its centroid to the nearest other centroid), after
 * tightening u to the exact distance if needed; the others are gathered
 * into blocks and sent through one sgemm against all centroids, which also
 * renews their bounds.
 *
 * Hierarchical (k > 256 by default): clusters are split into up to hier_k
 * children at a time by flat sub-k-means (at most split_iters iterations),
 * the cluster with the highest loss first, the remaining count of centroids
 * of a cluster being shared among its children in proportion to their
 * weight, until there are k; then refine_iters global Lloyd iterations over
 * all points, from k = 8192 through a centroid index rather than against all
 * k centroids (vt_kmeans_set_probe, vt_kmeans_group_centroids).
 *
 * Empty clusters: after an update, each empty cluster (in index order) takes
 * a copy of the heaviest cluster (lowest index on ties), the two copies are
 * moved apart by a relative 1/1024 in opposite directions on alternating
 * dimensions (c*(1 +- 1/1024); +-1/1024 where a coordinate is 0), and the
 * weight is halved between them.
 *
 * Spherical (vt_kmeans_set_spherical; FAISS's spherical k-means, used for
 * the inner-product metric): the centroids are kept on the unit sphere.
 * The starting centroids (seeds, a hierarchy's leaves, the initial ones
 * given) are scaled to unit norm, and every update sets
 *     c_j = S_j / ||S_j||,   S_j = sum_{i in j} w_i x_i
 * (the direction of the weighted mean; a cluster whose sum is 0 keeps its
 * centroid, and a starting centroid of norm 0 becomes the unit vector of
 * coordinate j mod d); the copies that split an empty cluster are scaled
 * back to unit norm too.  For unit c, ||x - c||^2 = ||x||^2 + 1 - 2 <x, c>,
 * so the nearest centroid is the one of the largest inner product and
 * every assignment below stays as it is; the objective minimised is the
 * loss above over unit centroids, which is
 *     sum_i w_i (||x_i||^2 + 1) - 2 sum_i w_i max_j <x_i, c_j>   (+ sum l_i),
 * the same as maximising the summed inner product sum_i w_i max_j <x_i, c_j>.
 * The loss, weights and losses reported are those of this L2 objective.
 *
 * Final assignment: after the last update, every point goes to its nearest
 * centroid by the exact double distance dd (ties to the lower index), found
 * by the certified search of train/nearest (an index over the final
 * centroids, or brute force where that is cheaper); the weights, losses and
 * labels of the result are those of this assignment.  With a balance
 * penalty the final assignment is the penalised one (below) instead.
 *
 * Exact labels.  Every assignment of the Lloyd loop (flat, the hierarchy's
 * splits, its refinement) gives each point the centroid of least dd (with a
 * balance penalty b_j: of least dd + b_j, the b_j as the float values
 * used), ties to the lower index, as train/nearest defines it: the float
 * sgemm distances only find it fast, and wherever their proven rounding
 * margin (vt_nearest_margin) leaves two centroids in doubt, dd decides
 * (kmeans_lloyd.c).  The Elkan/Yinyang bounds are proven bounds of the
 * true distances, so a point they skip keeps a label that dd would give it
 * too.  k-means++ computes each point's D = w min dd exactly (a float
 * distance only skips a dd that cannot lower it), and sums its potentials
 * in a fixed order.  All sums (centroids, weights, losses) are taken in a
 * fixed order from the labels.  The narrowed refinement (cindex.h) follows
 * the same rule within what it probes: the groups probed and the label
 * among their members are decided on dd too.
 *
 * The result depends only on the inputs, the settings and the seed: never
 * on the number of threads, nor on the BLAS kernel (OPENBLAS_CORETYPE, the
 * CPU).
 */
#ifndef VT_KMEANS_H
#define VT_KMEANS_H

#include <stddef.h>
#include <stdint.h>

#include "train/nearest.h"
#include "train/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_kmeans vt_kmeans;

enum { VT_KMEANS_INIT_PP = 0, VT_KMEANS_INIT_RANDOM = 1 };

/* A seeding method's name ("k-means++", "random"), or NULL; and the method
 * of a name ("k-means++", "kmeans++" or "random"), or -1. */
const char *vt_kmeans_init_name(int method);
int vt_kmeans_init_parse(const char *name);
enum { VT_KMEANS_AUTO = 0, VT_KMEANS_FLAT = 1, VT_KMEANS_HIER = 2 };

/* Called after each assignment of the flat Lloyd loop (or of the global
 * refinement in hierarchical mode): iter counts from 1, loss is the
 * objective of that assignment against the centroids it used, seconds is
 * the time since vt_kmeans_run started.  Return 0 to go on, anything else
 * to stop the run, which then returns VT_EINTR. */
typedef int (*vt_kmeans_cb)(void *user, int iter, double loss, double seconds);

/* ---- create / destroy ---- */

/* A k-means object for k >= 1 centroids with the defaults: k-means++ init,
 * 25 iterations, tol 1e-4, seed 0, all cores, automatic flat/hierarchical
 * (hierarchical when k > 256), hier_k 16, split_iters 20, refine_iters 5,
 * no balance penalty, duplicates not allowed.  *out is NULL on failure.
 * Returns 0, VT_EINVAL (k < 1 or k >= 2^31) or VT_ENOMEM. */
int vt_kmeans_new(vt_kmeans **out, size_t k);

/* Free the object and all it owns.  NULL-safe. */
void vt_kmeans_free(vt_kmeans *km);

/* ---- process ---- */

/* Train on x (n x d).  w (n weights) and lloss (n local losses) may be
 * NULL.  labels, if not NULL, receives n int32 labels of the final
 * assignment (the nearest centroid by dd, see above; with a balance
 * penalty, the least dd plus the penalty).
 * The inputs are only read; the object keeps no pointer to them.
 * Returns 0, or
 *   VT_EINVAL  n == 0, d == 0, total weight 0, or k > number of distinct
 *              points with non-zero weight (unless duplicates are allowed)
 *   VT_EDATA   NaN or Inf in x, w or lloss, or a negative w or lloss
 *   VT_ENOMEM  out of memory
 *   VT_EINTR   the callback asked to stop (the centroids are those of the
 *              last completed update). */
int vt_kmeans_run(vt_kmeans *km, const float *x, size_t n, size_t d,
                  const double *w, const double *lloss, int32_t *labels);

/* ---- get (borrowed pointers, valid until the next run or free) ---- */

/* k x d centroids, or NULL before a successful run. */
const float *vt_kmeans_centroids(const vt_kmeans *km);
/* k summed weights of the points assigned to each centroid. */
const double *vt_kmeans_weights(const vt_kmeans *km);
/* k per-centroid losses: sum over its points of l_i + w_i ||x_i - c_j||^2,
 * computed in double from the final assignment. */
const double *vt_kmeans_losses(const vt_kmeans *km);
/* The final objective (the sum of vt_kmeans_losses), exact in double. */
double vt_kmeans_loss(const vt_kmeans *km);
/* Project the centroids of the last run onto the unit sphere (those of
 * norm 0 stay as they are), then assign the rows x (n x d, those of the
 * run, normally unit rows under the cosine metric) to the nearest of the
 * projected centroids (exact: vt_nearest_brute, ties to the lower index),
 * and recompute vt_kmeans_weights, vt_kmeans_losses and vt_kmeans_loss
 * from that assignment (in row order, as a run does).  So the recorded loss
 * is that of the centroids written, not of the means before projection.
 * w and l as given to vt_kmeans_run.  Returns 0, VT_EINVAL (no run, or
 * another d) or VT_ENOMEM (then the results are unchanged). */
int vt_kmeans_normalize(vt_kmeans *km, const float *x, size_t n, size_t d, const double *w,
                        const double *l);
/* Lloyd updates done (flat), or global refinement updates (hierarchical). */
int vt_kmeans_iterations(const vt_kmeans *km);
/* 1 if the last run went hierarchical. */
int vt_kmeans_was_hierarchical(const vt_kmeans *km);
/* Groups probed by the last run's refinement (0: it assigned exactly). */
int vt_kmeans_probe_used(const vt_kmeans *km);
/* What the exact search of the last run's final assignment did (nearest.h),
 * or NULL when it was not used (a balance penalty, or centroids too large
 * for float).  build, groups, bytes (each may be NULL) receive the seconds
 * spent building its index, its groups and its bytes (0 without one). */
const vt_nearest_stats *vt_kmeans_nearest_stats(const vt_kmeans *km, double *build,
                                                size_t *groups, size_t *bytes);
/* The share of point-to-all-centroid evaluations the bounds could not skip,
 * over the assignments of the last run's main Lloyd loop (1 = plain Lloyd). */
double vt_kmeans_work_fraction(const vt_kmeans *km);
/* Over every Lloyd assignment of the last run (the hierarchy's splits
 * included, the final exact assignment not): *rows (or NULL) receives the
 * rows recomputed (those the bounds did not skip), *near (or NULL) those
 * of them whose float distances left the nearest centroid in doubt, so
 * that dd decided it (see "Exact labels" above), and *ref (or NULL) those
 * of them that needed the reference (vt_nearest_brute_serial), with the
 * rows of too large a norm. */
void vt_kmeans_ties(const vt_kmeans *km, double *rows, double *near, double *ref);
size_t vt_kmeans_k(const vt_kmeans *km);
size_t vt_kmeans_dim(const vt_kmeans *km);

/* ---- set (each returns 0 or VT_EINVAL for a value out of range) ---- */

/* Lloyd iterations of the flat loop, >= 0 (0: seeding only). */
int vt_kmeans_set_iters(vt_kmeans *km, int iters);
/* Stop when |loss_prev - loss| < tol * loss; tol >= 0 (0: never). */
int vt_kmeans_set_tol(vt_kmeans *km, double tol);
void vt_kmeans_set_seed(vt_kmeans *km, uint64_t seed);
/* Threads; <= 0 means all online CPUs. */
int vt_kmeans_set_threads(vt_kmeans *km, int threads);
/* VT_KMEANS_INIT_PP or VT_KMEANS_INIT_RANDOM. */
int vt_kmeans_set_init(vt_kmeans *km, int method);
/* Start the flat loop from these k x d centroids (copied) instead of
 * seeding; the next run must have this d.  NULL clears.  While they are
 * set every run is flat, whatever the mode (they take the place of the
 * hierarchical build).  Returns 0, VT_EINVAL, VT_ENOMEM. */
int vt_kmeans_set_initial(vt_kmeans *km, const float *c, size_t d);
/* VT_KMEANS_AUTO (hierarchical when k > 256), _FLAT or _HIER. */
int vt_kmeans_set_mode(vt_kmeans *km, int mode);
/* Children per hierarchical split, >= 2. */
int vt_kmeans_set_hier_k(vt_kmeans *km, size_t hier_k);
/* Maximum iterations of each hierarchical sub-split, >= 1 (vkmeans
 * --split-iters). */
int vt_kmeans_set_split_iters(vt_kmeans *km, int iters);
/* Global Lloyd iterations after a hierarchical build, >= 0. */
int vt_kmeans_set_refine_iters(vt_kmeans *km, int iters);
/* Balance penalty lambda >= 0: while assigning, the squared distance to c_j
 * gets the penalty  lambda * (loss / W) * (W_j / (W / k))  where W_j is
 * cluster j's weight in the previous assignment, W the total weight and
 * loss that assignment's objective without the local losses, so lambda is
 * scale-free (1: a cluster of twice the mean size pays twice the mean loss
 * per point).  From the second update on, the penalty is the mean of this
 * value and the previous penalty, so sizes settle.  Sub-splits of a
 * hierarchical run use it too; its global refinement then assigns exactly.  Useful values
 * are about 0.05 to 0.3; larger ones trade much loss and can empty
 * clusters.  With lambda > 0 every assignment is a full one (no bounds). */
int vt_kmeans_set_balance(vt_kmeans *km, double lambda);
/* Nonzero: accept k > number of distinct points (centroids may repeat). */
void vt_kmeans_set_allow_duplicates(vt_kmeans *km, int allow);
/* Nonzero: spherical k-means, unit-norm centroids (see above); 0 (the
 * default): plain means.  vt_kmeans_spherical returns the setting. */
void vt_kmeans_set_spherical(vt_kmeans *km, int on);
int vt_kmeans_spherical(const vt_kmeans *km);
/* Narrowed refinement of a hierarchical run: each global assignment goes
 * through a centroid index (cindex.h) over ceil(sqrt(nprobe k)) groups of
 * centroids made by vt_kmeans_group_centroids with the run's seed, built
 * anew for every pass, probing the nprobe nearest groups and each point's
 * current group, instead of comparing every point with all k centroids;
 * the bounds are not used then.  nprobe 0: exact
 * (all k, with bounds); -1 (the default): automatic, nprobe 8 when
 * k >= 8192, else exact.  A flat run, and a run with a balance penalty,
 * always assign exactly.  Returns 0 or VT_EINVAL (nprobe < -1 or > 256). */
int vt_kmeans_set_probe(vt_kmeans *km, int nprobe);
/* Mode of the final assignment's search: VT_NEAREST_AUTO (the default),
 * _SEARCH or _BRUTE (nearest.h); it changes only the speed.  Returns 0 or
 * VT_EINVAL. */
int vt_kmeans_set_nearest(vt_kmeans *km, int mode);
/* Memory for the per-point lower bounds that let Lloyd skip work, in bytes
 * (default 64 MiB; at least 1024): Elkan's bounds (n x k floats) when they
 * fit, else bounds per group of centroids (Yinyang), as many groups as fit
 * (at least one).  A smaller budget saves memory and skips less work. */
int vt_kmeans_set_bounds_bytes(vt_kmeans *km, size_t bytes);
/* Per-iteration callback (NULL to clear); user is passed back. */
void vt_kmeans_set_callback(vt_kmeans *km, vt_kmeans_cb cb, void *user);

/* ---- grouping of centroids for a centroid index ---- */

/* Group the k x d centroids c into `groups` groups (1 <= groups <= k) for
 * vt_cindex_new: group[j] (k, caller allocated) receives the group of
 * centroid j.  groups == 1 puts all in group 0 and groups == k each in its
 * own; otherwise the groups are the clusters of a flat k-means over the
 * centroids: k-means++ seeding with the given seed, at most 10 Lloyd
 * updates (tol 1e-4), duplicates allowed, run in the caller's pool (NULL:
 * serially); the same as a vt_kmeans run in flat mode with those settings,
 * and like it independent of the number of threads.  Memory: that of
 * such a run over k points.  Returns 0, VT_EINVAL (a zero size,
 * k >= 2^31, groups out of range), VT_EDATA (a centroid not finite) or
 * VT_ENOMEM. */
int vt_kmeans_group_centroids(vt_pool *pool, const float *c, size_t k, size_t d,
                              size_t groups, uint64_t seed, int32_t *group);

#ifdef __cplusplus
}
#endif
#endif
