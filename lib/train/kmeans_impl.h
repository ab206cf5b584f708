/* vtrain: what the k-means modules share (private to lib/train/kmeans*.c).
 *
 *   kmeans.c         the object, its settings, the input checks, the driver
 *   kmeans_seed.c    k-means++ and random seeding
 *   kmeans_lloyd.c   the Lloyd loop: Elkan/Yinyang bounds, sums, empty
 *                    clusters, the balance penalty
 *   kmeans_narrow.c  the grouping of centroids and the narrowed assignment
 *                    through a centroid index (cindex.h)
 *   kmeans_hier.c    the hierarchical build: a heap of leaves split by flat
 *                    sub-k-means
 *
 * Every function here returns 0 or a negative VT_E* code, like the public
 * ones, and takes its thread pool from the caller: no module creates a pool
 * but vt_kmeans_run and vt_kmeans_normalize.
 */
#ifndef VT_KMEANS_IMPL_H
#define VT_KMEANS_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "train/kernel.h"
#include "train/kmeans.h"
#include "train/nearest.h"
#include "train/pool.h"
#include "train/rng.h"

/* automatic mode: hierarchical from this k on (exclusive); also the k above
 * which seeding draws one candidate per step instead of 2 + ln k */
#define VT_KM_HIER_AUTO_K 256
/* rows per task of the input checks and of the norms */
#define VT_KM_CHECK_ROWS 4096

/* The stream ids of vt_rng_init(&r, seed, id) for the random choices of a
 * run: the seeding of a flat run (and of a centroid grouping, whose seed is
 * the run's), the random rows that end a k-means++ seeding whose potential
 * is 0 (seeded from the seeding's own draws), and the seeding of
 * hierarchical sub-split number s, VT_KM_RNG_SPLIT + s. */
#define VT_KM_RNG_FLAT 0
#define VT_KM_RNG_FALLBACK 1
#define VT_KM_RNG_SPLIT 16

struct vt_kmeans {
	size_t k, d;
	int iters, split_iters, refine_iters, threads, init, mode, allow_dup;
	int spherical;         /* unit-norm centroids (vt_kmeans_set_spherical) */
	int probe;             /* -1 automatic, 0 exact, > 0 groups probed */
	size_t bounds_bytes;   /* budget of the per-point lower bounds */
	size_t hier_k;
	double tol, balance;
	uint64_t seed;
	vt_kmeans_cb cb;
	void *cb_user;
	float *initial;    /* k x initial_d or NULL */
	size_t initial_d;
	/* results */
	float *c;
	double *cw, *closs;
	double loss;
	int iters_done, was_hier, probe_used;
	double work_rows, pass_rows;
	double ties[3];        /* rows recomputed, near a tie, to the reference
	                        * (all passes: vt_kmeans_ties) */
	/* the exact search of the final assignment */
	int nearest_mode;      /* VT_NEAREST_* */
	int nearest_used;      /* the last run's final labels came from it */
	vt_nearest_stats nearest_st;
	double nearest_build;  /* seconds building its index */
	size_t nearest_groups, nearest_bytes;
	/* run state */
	double t0;
};

/* Seconds on the monotonic clock. */
double vt_km_now(void);

/* The smallest float >= v: the float nearest v, moved one step up by its
 * bits when below (no libm call: the exact-label bounds round this way
 * several times per row). */
static inline float vt_km_up_f(double v)
{
	float f = (float)v;
	if ((double)f < v) {
		uint32_t b;
		memcpy(&b, &f, sizeof b);
		b = f > 0 ? b + 1 : f == 0 ? 1u : b - 1;
		memcpy(&f, &b, sizeof f);
	}
	return f;
}

/* ---- one flat problem (kmeans.c) ---- */

struct vt_km_prob {
	const float *x;
	const double *w;      /* NULL: all 1 */
	size_t n, d;
	float *xn;            /* ||x_i||^2 as float, for the kernel */
	double *xq;           /* w_i ||x_i||^2 in double */
};

/* Borrow x (n x d) and w (n or NULL) and compute the norms.  Returns 0 or
 * VT_ENOMEM (then nothing is held). */
