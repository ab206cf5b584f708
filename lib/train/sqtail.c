/* vtrain: the subsampled tails of the quantile statistic of vt_sq (sq.h
 * describes them: the rows' hash, the level, the prefix and its cut, the
 * merge, the query) and their partial form (docs/FORMAT.md).
 */
#define _POSIX_C_SOURCE 200809L
#include "train/sq_priv.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/rng.h"

/* The first row of the partial form: an earlier form (a KLL sketch)
 * started with n >= 0. */
#define FORM_MARK (-2.0)
/* Rows before the elements: the mark, n, C, q, seed low and high, L, then
 * per side the count, trunc, the cut's value and its tz. */
#define HEAD_ROWS 15

/* ---- keys ------------------------------------------------------------- */

/* The order of vt_sq_before on a float's bits, as an unsigned integer. */
static inline uint32_t order32(float v)
{
	uint32_t b;
	memcpy(&b, &v, sizeof b);
	return (b >> 31) ? ~b : b | 0x80000000u;
}

static inline float from_order32(uint32_t o)
{
	uint32_t b = (o >> 31) ? o & 0x7fffffffu : ~o;
	float v;
	memcpy(&v, &b, sizeof v);
	return v;
}

/* The key of (value order o, tz) on a side: smaller keys come first, ties
 * of value with the larger tz first. */
static inline uint64_t make_key(uint32_t o, unsigned tz, int upper)
{
	return (uint64_t)(upper ? ~o : o) << 6 | (63 - tz);
}

static inline unsigned key_tz(uint64_t k) { return 63 - (unsigned)(k & 63); }

static inline float key_value(uint64_t k, int upper)
{
	uint32_t o = (uint32_t)(k >> 6);
	return from_order32(upper ? ~o : o);
}

/* The trailing zero bits of the row's hash (63 at most). */
static inline unsigned row_tz(uint64_t hkey, uint64_t id)
{
	uint64_t st = id ^ hkey, h = vt_splitmix64(&st);
	unsigned tz = 0;
	while (tz < 63 && !(h & 1))
		h >>= 1, tz++;
	return tz;
}

unsigned vt_sq_row_tz(const vt_sq *s, uint64_t id) { return row_tz(s->hkey, id); }

static int cmp_key(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
	return a < b ? -1 : a > b;
}

/* ---- max-heaps of keys ---------------------------------------------------- */

