#define _POSIX_C_SOURCE 200809L
#include "bridge/pass.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/assign.h"
#include "error.h"
#include "stream/format.h"
#include "train/exactsum.h"
#include "train/vecops.h"

/* Grid exponents of the exact sums (pass.h). */
enum { SUM_BITS = 28, WEIGHT_BITS = 20, LOSS_BITS = 45 };

/* The exact accumulator: grid sums of one 128-bit digit (exactsum.h).  A
 * row with an addend off the grid (2^100 steps or more) goes to the plain
 * double side sums instead, so that 2^26 rows cannot overflow. */
typedef struct {
	size_t k, d;
	vt_xdigit *sum;   /* k x d, in steps of g[j] */
	vt_xdigit *weight; /* k, in steps of 2^-WEIGHT_BITS */
	vt_xdigit *loss;  /* k, in steps of gl */
	double *inv;      /* k: 1 / g[j] */
	double *g;        /* k */
	double gl, invgl;
	/* Rows too far out of their centroid's grid, added in plain double
	 * (row order) and counted as inexact; allocated when first needed. */
	double *side;     /* k x (d + 2): sums, weight, loss */
} exact_acc;

static void exact_free(exact_acc *e)
{
	free(e->sum), free(e->weight), free(e->loss), free(e->inv), free(e->g), free(e->side);
}

static int exact_init(exact_acc *e, const float *c, size_t k, size_t d, double loss_scale)
{
	memset(e, 0, sizeof *e);
	e->k = k, e->d = d;
	e->sum = calloc(k * d, sizeof *e->sum);
	e->weight = calloc(k, sizeof *e->weight);
	e->loss = calloc(k, sizeof *e->loss);
	e->inv = malloc(k * sizeof *e->inv);
	e->g = malloc(k * sizeof *e->g);
	if (!e->sum || !e->weight || !e->loss || !e->inv || !e->g) {
		exact_free(e);
		return VT_ENOMEM;
	}
	double m = 0;
	for (size_t i = 0; i < k * d; i++)
		if (fabsf(c[i]) > m)
			m = fabsf(c[i]);
	for (size_t j = 0; j < k; j++) {
		double mj = m / 1024;
		for (size_t t = 0; t < d; t++)
			if (fabsf(c[j * d + t]) > mj)
				mj = fabsf(c[j * d + t]);
		int ex = 0;
		frexp(mj, &ex); /* 2^(ex-1) <= mj < 2^ex; ex = 0 for 0 */
		e->g[j] = ldexp(1, ex - SUM_BITS);
		e->inv[j] = ldexp(1, SUM_BITS - ex);
	}
	double t = loss_scale;
	if (!(t > 0) || !isfinite(t))
		t = ldexp((double)d * (m > 0 ? m * m : 1), 20);
	int ex = 0;
	frexp(t, &ex);
	e->gl = ldexp(1, ex - LOSS_BITS);
	e->invgl = ldexp(1, LOSS_BITS - ex);
	return 0;
}

/* One batch, added by tasks that own disjoint ranges of centroids. */
typedef struct {
	exact_acc *e;
	const float *x;
	const double *w, *l, *dist;
	const int32_t *lab;
	size_t n, ntasks;
	unsigned char *skip; /* n: rows off the grid, left to exact_side */
} exact_batch;

