/* vtrain: scalar-quantizer statistics (see sq.h): min and max, the exact
 * moments (on the grids of train/exactsum.h), and the partial form of all
 * four modes.  The quantile sketch is kll.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "train/sq_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define SD VT_SQ_SUM_DIGITS
#define QD VT_SQ_SUMSQ_DIGITS
#define SX VT_SQ_SUM_XDIGITS
#define QX VT_SQ_SUMSQ_XDIGITS
#define SUM_LSB (-149)
#define SUMSQ_LSB (-298)

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
	if (vt_sq_is_minmax(mode)) {
		s->mn = malloc(d * sizeof *s->mn);
		s->mx = malloc(d * sizeof *s->mx);
		ok = s->mn && s->mx;
		for (size_t j = 0; ok && j < d; j++)
			s->mn[j] = INFINITY, s->mx[j] = -INFINITY;
	} else if (mode == VT_SQ_MEANSTD) {
		s->sd = calloc(d * SX, sizeof *s->sd);
		s->qd = calloc(d * QX, sizeof *s->qd);
		ok = s->sd && s->qd;
	} else {
		s->k = sketch_k;
		s->seed = seed;
		vt_kll_set_levels(s, 1);
		ok = vt_sq_set_tail(s, VT_SQ_DEFAULT_TAIL) == 0;
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
	free(s->mn), free(s->mx), free(s->sd), free(s->qd), free(s->tlo), free(s->thi);
	for (size_t h = 0; h < VT_KLL_MAX_LEVELS; h++)
		free(s->lv[h]);
	free(s);
}

int vt_sq_mode(const vt_sq *s) { return s->mode; }
size_t vt_sq_dim(const vt_sq *s) { return s->d; }
unsigned vt_sq_sketch_k(const vt_sq *s) { return s->k; }
uint64_t vt_sq_seed(const vt_sq *s) { return s->mode == VT_SQ_QUANTILE ? s->seed : 0; }

uint64_t vt_sq_count(const vt_sq *s)
{
	if (vt_sq_is_minmax(s->mode) && s->n == 0)
		return s->mn[0] <= s->mx[0];
	return s->n;
}

/* ---- the exact tails ---------------------------------------------------- */

int vt_sq_set_tail(vt_sq *s, size_t tail)
{
	if (s->mode != VT_SQ_QUANTILE || tail > VT_SQ_MAX_TAIL || s->n || s->tn)
		return VT_EINVAL;
	if (tail && s->d > SIZE_MAX / sizeof(double) / tail)
		return VT_ENOMEM;
	double *lo = tail ? malloc(s->d * tail * sizeof *lo) : NULL;
	double *hi = tail ? malloc(s->d * tail * sizeof *hi) : NULL;
	if (tail && (!lo || !hi)) {
		free(lo), free(hi);
		return VT_ENOMEM;
	}
	free(s->tlo), free(s->thi);
	s->tlo = lo, s->thi = hi, s->tail = tail, s->tn = 0;
	return 0;
}

size_t vt_sq_tail(const vt_sq *s) { return s->mode == VT_SQ_QUANTILE ? s->tail : 0; }

uint64_t vt_sq_exact_rank(const vt_sq *s)
{
	return s->mode == VT_SQ_QUANTILE ? (s->n < s->tail ? s->n : s->tail) : 0;
}

/* a before b in the heap's order: max-heap (lower tail) or min-heap */
static inline int heap_above(double a, double b, int max)
{
	return max ? vt_sq_before(b, a) : vt_sq_before(a, b);
}

static void heap_up(double *h, size_t i, int max)
{
	double v = h[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!heap_above(v, h[p], max))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = v;
}

static void heap_down(double *h, size_t n, int max)
{
	double v = h[0];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && heap_above(h[c + 1], h[c], max))
			c++;
		if (!heap_above(h[c], v, max))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
}

/* Offer v to one tail h (tn values held, at most T; max: the lower tail,
 * a max-heap, else the upper tail, a min-heap).  The caller counts tn. */
static void side_offer(double *h, size_t tn, size_t T, double v, int max)
{
	if (tn < T) {
		h[tn] = v;
		heap_up(h, tn, max);
	} else if (heap_above(h[0], v, max)) {
		h[0] = v;
		heap_down(h, tn, max);
	}
}

