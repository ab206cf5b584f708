#define _POSIX_C_SOURCE 200809L
#include "bridge/sqio.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "bridge/model.h"

int vt_sq_header(vt_header *h, const vt_sq *s, int final)
{
	int mode = vt_sq_mode(s);
	int minmax = mode == VT_SQ_GLOBAL || mode == VT_SQ_DIM;
	vt_header_init(h, VT_KIND_SQ, VT_ELEM_F64, 0, (uint32_t)vt_sq_dim(s));
	int rc = vt_header_set(h, "mode", vt_sq_mode_name(mode));
	if (rc == 0)
		rc = vt_header_set(h, "form", final || minmax ? "bounds" : "partial");
	if (mode != VT_SQ_QUANTILE)
		return rc;
	if (rc == 0)
		rc = vt_header_set(h, "sketch", VT_SQ_SKETCH_NAME);
	if (rc == 0)
		rc = vt_header_setf(h, "tail", "%zu", vt_sq_tail(s));
	if (rc == 0)
		rc = vt_header_setf(h, "sketch_quantile", "%.17g", vt_sq_sketch_quantile(s));
	if (rc == 0)
		rc = vt_header_setf(h, "seed", "%" PRIu64, vt_sq_seed(s));
	return rc;
}

int vt_sq_write(vt_out *o, const vt_header *h, const vt_sq *s, int final, double param)
{
	size_t d = vt_sq_dim(s);
	int minmax = vt_sq_mode(s) == VT_SQ_GLOBAL || vt_sq_mode(s) == VT_SQ_DIM;
	size_t rows = final ? 2 : vt_sq_partial_rows(s);
	if (rows > SIZE_MAX / sizeof(double) / d)
		return VT_ENOMEM;
	double *x = malloc(rows * d * sizeof *x);
	if (!x)
		return VT_ENOMEM;
	int rc = final && !minmax ? vt_sq_bounds(s, param, x, x + d) : vt_sq_partial_write(s, x);
	if (rc == 0 && final && vt_sq_count(s) == 0)
		rc = VT_EDATA;
	if (rc == 0)
		rc = vt_model_write(o, h, rows, x, NULL, NULL, NULL);
	free(x);
	return rc;
}

