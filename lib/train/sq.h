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
 *  - VT_SQ_QUANTILE: the subsampled tails of each dimension (below);
 *                    [vmin_j, vmax_j] = [Q_j(q), Q_j(1 - q)], where Q_j(p)
 *                    is the smallest value whose rank reaches p n: the
 *                    value of rank r = max(1, ceil(p n)) in increasing
 *                    order (numpy's method "inverted_cdf").
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
 * The subsampled tails.  The quantile statistic is made for one quantile
 * q (its design quantile, default VT_SQ_DEFAULT_QUANTILE) and a capacity C
 * (the tail, default VT_SQ_DEFAULT_TAIL).  Every row has a hash
 * h = splitmix64(id ^ splitmix64(seed ^ 0x5155414e54494c45)) (one step of
 * vt_splitmix64 from each state), where id is the row's id (the caller's,
 * else its index among the rows the statistic has counted), and
 * tz = the trailing zero bits of h (63 at most).  The level-l subsample S_l
 * is the rows of tz >= l: S_0 is every row, S_(l+1) about half of S_l.
 * One level L serves the whole statistic and is a function of n alone:
 * the smallest L >= 0 with need(n) <= K 2^L, where need(n) =
 * min(n, ceil(q n) + 1) bounds the rank of Q(q) and of Q(1 - q) counted
 * from their ends, and K = floor(3C/4).
 *
 * Each dimension keeps, on each side, at most C elements (value, tz) of S_L
 * in the total order "value (vt_sq_before), then tz decreasing" (reversed
 * values on the upper side): a prefix of S_L in that order, and a cut.  When
 * the prefix was ever trimmed to C, the cut is an element such that every
 * element of S_L before it is kept and none after it is.  Adding an element
 * of tz >= L keeps it unless it is after the cut; over C, the last is
 * dropped and the cut becomes the new last.  When n grows so that L rises,
 * the kept elements of tz < L go (the cut stays): still a prefix of the
 * new S_L.  A merge takes L = f(the sum of the n), keeps each part's
 * elements of tz >= L up to the earliest cut of the parts that have one,
 * and trims their union to C: it does not depend on the order of the
 * parts.  At L = 0 the tails are the C smallest and C largest values,
 * exactly.
 *
 * Q(p), of rank r (t = r, or t = n - r + 1 counted from the top when that
 * is smaller, on the upper side), is the kept element at index
 * i = floor((t - 1) / 2^L) of its side: the value of rank t exactly when
 * L = 0 (and i < C), else the value whose rank in S_L is the scaled rank
 * ceil(t / 2^L).  Its rank in all rows is then random: a negative binomial
 * of mean about t and relative standard deviation sqrt((1 - 2^-L) / (i+1)).
 * At the design q and L >= 1, i + 1 >= about K/2 = 3C/8, so that is at
 * most 1.8% with the default C = 8192 (0.1 q is 5.5 standard deviations).
 * Should i reach past the kept elements of a dimension, the last kept one
 * is taken and vt_sq_quantile_rank says so.  After a level rise about C/2
 * are kept, for i < K = 3C/4; the tail refills from the later rows before
 * the cut, which is enough when the rows come in an order unrelated to
 * their values, but not when they are sorted by value (a shortfall then).  With the same ids the subsamples are
 * the same however the rows are split, so shards merged give the same
 * bounds as one run over all the rows.
 *
 * The tails cost at most 16 C d bytes (a 64-bit key per element), filled
 * as they grow.
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
#define VT_SQ_DEFAULT_SEED 1
/* The tails of the quantile statistic: elements kept per side and dimension. */
#define VT_SQ_DEFAULT_TAIL 8192
#define VT_SQ_MIN_TAIL 64
#define VT_SQ_MAX_TAIL (1u << 24)

/* Digits of the exact sums in the partial meanstd form. */
#define VT_SQ_SUM_DIGITS 11
#define VT_SQ_SUMSQ_DIGITS 20

typedef struct vt_sq vt_sq;

/* "global", "dim", "meanstd", "quantile"; NULL for an unknown mode. */
const char *vt_sq_mode_name(int mode);

/* The mode of a name, or 0. */
int vt_sq_mode_parse(const char *name);

/* An empty statistic of the given mode over d dimensions (a quantile
 * statistic with the default tail, design quantile and seed).  *out is NULL
 * on failure.  Returns 0, VT_EINVAL or VT_ENOMEM. */
int vt_sq_new(vt_sq **out, int mode, size_t d);