static void tail_add(vt_sq *s, const float *x, size_t n)
{
	const size_t d = s->d, T = s->tail;
	for (size_t i = 0; i < n && T; i++) {
		for (size_t j = 0; j < d; j++) {
			double v = x[i * d + j];
			side_offer(s->tlo + j * T, s->tn, T, v, 1);
			side_offer(s->thi + j * T, s->tn, T, v, 0);
		}
		if (s->tn < T)
			s->tn++;
	}
}

/* The union of the tails of src with dst's (same d and tail), each side
 * on its own: the T smallest of the union are among the parts' T
 * smallest, and the same for the largest. */
static void tail_merge(vt_sq *dst, const vt_sq *src)
{
	const size_t d = dst->d, T = dst->tail;
	for (size_t t = 0; t < src->tn; t++) {
		for (size_t j = 0; j < d; j++) {
			side_offer(dst->tlo + j * T, dst->tn, T, src->tlo[j * T + t], 1);
			side_offer(dst->thi + j * T, dst->tn, T, src->thi[j * T + t], 0);
		}
		if (dst->tn < T)
			dst->tn++;
	}
}

/* One side of dimension j sorted: increasing for the lower tail,
 * decreasing for the upper, into out (tn values). */
static void tail_sorted(const vt_sq *s, size_t j, int lower, double *out)
{
	memcpy(out, (lower ? s->tlo : s->thi) + j * s->tail, s->tn * sizeof *out);
	vt_kll_sort(out, s->tn);
	if (!lower)
		for (size_t a = 0, b = s->tn; a + 1 < b; a++, b--) {
			double t = out[a];
			out[a] = out[b - 1];
			out[b - 1] = t;
		}
}

int vt_sq_quantile(const vt_sq *s, double q, double *out)
{
	if (s->mode != VT_SQ_QUANTILE || !(q >= 0 && q <= 1))
		return VT_EINVAL;
	if (s->n == 0)
		return VT_EDATA;
	/* the rank r (from 1) of Q(q) in increasing order, and from the top */
	double pr = ceil(q * (double)s->n);
	uint64_t r = pr < 1 ? 1 : pr > (double)s->n ? s->n : (uint64_t)pr;
	uint64_t top = s->n - r + 1;
	if (r > s->tn && top > s->tn)
		return vt_kll_quantile(s, q, out);
	double *col = malloc((s->tn ? s->tn : 1) * sizeof *col);
	if (!col)
		return VT_ENOMEM;
	for (size_t j = 0; j < s->d; j++) {
		tail_sorted(s, j, r <= s->tn, col);
		out[j] = col[(r <= s->tn ? r : top) - 1];
	}
	free(col);
	return 0;
}

/* ---- the exact moments ------------------------------------------------ */

/* x on the grid 2^-149 and x^2 (exact in a double) on 2^-298: both hold
 * every value exactly, so nothing is rounded and nothing is off the grid. */
static void moments_add_value(vt_xdigit *sd, vt_xdigit *qd, float x)
{
	double v = x;
	vt_xsum_add(sd, SX, v, 0x1p149);
	vt_xsum_add(qd, QX, v * v, 0x1p298);
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
	int neg = vt_xsum_magnitude32(s->sd + j * SX, SX, S, SD);
	vt_xsum_magnitude32(s->qd + j * QX, QX, Q, QD);
	double n = (double)s->n;
	double sum = vt_xsum_digits32_value(S, SD, SUM_LSB);
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
	*var = vt_xsum_digits32_value(A, ND, SUMSQ_LSB) / (n * n);
}

/* ---- adding, merging, bounds --------------------------------------------- */

int vt_sq_add(vt_sq *s, const float *x, size_t n)
{
	const size_t d = s->d;
	if (s->mode == VT_SQ_QUANTILE) {
		int rc = vt_kll_add(s, x, n);
		if (rc == 0)
			tail_add(s, x, n);
		return rc;
	}
	if (vt_sq_is_minmax(s->mode)) {
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < d; j++) {
				double v = x[i * d + j];
				if (vt_sq_before(v, s->mn[j]))
					s->mn[j] = v;
				if (vt_sq_before(s->mx[j], v))
					s->mx[j] = v;
			}
	} else {
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < d; j++)
				moments_add_value(s->sd + j * SX, s->qd + j * QX, x[i * d + j]);
	}
	s->n += n;
	return 0;
}

