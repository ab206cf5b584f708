/* vtrain: the KLL quantile sketch of vt_sq (VT_SQ_QUANTILE; sq.h
 * describes it: levels, capacities, compaction and the offset coin).
 */
#define _POSIX_C_SOURCE 200809L
#include "train/sq_priv.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/rng.h"

static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return vt_sq_before(a, b) ? -1 : vt_sq_before(b, a) ? 1 : 0;
}

/* An unsigned key of the same total order as vt_sq_before(): the sign bit
 * flipped for positives, every bit for negatives. */
static uint64_t order_key(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof b);
	return (b >> 63) ? ~b : b | (1ull << 63);
}

/* Sort n doubles in the order of vt_sq_before(): an insertion sort for short
 * runs, else a three-way quicksort on the keys (median of three), without
 * a callback.  The pivot is an element, so each pass makes progress. */
void vt_kll_sort(double *a, size_t n)
{
	while (n > 24) {
		uint64_t x = order_key(a[0]), y = order_key(a[n / 2]), z = order_key(a[n - 1]);
		uint64_t p = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
		size_t lt = 0, i = 0, gt = n;
		while (i < gt) {
			uint64_t k = order_key(a[i]);
			double t = a[i];
			if (k < p)
				a[i++] = a[lt], a[lt++] = t;
			else if (k > p)
				a[i] = a[--gt], a[gt] = t;
			else
				i++;
		}
		/* [0, lt) < p, [lt, gt) = p, [gt, n) > p: recurse on the smaller */
		if (lt < n - gt) {
			vt_kll_sort(a, lt);
			a += gt, n -= gt;
		} else {
			vt_kll_sort(a + gt, n - gt);
			n = lt;
		}
	}
	for (size_t i = 1; i < n; i++) {
		double v = a[i];
		uint64_t kv = order_key(v);
		size_t j = i;
		for (; j > 0 && order_key(a[j - 1]) > kv; j--)
			a[j] = a[j - 1];
		a[j] = v;
	}
}

static size_t level_cap(const vt_sq *s, size_t h)
{
	size_t c = s->k;
	for (size_t i = h + 1; i < s->H && c > 2; i++)
		c = c * 2 / 3;
	return c < 2 ? 2 : c;
}

/* Set the number of levels and the total capacity that follows. */
void vt_kll_set_levels(vt_sq *s, size_t H)
{
	s->H = H;
	s->tcap = 0;
	for (size_t h = 0; h < H; h++)
		s->tcap += level_cap(s, h);
}

/* Room for need items at level h. */
int vt_kll_reserve(vt_sq *s, size_t h, size_t need)
{
	if (need <= s->alloc[h])
		return 0;
	size_t cap = s->alloc[h] ? 2 * s->alloc[h] : 16;
	while (cap < need)
		cap *= 2;
	if (cap > SIZE_MAX / sizeof(double) / s->d)
		return VT_ENOMEM;
	double *p = malloc(cap * s->d * sizeof *p);
	if (!p)
		return VT_ENOMEM;
	for (size_t j = 0; j < s->d && s->size[h]; j++)
		memcpy(p + j * cap, s->lv[h] + j * s->alloc[h], s->size[h] * sizeof *p);
	free(s->lv[h]);
	s->lv[h] = p;
	s->alloc[h] = cap;
	return 0;
}

/* The offset bit of a compaction of level h (sorted): a function of the
 * seed, h, the size and dimension 0's values only. */
static unsigned coin(const vt_sq *s, size_t h)
{
	uint64_t st = s->seed ^ ((uint64_t)(h + 1) << 56) ^ (uint64_t)s->size[h];
	uint64_t acc = vt_splitmix64(&st);
	const double *c = s->lv[h];
	for (size_t i = 0; i < s->size[h]; i++) {
		uint64_t b;
		memcpy(&b, &c[i], sizeof b);
		st ^= b;
		acc ^= vt_splitmix64(&st);
	}
	return (unsigned)(acc >> 63);
}

