/* Unit tests for lib/train/exactsum.c: exact sums on a fixed binary grid. */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "train/exactsum.h"

#define MAXD VT_XSUM_MAX_DIGITS

static uint64_t lcg_state = 12345;

static uint64_t lcg(void)
{
	lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
	return lcg_state >> 11;
}

static double uniform(void)
{
	return (double)(lcg() >> 11) / 9007199254740992.0;
}

/* Same bits (so -0 and +0 differ). */
static int same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

static int same_digits(const vt_xdigit *a, const vt_xdigit *b, size_t nd)
{
	vt_xdigit x[MAXD], y[MAXD];
	memcpy(x, a, nd * sizeof *x);
	memcpy(y, b, nd * sizeof *y);
	vt_xsum_normalise(x, nd);
	vt_xsum_normalise(y, nd);
	return memcmp(x, y, nd * sizeof *x) == 0;
}

/* A float of wild magnitude: tiny, huge, negative, zero, subnormal. */
static float wild_float(void)
{
	double m = uniform() * 2 - 1;
	switch (lcg() % 8) {
	case 0: return 0.0f;
	case 1: return (float)(m * 1e-40);           /* subnormal */
	case 2: return (float)(m * 3e38);            /* near FLT_MAX */
	case 3: return (float)(m * 1e-30);
	case 4: return (float)(m * 1e20);
	default: return (float)(m * 10);
	}
}

/* An independent reference: two's complement in 32-bit limbs, adding each
 * whole number of steps at its bit position. */
enum { REF_LIMBS = 2 * MAXD + 2 };

static void ref_add(uint32_t *r, double steps)
{
	if (steps == 0)
		return;
	int e;
	double f = frexp(fabs(steps), &e);
	uint64_t m = (uint64_t)ldexp(f, 53);
	int sh = e - 53;
	if (sh < 0) {
		m >>= -sh; /* exact: steps is whole */
		sh = 0;
	}
	uint32_t add[REF_LIMBS] = {0};
	for (int b = 0; b < 64; b++)
		if ((m >> b) & 1 && (b + sh) / 32 < REF_LIMBS)
			add[(b + sh) / 32] |= 1u << ((b + sh) % 32);
	if (steps < 0) { /* negate: invert and add 1 */
		uint64_t c = 1;
		for (int i = 0; i < REF_LIMBS; i++) {
			c += (uint32_t)~add[i];
			add[i] = (uint32_t)c;
			c >>= 32;
		}
	}
	uint64_t c = 0;
	for (int i = 0; i < REF_LIMBS; i++) {
		c += (uint64_t)r[i] + add[i];
		r[i] = (uint32_t)c;
		c >>= 32;
	}
}

/* x's 32-bit digits (n32 = 2 nd) against the reference r. */
static int ref_same(const uint32_t *r, const vt_xdigit *x, size_t nd)
{
	int64_t d32[2 * MAXD];
	size_t n32 = 2 * nd;
	vt_xsum_to_digits32(x, nd, d32, n32);
	for (size_t g = 0; g + 1 < n32; g++)
		if (d32[g] != (int64_t)r[g])
			return 0;
	int64_t top = (int64_t)(((uint64_t)r[n32] << 32) | r[n32 - 1]);
	return d32[n32 - 1] == top;
}

/* Sum vals[0..n) in order into x (nd digits, grid 1 / inv); each addend is
 * given as v (rounded to the grid); squares too when sq. */
static void sum_range(vt_xdigit *x, size_t nd, const double *vals, const size_t *idx,
                      size_t lo, size_t hi, double inv)
{
	for (size_t i = lo; i < hi; i++)
		vt_xsum_add(x, nd, vals[idx[i]], inv);
}

/* The sum of any split of the values, each part in any order, merged in
 * any order, is the same bit for bit as the sum in order. */
