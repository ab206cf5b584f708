/* vtrain: what sq.c (the statistics and their partial form) and kll.c (the
 * quantile sketch) share; private to them, not for other modules.
 */
#ifndef VT_SQ_PRIV_H
#define VT_SQ_PRIV_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "train/exactsum.h"
#include "train/sq.h"

/* Most levels of a sketch. */
#define VT_KLL_MAX_LEVELS 64

struct vt_sq {
	int mode;
	size_t d;
	uint64_t n;             /* values per dimension */
	/* minmax */
	double *mn, *mx;
	/* meanstd: d sums of x and d of x^2 (exactsum.h), on the grids
	 * 2^-149 and 2^-298, of VT_SQ_SUM_XDIGITS and VT_SQ_SUMSQ_XDIGITS */
	vt_xdigit *sd, *qd;
	/* quantile */
	unsigned k;
	uint64_t seed;
	size_t H, total, tcap;  /* levels, items, total capacity */
	size_t size[VT_KLL_MAX_LEVELS], alloc[VT_KLL_MAX_LEVELS];
	double *lv[VT_KLL_MAX_LEVELS]; /* level h: d columns of alloc[h] values */
	/* quantile: the exact tails, the tail smallest and tail largest values
	 * of each dimension (tn = min(tail, n) of each), as d heaps of tail
	 * values each: tlo a max-heap (its root the largest of the smallest),
	 * thi a min-heap; tail 0: none */
	size_t tail, tn;
	double *tlo, *thi;
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

/* ---- the KLL sketch (kll.c) ---- */

/* Sort n doubles in the order of vt_sq_before. */
void vt_kll_sort(double *a, size_t n);

/* Set the number of levels H and the total capacity that follows. */
void vt_kll_set_levels(vt_sq *s, size_t H);

/* Room for need items at level h.  Returns 0 or VT_ENOMEM. */
int vt_kll_reserve(vt_sq *s, size_t h, size_t need);

/* Add n rows (n x d); s->n counts them.  Returns 0 or VT_ENOMEM. */
int vt_kll_add(vt_sq *s, const float *x, size_t n);

/* The q-quantile of each dimension from the sketch alone (s not empty). */
int vt_kll_quantile(const vt_sq *s, double q, double *out);

/* The union of the sketches src[0..nsrc) into dst, then compaction (the
 * caller checked that k, seed and d agree).  Returns 0 or VT_ENOMEM. */
int vt_kll_merge(vt_sq *dst, const vt_sq *const *src, size_t nsrc);

#endif
