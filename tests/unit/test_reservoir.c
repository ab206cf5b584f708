/* Unit tests of lib/train/reservoir. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "train/reservoir.h"
#include "train/rng.h"

#define D 3

/* n rows of D floats; row i holds (i, -i, i / 2). */
static float *rows(size_t n)
{
	float *x = malloc((n ? n : 1) * D * sizeof *x);
	if (!x) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		x[i * D] = (float)i;
		x[i * D + 1] = -(float)i;
		x[i * D + 2] = (float)i / 2;
	}
	return x;
}

/* Sample cap of the n rows with seed, offering them in chunks of random
 * sizes from chunk_seed (0: all at once). */
static vt_reservoir *run(const float *x, size_t n, size_t cap, uint64_t seed,
                         uint64_t chunk_seed)
{
	vt_reservoir *r;
	if (vt_reservoir_new(&r, cap, D, seed)) {
		printf("Bail out! vt_reservoir_new\n");
		exit(1);
	}
	vt_rng g;
	vt_rng_init(&g, chunk_seed, 9);
	for (size_t i = 0; i < n;) {
		size_t c = chunk_seed ? 1 + (size_t)vt_rng_below(&g, 300) : n;
		if (c > n - i)
			c = n - i;
		if (vt_reservoir_add(r, x + i * D, c)) {
			printf("Bail out! vt_reservoir_add\n");
			exit(1);
		}
		i += c;
	}
	if (vt_reservoir_finish(r)) {
		printf("Bail out! vt_reservoir_finish\n");
		exit(1);
	}
	return r;
}

static int same(const vt_reservoir *a, const vt_reservoir *b)
{
	size_t n = vt_reservoir_count(a);
	return n == vt_reservoir_count(b) &&
	       memcmp(vt_reservoir_rows(a), vt_reservoir_rows(b), n * D * sizeof(float)) == 0 &&
	       memcmp(vt_reservoir_index(a), vt_reservoir_index(b), n * sizeof(uint64_t)) == 0;
}

static void test_small_input_whole(void)
{
	float *x = rows(700);
	vt_reservoir *r = run(x, 700, 700, 5, 0);
	CHECK(vt_reservoir_count(r) == 700 && vt_reservoir_seen(r) == 700, "700 of 700 kept");
	CHECK(memcmp(vt_reservoir_rows(r), x, 700 * D * sizeof *x) == 0,
	      "an input of at most cap rows comes out whole, in order");
	vt_reservoir_free(r);
	r = run(x, 300, 5000, 5, 7);
	CHECK(vt_reservoir_count(r) == 300 && memcmp(vt_reservoir_rows(r), x, 300 * D * sizeof *x) == 0,
	      "300 rows with room for 5000: all of them, in order");
	vt_reservoir_free(r);
	free(x);
}

static void test_order_and_content(void)
{
	size_t n = 20000, cap = 1500;
	float *x = rows(n);
	vt_reservoir *r = run(x, n, cap, 11, 0);
	const float *s = vt_reservoir_rows(r);
	const uint64_t *id = vt_reservoir_index(r);
	int ok = vt_reservoir_count(r) == cap && vt_reservoir_seen(r) == n;
	for (size_t i = 0; ok && i < cap; i++) {
		ok = id[i] < n && (i == 0 || id[i - 1] < id[i]);
		ok = ok && memcmp(s + i * D, x + id[i] * D, D * sizeof *s) == 0;
	}
	CHECK(ok, "the sample is in input order, each row the input row its index names");
	/* the sample reaches past the first cap rows, up to near the end */
	CHECK(id[cap - 1] > n - n / 10 && id[0] < n / 10, "the sample spans the input (%llu..%llu)",
	      (unsigned long long)id[0], (unsigned long long)id[cap - 1]);
	vt_reservoir_free(r);
	free(x);
}

static void test_determinism(void)
{
	size_t n = 30000, cap = 2048;
	float *x = rows(n);
	vt_reservoir *a = run(x, n, cap, 3, 0), *b = run(x, n, cap, 3, 0);
	vt_reservoir *c = run(x, n, cap, 3, 77), *e = run(x, n, cap, 3, 78);
	vt_reservoir *f = run(x, n, cap, 4, 0);
	CHECK(same(a, b), "the same seed gives the same sample");
	CHECK(same(a, c) && same(a, e), "the sample does not depend on how the rows are chunked");
	CHECK(!same(a, f), "another seed gives another sample");
	vt_reservoir_free(a), vt_reservoir_free(b), vt_reservoir_free(c), vt_reservoir_free(e);
	vt_reservoir_free(f);
	free(x);
}

