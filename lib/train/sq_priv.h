/* vtrain: what sq.c (the statistics and their partial form) and sqtail.c
 * (the subsampled tails of the quantile statistic) share; private to them,
 * not for other modules.
 */
#ifndef VT_SQ_PRIV_H
#define VT_SQ_PRIV_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "train/exactsum.h"
#include "train/sq.h"

/* One side of the tails (sq.h): per dimension j, cnt[j] elements as
 * 64-bit keys (the value's order key << 6 | (63 - tz), the value's order
 * reversed on the upper side; so both sides keep their smallest keys) in a
 * max-heap at key + j * stride; trunc[j] when trimmed once, with the cut
 * cut[j] (a key; 0 when not trimmed). */
typedef struct {
	uint64_t *key;
	size_t stride;          /* room per dimension, at most the tail */
	size_t *cnt;
	uint64_t *cut;
	unsigned char *trunc;
} vt_sq_side;

struct vt_sq {
	int mode;
	size_t d;
	uint64_t n;             /* values per dimension */
	/* minmax */
	double *mn, *mx;
	/* meanstd: d sums of x and d of x^2 (exactsum.h), on the grids
	 * 2^-149 and 2^-298, of VT_SQ_SUM_XDIGITS and VT_SQ_SUMSQ_XDIGITS */
	vt_xdigit *sd, *qd;
	/* quantile: tail C, design quantile, seed and the hash's key of it,
	 * the level L, and the two sides (0 lower, 1 upper) */
	size_t tail;
	double tq;
	uint64_t seed, hkey;
	unsigned level;
	vt_sq_side side[2];
};

/* 64-bit digits of the exact sums: the 11 and 20 digits of 32 bits of the
 * partial form, in pairs. */
#define VT_SQ_SUM_XDIGITS ((VT_SQ_SUM_DIGITS + 1) / 2)
#define VT_SQ_SUMSQ_XDIGITS ((VT_SQ_SUMSQ_DIGITS + 1) / 2)

/* The total order of the values: numeric, with -0 before +0. */
static inline int vt_sq_before(double a, double b)
{
	return a < b || (a == b && signbit(a) && !signbit(b));
}

static inline int vt_sq_is_minmax(int mode)
{
	return mode == VT_SQ_GLOBAL || mode == VT_SQ_DIM;
}

/* ---- the subsampled tails (sqtail.c) ---- */

/* Allocate the sides of a new quantile statistic (empty).  Returns 0 or
 * VT_ENOMEM. */
int vt_sqt_init(vt_sq *s);

/* Free the sides. */
void vt_sqt_free(vt_sq *s);

/* The level of n values: the smallest L with need(n) <= K 2^L (sq.h). */
unsigned vt_sqt_level_of(const vt_sq *s, uint64_t n);

/* Fill *qr (s not empty, 0 <= p <= 1), and the p-quantile into out when
 * not NULL. */
int vt_sqt_quantile(const vt_sq *s, double p, vt_sq_qrank *qr, double *out);

/* Add n rows (n x d, ids or NULL); s->n counts them.  Returns 0 or
 * VT_ENOMEM. */
int vt_sqt_add(vt_sq *s, const float *x, const uint64_t *ids, size_t n);

/* Merge src[0..nsrc) into dst (the caller checked that the parameters
 * agree); dst->n becomes the sum.  Returns 0 or VT_ENOMEM. */
int vt_sqt_merge(vt_sq *dst, const vt_sq *const *src, size_t nsrc);

/* The rows of the partial form, writing and parsing it (sq.h). */
size_t vt_sqt_partial_rows(const vt_sq *s);
int vt_sqt_partial_write(const vt_sq *s, double *rows);
int vt_sqt_partial_parse(vt_sq *s, const double *rows, size_t nrows, size_t *used,
                         char *err, size_t errlen);

/* A row whose d values are all the same integer in [0, max]: *v. */
int vt_sq_const_row(const double *row, size_t d, double max, uint64_t *v);

#endif
