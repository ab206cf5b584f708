/* vtrain: exact sums on a fixed binary grid (see exactsum.h). */
#define _POSIX_C_SOURCE 200809L
#include "train/exactsum.h"

#include <math.h>
#include <string.h>

#define TWO64 ((vt_xdigit)1 << 64)

void vt_xsum_add_wide(vt_xdigit *x, size_t nd, double s)
{
	uint64_t b;
	memcpy(&b, &s, sizeof b);
	/* |s| = m 2^sh with a 53-bit m; sh >= 10 since |s| >= 2^62 */
	uint64_t m = (b & ((1ull << 52) - 1)) | (1ull << 52);
	unsigned sh = (unsigned)((b >> 52) & 0x7ff) - 1075u;
	size_t i = sh >> 6;
	unsigned __int128 v = (unsigned __int128)m << (sh & 63); /* < 2^116 */
	int neg = (int)(b >> 63);
	if (i + 1 >= nd) { /* the top digit takes it whole (< 2^100, fits) */
		x[nd - 1] += neg ? -(vt_xdigit)v : (vt_xdigit)v;
		return;
	}
	vt_xdigit lo = (vt_xdigit)(uint64_t)v, hi = (vt_xdigit)(uint64_t)(v >> 64);
	if (neg)
		x[i] -= lo, x[i + 1] -= hi;
	else
		x[i] += lo, x[i + 1] += hi;
}

void vt_xsum_normalise(vt_xdigit *x, size_t nd)
{
	vt_xdigit carry = 0;
	for (size_t i = 0; i + 1 < nd; i++) {
		vt_xdigit v = x[i] + carry;
		vt_xdigit low = (vt_xdigit)(uint64_t)v; /* v mod 2^64 */
		carry = (v - low) / TWO64;              /* exact */
		x[i] = low;
	}
	x[nd - 1] += carry;
}

void vt_xsum_merge(vt_xdigit *dst, const vt_xdigit *src, size_t nd)
{
	vt_xdigit t[VT_XSUM_MAX_DIGITS];
	memcpy(t, src, nd * sizeof *t);
	vt_xsum_normalise(t, nd);
	vt_xsum_normalise(dst, nd);
	for (size_t i = 0; i < nd; i++)
		dst[i] += t[i];
	vt_xsum_normalise(dst, nd);
}

/* |x| normalised into t (nd digits, all in [0, 2^64) but the top one,
 * which is >= 0); returns 1 if x is negative. */
static int magnitude(const vt_xdigit *x, size_t nd, vt_xdigit *t)
{
	memcpy(t, x, nd * sizeof *t);
	vt_xsum_normalise(t, nd);
	if (t[nd - 1] >= 0)
		return 0;
	for (size_t i = 0; i < nd; i++)
		t[i] = -t[i];
	vt_xsum_normalise(t, nd);
	return 1;
}

/* Bit i of the non-negative, normalised t (nd digits; the top digit may
 * hold more than 64 bits). */
static unsigned bit_of(const vt_xdigit *t, size_t nd, long i)
{
	size_t g = (size_t)i >> 6;
	if (g + 1 >= nd)
		return (unsigned)((t[nd - 1] >> (i - 64 * (long)(nd - 1))) & 1);
	return (unsigned)((t[g] >> (i & 63)) & 1);
}

/* r (a power of two times a whole number) times step, and whether that
 * product is exactly r step. */
static double scaled(double r, double step, int *bad)
{
	double v = r * step;
	if (r != 0 && v / step != r)
		*bad = 1; /* overflow, underflow, or a grid of step 0 */
	return v;
}

