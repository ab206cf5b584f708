/* vtrain: scalar-quantizer bounds and their mergeable statistics.
 *
 * A vt_sq gathers, over rows of d float values, one of four statistics per
 * dimension j, from which it gives the bounds [vmin_j, vmax_j] that an SQ
 * index scales each coordinate into:
 *
 *  - VT_SQ_GLOBAL:   vmin = min over all values of all dimensions, vmax =
 *                    the max (one range for every dimension, as Lance does).
 *  - VT_SQ_DIM:      vmin_j = min_i x_ij, vmax_j = max_i x_ij (FAISS
 *                    QT_8bit, RS_minmax: vmin and vdiff = vmax - vmin).
 *  - VT_SQ_MEANSTD:  n, S_j = sum_i x_ij and Q_j = sum_i x_ij^2, summed
 *                    exactly (below); mu_j = S_j / n,
 *                    sigma_j^2 = (n Q_j - S_j^2) / n^2 (the population
 *                    variance, as FAISS RS_meanstd), and
 *                    [vmin_j, vmax_j] = mu_j -/+ r sigma_j.
 *  - VT_SQ_QUANTILE: a KLL sketch per dimension, and its exact tails;
 *                    [vmin_j, vmax_j] = [Q_j(q), Q_j(1 - q)], where Q_j(p)
 *                    is the smallest value whose rank reaches p n: the
 *                    value of rank r = max(1, ceil(p n)) in increasing
 *                    order (numpy's method "inverted_cdf").  It is exact
 *                    when r <= T or n - r + 1 <= T, T the tail (below);
 *                    else it comes from the sketch (the smallest retained
 *                    value whose weighted rank reaches p n).
 *
 * Exactness.  Min and max are exact, and merging takes them in a total
 * order (-0 before +0), so any split and merge order gives the same bytes.
 * The sums of meanstd are exact: each float value is m 2^(e) with a 24-bit
 * m, so S is an integer multiple of 2^-149 and Q of 2^-298; they are kept
 * as exact grid sums (train/exactsum.h) and written in the partial form as
 * 32-bit digits (11 for S, 20 for Q; enough for 2^64 values of any finite
 * float), so any split of the rows, merged in any order or grouping, gives
 * the same integers.  The doubles derived from them are
 * correctly rounded (S, Q, and the numerator n Q - S^2, which has no
 * cancellation), then divided, so mu and sigma are within a few ulps.
 *
 * The KLL sketch.  Level h holds items of weight 2^h; every dimension sees
 * the same number of values at the same times, so the level sizes are the
 * same for all dimensions and an item is a row of d values (dimension j's
 * items sorted independently).  Level h has capacity
 * max(2, floor(k (2/3)^(H-1-h))) (H levels; the integer recurrence
 * c <- floor(2c/3) is used, so that every platform agrees).  When the
 * items reach the total capacity, the lowest level at or over its
 * capacity is compacted: its values are sorted per dimension, an odd one
 * out (the largest) stays, and every other one of the rest, from offset 0
 * or 1, moves up a level.  The offset is a pseudo-random bit that is a
 * function of the seed, the level, its size and its sorted values of
 * dimension 0, so a sketch depends only on the seed and the rows, and a
 * merge (the union of the levels, then compaction) depends only on the
 * multiset of its inputs, not on their order.  Rank error: with k = 200
 * the worst |rank(Q(p))/n - p| measured over p in [0, 1] is below 1%
 * (0.67% on 200,000 values; tests/unit/test_sq.c prints it), it shrinks
 * as about 1/k (0.13% for k = 1000), and merged sketches stay within the
 * same bound.  With fewer than k values the sketch holds them all and is
 * exact.  It retains about 3k items (583 for k = 200 and 200,000 values).
 *
 * The exact tails.  Beside the sketch, the quantile statistic keeps the T
 * smallest and the T largest values of each dimension (T = the tail,
 * default VT_SQ_DEFAULT_TAIL): the q-quantile of rank r <= T is then
 * exact, which covers the default q = 0.001 up to n = 4,096,000 values
 * (and the 65,536 rows of `vsample --for sq` for any q <= 0.0625).  They
 * merge exactly: the T smallest of a union are the T smallest of the
 * parts' T smallest, whatever the order.  They cost 16 T d bytes.
 *
 * The partial form (vt_sq_partial_*) is a block of rows of d doubles that
 * holds the statistics exactly, as docs/FORMAT.md (kind sq) specifies.
 */
#ifndef VT_SQ_H
#define VT_SQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { VT_SQ_GLOBAL = 1, VT_SQ_DIM = 2, VT_SQ_MEANSTD = 3, VT_SQ_QUANTILE = 4 };