static void test_splits(const char *what, size_t nd, double inv, double step, int squares)
{
	enum { N = 3000, TRIALS = 20 };
	double *vals = xmalloc(N * sizeof *vals);
	size_t *idx = xmalloc(N * sizeof *idx);
	for (size_t i = 0; i < N; i++) {
		double f = wild_float();
		vals[i] = squares ? f * f : f;
		idx[i] = i;
	}
	vt_xdigit whole[MAXD] = {0};
	sum_range(whole, nd, vals, idx, 0, N, inv);
	uint32_t ref[REF_LIMBS] = {0};
	for (size_t i = 0; i < N; i++) {
		double st = vt_xsum_steps(vals[i], inv);
		if (vt_xsum_fits(st, nd))
			ref_add(ref, st);
	}
	CHECK(ref_same(ref, whole, nd), "%s: the sum in order is the exact sum of the steps", what);
	int inexact_whole;
	double vw = vt_xsum_value(whole, nd, step, &inexact_whole);
	int all_same = 1;
	for (int t = 0; t < TRIALS; t++) {
		/* shuffle the order, cut into 1..16 parts, merge in a random order */
		for (size_t i = N - 1; i > 0; i--) {
			size_t j = lcg() % (i + 1), s = idx[i];
			idx[i] = idx[j], idx[j] = s;
		}
		size_t parts = 1 + lcg() % 16, cut[17];
		cut[0] = 0, cut[parts] = N;
		for (size_t p = 1; p < parts; p++)
			cut[p] = lcg() % (N + 1);
		for (size_t p = 1; p < parts; p++) /* sort the cuts */
			for (size_t q = p; q > 1 && cut[q - 1] > cut[q]; q--) {
				size_t s = cut[q];
				cut[q] = cut[q - 1], cut[q - 1] = s;
			}
		vt_xdigit part[17][MAXD];
		memset(part, 0, sizeof part);
		for (size_t p = 0; p < parts; p++)
			sum_range(part[p], nd, vals, idx, cut[p], cut[p + 1], inv);
		vt_xdigit total[MAXD] = {0};
		size_t order[17];
		for (size_t p = 0; p < parts; p++)
			order[p] = p;
		for (size_t p = parts - 1; p > 0; p--) {
			size_t j = lcg() % (p + 1), s = order[p];
			order[p] = order[j], order[j] = s;
		}
		for (size_t p = 0; p < parts; p++)
			vt_xsum_merge(total, part[order[p]], nd);
		int inexact;
		double v = vt_xsum_value(total, nd, step, &inexact);
		if (!same_digits(total, whole, nd) || !same_double(v, vw) || inexact != inexact_whole)
			all_same = 0;
	}
	CHECK(all_same, "%s: %d random splits and merge orders give the digits and bytes of "
	      "the sum in order (%.17g)", what, TRIALS, vw);
	free(vals), free(idx);
}

static void test_exact_values(void)
{
	/* Floats on the grid 2^-149 (6 digits) are summed without rounding. */
	vt_xdigit x[MAXD] = {0};
	vt_xsum_add(x, 6, 1e30f, 0x1p149);
	vt_xsum_add(x, 6, 1e-30f, 0x1p149);
	vt_xsum_add(x, 6, -1e30f, 0x1p149);
	int inexact;
	double v = vt_xsum_value(x, 6, 0x1p-149, &inexact);
	CHECK(v == (double)1e-30f && !inexact, "1e30 + 1e-30 - 1e30 is exactly 1e-30f (%.17g)", v);

	/* The smallest subnormal and its square are one step of each grid. */
	vt_xdigit s[MAXD] = {0}, q[MAXD] = {0};
	double tmin = FLT_TRUE_MIN;
	vt_xsum_add(s, 6, tmin, 0x1p149);
	vt_xsum_add(q, 10, tmin * tmin, 0x1p298);
	int64_t d32[20];
	vt_xsum_to_digits32(s, 6, d32, 11);
	int one = d32[0] == 1;
	for (int g = 1; g < 11; g++)
		one &= d32[g] == 0;
	CHECK(one, "FLT_TRUE_MIN is one step of 2^-149");
	CHECK(vt_xsum_value(q, 10, 0x1p-298, NULL) == 0x1p-298,
	      "FLT_TRUE_MIN^2 is one step of 2^-298");

	/* FLT_MAX^2 on the grid 2^-298 needs the wide digits. */
	vt_xdigit h[MAXD] = {0};
	double fm = FLT_MAX;
	for (int i = 0; i < 1024; i++)
		vt_xsum_add(h, 10, fm * fm, 0x1p298);
	v = vt_xsum_value(h, 10, 0x1p-298, &inexact);
	CHECK(v == 1024 * (fm * fm) && !inexact, "1024 FLT_MAX^2 = %.17g", v);
	vt_xsum_add(h, 10, fm * fm, 0x1p298);
	v = vt_xsum_value(h, 10, 0x1p-298, &inexact);
	CHECK(v == 1025 * (fm * fm) && inexact, "1025 FLT_MAX^2 (58 bits) = %.17g, inexact", v);
	vt_xsum_add(h, 10, -fm * fm, 0x1p298);
	for (int i = 0; i < 1024; i++)
		vt_xsum_add(h, 10, -fm * fm, 0x1p298);
	v = vt_xsum_value(h, 10, 0x1p-298, &inexact);
	CHECK(same_double(v, 0.0) && !inexact, "and minus them again: +0 (%g)", v);
}