static void heap_up(uint64_t *h, size_t i)
{
	uint64_t v = h[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (h[p] >= v)
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = v;
}

static void heap_down(uint64_t *h, size_t n, size_t i)
{
	uint64_t v = h[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && h[c + 1] > h[c])
			c++;
		if (h[c] <= v)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
}

static void heapify(uint64_t *h, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		heap_down(h, n, i);
}

/* ---- the sides -------------------------------------------------------- */

static void side_free(vt_sq_side *sd)
{
	free(sd->key), free(sd->cnt), free(sd->cut), free(sd->trunc);
	memset(sd, 0, sizeof *sd);
}

static int side_alloc(vt_sq_side *sd, size_t d)
{
	memset(sd, 0, sizeof *sd);
	sd->cnt = calloc(d, sizeof *sd->cnt);
	sd->cut = calloc(d, sizeof *sd->cut);
	sd->trunc = calloc(d, sizeof *sd->trunc);
	if (!sd->cnt || !sd->cut || !sd->trunc) {
		side_free(sd);
		return VT_ENOMEM;
	}
	return 0;
}

int vt_sqt_init(vt_sq *s)
{
	if (side_alloc(&s->side[0], s->d) < 0 || side_alloc(&s->side[1], s->d) < 0) {
		vt_sqt_free(s);
		return VT_ENOMEM;
	}
	return 0;
}

void vt_sqt_free(vt_sq *s)
{
	side_free(&s->side[0]);
	side_free(&s->side[1]);
}

/* Dimension j's keys (NULL when the side has no room yet). */
static uint64_t *column(const vt_sq_side *sd, size_t j)
{
	return sd->stride ? sd->key + j * sd->stride : NULL;
}

/* Room for stride keys per dimension (at least the present one). */
static int side_reserve(vt_sq_side *sd, size_t d, size_t stride)
{
	if (stride <= sd->stride)
		return 0;
	if (stride > SIZE_MAX / sizeof(uint64_t) / d)
		return VT_ENOMEM;
	uint64_t *k = malloc(d * stride * sizeof *k);
	if (!k)
		return VT_ENOMEM;
	for (size_t j = 0; j < d && sd->stride; j++)
		memcpy(k + j * stride, sd->key + j * sd->stride, sd->cnt[j] * sizeof *k);
	free(sd->key);
	sd->key = k;
	sd->stride = stride;
	return 0;
}

/* need(n) = min(n, ceil(q n) + 1), non-decreasing in n. */
static uint64_t need_of(const vt_sq *s, uint64_t n)
{
	double c = ceil(s->tq * (double)n) + 1;
	return c >= (double)n ? n : (uint64_t)c;
}

unsigned vt_sqt_level_of(const vt_sq *s, uint64_t n)
{
	uint64_t need = need_of(s, n), K = 3 * (uint64_t)s->tail / 4;
	unsigned L = 0;
	while (L < 63 && need > K << L)
		L++;
	return L;
}

/* Offer key k to dimension j of a side (room for the tail reserved). */
static inline void offer(vt_sq_side *sd, size_t tail, size_t j, uint64_t k)
{
	if (sd->trunc[j] && k > sd->cut[j])
		return;
	uint64_t *h = sd->key + j * sd->stride;
	size_t c = sd->cnt[j];
	if (c < tail) {
		h[c] = k;
		heap_up(h, c);
		sd->cnt[j] = c + 1;
		return;
	}
	/* full: k joins and the last goes, which is k itself unless it comes
	 * before the last; the cut is the last kept */
	if (k < h[0]) {
		h[0] = k;
		heap_down(h, c, 0);
	}
	sd->cut[j] = h[0];
	sd->trunc[j] = 1;
}

/* Raise the level to L: keep the elements of tz >= L; the cuts stay. */
static void raise_level(vt_sq *s, unsigned L)
{
	for (int u = 0; u < 2; u++) {
		vt_sq_side *sd = &s->side[u];
		for (size_t j = 0; j < s->d; j++) {
			uint64_t *h = sd->key + j * sd->stride;
			size_t m = 0;
			for (size_t i = 0; i < sd->cnt[j]; i++)
				if (key_tz(h[i]) >= L)
					h[m++] = h[i];
			sd->cnt[j] = m;
			heapify(h, m);
		}
	}
	s->level = L;
}

int vt_sqt_add(vt_sq *s, const float *x, const uint64_t *ids, size_t n)
{
	const size_t d = s->d, C = s->tail;
	if (n == 0)
		return 0;
	for (int u = 0; u < 2; u++) {
		int rc = side_reserve(&s->side[u], d, C);
		if (rc < 0)
			return rc;
	}
	vt_sq_side *lo = &s->side[0], *hi = &s->side[1];
	for (size_t i = 0; i < n; i++) {
		unsigned tz = row_tz(s->hkey, ids ? ids[i] : s->n);
		s->n++;
		unsigned L = vt_sqt_level_of(s, s->n);
		if (L != s->level)
			raise_level(s, L);
		if (tz < L)
			continue;
		const float *row = x + i * d;
		for (size_t j = 0; j < d; j++) {
			uint32_t o = order32(row[j]);
			offer(lo, C, j, make_key(o, tz, 0));
			offer(hi, C, j, make_key(o, tz, 1));
		}
	}
	return 0;
}

/* ---- merging ---------------------------------------------------------- */

/* Side u of the merge of parts[0..np) at level L into *out (new arrays):
 * per dimension, c* = the smallest cut of the trimmed parts; the parts'
 * elements of tz >= L and key <= c*, the C smallest of them, and the cut:
 * the C-th when there were more, else c*. */
static int merge_side(const vt_sq *const *parts, size_t np, int u, unsigned L, size_t d,
                      size_t C, vt_sq_side *out)
{
	int rc = side_alloc(out, d);
	if (rc < 0)
		return rc;
	size_t most = 0, widest = 0;
	for (size_t j = 0; j < d; j++) {
		uint64_t cs = UINT64_MAX;
		int tr = 0;
		for (size_t p = 0; p < np; p++) {
			const vt_sq_side *sd = &parts[p]->side[u];
			if (sd->trunc[j] && (!tr || sd->cut[j] < cs))
				cs = sd->cut[j], tr = 1;
		}
		size_t m = 0;
		for (size_t p = 0; p < np; p++) {
			const vt_sq_side *sd = &parts[p]->side[u];
			const uint64_t *h = column(sd, j);
			for (size_t i = 0; i < sd->cnt[j]; i++)
				m += key_tz(h[i]) >= L && h[i] <= cs;
		}
		out->trunc[j] = (unsigned char)tr;
		out->cut[j] = tr ? cs : 0;
		out->cnt[j] = m < C ? m : C;
		if (out->cnt[j] > most)
			most = out->cnt[j];
		if (m > widest)
			widest = m;
	}
	uint64_t *col = malloc((widest ? widest : 1) * sizeof *col);
	if (!col || (most && (rc = side_reserve(out, d, most)) < 0)) {
		free(col);
		side_free(out);
		return VT_ENOMEM;
	}
	for (size_t j = 0; j < d; j++) {
		const uint64_t cs = out->trunc[j] ? out->cut[j] : UINT64_MAX;
		size_t m = 0;
		for (size_t p = 0; p < np; p++) {
			const vt_sq_side *sd = &parts[p]->side[u];
			const uint64_t *h = column(sd, j);
			for (size_t i = 0; i < sd->cnt[j]; i++)
				if (key_tz(h[i]) >= L && h[i] <= cs)
					col[m++] = h[i];
		}
		qsort(col, m, sizeof *col, cmp_key);
		if (m > C) {
			m = C;
			out->cut[j] = col[C - 1];
			out->trunc[j] = 1;
		}
		/* decreasing: a max-heap */
		uint64_t *h = column(out, j);
		for (size_t i = 0; i < m; i++)
			h[i] = col[m - 1 - i];
	}
	free(col);
	return 0;
}

int vt_sqt_merge(vt_sq *dst, const vt_sq *const *src, size_t nsrc)
{
	uint64_t n = dst->n;
	for (size_t i = 0; i < nsrc; i++)
		n += src[i]->n;
	const vt_sq **parts = malloc((nsrc + 1) * sizeof *parts);
	if (!parts)
		return VT_ENOMEM;
	parts[0] = dst;
	for (size_t i = 0; i < nsrc; i++)
		parts[i + 1] = src[i];
	unsigned L = vt_sqt_level_of(dst, n);
	vt_sq_side side[2];
	int rc = merge_side(parts, nsrc + 1, 0, L, dst->d, dst->tail, &side[0]);
	if (rc == 0 && (rc = merge_side(parts, nsrc + 1, 1, L, dst->d, dst->tail, &side[1])) < 0)
		side_free(&side[0]);
	free(parts);
	if (rc < 0)
		return rc;
	vt_sqt_free(dst);
	dst->side[0] = side[0];
	dst->side[1] = side[1];
	dst->n = n;
	dst->level = L;
	return 0;
}

/* ---- the query -------------------------------------------------------- */

int vt_sqt_quantile(const vt_sq *s, double p, vt_sq_qrank *qr, double *out)
{
	double pr = ceil(p * (double)s->n);
	uint64_t r = pr < 1 ? 1 : pr > (double)s->n ? s->n : (uint64_t)pr;
	uint64_t top = s->n - r + 1;
	memset(qr, 0, sizeof *qr);
	qr->rank = r;
	qr->upper = r > top;
	qr->from_end = qr->upper ? top : r;
	qr->level = s->level;
	qr->index = (qr->from_end - 1) >> s->level;
	const vt_sq_side *sd = &s->side[qr->upper];
	for (size_t j = 0; j < s->d; j++)
		qr->beyond += sd->cnt[j] <= qr->index;
	qr->exact = s->level == 0 && qr->beyond == 0;
	if (s->level > 0)
		qr->rel_sd = sqrt((1 - ldexp(1, -(int)s->level)) / ((double)qr->index + 1));
	if (!out)
		return 0;
	size_t most = 1;
	for (size_t j = 0; j < s->d; j++)
		if (sd->cnt[j] > most)
			most = sd->cnt[j];
	uint64_t *col = malloc(most * sizeof *col);
	if (!col)
		return VT_ENOMEM;
	int rc = 0;
	for (size_t j = 0; j < s->d; j++) {
		size_t m = sd->cnt[j];
		uint64_t k;
		if (m > qr->index) {
			memcpy(col, sd->key + j * sd->stride, m * sizeof *col);
			qsort(col, m, sizeof *col, cmp_key);
			k = col[qr->index];
		} else if (m > 0) {
			k = sd->key[j * sd->stride]; /* the heap's root: the last kept */
		} else if (sd->trunc[j]) {
			k = sd->cut[j];
		} else {
			rc = VT_EDATA; /* S_L is empty: nothing to give */
			break;
		}
		out[j] = key_value(k, qr->upper);
	}
	free(col);
	return rc;
}

/* ---- the partial form --------------------------------------------------- */

static size_t side_most(const vt_sq_side *sd, size_t d)
{
	size_t most = 0;
	for (size_t j = 0; j < d; j++)
		if (sd->cnt[j] > most)
			most = sd->cnt[j];
	return most;
}

size_t vt_sqt_partial_rows(const vt_sq *s)
{
	return HEAD_ROWS + 2 * side_most(&s->side[0], s->d) + 2 * side_most(&s->side[1], s->d);
}

static void fill_row(double *row, size_t d, double v)
{
	for (size_t j = 0; j < d; j++)
		row[j] = v;
}

int vt_sqt_partial_write(const vt_sq *s, double *rows)
{
	const size_t d = s->d;
	size_t most[2] = {side_most(&s->side[0], d), side_most(&s->side[1], d)};
	uint64_t *col = malloc((most[0] > most[1] ? most[0] + 1 : most[1] + 1) * sizeof *col);
	if (!col)
		return VT_ENOMEM;
	fill_row(rows, d, FORM_MARK);
	fill_row(rows + d, d, (double)s->n);
	fill_row(rows + 2 * d, d, (double)s->tail);
	fill_row(rows + 3 * d, d, s->tq);
	fill_row(rows + 4 * d, d, (double)(s->seed & 0xffffffffu));
	fill_row(rows + 5 * d, d, (double)(s->seed >> 32));
	fill_row(rows + 6 * d, d, (double)s->level);
	double *el = rows + HEAD_ROWS * d;
	for (int u = 0; u < 2; u++) {
		const vt_sq_side *sd = &s->side[u];
		double *head = rows + (7 + 4 * u) * d, *val = el, *tz = el + most[u] * d;
		for (size_t j = 0; j < d; j++) {
			size_t m = sd->cnt[j];
			head[j] = (double)m;
			head[d + j] = sd->trunc[j];
			head[2 * d + j] = sd->trunc[j] ? key_value(sd->cut[j], u) : 0.0;
			head[3 * d + j] = sd->trunc[j] ? key_tz(sd->cut[j]) : 0.0;
			if (m)
				memcpy(col, column(sd, j), m * sizeof *col);
			qsort(col, m, sizeof *col, cmp_key);
			for (size_t i = 0; i < most[u]; i++) {
				val[i * d + j] = i < m ? key_value(col[i], u) : 0.0;
				tz[i * d + j] = i < m ? key_tz(col[i]) : 0.0;
			}
		}
		el += 2 * most[u] * d;
	}
	free(col);
	return 0;
}

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	if (errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return VT_EFORMAT;
}

/* A finite value that is a float32, and its order: 0 when it is not. */
static int float_order(double v, uint32_t *o)
{
	float f = (float)v;
	double back = f;
	if (!isfinite(v) || memcmp(&back, &v, sizeof v) != 0)
		return 0;
	*o = order32(f);
	return 1;
}

/* A tz row's value: an integer in [lo, 63]. */
static int tz_ok(double v, unsigned lo)
{
	return v >= lo && v <= 63 && v == floor(v);
}

static int is_pos_zero(double v) { return v == 0 && !signbit(v); }

int vt_sqt_partial_parse(vt_sq *s, const double *rows, size_t nrows, size_t *used,
                         char *err, size_t errlen)
{
	const size_t d = s->d;
	static const char *const side_name[2] = {"lower", "upper"};
	if (nrows < HEAD_ROWS)
		return VT_ETRUNC;
	for (size_t j = 0; j < d; j++)
		if (rows[j] != FORM_MARK)
			return bad(err, errlen, "row 0 is not -2: not the subsampled tails of this "
			           "version (an earlier vsqbounds wrote a KLL sketch there)");
	uint64_t n, C, lo, hi, L;
	if (vt_sq_const_row(rows + d, d, 0x1p53, &n) < 0)
		return bad(err, errlen, "row 1: not one count n below 2^53");
	if (vt_sq_const_row(rows + 2 * d, d, VT_SQ_MAX_TAIL, &C) < 0 || C < VT_SQ_MIN_TAIL)
		return bad(err, errlen, "row 2: not one tail in %u .. %u", VT_SQ_MIN_TAIL,
		           VT_SQ_MAX_TAIL);
	double q = rows[3 * d];
	for (size_t j = 0; j < d; j++)
		if (memcmp(&rows[3 * d + j], &q, sizeof q) != 0 || !(q >= 0 && q <= 0.5))
			return bad(err, errlen, "row 3: not one quantile in 0 .. 0.5");
	if (vt_sq_const_row(rows + 4 * d, d, 4294967295.0, &lo) < 0 ||
	    vt_sq_const_row(rows + 5 * d, d, 4294967295.0, &hi) < 0)
		return bad(err, errlen, "rows 4, 5: not one seed of two 32-bit halves");
	if (vt_sq_set_sketch(s, (size_t)C, q, lo | hi << 32) < 0)
		return bad(err, errlen, "rows 2 .. 5: sketch parameters out of range");
	unsigned want = vt_sqt_level_of(s, n);
	if (vt_sq_const_row(rows + 6 * d, d, 63, &L) < 0 || L != want)
		return bad(err, errlen, "row 6: level %.17g, but n = %" PRIu64 ", tail %" PRIu64
		           " and quantile %.17g give level %u", rows[6 * d], n, C, q, want);
	size_t most[2] = {0, 0};
	for (int u = 0; u < 2; u++) {
		const double *head = rows + (7 + 4 * u) * d;
		for (size_t j = 0; j < d; j++) {
			double m = head[j], t = head[d + j];
			if (!(m >= 0 && m <= (double)C && m <= (double)n) || m != floor(m))
				return bad(err, errlen, "row %d, column %zu: %.17g %s elements, not a count "
				           "of at most the tail %" PRIu64 " and n = %" PRIu64, 7 + 4 * u, j, m,
				           side_name[u], C, n);
			if (t != 0 && t != 1)
				return bad(err, errlen, "row %d, column %zu: a trimmed flag %.17g that is "
				           "not 0 or 1", 8 + 4 * u, j, t);
			if (t == 0 && (!is_pos_zero(head[2 * d + j]) || !is_pos_zero(head[3 * d + j])))
				return bad(err, errlen, "rows %d, %d, column %zu: a cut of a tail never "
				           "trimmed", 9 + 4 * u, 10 + 4 * u, j);
			/* at level 0 the tails are the C most extreme values */
			if (L == 0 && (m != (double)(n < C ? n : C) || (t == 1) != (n > C)))
				return bad(err, errlen, "rows %d, %d, column %zu: at level 0, %.17g %s "
				           "elements%s, but n = %" PRIu64 " and tail %" PRIu64 " keep %" PRIu64
				           "%s", 7 + 4 * u, 8 + 4 * u, j, m, side_name[u],
				           t == 1 ? " trimmed" : "", n, C, n < C ? n : C,
				           n > C ? " trimmed" : "");
			if ((size_t)m > most[u])
				most[u] = (size_t)m;
		}
	}
	if ((nrows - HEAD_ROWS) / 2 < most[0] + most[1])
		return VT_ETRUNC;
	const double *el = rows + HEAD_ROWS * d;
	for (int u = 0; u < 2; u++) {
		const double *head = rows + (7 + 4 * u) * d, *val = el, *tz = el + most[u] * d;
		vt_sq_side *sd = &s->side[u];
		if (most[u] && side_reserve(sd, d, most[u]) < 0)
			return VT_ENOMEM;
		size_t vrow = HEAD_ROWS + (u ? 2 * most[0] : 0), trow = vrow + most[u];
		for (size_t j = 0; j < d; j++) {
			size_t m = (size_t)head[j];
			int tr = head[d + j] == 1;
			uint64_t cut = 0, prev = 0;
			uint32_t o;
			if (tr) {
				if (!float_order(head[2 * d + j], &o) || !tz_ok(head[3 * d + j], 0))
					return bad(err, errlen, "rows %d, %d, column %zu: a cut that is not a "
					           "finite float32 and a tz in 0 .. 63", 9 + 4 * u, 10 + 4 * u, j);
				cut = make_key(o, (unsigned)head[3 * d + j], u);
			}
			uint64_t *h = column(sd, j);
			for (size_t i = 0; i < most[u]; i++) {
				double v = val[i * d + j], t = tz[i * d + j];
				if (i >= m) {
					if (!is_pos_zero(v) || !is_pos_zero(t))
						return bad(err, errlen, "rows %zu, %zu, column %zu: past the column's "
						           "%zu %s elements, not 0", vrow + i, trow + i, j, m,
						           side_name[u]);
					continue;
				}
				if (!float_order(v, &o))
					return bad(err, errlen, "row %zu, column %zu: %s element %.17g is not a "
					           "finite float32", vrow + i, j, side_name[u], v);
				if (!tz_ok(t, (unsigned)L))
					return bad(err, errlen, "row %zu, column %zu: tz %.17g, not in %u .. 63 "
					           "(the level .. 63)", trow + i, j, t, (unsigned)L);
				uint64_t k = make_key(o, (unsigned)t, u);
				if (i > 0 && k < prev)
					return bad(err, errlen, "rows %zu, %zu, column %zu: the %s tail is not "
					           "sorted (%s values, then tz decreasing on ties)", vrow + i,
					           trow + i, j, side_name[u], u ? "decreasing" : "increasing");
				if (tr && k > cut)
					return bad(err, errlen, "rows %zu, %zu, column %zu: a %s element past "
					           "the cut", vrow + i, trow + i, j, side_name[u]);
				prev = k;
				h[m - 1 - i] = k; /* decreasing: a max-heap */
			}
			/* at level 0, trimmed: the cut is the last kept */
			if (L == 0 && tr && m && prev != cut)
				return bad(err, errlen, "rows %d, %d, column %zu: at level 0 the cut is not "
				           "the last %s element", 9 + 4 * u, 10 + 4 * u, j, side_name[u]);
			sd->cnt[j] = m;
			sd->trunc[j] = (unsigned char)tr;
			sd->cut[j] = cut;
		}
		el += 2 * most[u] * d;
	}
	s->n = n;
	s->level = (unsigned)L;
	*used = HEAD_ROWS + 2 * (most[0] + most[1]);
	return 0;
}
