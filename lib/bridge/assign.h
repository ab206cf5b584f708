/* vtrain: the nearest centroid of rows, as every program assigns them.
 *
 * One object that vloss and vrefine (through bridge/pass), vpq and
 * vsqbounds (residuals) share, so that a row goes to the same centroid in
 * every one of them.  The nearest centroid of a row x among the k x d
 * centroids c is the argmin over j of the exact double distance
 *
 *     dd(x, c_j) = vt_nearest_sqdist(x, c_j, d) = sum_t ((double)x_t - c_jt)^2,
 *
 * ties to the lower index (train/nearest.h).  It is found
 *
 *   - by the certified search of train/nearest (an index over the centroids,
 *     built once when the object is made), in mode VT_NEAREST_AUTO (the
 *     default: brute force wherever its measured cost is lower, so for a
 *     small k) or VT_NEAREST_SEARCH;
 *   - by vt_nearest_brute (the reference; no index) in mode VT_NEAREST_BRUTE;
 *   - by dd over all k in double when the centroids are too large for float
 *     (a squared norm above 1e36, which train/nearest refuses): slow, but
 *     the same definition.
 *
 * Every way gives the same labels and distances: the mode only changes the
 * speed (and it is what a test or a benchmark forces).  The object borrows
 * the centroids: they must outlive it, unchanged.
 *
 * The library does not print or exit; vt_assigner_report gives what a -v
 * report needs.
 */
#ifndef VT_ASSIGN_H
#define VT_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "train/nearest.h"
#include "train/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_assigner vt_assigner;

/* What the assignments did, for a -v report. */
typedef struct {
	vt_nearest_stats st; /* summed over every call (brute force and the
	                        fallback scan count as rows_brute, t_brute) */
	int mode;            /* VT_NEAREST_AUTO, _SEARCH or _BRUTE, as asked */
	int scan;            /* 1: centroids too large for float, dd over all k */
	size_t k, d;
	size_t groups;       /* groups of the index (0: no index) */
	size_t bytes;        /* bytes held by the index */
	double t_build;      /* seconds spent building the index */
} vt_assign_report;

/* ---- create / destroy ---- */

/* An assigner over the k x d centroids c (borrowed; every value finite),
 * in the given mode (VT_NEAREST_AUTO, _SEARCH or _BRUTE).  AUTO and SEARCH
 * build the index here (its grouping made with a fixed seed, which only
 * changes the speed).  pool may be NULL.  *out is NULL on failure.
 * Memory: the index, 8 k + G (4 d + 52) + k / 64 bytes with G about k / 64
 * groups (none in BRUTE mode), and k x 4 bytes more in BRUTE mode.
 * Returns 0, VT_EINVAL (a zero size, k >= 2^31, an unknown mode), VT_EDATA
 * (a centroid not finite) or VT_ENOMEM. */
int vt_assigner_new(vt_assigner **out, vt_pool *pool, const float *c, size_t k, size_t d,
                    int mode);

/* NULL-safe. */
void vt_assigner_free(vt_assigner *a);

/* ---- process ---- */

/* The nearest centroid of each of the n rows x (n x d): labels (n, or
 * NULL) and dists (n dd values, or NULL), caller allocated.  A row that is
 * not finite gets label 0 (nearest.h).  Not reentrant on one object (the
 * pool gives the parallelism).  Memory: the query's scratch (nearest.h),
 * at most about 30 MiB + 660 min(n, 32768) bytes, plus
 * 1 KiB x G + 3 KiB x d + 512 KiB per thread.  Returns 0 or
 * VT_ENOMEM. */
int vt_assigner_run(vt_assigner *a, vt_pool *pool, const float *x, size_t n, int32_t *labels,
                    double *dists);

/* Residuals: x_i <- x_i - c_{nearest(x_i)} for the n rows of x (in place),
 * the nearest as vt_assigner_run finds it; labels (n, or NULL) receives
 * them.  Works in blocks of 65,536 rows (256 KiB of labels when labels is
 * NULL, besides the query's scratch).  Returns 0 or VT_ENOMEM. */
int vt_assigner_subtract(vt_assigner *a, vt_pool *pool, float *x, size_t n, int32_t *labels);

/* ---- get ---- */

void vt_assigner_report(const vt_assigner *a, vt_assign_report *r);

/* The mode named s ("auto", "search" or "brute"), or VT_EINVAL. */
int vt_assign_mode_of(const char *s);
/* "auto", "search" or "brute". */
const char *vt_assign_mode_name(int mode);

#ifdef __cplusplus
}
#endif
#endif
