/* vtrain: exact sums on a fixed binary grid.
 *
 * A grid sum counts steps of a grid 2^lsb in an integer: each addend v is
 * rounded to the grid, and the integers are added exactly.  So the sum of
 * any split of the addends, added in any order and merged in any grouping,
 * is the same integer, and the same bytes once it is read back.  Two
 * schemes of vtrain use it:
 *
 *  - SQ meanstd (train/sq.c): S = sum x on the grid 2^-149 and Q = sum x^2
 *    on 2^-298, which hold every float and every square of a float
 *    exactly, so nothing is rounded at all (6 and 10 digits).
 *  - exact Lloyd sums (bridge assign): sums, weights and losses on grids
 *    chosen from the centroids, each addend rounded to its grid (1 digit,
 *    the 128-bit integer of assign.h).
 *
 * Representation.  A sum of nd digits (1 <= nd <= VT_XSUM_MAX_DIGITS) is
 * the integer  sum_i x[i] 2^(64 i)  steps.  Each digit is a signed 128-bit
 * integer, so carries can wait: an addend puts less than 2^64 into each low
 * digit, and vt_xsum_normalise carries them into the top digit (signed),
 * leaving digits 0 .. nd-2 in [0, 2^64).  The normalised digits of a value
 * are unique.  Without a normalisation, 2^62 addends fit (far beyond any
 * input); reading, exporting and merging normalise a copy themselves.
 *
 * Rounding.  The steps of v are  round(v inv)  for inv = 2^-lsb, to the
 * nearest integer, ties to even (rint in the default rounding mode; v inv
 * is exact, or below 2^-1022 and then rounds to 0 either way).
 *
 * Range.  An addend of 2^(64 nd + 36) steps or more (or one that is not
 * finite) is off the grid: vt_xsum_add refuses it and the caller adds it
 * elsewhere (plain double, say) and reports the result inexact.  Below that
 * bound, 2^26 addends cannot overflow the top digit.
 *
 * Reading.  vt_xsum_value gives the correctly rounded double of
 * steps x 2^lsb, and flags it inexact when that double is not the sum.
 *
 * Pure functions on caller-owned digits: no allocation, no state.
 */
#ifndef VT_EXACTSUM_H
#define VT_EXACTSUM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One digit of a grid sum (a GCC/Clang 128-bit integer). */
__extension__ typedef __int128 vt_xdigit;

/* Most digits of one sum (the off-grid bound 2^(64 nd + 36) stays a
 * finite double). */
#define VT_XSUM_MAX_DIGITS 15

/* The steps of v on the grid 2^lsb, given inv = 2^-lsb: rint(v inv), as
 * a double (an integer, or not finite). */
static inline double vt_xsum_steps(double v, double inv)
{
	double s = v * inv;
	return fabs(s) < 0x1p52 ? rint(s) : s; /* from 2^52 on, s is whole */
}

/* 1 when an addend of s steps (from vt_xsum_steps) is on the grid of a
 * sum of nd digits: |s| < 2^(64 nd + 36); 0 when it is off (or NaN). */
static inline int vt_xsum_fits(double s, size_t nd)
{
	uint64_t b = (uint64_t)(1023 + 64 * nd + 36) << 52;
	double lim;
	memcpy(&lim, &b, sizeof lim); /* 2^(64 nd + 36) */
	return fabs(s) < lim;
}

/* Add s steps (whole, on the grid: vt_xsum_fits) beyond 2^62 to a sum of
 * nd > 1 digits.  Use vt_xsum_add_steps. */
void vt_xsum_add_wide(vt_xdigit *x, size_t nd, double s);

/* Add s steps to the sum x of nd digits.  s must be whole and on the
 * grid (vt_xsum_steps, then vt_xsum_fits). */
static inline void vt_xsum_add_steps(vt_xdigit *x, size_t nd, double s)
{
	if (fabs(s) < 0x1p62)
		x[0] += (int64_t)s;
	else if (nd == 1)
		x[0] += (vt_xdigit)s;
	else
		vt_xsum_add_wide(x, nd, s);
}

/* Add v rounded to the grid (inv = 2^-lsb) to the sum x of nd digits.
 * Returns 0, or VT_EDATA when v is off the grid (then x is unchanged). */
static inline int vt_xsum_add(vt_xdigit *x, size_t nd, double v, double inv)
{
	double s = vt_xsum_steps(v, inv);
	if (!vt_xsum_fits(s, nd))
		return VT_EDATA;
	vt_xsum_add_steps(x, nd, s);
	return 0;
}

/* Carry the digits of x: digits 0 .. nd-2 in [0, 2^64), the sign in the
 * top one.  The value is unchanged. */
void vt_xsum_normalise(vt_xdigit *x, size_t nd);

/* dst += src (both nd digits, on the same grid); dst ends normalised and
 * src is unchanged.  Merging is exact, so any grouping and order of merges
 * gives the same digits. */
void vt_xsum_merge(vt_xdigit *dst, const vt_xdigit *src, size_t nd);

/* The sum x (nd digits) times step = 2^lsb, as the correctly rounded
 * double (ties to even).  When inexact is not NULL, *inexact is set to 1
 * if that double is not exactly the sum (more than 53 significant bits, or
 * out of the range of doubles), else to 0. */
double vt_xsum_value(const vt_xdigit *x, size_t nd, double step, int *inexact);

/* The sum x (nd digits) as n32 digits of 32 bits, low first, for a file
 * format: digits 0 .. n32-2 in [0, 2^32), the top one signed (it must fit
 * an int64).  n32 is 2 nd or 2 nd - 1 (the value must fit). */
void vt_xsum_to_digits32(const vt_xdigit *x, size_t nd, int64_t *d32, size_t n32);

/* The inverse: x (nd digits, normalised) from n32 digits of 32 bits, low
 * first, of any sign (each an int64); n32 <= 2 nd. */
void vt_xsum_from_digits32(vt_xdigit *x, size_t nd, const int64_t *d32, size_t n32);

/* |x| as n32 unsigned digits of 32 bits (each in a uint64, low first);
 * n32 <= 2 nd and |x| < 2^(32 n32).  Returns 1 if x is negative. */
int vt_xsum_magnitude32(const vt_xdigit *x, size_t nd, uint64_t *u, size_t n32);

/* The correctly rounded double of u 2^lsb, u an unsigned integer of n
 * digits of 32 bits (each in a uint64, low first): the top 64 bits with a
 * sticky bit below them, rounded once. */
double vt_xsum_digits32_value(const uint64_t *u, size_t n, int lsb);

#ifdef __cplusplus
}
#endif
#endif
