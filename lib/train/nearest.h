/* vtrain: exact nearest-centroid search for large k, exact by certificate.
 *
 * "Exact" (issue 18's rule).  The distance of a row x to a centroid c is
 *
 *     dd(x, c) = vt_nearest_sqdist(x, c, d) = sum_t ((double)x_t - c_t)^2
 *
 * summed in double in one fixed order.  The nearest centroid of x is the
 * argmin of dd over the k centroids, ties to the lower index; the top N are
 * the first N by (dd, index).  Nothing here depends on the BLAS kernel: float
 * sgemm distances only decide which centroids need dd at all, through a
 * proven bound on their rounding error (vt_nearest_eps below), and every
 * decision that a float value could get wrong is taken on dd.
 *
 * Rows that are not finite (a NaN or an infinity) are at dd = NaN or +inf
 * from every centroid: their label is 0 (top N: 0, 1, ..., N-1) and their
 * distances are dd to those centroids (NaN or +inf).  That is what the
 * argmin with ties to the lower index gives, and both the search and the
 * reference return it.
 *
 * The index.  The k centroids are put into G groups (given by the caller, or
 * made here by recursive k-means splits of the centroids into groups of at
 * most VT_NEAREST_LEAF).  Group g has a centre m_g (the mean of its members) and a
 * radius r_g = max ||c_j - m_g|| over its members (computed in double,
 * rounded up).  For any member c of g the triangle inequality gives
 *
 *     ||x - c|| >= ||x - m_g|| - r_g,  so  ||x - c||^2 >= max(0, ||x - m_g|| - r_g)^2.
 *
 * A query compares each row with the G centres (one sgemm) and keeps the
 * groups whose lower bound is below U0, an upper bound on the N-th
 * distance from the nearest centre's group alone (centre distance plus
 * radius).  It visits the group of the nearest centre (round 1), then every
 * kept group whose lower bound is not above the row's upper bound U on its
 * N-th distance after round 1 (round 2), and certifies the result.  Rows for which the bounds
 * leave more work than a brute-force pass would take (a measured cost per
 * evaluated centroid, see below) go to brute force, as do the rare rows
 * whose candidate list overflowed (many centroids within the rounding
 * bound of each other, e.g. duplicates).  Every bound carries the rounding
 * margins, so a pruned centroid is provably not among the top N by dd.
 * Rows that share a group are evaluated together: one sgemm of those rows
 * against the group's members, gathered into a block.
 *
 * The super level.  With G >= 1024 groups, the centre step itself is the
 * cost (G sgemm columns per row).  The group centres are then clustered
 * again (flat k-means into T = ceil(G / 8) supers), and super s gets a
 * centre M_s and a radius R_s over every centroid of its groups, so that
 * ||x - c|| >= ||x - M_s|| - R_s bounds all of them at once, with the same
 * rounding margins.  A row is compared with the T super centres, then with
 * the group centres of its nearest super (its primary group is the nearest
 * of those, which gives U0), then with those of every super the bound does
 * not exclude at U0; the groups kept go on as above.  A row for which that
 * would score more than G / 4 groups scores all G in round 2 instead.
 * Whether a chunk goes through the supers is measured like the choice of
 * brute force: the first search chunk does, the second does not, then the
 * faster per row wins (the other is tried again every 64th chunk).
 *
 * The cost model.  The time per row-centroid evaluation is measured on the
 * work actually done, both for visits (gathers, sgemm, scans and merges
 * included) and for brute force (the first query runs one block of 256
 * rows by brute force to start it).  A row goes to brute force when its
 * surviving groups hold more than k x (brute cost per centroid / visit cost
 * per centroid) centroids (before any visit is measured, the ratio is
 * taken as 0.5).  A whole chunk of rows goes to brute force while the
 * measured search time per row exceeds brute force's time per row: measured
 * on whole chunks by brute force once there is one, and until then
 * estimated as k times its time per centroid on smaller blocks (which cost
 * more per row).  While the search is not at least twice as fast as that
 * estimate, one chunk goes to brute force to measure it.  The search is
 * tried again on every 8th chunk.  The choice only changes the speed: the
 * results are the same either way.
 *
 * Determinism: each result is a function of the row and the centroids only
 * (the certified top N by dd), whatever the batch, the thread count, the
 * grouping, the mode or the BLAS.  The approximate mode (probe > 0) is too:
 * it takes the P nearest groups by dd to their centres (decided by the same
 * exact rule) and the exact top N among their members.
 *
 * Memory of the index: 8 k + G (4 d + 52) + k / 64 bytes, plus with the
 * super level T (4 d + 16) + 4 bytes (T <= G / 8); it borrows the
 * centroids (the caller keeps them alive and unchanged).  Measured: 9.3 %
 * of the centroids' 4 k d bytes at k = 131,072, d = 128 (G = 8,387 groups,
 * T = 1,049 supers: 6,234,560 bytes).  A query holds, per thread, 9 G bytes
 * more for the super level's group scores and, per
 * chunk of C = min(n, 32768) rows, 8 x 64 C bytes of the groups each row
 * keeps from the centre step plus its candidate lists (24 (N + 3) C bytes),
 * up to 2^20 pairs being visited, per thread 4 x 256 G bytes of centre
 * scores and 4 (768 d + 2^17) bytes of blocks.
 */