static void test_zero_negative(void)
{
	for (size_t nd = 1; nd <= 6; nd += 5) {
		vt_xdigit z[MAXD] = {0};
		int inexact = 7;
		double v = vt_xsum_value(z, nd, 0x1p-20, &inexact);
		CHECK(same_double(v, 0.0) && inexact == 0, "nd %zu: empty sum is +0, exact", nd);
		vt_xsum_add(z, nd, -0.0, 0x1p20);
		v = vt_xsum_value(z, nd, 0x1p-20, NULL);
		CHECK(same_double(v, 0.0), "nd %zu: adding -0 keeps +0", nd);
		vt_xsum_add(z, nd, -3.25, 0x1p20);
		vt_xsum_add(z, nd, -0.5, 0x1p20);
		v = vt_xsum_value(z, nd, 0x1p-20, &inexact);
		CHECK(v == -3.75 && !inexact, "nd %zu: negative sum %g", nd, v);
	}
	/* -1 step in 32-bit digits: all ones below, -1 on top; and back */
	vt_xdigit x[MAXD] = {0}, y[MAXD];
	vt_xsum_add(x, 6, -1.0, 1.0);
	int64_t d32[11];
	vt_xsum_to_digits32(x, 6, d32, 11);
	int ok = d32[10] == -1;
	for (int g = 0; g < 10; g++)
		ok &= d32[g] == 0xffffffff;
	CHECK(ok, "-1 as 11 digits of 32 bits: 0xffffffff x 10, then -1");
	vt_xsum_from_digits32(y, 6, d32, 11);
	CHECK(same_digits(x, y, 6), "32-bit digits read back give the same sum");
	uint64_t u[11];
	int neg = vt_xsum_magnitude32(x, 6, u, 11);
	ok = neg == 1 && u[0] == 1;
	for (int g = 1; g < 11; g++)
		ok &= u[g] == 0;
	CHECK(ok, "magnitude of -1 is 1, negative");
	/* an even count of 32-bit digits: the top one is the high half */
	vt_xdigit w[MAXD] = {0};
	vt_xsum_add(w, 2, -0x1p100, 1.0);
	int64_t e32[4];
	vt_xsum_to_digits32(w, 2, e32, 4);
	CHECK(e32[0] == 0 && e32[1] == 0 && e32[2] == 0 && e32[3] == -16,
	      "-2^100 as 4 digits of 32 bits: 0 0 0 -16 (%lld)", (long long)e32[3]);
	vt_xsum_from_digits32(y, 2, e32, 4);
	CHECK(same_digits(w, y, 2) && vt_xsum_value(y, 2, 1.0, NULL) == -0x1p100,
	      "and read back");
}

static void test_rounding(void)
{
	static const struct {
		double v, steps;
	} cases[] = {
		{0.5, 0}, {1.5, 2}, {2.5, 2}, {3.5, 4}, {-0.5, 0}, {-1.5, -2}, {-2.5, -2},
		{2.5000000001, 3}, {0.49999999999, 0}, {-2.4999999, -2},
	};
	int ok = 1;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* on the grid 2^-3: v / 8 is the same tie */
		double s1 = vt_xsum_steps(cases[i].v, 1.0);
		double s8 = vt_xsum_steps(cases[i].v / 8, 8.0);
		if (s1 != cases[i].steps || s8 != cases[i].steps) {
			ok = 0;
			printf("# %g: steps %g and %g, expected %g\n", cases[i].v, s1, s8,
			       cases[i].steps);
		}
	}
	CHECK(ok, "round half to even on the grid: 0.5->0 1.5->2 2.5->2 -1.5->-2");
	vt_xdigit x[MAXD] = {0};
	vt_xsum_add(x, 1, 0.0625, 8.0);  /* half a step: 0 */
	vt_xsum_add(x, 1, 0.1875, 8.0);  /* 1.5 steps: 2 */
	vt_xsum_add(x, 1, 0.3125, 8.0);  /* 2.5 steps: 2 */
	double v = vt_xsum_value(x, 1, 0.125, NULL);
	CHECK(v == 0.5, "ties to even in a sum: %g", v);

	/* the value read back rounds once, ties to even, with a sticky bit */
	for (size_t nd = 1; nd <= 3; nd++) {
		vt_xdigit a[MAXD] = {0}, b[MAXD] = {0}, c[MAXD] = {0};
		int ia, ib, ic;
		/* (2^53 + 1) 2^s: a tie, to even (down) */
		double sc = nd == 1 ? 0x1p40 : 0x1p64;
		vt_xsum_add_steps(a, nd, 0x1p53 * sc);
		vt_xsum_add_steps(a, nd, sc);
		double va = vt_xsum_value(a, nd, 1.0, &ia);
		/* (2^53 + 3) 2^s: a tie, to even (up) */
		vt_xsum_add_steps(b, nd, 0x1p53 * sc);
		vt_xsum_add_steps(b, nd, 3 * sc);
		double vb = vt_xsum_value(b, nd, 1.0, &ib);
		/* (2^53 + 1) 2^s + 1: above the tie (the sticky bit), up */
		vt_xsum_add_steps(c, nd, 0x1p53 * sc);
		vt_xsum_add_steps(c, nd, sc);
		vt_xsum_add_steps(c, nd, 1);
		double vc = vt_xsum_value(c, nd, 1.0, &ic);
		CHECK(va == 0x1p53 * sc && ia && vb == (0x1p53 + 4) * sc && ib &&
		      vc == (0x1p53 + 2) * sc && ic,
		      "nd %zu: read back correctly rounded: tie down, tie up, sticky up", nd);
	}
}