static void exact_task(void *arg, size_t task, int worker)
{
	(void)worker;
	exact_batch *b = arg;
	exact_acc *e = b->e;
	const size_t d = e->d;
	size_t lo = e->k * task / b->ntasks, hi = e->k * (task + 1) / b->ntasks;
	for (size_t i = 0; i < b->n; i++) {
		size_t j = (size_t)b->lab[i];
		if (j < lo || j >= hi)
			continue;
		double w = b->w ? b->w[i] : 1.0, inv = e->inv[j];
		const float *xr = b->x + i * d;
		vt_xdigit *s = e->sum + j * d;
		double rl = vt_xsum_steps((b->l ? b->l[i] : 0.0) + w * b->dist[i], e->invgl);
		double rw = vt_xsum_steps(w, 0x1p20); /* 2^WEIGHT_BITS */
		int ok = vt_xsum_fits(rl, 1) && vt_xsum_fits(rw, 1);
		for (size_t t = 0; t < d && ok; t++)
			ok = vt_xsum_fits(vt_xsum_steps(w * xr[t], inv), 1);
		if (!ok) {
			b->skip[i] = 1;
			continue;
		}
		for (size_t t = 0; t < d; t++)
			vt_xsum_add_steps(s + t, 1, vt_xsum_steps(w * xr[t], inv));
		vt_xsum_add_steps(&e->weight[j], 1, rw);
		vt_xsum_add_steps(&e->loss[j], 1, rl);
	}
}

/* The rows of a batch that exact_task skipped, in plain double. */
static int exact_side(exact_acc *e, const exact_batch *b)
{
	const size_t d = e->d;
	for (size_t i = 0; i < b->n; i++) {
		if (!b->skip[i])
			continue;
		if (!e->side && !(e->side = calloc(e->k * (d + 2), sizeof *e->side)))
			return VT_ENOMEM;
		size_t j = (size_t)b->lab[i];
		double w = b->w ? b->w[i] : 1.0, *s = e->side + j * (d + 2);
		for (size_t t = 0; t < d; t++)
			s[t] += w * b->x[i * d + t];
		s[d] += w;
		s[d + 1] += (b->l ? b->l[i] : 0.0) + w * b->dist[i];
	}
	return 0;
}

/* v x step as a double; *inexact is incremented when it is not exact. */
static double exact_value(vt_xdigit v, double step, size_t *inexact)
{
	int bad;
	double r = vt_xsum_value(&v, 1, step, &bad);
	*inexact += (size_t)bad;
	return r;
}

/* Replace a's contents with the exact sums; totals summed in centroid
 * order, as vt_accum_read does. */
static void exact_store(const exact_acc *e, vt_accum *a, uint64_t rows, size_t *inexact)
{
	const size_t d = e->d;
	vt_accum_reset(a);
	for (size_t j = 0; j < e->k; j++) {
		for (size_t t = 0; t < d; t++)
			a->sum[j * d + t] = exact_value(e->sum[j * d + t], e->g[j], inexact);
		a->weight[j] = exact_value(e->weight[j], ldexp(1, -WEIGHT_BITS), inexact);
		a->loss[j] = exact_value(e->loss[j], e->gl, inexact);
		const double *s = e->side ? e->side + j * (d + 2) : NULL;
		for (size_t t = 0; s && t < d + 2; t++) {
			double *to = t < d ? &a->sum[j * d + t] : t == d ? &a->weight[j] : &a->loss[j];
			if (s[t] != 0) {
				*to += s[t];
				++*inexact;
			}
		}
	}
	for (size_t j = 0; j < e->k; j++) {
		a->total_weight += a->weight[j];
		a->total_loss += a->loss[j];
	}
	a->rows = rows;
}

