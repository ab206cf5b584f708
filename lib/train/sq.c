#define _POSIX_C_SOURCE 200809L
#include "train/sq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/rng.h"

#define MAX_LEVELS 64
#define SD VT_SQ_SUM_DIGITS
#define QD VT_SQ_SUMSQ_DIGITS
#define SUM_LSB (-149)
#define SUMSQ_LSB (-298)
/* Values added between carry propagations: a digit receives less than
 * 2^33 per value, so 2^29 values stay below 2^62. */
#define NORM_EVERY (1u << 29)

struct vt_sq {
	int mode;
	size_t d;
	uint64_t n;            /* values per dimension */
	/* minmax */
	double *mn, *mx;
	/* meanstd: d x SD and d x QD signed 32-bit digits, low first */
	int64_t *sd, *qd;
	uint64_t pending;
	/* quantile */
	unsigned k;
	uint64_t seed;
	size_t H, total, tcap;  /* levels, items, total capacity */
	size_t size[MAX_LEVELS], alloc[MAX_LEVELS];
	double *lv[MAX_LEVELS]; /* level h: d columns of alloc[h] values */
};

static const char *const mode_names[] = {NULL, "global", "dim", "meanstd", "quantile"};

const char *vt_sq_mode_name(int mode)
{
	return mode >= VT_SQ_GLOBAL && mode <= VT_SQ_QUANTILE ? mode_names[mode] : NULL;
}

int vt_sq_mode_parse(const char *name)
{
	for (int m = VT_SQ_GLOBAL; name && m <= VT_SQ_QUANTILE; m++)
		if (strcmp(name, mode_names[m]) == 0)
			return m;
	return 0;
}

static void set_levels(vt_sq *s, size_t H);

static int is_minmax(int mode)
{
	return mode == VT_SQ_GLOBAL || mode == VT_SQ_DIM;
}

/* The total order of the values: numeric, with -0 before +0. */
static int before(double a, double b)
{
	return a < b || (a == b && signbit(a) && !signbit(b));
}

static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

/* An unsigned key of the same total order as before(): the sign bit
 * flipped for positives, every bit for negatives. */
static uint64_t order_key(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof b);
	return (b >> 63) ? ~b : b | (1ull << 63);
}

/* Sort n doubles in the order of before(): an insertion sort for short
 * runs, else a three-way quicksort on the keys (median of three), without
 * a callback.  The pivot is an element, so each pass makes progress. */