/* Each of n rows is kept with probability cap/n: over T seeds the counts
 * have mean T cap / n; a chi-squared statistic far above n fails. */
static void test_uniform(void)
{
	size_t n = 50, cap = 10, T = 4000;
	float *x = rows(n);
	double cnt[50] = {0};
	for (size_t t = 0; t < T; t++) {
		vt_reservoir *r = run(x, n, cap, 1000 + t, 0);
		for (size_t i = 0; i < cap; i++)
			cnt[vt_reservoir_index(r)[i]]++;
		vt_reservoir_free(r);
	}
	double e = (double)T * cap / n, chi = 0;
	for (size_t i = 0; i < n; i++)
		chi += (cnt[i] - e) * (cnt[i] - e) / e;
	/* 49 degrees of freedom: P(chi2 > 100) is about 2e-5 */
	CHECK(chi < 100, "every row is equally likely to be kept (chi2 %.1f, 49 dof)", chi);
	free(x);
}

static void test_errors(void)
{
	vt_reservoir *r = (vt_reservoir *)1;
	CHECK(vt_reservoir_new(&r, 0, 4, 1) == VT_EINVAL && r == NULL, "cap 0 is refused");
	CHECK(vt_reservoir_new(&r, 4, 0, 1) == VT_EINVAL, "d 0 is refused");
	CHECK(vt_reservoir_new(&r, SIZE_MAX / 2, 4, 1) == VT_EINVAL, "an overflowing cap is refused");
	float *x = rows(4);
	CHECK(vt_reservoir_new(&r, 4, D, 1) == 0 && vt_reservoir_add(r, x, 4) == 0 &&
	      vt_reservoir_finish(r) == 0 && vt_reservoir_add(r, x, 1) == VT_EINVAL,
	      "rows after finish are refused");
	vt_reservoir_free(r);
	vt_reservoir_free(NULL);
	free(x);
}

/* Tags (ids) stay with their rows, through replacement and the final sort. */
static void test_tags(void)
{
	const size_t n = 500;
	float *x = rows(n);
	uint64_t *tag = malloc(n * sizeof *tag);
	for (size_t i = 0; i < n; i++)
		tag[i] = 1000 + 7 * i;
	vt_reservoir *r;
	int ok = vt_reservoir_new(&r, 40, D, 3) == 0;
	for (size_t i = 0; ok && i < n; i += 64)
		ok = vt_reservoir_add_tagged(r, x + i * D, tag + i, n - i < 64 ? n - i : 64) == 0;
	ok = ok && vt_reservoir_finish(r) == 0;
	const uint64_t *t = vt_reservoir_tags(r), *ix = vt_reservoir_index(r);
	const float *k = vt_reservoir_rows(r);
	size_t bad = 0;
	for (size_t j = 0; ok && j < vt_reservoir_count(r); j++)
		bad += t[j] != 1000 + 7 * ix[j] || memcmp(k + j * D, x + ix[j] * D, D * 4) != 0;
	CHECK(ok && vt_reservoir_count(r) == 40 && bad == 0, "tags follow their rows (%zu bad)", bad);
	vt_reservoir_free(r);
	CHECK(vt_reservoir_new(&r, 4, D, 1) == 0 && vt_reservoir_add_tagged(r, x, tag, 2) == 0 &&
	      vt_reservoir_add(r, x, 1) == VT_EINVAL, "an untagged add after tagged ones is refused");
	vt_reservoir_free(r);
	CHECK(vt_reservoir_new(&r, 4, D, 1) == 0 && vt_reservoir_tags(r) == NULL,
	      "no tags when none were given");
	vt_reservoir_free(r);
	free(tag);
	free(x);
}

int main(void)
{
	test_tags();
	test_small_input_whole();
	test_order_and_content();
	test_determinism();
	test_uniform();
	test_errors();
	return check_done();
}
