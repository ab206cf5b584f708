/* vtrain: "%.9g" of floats without snprintf, for the text writer (see
 * formats_priv.h).  The output is byte for byte what printf writes
 * (tests/unit/test_formats.c compares them on a million values).
 */
#define _POSIX_C_SOURCE 200809L
#include "stream/formats_priv.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Powers of ten 1e0 .. 1e53 (literals, so each is correctly rounded). */
static const double pow10_tab[] = {
	1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21,
	1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32,
	1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43,
	1e44, 1e45, 1e46, 1e47, 1e48, 1e49, 1e50, 1e51, 1e52, 1e53,
};

/* |v| scaled by 10^k (k in -53..53): within 1 ulp. */
static double scale10(double v, int k)
{
	return k >= 0 ? v * pow10_tab[k] : v / pow10_tab[-k];
}

/* Append "%.9g" of v at p (at most 16 bytes); returns the new end.
 *
 * The 9 significant digits come from |v| * 10^(8-E) in double, which is
 * within 2.5e-7 of the exact product (|v| < 1e9 after scaling, one or two
 * roundings); that is decisive unless the fraction is within 1e-6 of one
 * half (then, and for NaN/inf, snprintf decides).  The tests compare this
 * against snprintf on a million values. */
static char *put_g9(char *p, float v)
{
	if (v > -1e9f && v < 1e9f && v == (float)(int32_t)v &&
	    !(v == 0 && signbit(v))) {
		int32_t i = (int32_t)v;
		uint32_t u = i < 0 ? (uint32_t)0 - (uint32_t)i : (uint32_t)i;
		char tmp[12];
		int n = 0;
		do {
			tmp[n++] = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		if (i < 0)
			*p++ = '-';
		while (n)
			*p++ = tmp[--n];
		return p;
	}
	double a = fabs((double)v);
	if (!(a < HUGE_VAL) || a == 0)
		return p + snprintf(p, 24, "%.9g", (double)v);
	uint64_t bits;
	memcpy(&bits, &a, 8);
	int eb = (int)(bits >> 52) - 1023;   /* a in [2^eb, 2^(eb+1)) */
	int e10 = (int)floor(eb * 0.30102999566398120);
	double s = scale10(a, 8 - e10);
	if (s >= 999999999.5) {
		e10++;
		s = scale10(a, 8 - e10);
	}
	if (s < 99999999.5 || s >= 999999999.5)
		return p + snprintf(p, 24, "%.9g", (double)v);
	uint32_t dgt = (uint32_t)s;
	double frac = s - dgt;
	if (fabs(frac - 0.5) < 1e-6)
		return p + snprintf(p, 24, "%.9g", (double)v);
	if (frac > 0.5)
		dgt++;
	if (dgt >= 1000000000u) {
		dgt = 100000000u;
		e10++;
	}
	char dg[9];
	for (int k = 8; k >= 0; k--) {
		dg[k] = (char)('0' + dgt % 10);
		dgt /= 10;
	}
	int nd = 9;   /* significant digits after trimming trailing zeros */
	while (nd > 1 && dg[nd - 1] == '0')
		nd--;
	if (signbit(v))
		*p++ = '-';
	if (e10 >= -4 && e10 < 9) {
		if (e10 >= 0) {
			for (int k = 0; k <= e10; k++)
				*p++ = dg[k];
			if (nd > e10 + 1) {
				*p++ = '.';
				for (int k = e10 + 1; k < nd; k++)
					*p++ = dg[k];
			}
		} else {
			*p++ = '0';
			*p++ = '.';
			for (int k = -1; k > e10; k--)
				*p++ = '0';
			for (int k = 0; k < nd; k++)
				*p++ = dg[k];
		}
	} else {
		*p++ = dg[0];
		if (nd > 1) {
			*p++ = '.';
			for (int k = 1; k < nd; k++)
				*p++ = dg[k];
		}
		*p++ = 'e';
		*p++ = e10 < 0 ? '-' : '+';
		int x = e10 < 0 ? -e10 : e10;
		if (x >= 10) {
			*p++ = (char)('0' + x / 10);
			*p++ = (char)('0' + x % 10);
		} else {
			*p++ = '0';
			*p++ = (char)('0' + x);
		}
	}
	return p;
}

char *vt_fmt_g9_row(char *p, const float *row, size_t d)
{
	for (size_t j = 0; j < d; j++) {
		if (j)
			*p++ = ' ';
		p = put_g9(p, row[j]);
	}
	return p;
}