/* NULL-safe. */
void vt_sq_free(vt_sq *s);

/* Quantile only, before the first add: the tail C (VT_SQ_MIN_TAIL ..
 * VT_SQ_MAX_TAIL), the design quantile q (0 .. 0.5: the level follows
 * from it, above) and the seed of the rows' hash.  Returns 0 or VT_EINVAL
 * (another mode, a value out of range, values added already). */
int vt_sq_set_sketch(vt_sq *s, size_t tail, double q, uint64_t seed);

/* Quantile only (else 0): the tail C, the design quantile, the seed, and
 * the level L of the subsample now. */
size_t vt_sq_tail(const vt_sq *s);
double vt_sq_sketch_quantile(const vt_sq *s);
uint64_t vt_sq_seed(const vt_sq *s);
unsigned vt_sq_level(const vt_sq *s);

/* Quantile only: the trailing zero bits tz (0 .. 63) of the hash of row
 * id under s's seed: the row is in the subsamples S_0 .. S_tz. */
unsigned vt_sq_row_tz(const vt_sq *s, uint64_t id);

/* Add n rows x (n x d, row-major), which must be finite (the caller drops
 * or refuses the others).  ids (n) are the rows' ids, which the quantile
 * statistic hashes; NULL: a row's id is its index among the rows s has
 * counted (vt_sq_count before the call, plus its index in x).  The result
 * depends on the rows, their ids and (for quantile) their order, not on
 * how they are cut into calls.  Returns 0 or VT_ENOMEM (the tails could not
 * grow; s is then unchanged from the last full row). */
int vt_sq_add(vt_sq *s, const float *x, const uint64_t *ids, size_t n);

/* Merge the statistics src[0..nsrc) into dst: min of mins and max of
 * maxes, exact sums, or the tails as above.  The result does not depend on
 * the order of src.  All must have the same mode and d (and for quantile
 * the same tail, design quantile and seed).  Returns 0, VT_EINVAL (they
 * differ) or VT_ENOMEM. */
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

/* Where the q-quantile of a quantile statistic comes from: the one place
 * that decides it (vt_sq_quantile and the tools' reports use it). */
typedef struct {
	uint64_t rank;     /* r = max(1, min(n, ceil(p n))), in increasing order */
	int upper;         /* from the upper tail: r > n - r + 1 */
	uint64_t from_end; /* t = r, or n - r + 1 on the upper side */
	unsigned level;    /* L */
	uint64_t index;    /* i = floor((t - 1) / 2^L), in the side's kept order */
	size_t beyond;     /* dimensions that keep at most i elements on that side:
	                    * their Q(p) is the last kept (or the cut) */
	int exact;         /* L = 0 and beyond = 0: Q(p) is exact */
	double rel_sd;     /* the relative standard deviation of the rank of
	                    * Q(p): 0 when exact, else sqrt((1 - 2^-L) / (i + 1)) */
} vt_sq_qrank;

/* Fill *qr for the p-quantile (0 <= p <= 1) of s.  Returns 0, VT_EINVAL
 * (not quantile, p out of range) or VT_EDATA (empty). */
int vt_sq_quantile_rank(const vt_sq *s, double p, vt_sq_qrank *qr);

/* The p-quantile (0 <= p <= 1) of each dimension of a quantile statistic
 * into out (d values), as vt_sq_quantile_rank says.  Returns 0, VT_EINVAL
 * (not quantile, p out of range), VT_EDATA (empty, or a dimension that
 * keeps nothing on that side) or VT_ENOMEM. */
int vt_sq_quantile(const vt_sq *s, double p, double *out);

/* Rows of d doubles of the partial form. */
size_t vt_sq_partial_rows(const vt_sq *s);

/* Write the partial form (vt_sq_partial_rows(s) x d doubles) into rows.
 * Returns 0 or VT_ENOMEM (scratch for sorting the tails). */
int vt_sq_partial_write(const vt_sq *s, double *rows);

/* Parse one partial form of the given mode and d from the start of rows
 * (nrows x d): *out receives a new statistic, *used the rows it took.
 * Several partial forms may follow each other.  Returns 0, VT_ETRUNC
 * (rows end inside it), VT_EFORMAT (values that no partial form holds:
 * err, errlen > 0, says which row and why) or VT_ENOMEM. */
int vt_sq_partial_read(vt_sq **out, int mode, size_t d, const double *rows, size_t nrows,
                       size_t *used, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