/* Defaults of the tools. */
#define VT_SQ_DEFAULT_R 3.0
#define VT_SQ_DEFAULT_QUANTILE 0.001
#define VT_SQ_DEFAULT_SKETCH_K 200
#define VT_SQ_MIN_SKETCH_K 8
#define VT_SQ_MAX_SKETCH_K 65536
/* Exact tails of the quantile statistic: values kept per side and dimension. */
#define VT_SQ_DEFAULT_TAIL 4096
#define VT_SQ_MAX_TAIL (1u << 24)

/* Digits of the exact sums in the partial meanstd form. */
#define VT_SQ_SUM_DIGITS 11
#define VT_SQ_SUMSQ_DIGITS 20

typedef struct vt_sq vt_sq;

/* "global", "dim", "meanstd", "quantile"; NULL for an unknown mode. */
const char *vt_sq_mode_name(int mode);

/* The mode of a name, or 0. */
int vt_sq_mode_parse(const char *name);

/* An empty statistic of the given mode over d dimensions.  sketch_k and
 * seed are used by VT_SQ_QUANTILE only (k in VT_SQ_MIN_SKETCH_K ..
 * VT_SQ_MAX_SKETCH_K).  *out is NULL on failure.  Returns 0, VT_EINVAL or
 * VT_ENOMEM. */
int vt_sq_new(vt_sq **out, int mode, size_t d, unsigned sketch_k, uint64_t seed);

/* NULL-safe. */
void vt_sq_free(vt_sq *s);

/* Keep the exact tails of T values per side and dimension (quantile only;
 * 0 .. VT_SQ_MAX_TAIL; vt_sq_new sets VT_SQ_DEFAULT_TAIL), before the first
 * add.  Returns 0, VT_EINVAL (another mode, T out of range, values added
 * already) or VT_ENOMEM. */
int vt_sq_set_tail(vt_sq *s, size_t tail);

/* The tail T, and the rank from either end up to which a quantile is
 * exact: min(T, n). */
size_t vt_sq_tail(const vt_sq *s);
uint64_t vt_sq_exact_rank(const vt_sq *s);

/* Add n rows x (n x d, row-major), which must be finite (the caller drops
 * or refuses the others).  The result depends on the rows and their order,
 * not on how they are cut into calls.  Returns 0 or VT_ENOMEM (the
 * sketch could not grow; s is then unchanged from the last full row). */
int vt_sq_add(vt_sq *s, const float *x, size_t n);

/* Merge the statistics src[0..nsrc) into dst: min of mins and max of
 * maxes, exact sums, or the union of the sketches then compaction.  The
 * result does not depend on the order of src.  All must have the same
 * mode and d (and for quantile the same sketch k, seed and tail).  Returns 0,
 * VT_EINVAL (they differ) or VT_ENOMEM. */
int vt_sq_merge(vt_sq *dst, const vt_sq *const *src, size_t nsrc);

/* The mode and dimension. */
int vt_sq_mode(const vt_sq *s);
size_t vt_sq_dim(const vt_sq *s);

/* Values added per dimension (rows), when known: for minmax modes read back
 * from a partial form it is not stored, and the result is 0 or 1 (empty or
 * not).  */
uint64_t vt_sq_count(const vt_sq *s);

/* The bounds: vmin and vmax hold d values each (caller allocated).  param
 * is r for meanstd (>= 0) and q for quantile (0 <= q <= 0.5); ignored
 * otherwise.  Returns 0, VT_EDATA (no values), VT_EINVAL (param out of
 * range) or VT_ENOMEM. */
int vt_sq_bounds(const vt_sq *s, double param, double *vmin, double *vmax);

/* The q-quantile (0 <= q <= 1) of each dimension of a quantile sketch into
 * out (d values).  Returns 0, VT_EINVAL (not a sketch, or q out of range),
 * VT_EDATA (empty) or VT_ENOMEM. */
int vt_sq_quantile(const vt_sq *s, double q, double *out);

/* Rows of d doubles of the partial form. */
size_t vt_sq_partial_rows(const vt_sq *s);

/* Write the partial form (vt_sq_partial_rows(s) x d doubles) into rows.
 * Returns 0 or VT_ENOMEM (scratch for sorting a sketch). */
int vt_sq_partial_write(const vt_sq *s, double *rows);

/* Parse one partial form of the given mode and d from the start of rows
 * (nrows x d): *out receives a new statistic, *used the rows it took.
 * Several partial forms may follow each other.  Returns 0, VT_ETRUNC
 * (rows end inside it), VT_EFORMAT (values that no partial form holds) or
 * VT_ENOMEM. */
int vt_sq_partial_read(vt_sq **out, int mode, size_t d, const double *rows, size_t nrows,
                       size_t *used);

/* For quantile: the sketch's k and seed (0 for other modes). */
unsigned vt_sq_sketch_k(const vt_sq *s);
uint64_t vt_sq_seed(const vt_sq *s);

#ifdef __cplusplus
}
#endif
#endif
