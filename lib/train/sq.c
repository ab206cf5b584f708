/* vtrain: scalar-quantizer statistics (see sq.h): min and max, the exact
 * moments (on the grids of train/exactsum.h), and the partial form of the
 * first three modes.  The quantile statistic is sqtail.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "train/sq_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/rng.h"

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

int vt_sq_new(vt_sq **out, int mode, size_t d)
{
	*out = NULL;
	if (!vt_sq_mode_name(mode) || d == 0 || d > SIZE_MAX / 8 / (QD + SD))
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
		ok = vt_sqt_init(s) == 0 &&
		     vt_sq_set_sketch(s, VT_SQ_DEFAULT_TAIL, VT_SQ_DEFAULT_QUANTILE,
		                      VT_SQ_DEFAULT_SEED) == 0;
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
	vt_sqt_free(s);
	free(s);
}

int vt_sq_mode(const vt_sq *s) { return s->mode; }
size_t vt_sq_dim(const vt_sq *s) { return s->d; }
size_t vt_sq_tail(const vt_sq *s) { return s->mode == VT_SQ_QUANTILE ? s->tail : 0; }
double vt_sq_sketch_quantile(const vt_sq *s) { return s->mode == VT_SQ_QUANTILE ? s->tq : 0; }
uint64_t vt_sq_seed(const vt_sq *s) { return s->mode == VT_SQ_QUANTILE ? s->seed : 0; }
unsigned vt_sq_level(const vt_sq *s) { return s->mode == VT_SQ_QUANTILE ? s->level : 0; }

int vt_sq_set_sketch(vt_sq *s, size_t tail, double q, uint64_t seed)
{
	if (s->mode != VT_SQ_QUANTILE || tail < VT_SQ_MIN_TAIL || tail > VT_SQ_MAX_TAIL ||
	    !(q >= 0 && q <= 0.5) || s->n)
		return VT_EINVAL;
	s->tail = tail;
	s->tq = q;
	s->seed = seed;
	uint64_t st = seed ^ 0x5155414e54494c45ull; /* "QUANTILE" */
	s->hkey = vt_splitmix64(&st);
	return 0;
}

uint64_t vt_sq_count(const vt_sq *s)
{
	if (vt_sq_is_minmax(s->mode) && s->n == 0)
		return s->mn[0] <= s->mx[0];
	return s->n;
}

int vt_sq_quantile_rank(const vt_sq *s, double p, vt_sq_qrank *qr)
{
	if (s->mode != VT_SQ_QUANTILE || !(p >= 0 && p <= 1))
		return VT_EINVAL;
	if (s->n == 0)
		return VT_EDATA;
	return vt_sqt_quantile(s, p, qr, NULL);
}

int vt_sq_quantile(const vt_sq *s, double p, double *out)
{
	vt_sq_qrank qr;
	if (s->mode != VT_SQ_QUANTILE || !(p >= 0 && p <= 1))
		return VT_EINVAL;
	if (s->n == 0)
		return VT_EDATA;
	return vt_sqt_quantile(s, p, &qr, out);
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

int vt_sq_add(vt_sq *s, const float *x, const uint64_t *ids, size_t n)
{
	const size_t d = s->d;
	if (s->mode == VT_SQ_QUANTILE)
		return vt_sqt_add(s, x, ids, n);
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
		     (src[i]->tail != dst->tail || src[i]->seed != dst->seed ||
		      memcmp(&src[i]->tq, &dst->tq, sizeof dst->tq) != 0)))
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
	return vt_sqt_merge(dst, src, nsrc);
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

size_t vt_sq_partial_rows(const vt_sq *s)
{
	if (vt_sq_is_minmax(s->mode))
		return 2;
	if (s->mode == VT_SQ_MEANSTD)
		return 3 + SD + QD;
	return vt_sqt_partial_rows(s);
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
	return vt_sqt_partial_write(s, rows);
}

/* A row whose d values are all the same integer in [0, max]: *v. */
int vt_sq_const_row(const double *row, size_t d, double max, uint64_t *v)
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

static int partial_parse(vt_sq *s, const double *rows, size_t nrows, size_t *used,
                         char *err, size_t errlen)
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
		if (vt_sq_const_row(rows, d, 0x1p53, &n) < 0)
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
	return vt_sqt_partial_parse(s, rows, nrows, used, err, errlen);
}

int vt_sq_partial_read(vt_sq **out, int mode, size_t d, const double *rows, size_t nrows,
                       size_t *used, char *err, size_t errlen)
{
	*out = NULL;
	if (errlen)
		err[0] = 0;
	vt_sq *s;
	int rc = vt_sq_new(&s, mode, d);
	if (rc < 0)
		return rc;
	if ((rc = partial_parse(s, rows, nrows, used, err, errlen)) < 0) {
		vt_sq_free(s);
		return rc;
	}
	*out = s;
	return 0;
}