#ifndef VT_NEAREST_H
#define VT_NEAREST_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "train/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_nearest vt_nearest;

/* Most neighbours a query may ask for. */
#define VT_NEAREST_MAX_TOP 64
/* Default most centroids in a group that the index makes itself. */
#define VT_NEAREST_LEAF 64
/* Most groups an index may have. */
#define VT_NEAREST_MAX_GROUPS (1u << 20)

/* Modes of vt_nearest_set_mode. */
enum {
	VT_NEAREST_AUTO = 0,   /* measured choice between search and brute force */
	VT_NEAREST_SEARCH = 1, /* always search (rows may still fall back per row) */
	VT_NEAREST_BRUTE = 2,  /* always brute force (the reference) */
};

/* What the queries did, summed over every call (for -v reports). */
typedef struct {
	double rows;          /* rows answered */
	double rows_round1;   /* certified after the nearest group alone */
	double rows_round2;   /* certified after visiting more groups */
	double rows_costly;   /* sent to brute force by the per-row cost model */
	double rows_overflow; /* candidate list overflowed: brute force */
	double rows_brute;    /* answered by brute force as a whole chunk */
	double rows_special;  /* not finite, or norms too large for float */
	double rows_super;    /* centre step through the super level */
	double rows_wide;     /* of those, rows it kept too many groups for */
	double supers;        /* supers of the index (0: none) */
	double evals;         /* row-centroid evaluations, group centres included */
	double t_centres, t_visit, t_brute, t_other; /* seconds (wall) */
	double col_ratio;     /* measured brute / visit cost per centroid */
} vt_nearest_stats;

/* ---- the exact distance and its rounding bound ---- */

/* dd(x, c) = sum_t ((double)x_t - c_t)^2, in double, in a fixed order
 * (four partial sums over t mod 4, then (s0 + s1) + (s2 + s3)). */
double vt_nearest_sqdist(const float *x, const float *c, size_t d);

/* The relative rounding bound E(d): for finite x and c whose float
 * computations do not overflow, the kernel's float distance
 * D = (fl(-2 x.c) + ||c||^2_f) + ||x||^2_f (any sgemm summation order, with or
 * without FMA) and dd(x, c) both lie within
 *     E(d) (||x|| + ||c||)^2 + A(d)
 * of the true squared distance, with A(d) = (d + 4) 2^-146 for underflow.
 * See nearest.c for the derivation. */
double vt_nearest_eps(size_t d);

/* ---- deciding the near-ties of other float kernels ----
 *
 * Every other place that takes a label from float sgemm distances (the
 * k-means Lloyd passes and seeding, the narrowed index of cindex.h, vpq's
 * sub-spaces) keeps its fast float
 * scan and uses these to decide by dd wherever the float values leave a
 * doubt: with e the margin below, a centroid whose fl(D - e) exceeds the
 * best's fl(D + e) is provably farther by dd; the others are compared on dd
 * (vt_nearest_pick), or the row goes to the reference (vt_nearest_brute_serial). */

/* Squared norms (of rows or centroids) beyond this are kept out of float:
 * the margin below covers only smaller ones (no float product or sum can
 * then overflow). */
#define VT_NEAREST_BIG_NORM 1e36

/* ||v||, rounded up, from its float squared norm sq (as vt_sqnorms gives
 * it): sqrt(sq) (1 + 2^-22), which is above the true norm (sq is off by at
 * most (2^-24 + d 2^-53) relatively).  Inline: it runs once per row. */
static inline double vt_nearest_norm_up(float sq)
{
	return sqrt((double)sq) * (1.0 + 0x1p-22);
}

/* The margin of one float distance: e = E(d) (nxu + ncu)^2 + A(d), for the
 * norms of x and c rounded up (vt_nearest_norm_up, or any larger values).
 * For the kernel's float distance D of x and c (either order of its two
 * float additions), fl(D - e) <= dd(x, c) <= fl(D + e), and the true
 * squared distance ||x - c||^2 also lies within e of D (nearest.c). */
double vt_nearest_margin(size_t d, double nxu, double ncu);

/* out[q] = dd(x, row ids[q] of c) for q < m (c d wide): the values of
 * vt_nearest_sqdist, four rows at a time where SSE2 allows. */
void vt_nearest_sqdists(const float *x, const float *c, size_t d, const int32_t *ids, size_t m,
                        double *out);

/* The nearest of the m >= 1 candidates ids[] (rows of c, d wide)
 * to x by (dd, index); *dist (or NULL) receives its dd. */
int32_t vt_nearest_pick(const float *x, const float *c, size_t d, const int32_t *ids,
                        size_t m, double *dist);

/* ---- the reference ---- */

/* Brute force, exact: the top `top` centroids of each row by (dd, index),
 * found with float sgemm blocks (the kernel's arithmetic) and dd recomputed
 * for every centroid within the rounding bound of the N-th best.
 *   x: n x d rows; c: k x d centroids (finite); 1 <= top <= min(k, 64).
 *   labels: n x top (row-major; or NULL), dists: n x top dd values (or NULL).
 * pool may be NULL.  Returns 0, VT_EINVAL or VT_ENOMEM. */