static void test_range(void)
{
	vt_xdigit x[MAXD] = {0};
	CHECK(vt_xsum_fits(0x1p99, 1) && vt_xsum_fits(-0x1p99, 1) && !vt_xsum_fits(0x1p100, 1) &&
	      !vt_xsum_fits(-0x1p100, 1) && !vt_xsum_fits(NAN, 1) && !vt_xsum_fits(INFINITY, 1),
	      "one digit: 2^99 steps on the grid, 2^100, NaN and inf off it");
	CHECK(vt_xsum_fits(0x1p163, 2) && !vt_xsum_fits(0x1p164, 2),
	      "two digits: the bound is 2^164");
	vt_xsum_add(x, 1, 1.0, 1.0);
	int rc1 = vt_xsum_add(x, 1, 0x1p100, 1.0);
	int rc2 = vt_xsum_add(x, 1, 1.0, INFINITY);
	int rc3 = vt_xsum_add(x, 1, NAN, 1.0);
	int inexact;
	double v = vt_xsum_value(x, 1, 1.0, &inexact);
	CHECK(rc1 == VT_EDATA && rc2 == VT_EDATA && rc3 == VT_EDATA && v == 1 && !inexact,
	      "off-grid addends are refused and leave the sum as it was");

	/* more than 53 significant bits: inexact */
	vt_xdigit y[MAXD] = {0};
	vt_xsum_add_steps(y, 1, 0x1p60);
	vt_xsum_add_steps(y, 1, 1);
	v = vt_xsum_value(y, 1, 1.0, &inexact);
	CHECK(v == 0x1p60 && inexact, "2^60 + 1 steps reads as 2^60, inexact");
	vt_xdigit z[MAXD] = {0};
	vt_xsum_add_steps(z, 6, 0x1p300);
	vt_xsum_add_steps(z, 6, 0x1p200);
	v = vt_xsum_value(z, 6, 1.0, &inexact);
	CHECK(v == 0x1p300 && inexact, "2^300 + 2^200 steps (6 digits): 2^300, inexact");
	vt_xsum_add_steps(z, 6, -0x1p200);
	v = vt_xsum_value(z, 6, 1.0, &inexact);
	CHECK(v == 0x1p300 && !inexact, "minus 2^200 again: exact");

	/* out of the range of doubles after scaling: inexact */
	vt_xdigit o[MAXD] = {0};
	vt_xsum_add_steps(o, 1, 0x1p90);
	v = vt_xsum_value(o, 1, 0x1p1000, &inexact);
	CHECK(isinf(v) && inexact, "2^90 steps of 2^1000 overflow: inexact");
	v = vt_xsum_value(o, 1, 0.0, &inexact);
	CHECK(v == 0 && inexact, "2^90 steps of a grid too fine for doubles (step 0): inexact");
	v = vt_xsum_value(o, 1, 0x1p-1000, &inexact);
	CHECK(v == 0x1p-910 && !inexact, "2^90 steps of 2^-1000: exact");

	/* lazy carries: many addends of 2^63 steps in the low digit */
	vt_xdigit l[MAXD] = {0};
	for (int i = 0; i < 100000; i++)
		vt_xsum_add_steps(l, 2, 0x1.8p63);
	v = vt_xsum_value(l, 2, 1.0, &inexact);
	CHECK(v == 100000 * 0x1.8p63 && !inexact, "100000 x 1.5 2^63 steps carried: %.17g", v);
	/* merge leaves its source as it was */
	vt_xdigit m[MAXD] = {0}, before[MAXD];
	memcpy(before, l, sizeof before);
	vt_xsum_merge(m, l, 2);
	CHECK(memcmp(before, l, sizeof before) == 0 && same_digits(m, l, 2),
	      "merge into an empty sum copies, source unchanged");
}

int main(void)
{
	test_exact_values();
	test_zero_negative();
	test_rounding();
	test_range();
	test_splits("floats on 2^-149, 6 digits", 6, 0x1p149, 0x1p-149, 0);
	test_splits("squares on 2^-298, 10 digits", 10, 0x1p298, 0x1p-298, 1);
	test_splits("floats rounded to 2^-10, 1 digit", 1, 0x1p10, 0x1p-10, 0);
	test_splits("floats rounded to 2^40, 2 digits", 2, 0x1p-40, 0x1p40, 0);
	return check_done();
}