int vt_pass_input(vt_input *in, vt_pool *pool, const float *c, size_t k, size_t d,
                  const vt_pass_opts *opts, vt_accum *acc, vt_pass_stats *stats,
                  char *err, size_t errlen)
{
	static const vt_pass_opts defaults;
	if (!opts)
		opts = &defaults;
	vt_pass_stats st = {0};
	if (stats)
		*stats = st;
	const vt_header *ih = vt_input_header(in);
	if (ih->kind != VT_KIND_VECTORS && ih->kind != VT_KIND_POINTS) {
		snprintf(err, errlen, "%s: is a %s stream, not vectors or weighted points",
		         vt_input_path(in), vt_kind_name(ih->kind));
		return VT_EKIND;
	}
	if (ih->dim != d) {
		snprintf(err, errlen, "%s: has dimension %u, but the centroids have %zu",
		         vt_input_path(in), ih->dim, d);
		return VT_EDIM;
	}
	if (k == 0 || d == 0 || acc->k != k || acc->d != d) {
		snprintf(err, errlen, "%s", vt_strerror(VT_EINVAL));
		return VT_EINVAL;
	}
	size_t batch = opts->batch_rows;
	if (batch == 0)
		batch = ((16u << 20) / (d * 4) + 255) / 256 * 256;

	int weighted = ih->kind == VT_KIND_POINTS, rc = 0;
	exact_acc ex = {0};
	size_t ntasks = 1;
	unsigned char *skip = NULL;
	float *x = NULL;
	vt_assigner *own = NULL, *as = opts->assigner;
	double *w = NULL, *l = NULL, *dist = NULL;
	int32_t *lab = NULL;
	if (opts->exact) {
		rc = exact_init(&ex, c, k, d, opts->loss_scale);
		ntasks = (size_t)vt_pool_size(pool) * 4;
		if (ntasks > k)
			ntasks = k;
		skip = malloc(batch);
		if (!skip)
			rc = VT_ENOMEM;
	}
	if (batch > SIZE_MAX / sizeof(float) / d)
		rc = VT_ENOMEM;
	if (rc == 0) {
		x = malloc(batch * d * sizeof *x);
		w = weighted ? malloc(batch * sizeof *w) : NULL;
		l = weighted ? malloc(batch * sizeof *l) : NULL;
		dist = malloc(batch * sizeof *dist);
		lab = malloc(batch * sizeof *lab);
		if (!x || (weighted && (!w || !l)) || !dist || !lab)
			rc = VT_ENOMEM;
	}
	if (rc == 0 && !as && (rc = vt_assigner_new(&own, pool, c, k, d, opts->nearest_mode)) == 0)
		as = own;
	if (rc < 0) {
		snprintf(err, errlen, "%s", vt_strerror(rc));
		goto end;
	}

	long n;
	while ((n = vt_input_read(in, batch, x, NULL, w, l, err, errlen)) > 0) {
		uint64_t first = vt_input_rows(in) - (uint64_t)n;
		size_t b = vt_first_nonfinite_row(x, (size_t)n, d);
		if (b < (size_t)n) {
			snprintf(err, errlen, "%s: row %llu has a NaN or infinite value",
			         vt_input_path(in), (unsigned long long)(first + b));
			rc = VT_EDATA;
			goto end;
		}
		if (opts->cosine)
			st.zero_norm += vt_normalize_rows(x, (size_t)n, d);
		rc = vt_assigner_run(as, pool, x, (size_t)n, lab, dist);
		if (rc == 0 && !opts->exact)
			rc = vt_accum_add(acc, x, (size_t)n, w, l, lab, dist);
		if (rc < 0) {
			snprintf(err, errlen, "%s", vt_strerror(rc));
			goto end;
		}
		if (opts->exact) {
			exact_batch eb = {&ex, x, w, l, dist, lab, (size_t)n, ntasks, skip};
			memset(skip, 0, (size_t)n);
			vt_pool_run(pool, ntasks, exact_task, &eb);
			if ((rc = exact_side(&ex, &eb)) < 0) {
				snprintf(err, errlen, "%s", vt_strerror(rc));
				goto end;
			}
		}
		st.rows += (uint64_t)n;
		if (opts->progress && opts->progress(opts->progress_ctx, vt_input_rows(in))) {
			snprintf(err, errlen, "%s", vt_strerror(VT_EINTR));
			rc = VT_EINTR;
			goto end;
		}
	}
	if (n < 0) {
		rc = (int)n;
		goto end;
	}
	if (opts->exact)
		exact_store(&ex, acc, st.rows, &st.inexact);
end:
	if (as)
		vt_assigner_report(as, &st.nearest);
	if (stats)
		*stats = st;
	vt_assigner_free(own);
	if (opts->exact)
		exact_free(&ex);
	free(skip), free(x), free(w), free(l), free(dist), free(lab);
	return rc;
}