int vt_sq_merge(vt_sq *dst, const vt_sq *const *src, size_t nsrc)
{
	for (size_t i = 0; i < nsrc; i++)
		if (src[i]->mode != dst->mode || src[i]->d != dst->d ||
		    (dst->mode == VT_SQ_QUANTILE &&
		     (src[i]->k != dst->k || src[i]->seed != dst->seed || src[i]->tail != dst->tail)))
			return VT_EINVAL;
	const size_t d = dst->d;
	if (vt_sq_is_minmax(dst->mode)) {
		for (size_t i = 0; i < nsrc; i++) {
			for (size_t j = 0; j < d; j++) {
				if (vt_sq_before(src[i]->mn[j], dst->mn[j]))
					dst->mn[j] = src[i]->mn[j];
				if (vt_sq_before(dst->mx[j], src[i]->mx[j]))
					dst->mx[j] = src[i]->mx[j];
			}
			dst->n += src[i]->n;
		}
		return 0;
	}
	if (dst->mode == VT_SQ_MEANSTD) {
		for (size_t i = 0; i < nsrc; i++) {
			for (size_t j = 0; j < d; j++) {
				vt_xsum_merge(dst->sd + j * SX, src[i]->sd + j * SX, SX);
				vt_xsum_merge(dst->qd + j * QX, src[i]->qd + j * QX, QX);
			}
			dst->n += src[i]->n;
		}
		return 0;
	}
	for (size_t i = 0; i < nsrc; i++)
		tail_merge(dst, src[i]);
	return vt_kll_merge(dst, src, nsrc);
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
			if (vt_sq_before(s->mn[j], lo))
				lo = s->mn[j];
			if (vt_sq_before(hi, s->mx[j]))
				hi = s->mx[j];
		}
		for (size_t j = 0; j < d; j++)
			vmin[j] = lo, vmax[j] = hi;
	} else if (s->mode == VT_SQ_MEANSTD) {
		for (size_t j = 0; j < d; j++) {
			double mean, var;
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
/* The exact tails after the items: a row of -1 (no sketch starts so),
 * the tail T, the count tn, then tn rows of the lower tail (increasing)
 * and tn rows of the upper tail (decreasing). */
#define TAIL_HEAD 3

size_t vt_sq_partial_rows(const vt_sq *s)
{
	if (vt_sq_is_minmax(s->mode))
		return 2;
	if (s->mode == VT_SQ_MEANSTD)
		return 3 + SD + QD;
	return KLL_HEAD + s->H + s->total + (s->tail ? TAIL_HEAD + 2 * s->tn : 0);
}

static void fill_row(double *row, size_t d, double v)
{
	for (size_t j = 0; j < d; j++)
		row[j] = v;
}

int vt_sq_partial_write(const vt_sq *s, double *rows)
{
	const size_t d = s->d;
	if (vt_sq_is_minmax(s->mode)) {
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
		fill_row(rows, d, (double)s->n);
		for (size_t j = 0; j < d; j++) {
			const vt_xdigit *sx = s->sd + j * SX, *qx = s->qd + j * QX;
			int64_t sd[SD], qd[QD];
			vt_xsum_to_digits32(sx, SX, sd, SD);
			vt_xsum_to_digits32(qx, QX, qd, QD);
			rows[d + j] = vt_xsum_value(sx, SX, 0x1p-149, NULL);
			rows[2 * d + j] = vt_xsum_value(qx, QX, 0x1p-298, NULL);
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
			vt_kll_sort(col, s->size[h]);
			for (size_t i = 0; i < s->size[h]; i++)
				it[i * d + j] = col[i];
		}
		it += s->size[h] * d;
	}
	free(col);
	if (!s->tail)
		return 0;
	fill_row(it, d, -1.0);
	fill_row(it + d, d, (double)s->tail);
	fill_row(it + 2 * d, d, (double)s->tn);
	it += TAIL_HEAD * d;
	if (!(col = malloc((s->tn ? s->tn : 1) * sizeof *col)))
		return VT_ENOMEM;
	for (int lower = 1; lower >= 0; lower--) {
		for (size_t j = 0; j < d; j++) {
			tail_sorted(s, j, lower, col);
			for (size_t t = 0; t < s->tn; t++)
				it[t * d + j] = col[t];
		}
		it += s->tn * d;
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
	if (vt_sq_is_minmax(s->mode)) {
		if (nrows < 2)
			return VT_ETRUNC;
		for (size_t j = 0; j < d; j++) {
			double lo = rows[j], hi = rows[d + j];
			if (isnan(lo) || isnan(hi) || (vt_sq_before(hi, lo) && !(lo == INFINITY && hi == -INFINITY)))
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
			vt_xdigit *sx = s->sd + j * SX, *qx = s->qd + j * QX;
			int64_t sd[SD], qd[QD];
			if (read_digits(rows + 3 * d, d, j, SD, sd, 0) < 0 ||
			    read_digits(rows + (3 + SD) * d, d, j, QD, qd, 1) < 0)
				return VT_EFORMAT;
			vt_xsum_from_digits32(sx, SX, sd, SD);
			vt_xsum_from_digits32(qx, QX, qd, QD);
			double a = vt_xsum_value(sx, SX, 0x1p-149, NULL);
			double b = vt_xsum_value(qx, QX, 0x1p-298, NULL);
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
	    const_row(rows + 4 * d, d, VT_KLL_MAX_LEVELS - 1, &H) < 0 || H < 1)
		return VT_EFORMAT;
	if (nrows < KLL_HEAD + H)
		return VT_ETRUNC;
	s->k = (unsigned)k;
	s->seed = lo | hi << 32;
	vt_kll_set_levels(s, H);
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
		int rc = vt_kll_reserve(s, h, sz);
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
	/* the exact tails, when the next row is the marker; without them (a
	 * partial form of an earlier version) the statistic has none */
	const double *tr = rows + *used * d;
	uint64_t T, tn;
	s->n = 0;
	if (vt_sq_set_tail(s, 0) < 0)
		return VT_EFORMAT;
	s->n = n;
	if (nrows - *used == 0 || tr[0] != -1.0)
		return 0;
	for (size_t j = 0; j < d; j++)
		if (tr[j] != -1.0)
			return VT_EFORMAT;
	if (nrows - *used < TAIL_HEAD)
		return VT_ETRUNC;
	if (const_row(tr + d, d, VT_SQ_MAX_TAIL, &T) < 0 || T == 0 ||
	    const_row(tr + 2 * d, d, (double)VT_SQ_MAX_TAIL, &tn) < 0 || tn != (n < T ? n : T))
		return VT_EFORMAT;
	if (nrows - *used - TAIL_HEAD < 2 * tn)
		return VT_ETRUNC;
	s->n = 0;
	int rc = vt_sq_set_tail(s, (size_t)T);
	s->n = n;
	if (rc < 0)
		return rc == VT_ENOMEM ? rc : VT_EFORMAT;
	const double *tl = tr + TAIL_HEAD * d, *th = tl + tn * d;
	for (size_t t = 0; t < tn; t++)
		for (size_t j = 0; j < d; j++) {
			double a = tl[t * d + j], b = th[t * d + j];
			/* finite, sorted (lower increasing, upper decreasing) */
			if (!isfinite(a) || !isfinite(b) ||
			    (t && (vt_sq_before(a, tl[(t - 1) * d + j]) ||
			           vt_sq_before(th[(t - 1) * d + j], b))))
				return VT_EFORMAT;
			s->tlo[j * T + t] = a;
			s->thi[j * T + t] = b;
		}
	/* sorted arrays are heaps: increasing is a min-heap, decreasing a
	 * max-heap; the lower tail is a max-heap, so reverse both */
	for (size_t j = 0; j < d; j++)
		for (size_t a = 0, b = tn; a + 1 < b; a++, b--) {
			double x = s->tlo[j * T + a];
			s->tlo[j * T + a] = s->tlo[j * T + b - 1];
			s->tlo[j * T + b - 1] = x;
			x = s->thi[j * T + a];
			s->thi[j * T + a] = s->thi[j * T + b - 1];
			s->thi[j * T + b - 1] = x;
		}
	s->tn = (size_t)tn;
	*used += TAIL_HEAD + 2 * tn;
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