static void sort_doubles(double *a, size_t n)
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
			sort_doubles(a, lt);
			a += gt, n -= gt;
		} else {
			sort_doubles(a + gt, n - gt);
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

int vt_sq_new(vt_sq **out, int mode, size_t d, unsigned sketch_k, uint64_t seed)
{
	*out = NULL;
	if (!vt_sq_mode_name(mode) || d == 0 || d > SIZE_MAX / 8 / (QD + SD))
		return VT_EINVAL;
	if (mode == VT_SQ_QUANTILE &&
	    (sketch_k < VT_SQ_MIN_SKETCH_K || sketch_k > VT_SQ_MAX_SKETCH_K))
		return VT_EINVAL;
	vt_sq *s = calloc(1, sizeof *s);
	if (!s)
		return VT_ENOMEM;
	s->mode = mode;
	s->d = d;
	int ok = 1;
	if (is_minmax(mode)) {
		s->mn = malloc(d * sizeof *s->mn);
		s->mx = malloc(d * sizeof *s->mx);
		ok = s->mn && s->mx;
		for (size_t j = 0; ok && j < d; j++)
			s->mn[j] = INFINITY, s->mx[j] = -INFINITY;
	} else if (mode == VT_SQ_MEANSTD) {
		s->sd = calloc(d * SD, sizeof *s->sd);
		s->qd = calloc(d * QD, sizeof *s->qd);
		ok = s->sd && s->qd;
	} else {
		s->k = sketch_k;
		s->seed = seed;
		set_levels(s, 1);
	}
	if (!ok) {
		vt_sq_free(s);
		return VT_ENOMEM;
	}
	*out = s;
	return 0;
}

void vt_sq_free(vt_sq *s)
{
	if (!s)
		return;
	free(s->mn), free(s->mx), free(s->sd), free(s->qd);
	for (size_t h = 0; h < MAX_LEVELS; h++)
		free(s->lv[h]);
	free(s);
}

int vt_sq_mode(const vt_sq *s) { return s->mode; }
size_t vt_sq_dim(const vt_sq *s) { return s->d; }
unsigned vt_sq_sketch_k(const vt_sq *s) { return s->k; }
uint64_t vt_sq_seed(const vt_sq *s) { return s->mode == VT_SQ_QUANTILE ? s->seed : 0; }

uint64_t vt_sq_count(const vt_sq *s)
{
	if (is_minmax(s->mode) && s->n == 0)
		return s->mn[0] <= s->mx[0];
	return s->n;
}

/* ---- exact sums in 32-bit digits ------------------------------------- */

/* Carry so that digits 0 .. nd-2 are in [0, 2^32) and the top one holds
 * the sign: the representation of a value is then unique. */
static void normalise(int64_t *dig, size_t nd)
{
	int64_t carry = 0;
	for (size_t i = 0; i + 1 < nd; i++) {
		int64_t v = dig[i] + carry;
		int64_t low = (int64_t)((uint64_t)v & 0xffffffffu);
		carry = (v - low) / 4294967296LL;
		dig[i] = low;
	}
	dig[nd - 1] += carry;
}

static void moments_add_value(int64_t *sd, int64_t *qd, float x)
{
	uint32_t b;
	memcpy(&b, &x, sizeof b);
	uint32_t e = (b >> 23) & 0xff, m = b & 0x7fffff;
	if (e == 0 && m == 0)
		return;
	if (e)
		m |= 0x800000;
	unsigned p = e ? e - 1 : 0; /* |x| = m 2^(p - 149) */
	uint64_t v = (uint64_t)m << (p & 31);
	int64_t lo = (int64_t)(v & 0xffffffffu), hi = (int64_t)(v >> 32);
	if (b >> 31)
		sd[p >> 5] -= lo, sd[(p >> 5) + 1] -= hi;
	else
		sd[p >> 5] += lo, sd[(p >> 5) + 1] += hi;
	/* x^2 = m^2 2^(2p - 298) */
	unsigned P = 2 * p, o = P & 31, i = P >> 5;
	uint64_t mm = (uint64_t)m * m;
	uint64_t a = (mm & 0xffffffffu) << o, c = (mm >> 32) << o;
	qd[i] += (int64_t)(a & 0xffffffffu);
	qd[i + 1] += (int64_t)(a >> 32) + (int64_t)(c & 0xffffffffu);
	qd[i + 2] += (int64_t)(c >> 32);
}

/* Magnitude of a normalised signed digit value into u (nd digits in
 * [0, 2^32)); returns 1 if it was negative. */
static int magnitude(const int64_t *dig, size_t nd, uint64_t *u)
{
	int neg = dig[nd - 1] < 0;
	int64_t t[QD + 4];
	for (size_t i = 0; i < nd; i++)
		t[i] = neg ? -dig[i] : dig[i];
	normalise(t, nd);
	for (size_t i = 0; i < nd; i++)
		u[i] = (uint64_t)t[i];
	return neg;
}

/* The correctly rounded double of u 2^lsb (u: nd digits in [0, 2^32)):
 * the top 64 bits with a sticky bit below them, rounded once. */
static double digits_to_double(const uint64_t *u, size_t nd, int lsb)
{
	size_t t = nd;
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

static double signed_to_double(const int64_t *dig, size_t nd, int lsb)
{
	uint64_t u[QD + 4];
	int neg = magnitude(dig, nd, u);
	double v = digits_to_double(u, nd, lsb);
	return neg ? -v : v;
}

/* r (na + nb digits) = a x b. */
static void mul_digits(const uint64_t *a, size_t na, const uint64_t *b, size_t nb, uint64_t *r)
{
	memset(r, 0, (na + nb) * sizeof *r);
	for (size_t i = 0; i < na; i++) {
		uint64_t carry = 0;
		for (size_t j = 0; j < nb; j++) {
			uint64_t t = a[i] * b[j] + r[i + j] + carry;
			r[i + j] = t & 0xffffffffu;
			carry = t >> 32;
		}
		r[i + nb] = carry;
	}
}

/* Mean and population variance of dimension j from the exact sums. */
static void moments_of(const vt_sq *s, size_t j, double *mean, double *var)
{
	enum { ND = 2 * SD + 2 };
	uint64_t S[SD], Q[QD], nn[2] = {s->n & 0xffffffffu, s->n >> 32}, A[ND] = {0}, B[ND] = {0};
	int neg = magnitude(s->sd + j * SD, SD, S);
	magnitude(s->qd + j * QD, QD, Q);
	double n = (double)s->n;
	double sum = digits_to_double(S, SD, SUM_LSB);
	*mean = (neg ? -sum : sum) / n;
	/* n Q - S^2, exactly, in units of 2^-298 */
	mul_digits(Q, QD, nn, 2, A);
	mul_digits(S, SD, S, SD, B);
	uint64_t borrow = 0;
	for (size_t i = 0; i < ND; i++) {
		uint64_t t = A[i] - B[i] - borrow;
		borrow = A[i] < B[i] + borrow;
		A[i] = t & 0xffffffffu;
	}
	if (borrow) /* cannot happen: n Q >= S^2 */
		memset(A, 0, sizeof A);
	*var = digits_to_double(A, ND, SUMSQ_LSB) / (n * n);
}

/* ---- the KLL sketch ---------------------------------------------------- */

static size_t level_cap(const vt_sq *s, size_t h)
{
	size_t c = s->k;
	for (size_t i = h + 1; i < s->H && c > 2; i++)
		c = c * 2 / 3;
	return c < 2 ? 2 : c;
}

/* Set the number of levels and the total capacity that follows. */
static void set_levels(vt_sq *s, size_t H)
{
	s->H = H;
	s->tcap = 0;
	for (size_t h = 0; h < H; h++)
		s->tcap += level_cap(s, h);
}

/* Room for need items at level h. */
static int level_reserve(vt_sq *s, size_t h, size_t need)
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
	if (h + 1 >= MAX_LEVELS)
		return VT_ENOMEM;
	if (h + 1 == s->H)
		set_levels(s, s->H + 1);
	size_t sz = s->size[h], half = sz / 2;
	int rc = level_reserve(s, h + 1, s->size[h + 1] + half);
	if (rc < 0)
		return rc;
	const size_t ah = s->alloc[h], a1 = s->alloc[h + 1], at = s->size[h + 1];
	for (size_t j = 0; j < s->d; j++)
		sort_doubles(s->lv[h] + j * ah, sz);
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

static int kll_add(vt_sq *s, const float *x, size_t n)
{
	const size_t d = s->d;
	for (size_t i = 0; i < n; i++) {
		int rc = level_reserve(s, 0, s->size[0] + 1);
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

int vt_sq_quantile(const vt_sq *s, double q, double *out)
{
	if (s->mode != VT_SQ_QUANTILE || !(q >= 0 && q <= 1))
		return VT_EINVAL;
	if (s->n == 0)
		return VT_EDATA;
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

/* ---- adding, merging, bounds --------------------------------------------- */

int vt_sq_add(vt_sq *s, const float *x, size_t n)
{
	const size_t d = s->d;
	if (s->mode == VT_SQ_QUANTILE)
		return kll_add(s, x, n);
	if (is_minmax(s->mode)) {
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < d; j++) {
				double v = x[i * d + j];
				if (before(v, s->mn[j]))
					s->mn[j] = v;
				if (before(s->mx[j], v))
					s->mx[j] = v;
			}
	} else {
		for (size_t i = 0; i < n; i++) {
			for (size_t j = 0; j < d; j++)
				moments_add_value(s->sd + j * SD, s->qd + j * QD, x[i * d + j]);
			if (++s->pending == NORM_EVERY) {
				for (size_t j = 0; j < d; j++)
					normalise(s->sd + j * SD, SD), normalise(s->qd + j * QD, QD);
				s->pending = 0;
			}
		}
	}
	s->n += n;
	return 0;
}

static void moments_flush(vt_sq *s)
{
	for (size_t j = 0; j < s->d; j++)
		normalise(s->sd + j * SD, SD), normalise(s->qd + j * QD, QD);
	s->pending = 0;
}

int vt_sq_merge(vt_sq *dst, const vt_sq *const *src, size_t nsrc)
{
	for (size_t i = 0; i < nsrc; i++)
		if (src[i]->mode != dst->mode || src[i]->d != dst->d ||
		    (dst->mode == VT_SQ_QUANTILE &&
		     (src[i]->k != dst->k || src[i]->seed != dst->seed)))
			return VT_EINVAL;
	const size_t d = dst->d;
	if (is_minmax(dst->mode)) {
		for (size_t i = 0; i < nsrc; i++) {
			for (size_t j = 0; j < d; j++) {
				if (before(src[i]->mn[j], dst->mn[j]))
					dst->mn[j] = src[i]->mn[j];
				if (before(dst->mx[j], src[i]->mx[j]))
					dst->mx[j] = src[i]->mx[j];
			}
			dst->n += src[i]->n;
		}
		return 0;
	}
	if (dst->mode == VT_SQ_MEANSTD) {
		moments_flush(dst);
		for (size_t i = 0; i < nsrc; i++) {
			int64_t t[QD];
			for (size_t j = 0; j < d; j++) {
				memcpy(t, src[i]->sd + j * SD, SD * sizeof *t);
				normalise(t, SD);
				for (size_t g = 0; g < SD; g++)
					dst->sd[j * SD + g] += t[g];
				normalise(dst->sd + j * SD, SD);
				memcpy(t, src[i]->qd + j * QD, QD * sizeof *t);
				normalise(t, QD);
				for (size_t g = 0; g < QD; g++)
					dst->qd[j * QD + g] += t[g];
				normalise(dst->qd + j * QD, QD);
			}
			dst->n += src[i]->n;
		}
		return 0;
	}
	/* the union of the levels (sorted when compacted or written, so the
	 * order of appending does not matter), then compaction */
	for (size_t i = 0; i < nsrc; i++) {
		const vt_sq *s = src[i];
		for (size_t h = 0; h < s->H; h++) {
			if (!s->size[h])
				continue;
			int rc = level_reserve(dst, h, dst->size[h] + s->size[h]);
			if (rc < 0)
				return rc;
			for (size_t j = 0; j < d; j++)
				memcpy(dst->lv[h] + j * dst->alloc[h] + dst->size[h],
				       s->lv[h] + j * s->alloc[h], s->size[h] * sizeof(double));
			dst->size[h] += s->size[h];
			dst->total += s->size[h];
		}
		if (s->H > dst->H)
			set_levels(dst, s->H);
		dst->n += s->n;
	}
	return settle(dst);
}

int vt_sq_bounds(const vt_sq *s, double param, double *vmin, double *vmax)
{
	const size_t d = s->d;
	if (s->mode == VT_SQ_MEANSTD && !(param >= 0 && isfinite(param)))
		return VT_EINVAL;
	if (s->mode == VT_SQ_QUANTILE && !(param >= 0 && param <= 0.5))
		return VT_EINVAL;
	if (vt_sq_count(s) == 0)
		return VT_EDATA;
	if (s->mode == VT_SQ_DIM) {
		memcpy(vmin, s->mn, d * sizeof *vmin);
		memcpy(vmax, s->mx, d * sizeof *vmax);
	} else if (s->mode == VT_SQ_GLOBAL) {
		double lo = s->mn[0], hi = s->mx[0];
		for (size_t j = 1; j < d; j++) {
			if (before(s->mn[j], lo))
				lo = s->mn[j];
			if (before(hi, s->mx[j]))
				hi = s->mx[j];
		}
		for (size_t j = 0; j < d; j++)
			vmin[j] = lo, vmax[j] = hi;
	} else if (s->mode == VT_SQ_MEANSTD) {
		for (size_t j = 0; j < d; j++) {
			double mean, var;
			vt_sq *t = (vt_sq *)s; /* normalising changes no value */
			if (t->pending)
				moments_flush(t);
			moments_of(s, j, &mean, &var);
			double sd = sqrt(var);
			vmin[j] = mean - param * sd;
			vmax[j] = mean + param * sd;
		}
	} else {
		int rc = vt_sq_quantile(s, param, vmin);
		if (rc == 0)
			rc = vt_sq_quantile(s, 1 - param, vmax);
		return rc;
	}
	return 0;
}

/* ---- the partial form --------------------------------------------------- */

/* Rows before the items of a sketch: n, k, seed low, seed high, H, sizes. */
#define KLL_HEAD 5

size_t vt_sq_partial_rows(const vt_sq *s)
{
	if (is_minmax(s->mode))
		return 2;
	if (s->mode == VT_SQ_MEANSTD)
		return 3 + SD + QD;
	return KLL_HEAD + s->H + s->total;
}

static void fill_row(double *row, size_t d, double v)
{
	for (size_t j = 0; j < d; j++)
		row[j] = v;
}

int vt_sq_partial_write(const vt_sq *s, double *rows)
{
	const size_t d = s->d;
	if (is_minmax(s->mode)) {
		double *lo = rows, *hi = rows + d;
		if (s->mode == VT_SQ_GLOBAL && vt_sq_count(s)) {
			vt_sq_bounds(s, 0, lo, hi);
		} else {
			memcpy(lo, s->mn, d * sizeof *lo);
			memcpy(hi, s->mx, d * sizeof *hi);
		}
		return 0;
	}
	if (s->mode == VT_SQ_MEANSTD) {
		vt_sq *t = (vt_sq *)s; /* normalising changes no value */
		if (t->pending)
			moments_flush(t);
		fill_row(rows, d, (double)s->n);
		for (size_t j = 0; j < d; j++) {
			const int64_t *sd = s->sd + j * SD, *qd = s->qd + j * QD;
			rows[d + j] = signed_to_double(sd, SD, SUM_LSB);
			rows[2 * d + j] = signed_to_double(qd, QD, SUMSQ_LSB);
			for (size_t g = 0; g < SD; g++)
				rows[(3 + g) * d + j] = (double)sd[g];
			for (size_t g = 0; g < QD; g++)
				rows[(3 + SD + g) * d + j] = (double)qd[g];
		}
		return 0;
	}
	fill_row(rows, d, (double)s->n);
	fill_row(rows + d, d, (double)s->k);
	fill_row(rows + 2 * d, d, (double)(s->seed & 0xffffffffu));
	fill_row(rows + 3 * d, d, (double)(s->seed >> 32));
	fill_row(rows + 4 * d, d, (double)s->H);
	for (size_t h = 0; h < s->H; h++)
		fill_row(rows + (KLL_HEAD + h) * d, d, (double)s->size[h]);
	size_t maxsz = 1;
	for (size_t h = 0; h < s->H; h++)
		if (s->size[h] > maxsz)
			maxsz = s->size[h];
	double *col = malloc(maxsz * sizeof *col);
	if (!col)
		return VT_ENOMEM;
	double *it = rows + (KLL_HEAD + s->H) * d;
	for (size_t h = 0; h < s->H; h++) {
		for (size_t j = 0; j < d && s->size[h]; j++) {
			memcpy(col, s->lv[h] + j * s->alloc[h], s->size[h] * sizeof *col);
			sort_doubles(col, s->size[h]);
			for (size_t i = 0; i < s->size[h]; i++)
				it[i * d + j] = col[i];
		}
		it += s->size[h] * d;
	}
	free(col);
	return 0;
}

/* A row whose d values are all the same integer in [0, max]: *v. */
static int const_row(const double *row, size_t d, double max, uint64_t *v)
{
	for (size_t j = 0; j < d; j++)
		if (memcmp(&row[j], &row[0], sizeof *row) != 0)
			return VT_EFORMAT;
	if (!(row[0] >= 0 && row[0] <= max) || row[0] != floor(row[0]))
		return VT_EFORMAT;
	*v = (uint64_t)row[0];
	return 0;
}

static int read_digits(const double *rows, size_t d, size_t j, size_t nd, int64_t *dig,
                       int nonneg)
{
	for (size_t g = 0; g < nd; g++) {
		double v = rows[g * d + j];
		double lo = g + 1 < nd ? 0 : nonneg ? 0 : -4294967296.0;
		if (!(v >= lo && v < 4294967296.0) || v != floor(v))
			return VT_EFORMAT;
		dig[g] = (int64_t)v;
	}
	return 0;
}

static int partial_parse(vt_sq *s, const double *rows, size_t nrows, size_t *used)
{
	const size_t d = s->d;
	if (is_minmax(s->mode)) {
		if (nrows < 2)
			return VT_ETRUNC;
		for (size_t j = 0; j < d; j++) {
			double lo = rows[j], hi = rows[d + j];
			if (isnan(lo) || isnan(hi) || (before(hi, lo) && !(lo == INFINITY && hi == -INFINITY)))
				return VT_EFORMAT;
			if (s->mode == VT_SQ_GLOBAL && (memcmp(&lo, &rows[0], sizeof lo) ||
			                                memcmp(&hi, &rows[d], sizeof hi)))
				return VT_EFORMAT;
			if ((lo == INFINITY) != (rows[0] == INFINITY))
				return VT_EFORMAT;
			s->mn[j] = lo, s->mx[j] = hi;
		}
		*used = 2;
		return 0;
	}
	uint64_t n;
	if (s->mode == VT_SQ_MEANSTD) {
		if (nrows < 3 + SD + QD)
			return VT_ETRUNC;
		if (const_row(rows, d, 0x1p53, &n) < 0)
			return VT_EFORMAT;
		s->n = n;
		for (size_t j = 0; j < d; j++) {
			int64_t *sd = s->sd + j * SD, *qd = s->qd + j * QD;
			if (read_digits(rows + 3 * d, d, j, SD, sd, 0) < 0 ||
			    read_digits(rows + (3 + SD) * d, d, j, QD, qd, 1) < 0)
				return VT_EFORMAT;
			double a = signed_to_double(sd, SD, SUM_LSB), b = signed_to_double(qd, QD, SUMSQ_LSB);
			if (memcmp(&a, &rows[d + j], sizeof a) || memcmp(&b, &rows[2 * d + j], sizeof b))
				return VT_EFORMAT;
			if (n == 0 && (a != 0 || b != 0))
				return VT_EFORMAT;
		}
		*used = 3 + SD + QD;
		return 0;
	}
	uint64_t k, lo, hi, H;
	if (nrows < KLL_HEAD)
		return VT_ETRUNC;
	if (const_row(rows, d, 0x1p53, &n) < 0 ||
	    const_row(rows + d, d, VT_SQ_MAX_SKETCH_K, &k) < 0 || k < VT_SQ_MIN_SKETCH_K ||
	    const_row(rows + 2 * d, d, 4294967295.0, &lo) < 0 ||
	    const_row(rows + 3 * d, d, 4294967295.0, &hi) < 0 ||
	    const_row(rows + 4 * d, d, MAX_LEVELS - 1, &H) < 0 || H < 1)
		return VT_EFORMAT;
	if (nrows < KLL_HEAD + H)
		return VT_ETRUNC;
	s->k = (unsigned)k;
	s->seed = lo | hi << 32;
	set_levels(s, H);
	s->n = n;
	uint64_t weight = 0, items = 0;
	for (size_t h = 0; h < H; h++) {
		uint64_t sz;
		if (const_row(rows + (KLL_HEAD + h) * d, d, 0x1p40, &sz) < 0 ||
		    (h > 0 && sz > (n >> h)))
			return VT_EFORMAT;
		s->size[h] = sz;
		items += sz;
		weight += sz << h;
	}
	if (weight != n)
		return VT_EFORMAT; /* the weights of the items must add up to n */
	if (nrows - KLL_HEAD - H < items)
		return VT_ETRUNC;
	const double *it = rows + (KLL_HEAD + H) * d;
	for (size_t h = 0; h < H; h++) {
		size_t sz = s->size[h];
		s->size[h] = 0;
		int rc = level_reserve(s, h, sz);
		if (rc < 0)
			return rc;
		for (size_t i = 0; i < sz; i++)
			for (size_t j = 0; j < d; j++) {
				if (!isfinite(it[i * d + j]))
					return VT_EFORMAT;
				s->lv[h][j * s->alloc[h] + i] = it[i * d + j];
			}
		s->size[h] = sz;
		it += sz * d;
	}
	s->total = items;
	*used = KLL_HEAD + H + items;
	return 0;
}

int vt_sq_partial_read(vt_sq **out, int mode, size_t d, const double *rows, size_t nrows,
                       size_t *used)
{
	*out = NULL;
	vt_sq *s;
	int rc = vt_sq_new(&s, mode, d, VT_SQ_DEFAULT_SKETCH_K, 0);
	if (rc < 0)
		return rc;
	if ((rc = partial_parse(s, rows, nrows, used)) < 0) {
		vt_sq_free(s);
		return rc;
	}
	*out = s;
	return 0;
}