int vt_km_prob_init(struct vt_km_prob *p, vt_pool *pool, const float *x, const double *w,
                    size_t n, size_t d);
/* Free the norms (the borrowed rows stay the caller's). */
void vt_km_prob_release(struct vt_km_prob *p);

/* Number of distinct rows with non-zero weight (w NULL: all), counting no
 * further than limit.  Returns the count, or a negative VT_ENOMEM. */
long long vt_km_count_distinct(const float *x, size_t n, size_t d, const double *w,
                               size_t limit);

/* ---- seeding (kmeans_seed.c); C receives k x d ---- */

int vt_km_seed_pp(vt_pool *pool, const struct vt_km_prob *p, size_t k, vt_rng *r, float *C);
int vt_km_seed_random(const struct vt_km_prob *p, size_t k, vt_rng *r, float *C);

/* ---- the Lloyd loop (kmeans_lloyd.c) ---- */

struct vt_km_lloyd_opts {
	int iters;             /* updates at most */
	double tol;            /* stop when |loss_prev - loss| < tol * loss */
	double balance;        /* penalty lambda, 0: none */
	int spherical;         /* keep C at unit norm: at the start and after
	                        * every update (kmeans.h, spherical k-means) */
	size_t bounds_bytes;   /* budget of the lower bounds */
	size_t narrow;         /* groups probed per row, 0: exact assignment */
	uint64_t group_seed;   /* narrowed: seed of the centroid grouping */
	const int32_t *a0;     /* narrowed: labels to start from, or NULL */
	int exact_final;       /* final labels by the exact search (nearest.h),
	                        * unless a balance penalty is set */
	int nearest_mode;      /* its VT_NEAREST_* mode */
	vt_kmeans *report;     /* NULL, or the object whose callback this loop
	                        * calls and whose work counters it feeds */
	double *ties;          /* NULL, or three counters the loop adds to: the
	                        * rows its passes recomputed, those found near a
	                        * tie, and those of them (or of too large a norm)
	                        * that went to the reference (kmeans_lloyd.c) */
};

/* The options of a loop of `iters` updates with km's settings, exact, not
 * reporting. */
struct vt_km_lloyd_opts vt_km_lloyd_opts_of(const vt_kmeans *km, int iters);

/* The flat Lloyd loop from the centroids in C (k x d, updated in place),
 * with the local losses lloss (n or NULL).  Outputs (each may be NULL):
 * the final labels (n), the per-centroid weight and exact loss (with local
 * losses), the exact total, the updates done.  Returns 0, VT_ENOMEM,
 * VT_EINVAL (narrowed: too many groups) or VT_EINTR (the callback). */
int vt_km_lloyd(vt_pool *pool, const struct vt_km_prob *p, const double *lloss, size_t k,
                float *C, const struct vt_km_lloyd_opts *o, int32_t *labels, double *cw,
                double *closs, double *loss, int *iters_done);

/* ---- narrowed assignment (kmeans_narrow.c) ---- */

/* Label the n rows x (n x d) through a centroid index over C (k x d) with
 * ceil(sqrt(P k)) groups made by vt_kmeans_group_centroids with the given
 * seed, probing P of them (fewer if there are fewer groups) and, with
 * keep, each row's current group.  *work receives the full-row equivalents
 * of the distances computed (group centres included).  Returns 0,
 * VT_EINVAL (more than VT_CINDEX_MAX_GROUPS groups), VT_EDATA or
 * VT_ENOMEM. */
int vt_km_narrow_assign(vt_pool *pool, const float *x, size_t n, size_t d, const float *C,
                        size_t k, size_t P, int keep, uint64_t seed, int32_t *labels,
                        double *work);

/* ---- hierarchical build (kmeans_hier.c) ---- */

/* Build km->k centroids into C (k x d) by splitting the points x (n x d,
 * weights w or NULL) hierarchically; labels (n or NULL) receives each
 * point's leaf.  Returns 0 or VT_ENOMEM. */
int vt_km_hier_build(vt_kmeans *km, vt_pool *pool, const float *x, const double *w,
                     size_t n, size_t d, float *C, int32_t *labels);

#endif