double vt_xsum_value(const vt_xdigit *x, size_t nd, double step, int *inexact)
{
	int bad = 0;
	double v;
	if (nd == 1) {
		/* one digit: the conversion of the 128-bit integer rounds once */
		double r = (double)x[0];
		if (fabs(r) >= 0x1p127 || (vt_xdigit)r != x[0])
			bad = 1;
		v = scaled(r, step, &bad);
	} else {
		vt_xdigit t[VT_XSUM_MAX_DIGITS];
		int neg = magnitude(x, nd, t);
		size_t top = nd;
		while (top > 0 && t[top - 1] == 0)
			top--;
		if (top == 0) {
			v = 0.0;
		} else {
			/* the top 64 bits of |x|, a sticky bit below, rounded once */
			unsigned __int128 hi = (unsigned __int128)t[top - 1];
			int bits = 0;
			for (unsigned __int128 u = hi; u; u >>= 1)
				bits++;
			long L = (long)(top - 1) * 64 + bits; /* bit length */
			long pos = L > 64 ? L - 64 : 0;       /* lowest bit of the window */
			uint64_t m = 0, sticky = 0;
			for (long i = pos; i < L; i++)
				m |= (uint64_t)bit_of(t, nd, i) << (i - pos);
			for (long i = 0; i < pos && !sticky; i++)
				sticky = bit_of(t, nd, i);
			double r = (double)(m | sticky);
			if (sticky || r >= 0x1p64 || (uint64_t)r != m)
				bad = 1;
			v = scaled(ldexp(r, (int)pos), step, &bad);
			if (neg)
				v = -v;
		}
	}
	if (inexact)
		*inexact = bad;
	return v;
}

void vt_xsum_to_digits32(const vt_xdigit *x, size_t nd, int64_t *d32, size_t n32)
{
	vt_xdigit t[VT_XSUM_MAX_DIGITS];
	memcpy(t, x, nd * sizeof *t);
	vt_xsum_normalise(t, nd);
	for (size_t g = 0; g + 1 < n32; g++)
		d32[g] = (int64_t)(((uint64_t)t[g >> 1] >> (32 * (g & 1))) & 0xffffffffu);
	/* the top one: floor(value / 2^(32 (n32 - 1))) */
	size_t g = n32 - 1;
	vt_xdigit top = t[g >> 1];
	if (g & 1)
		top = (top - (vt_xdigit)((uint64_t)top & 0xffffffffu)) / ((vt_xdigit)1 << 32);
	d32[g] = (int64_t)top;
}

void vt_xsum_from_digits32(vt_xdigit *x, size_t nd, const int64_t *d32, size_t n32)
{
	memset(x, 0, nd * sizeof *x);
	for (size_t g = 0; g < n32; g++)
		x[g >> 1] += (vt_xdigit)d32[g] * ((g & 1) ? ((vt_xdigit)1 << 32) : 1);
	vt_xsum_normalise(x, nd);
}

int vt_xsum_magnitude32(const vt_xdigit *x, size_t nd, uint64_t *u, size_t n32)
{
	vt_xdigit t[VT_XSUM_MAX_DIGITS];
	int neg = magnitude(x, nd, t);
	for (size_t g = 0; g < n32; g++)
		u[g] = ((uint64_t)t[g >> 1] >> (32 * (g & 1))) & 0xffffffffu;
	return neg;
}

double vt_xsum_digits32_value(const uint64_t *u, size_t n, int lsb)
{
	size_t t = n;
	while (t > 0 && u[t - 1] == 0)
		t--;
	if (t == 0)
		return 0.0;
	int bits = 0;
	for (uint64_t v = u[t - 1]; v; v >>= 1)
		bits++;
	long L = (long)(t - 1) * 32 + bits; /* bit length */
	long pos = L > 64 ? L - 64 : 0;     /* lowest bit of the window */
	uint64_t m = 0, sticky = 0;
	for (long i = pos; i < L; i++)
		m |= ((u[i >> 5] >> (i & 31)) & 1) << (i - pos);
	for (long i = 0; i < pos && !sticky; i++)
		sticky = (u[i >> 5] >> (i & 31)) & 1;
	/* 64 bits and a sticky bit round to 53 exactly as the whole would */
	return ldexp((double)(m | sticky), (int)pos + lsb);
}