static int compact(vt_sq *s, size_t h)
{
	if (h + 1 >= VT_KLL_MAX_LEVELS)
		return VT_ENOMEM;
	if (h + 1 == s->H)
		vt_kll_set_levels(s, s->H + 1);
	size_t sz = s->size[h], half = sz / 2;
	int rc = vt_kll_reserve(s, h + 1, s->size[h + 1] + half);
	if (rc < 0)
		return rc;
	const size_t ah = s->alloc[h], a1 = s->alloc[h + 1], at = s->size[h + 1];
	for (size_t j = 0; j < s->d; j++)
		vt_kll_sort(s->lv[h] + j * ah, sz);
	unsigned o = coin(s, h);
	for (size_t j = 0; j < s->d; j++) {
		double *src = s->lv[h] + j * ah, *dst = s->lv[h + 1] + j * a1 + at;
		for (size_t i = 0; i < half; i++)
			dst[i] = src[2 * i + o];
		if (sz & 1)
			src[0] = src[sz - 1];
	}
	s->size[h + 1] += half;
	s->size[h] = sz & 1;
	s->total -= half;
	return 0;
}

/* Compact until the items are under the total capacity. */
static int settle(vt_sq *s)
{
	while (s->total >= s->tcap) {
		size_t h = 0;
		while (h < s->H && s->size[h] < level_cap(s, h))
			h++;
		if (h == s->H)
			return 0; /* cannot happen: some level is at capacity */
		int rc = compact(s, h);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int vt_kll_add(vt_sq *s, const float *x, size_t n)
{
	const size_t d = s->d;
	for (size_t i = 0; i < n; i++) {
		int rc = vt_kll_reserve(s, 0, s->size[0] + 1);
		if (rc < 0)
			return rc;
		double *c = s->lv[0] + s->size[0];
		for (size_t j = 0; j < d; j++)
			c[j * s->alloc[0]] = x[i * d + j];
		s->size[0]++, s->total++, s->n++;
		if ((rc = settle(s)) < 0)
			return rc;
	}
	return 0;
}

typedef struct {
	double v;
	uint64_t w;
} witem;

static int cmp_witem(const void *pa, const void *pb)
{
	return cmp_double(&((const witem *)pa)->v, &((const witem *)pb)->v);
}

int vt_kll_quantile(const vt_sq *s, double q, double *out)
{
	witem *it = malloc(s->total * sizeof *it);
	if (!it)
		return VT_ENOMEM;
	double target = q * (double)s->n;
	for (size_t j = 0; j < s->d; j++) {
		size_t m = 0;
		for (size_t h = 0; h < s->H; h++)
			for (size_t i = 0; i < s->size[h]; i++)
				it[m].v = s->lv[h][j * s->alloc[h] + i], it[m++].w = (uint64_t)1 << h;
		qsort(it, m, sizeof *it, cmp_witem);
		uint64_t cum = 0;
		size_t i = 0;
		for (; i < m; i++) {
			cum += it[i].w;
			if ((double)cum >= target)
				break;
		}
		out[j] = it[i < m ? i : m - 1].v;
	}
	free(it);
	return 0;
}

int vt_kll_merge(vt_sq *dst, const vt_sq *const *src, size_t nsrc)
{
	const size_t d = dst->d;
	/* the union of the levels (sorted when compacted or written, so the
	 * order of appending does not matter), then compaction */
	for (size_t i = 0; i < nsrc; i++) {
		const vt_sq *s = src[i];
		for (size_t h = 0; h < s->H; h++) {
			if (!s->size[h])
				continue;
			int rc = vt_kll_reserve(dst, h, dst->size[h] + s->size[h]);
			if (rc < 0)
				return rc;
			for (size_t j = 0; j < d; j++)
				memcpy(dst->lv[h] + j * dst->alloc[h] + dst->size[h],
				       s->lv[h] + j * s->alloc[h], s->size[h] * sizeof(double));
			dst->size[h] += s->size[h];
			dst->total += s->size[h];
		}
		if (s->H > dst->H)
			vt_kll_set_levels(dst, s->H);
		dst->n += s->n;
	}
	return settle(dst);
}