int vt_sq_read_parts(vt_input *in, vt_sq ***parts, size_t *nparts, size_t max_bytes,
                     char *err, size_t errlen)
{
	const vt_header *h = vt_input_header(in);
	const char *path = vt_input_path(in);
	if (h->kind != VT_KIND_SQ) {
		snprintf(err, errlen, "%s: is a %s stream, not SQ statistics", path,
		         vt_kind_name(h->kind));
		return VT_EKIND;
	}
	const char *ms = vt_header_get(h, "mode"), *form = vt_header_get(h, "form");
	int mode = vt_sq_mode_parse(ms);
	if (!mode || !form) {
		snprintf(err, errlen, "%s: SQ stream without a valid mode and form", path);
		return VT_EFORMAT;
	}
	if ((mode == VT_SQ_MEANSTD || mode == VT_SQ_QUANTILE) && strcmp(form, "partial") != 0) {
		snprintf(err, errlen, "%s: holds final %s bounds, which cannot be merged "
		         "(merge the --partial statistics instead)", path, ms);
		return VT_EFORMAT;
	}
	const char *sk = vt_header_get(h, "sketch");
	if (mode == VT_SQ_QUANTILE && (!sk || strcmp(sk, VT_SQ_SKETCH_NAME) != 0)) {
		if (vt_header_get(h, "sketch_k"))
			snprintf(err, errlen, "%s: quantile statistics of an earlier vsqbounds (a KLL "
			         "sketch, sketch_k=%s), which this version does not read; make them "
			         "again with vsqbounds --mode quantile --partial", path,
			         vt_header_get(h, "sketch_k"));
		else
			snprintf(err, errlen, "%s: quantile statistics of sketch '%s', but this version "
			         "reads '%s' only", path, sk ? sk : "(none)", VT_SQ_SKETCH_NAME);
		return VT_EFORMAT;
	}
	size_t d = h->dim, n = 0, cap = 0, max_rows = max_bytes / (d * sizeof(double));
	double *x = NULL;
	vt_block b;
	long got;
	while ((got = vt_input_next(in, &b, err, errlen)) > 0) {
		if (n + b.rows > max_rows) {
			snprintf(err, errlen, "%s: more than %zu rows of SQ statistics", path, max_rows);
			free(x);
			return VT_ELIMIT;
		}
		if (n + b.rows > cap) {
			size_t nc = cap ? 2 * cap : 64;
			while (nc < n + b.rows)
				nc *= 2;
			double *p = realloc(x, nc * d * sizeof *p);
			if (!p) {
				free(x);
				return VT_ENOMEM;
			}
			x = p, cap = nc;
		}
		memcpy(x + n * d, b.data, b.rows * d * sizeof *x);
		n += b.rows;
	}
	if (got < 0) {
		free(x);
		return (int)got;
	}
	int rc = 0;
	size_t at = 0, first = *nparts;
	while (rc == 0 && (at < n || *nparts == first)) {
		vt_sq *s;
		size_t used;
		char why[256];
		rc = vt_sq_partial_read(&s, mode, d, x ? x + at * d : NULL, n - at, &used, why,
		                        sizeof why);
		if (rc < 0) {
			snprintf(err, errlen, "%s: SQ statistics %zu (row %zu): %s", path,
			         *nparts - first + 1, at, rc == VT_ETRUNC ? "rows end inside them"
			         : rc == VT_EFORMAT ? (why[0] ? why : "values that no partial form holds")
			         : vt_strerror(rc));
			if (rc == VT_ETRUNC)
				rc = VT_EFORMAT;
			break;
		}
		vt_sq **p = realloc(*parts, (*nparts + 1) * sizeof *p);
		if (!p) {
			vt_sq_free(s);
			rc = VT_ENOMEM;
			break;
		}
		*parts = p;
		p[(*nparts)++] = s;
		at += used;
	}
	free(x);
	return rc;
}

int vt_sq_read_merged(vt_input *const *ins, size_t nin, vt_sq **out, char *err,
                      size_t errlen)
{
	*out = NULL;
	vt_sq **parts = NULL, *s = NULL;
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; i < nin && rc == 0; i++) {
		size_t before = n;
		rc = vt_sq_read_parts(ins[i], &parts, &n, (size_t)1 << 30, err, errlen);
		for (size_t p = before; rc == 0 && p < n; p++)
			if (vt_sq_tail(parts[p]) != vt_sq_tail(parts[0]) ||
			    vt_sq_sketch_quantile(parts[p]) != vt_sq_sketch_quantile(parts[0]) ||
			    vt_sq_seed(parts[p]) != vt_sq_seed(parts[0])) {
				snprintf(err, errlen, "%s: statistics of tail %zu, quantile %g and seed %"
				         PRIu64 ", but the first input's have tail %zu, quantile %g and "
				         "seed %" PRIu64 "; they do not merge", vt_input_path(ins[i]),
				         vt_sq_tail(parts[p]), vt_sq_sketch_quantile(parts[p]),
				         vt_sq_seed(parts[p]), vt_sq_tail(parts[0]),
				         vt_sq_sketch_quantile(parts[0]), vt_sq_seed(parts[0]));
				rc = VT_EFORMAT;
			}
	}
	if (rc == 0)
		rc = vt_sq_new(&s, vt_sq_mode(parts[0]), vt_sq_dim(parts[0]));
	if (rc == 0 && vt_sq_mode(parts[0]) == VT_SQ_QUANTILE)
		rc = vt_sq_set_sketch(s, vt_sq_tail(parts[0]), vt_sq_sketch_quantile(parts[0]),
		                      vt_sq_seed(parts[0]));
	if (rc == 0 && (rc = vt_sq_merge(s, (const vt_sq *const *)parts, n)) < 0)
		snprintf(err, errlen, "merging SQ statistics: %s", vt_strerror(rc));
	for (size_t i = 0; i < n; i++)
		vt_sq_free(parts[i]);
	free(parts);
	if (rc < 0) {
		vt_sq_free(s);
		return rc;
	}
	*out = s;
	return 0;
}