int vt_nearest_brute(vt_pool *pool, const float *x, size_t n, size_t d, const float *c,
                     size_t k, size_t top, int32_t *labels, double *dists);

/* Bytes of scratch vt_nearest_brute_serial needs for k centroids of d. */
size_t vt_nearest_brute_scratch(size_t d, size_t k);

/* vt_nearest_brute with top 1 (the same labels and dd), in the calling
 * thread, with the centroids' float norms cn (k, from vt_sqnorms) given and
 * the caller's scratch (vt_nearest_brute_scratch bytes, any alignment), for
 * callers that run their own per-thread blocks.  The kernel's scan with its
 * two best (vt_assign_serial) certifies the rows it can, brute force's
 * candidate lists take the others.
 * Centroids of squared norm above VT_NEAREST_BIG_NORM (or not finite) are
 * allowed here: then every row gets dd to all k, the definition itself.
 * labels (n) and dists (n dd values) may each be NULL. */
void vt_nearest_brute_serial(const float *x, size_t n, size_t d, const float *c, size_t k,
                             const float *cn, int32_t *labels, double *dists, void *scratch);

/* How well labels match the reference, on the rows 0, step, 2 step, ...
 * of x (n x d; step >= 1) against the k x d centroids c (finite): *agree
 * receives the share of those rows whose label is a nearest centroid by dd
 * (brute force's label, or one at the same dd), *ratio the sum of dd to
 * the labels over those rows divided by that of brute force's (1 when
 * they agree).  pool may be NULL.  Memory: about 16 bytes + 4 d per row
 * checked, and vt_nearest_brute's.  Returns 0, VT_EINVAL (a label out of
 * range, step 0, n 0), VT_EDATA (a centroid not finite or too large) or
 * VT_ENOMEM. */
int vt_nearest_agreement(vt_pool *pool, const float *x, size_t n, size_t d, const float *c,
                         size_t k, const int32_t *labels, size_t step, double *agree,
                         double *ratio);

/* ---- create / destroy ---- */

/* Build an index over the k x d centroids c (borrowed: they must outlive
 * the index, unchanged; k >= 1, d >= 1, every value finite and every
 * squared norm below 1e36).
 *   group:  NULL, or k group ids in [0, groups): the caller's grouping
 *           (e.g. the top level of a hierarchical k-means).  Empty groups
 *           are dropped.
 *   groups: with group, the number of ids; without, the number of groups
 *           to aim at (0: k / VT_NEAREST_LEAF), made by recursive k-means
 *           splits of the centroids into groups of at most ceil(k / groups)
 *           (16 children a split, k-means++ seeds and 6 Lloyd iterations on
 *           a sample, seeded by `seed`; it uses the kernel, never vkmeans).
 * The grouping only changes the speed, never a result.  pool may be NULL.
 * *out is NULL on failure.  Returns 0, VT_EINVAL, VT_EDATA (a centroid not
 * finite or too large) or VT_ENOMEM. */
int vt_nearest_new(vt_nearest **out, vt_pool *pool, const float *c, size_t k, size_t d,
                   const int32_t *group, size_t groups, uint64_t seed);

/* NULL-safe. */
void vt_nearest_free(vt_nearest *ix);

/* ---- process ---- */

/* The top `top` centroids of each of the n rows x (n x d), by (dd, index)
 * (exact), or with vt_nearest_set_probe(P > 0) among the members of each
 * row's P nearest groups (approximate).  labels (n x top, or NULL) and dists
 * (n x top dd values, or NULL) are caller allocated.  Not reentrant on one
 * index (it updates the statistics and the cost model): one query at a
 * time; the pool gives the parallelism.  Returns 0, VT_EINVAL (top out of
 * range) or VT_ENOMEM. */
int vt_nearest_query(vt_nearest *ix, vt_pool *pool, const float *x, size_t n, size_t top,
                     int32_t *labels, double *dists);

/* ---- get / set ---- */

size_t vt_nearest_groups(const vt_nearest *ix);
/* Supers of the index's second level (0: none; see nearest_build.c). */
size_t vt_nearest_supers(const vt_nearest *ix);
/* Bytes held by the index (the centroids excluded). */
size_t vt_nearest_bytes(const vt_nearest *ix);
const vt_nearest_stats *vt_nearest_get_stats(const vt_nearest *ix);
void vt_nearest_reset_stats(vt_nearest *ix);
/* VT_NEAREST_AUTO (default), _SEARCH or _BRUTE. */
void vt_nearest_set_mode(vt_nearest *ix, int mode);
/* 0 (default): exact.  P >= 1: approximate, probe the P nearest groups
 * (clamped to G and to VT_NEAREST_MAX_TOP), no certificate.  Rows whose
 * candidate list overflows get the exact answer. */
void vt_nearest_set_probe(vt_nearest *ix, size_t probe);

#ifdef __cplusplus
}
#endif
#endif
