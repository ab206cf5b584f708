#define _POSIX_C_SOURCE 200809L
#include "bridge/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "stream/input.h"
#include "stream/writer.h"

void vt_model_free(vt_model *m)
{
	vt_header_free(&m->h);
	free(m->x);
	free(m->xd);
	free(m->weight);
	free(m->loss);
	free(m->ids);
	memset(m, 0, sizeof *m);
}

/* Grow the arrays of m to hold cap rows. */
static int reserve(vt_model *m, size_t cap)
{
	size_t es = vt_elem_size(m->h.elem);
	void *p = realloc(m->h.elem == VT_ELEM_F32 ? (void *)m->x : (void *)m->xd,
	                  cap * m->dim * es);
	if (!p)
		return VT_ENOMEM;
	if (m->h.elem == VT_ELEM_F32)
		m->x = p;
	else
		m->xd = p;
	if (m->h.cols & VT_COL_WEIGHT) {
		double *w = realloc(m->weight, cap * sizeof *w);
		if (!w)
			return VT_ENOMEM;
		m->weight = w;
	}
	if (m->h.cols & VT_COL_LOSS) {
		double *l = realloc(m->loss, cap * sizeof *l);
		if (!l)
			return VT_ENOMEM;
		m->loss = l;
	}
	if (m->h.cols & VT_COL_IDS) {
		uint64_t *d = realloc(m->ids, cap * sizeof *d);
		if (!d)
			return VT_ENOMEM;
		m->ids = d;
	}
	return 0;
}

int vt_model_load(vt_model *m, const char *path, unsigned kinds, size_t max_rows,
                  char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	const char *paths[] = {path};
	vt_input *in;
	int rc = vt_input_open(&in, paths, 1, NULL, err, errlen);
	if (rc < 0)
		return rc;
	const vt_header *ih = vt_input_header(in);
	if (!(kinds & VT_KINDMASK(ih->kind))) {
		snprintf(err, errlen, "%s: is a %s stream, which this program cannot use here",
		         vt_input_path(in), vt_kind_name(ih->kind));
		vt_input_free(in);
		return VT_EKIND;
	}
	rc = vt_header_copy(&m->h, ih);
	if (rc < 0) {
		vt_input_free(in);
		return rc;
	}
	m->dim = ih->dim;
	size_t cap = 0, es = vt_elem_size(ih->elem);
	vt_block b;
	long n;
	while ((n = vt_input_next(in, &b, err, errlen)) > 0) {
		if (m->rows + b.rows > max_rows) {
			snprintf(err, errlen, "%s: more than %zu rows", vt_input_path(in), max_rows);
			n = VT_ELIMIT;
			break;
		}
		if (m->rows + b.rows > cap) {
			size_t nc = cap ? cap * 2 : 1024;
			while (nc < m->rows + b.rows)
				nc *= 2;
			if (nc > max_rows)
				nc = max_rows;
			if ((rc = reserve(m, nc)) < 0) {
				n = rc;
				snprintf(err, errlen, "%s: %s", vt_input_path(in), vt_strerror(rc));
				break;
			}
			cap = nc;
		}
		size_t r = m->rows;
		void *dst = ih->elem == VT_ELEM_F32 ? (void *)(m->x + r * m->dim)
		                                    : (void *)(m->xd + r * m->dim);
		memcpy(dst, b.data, b.rows * m->dim * es);
		if (b.weight)
			memcpy(m->weight + r, b.weight, b.rows * sizeof(double));
		if (b.loss)
			memcpy(m->loss + r, b.loss, b.rows * sizeof(double));
		if (b.ids)
			memcpy(m->ids + r, b.ids, b.rows * sizeof(uint64_t));
		m->rows += b.rows;
	}
	vt_input_free(in);
	if (n < 0) {
		vt_model_free(m);
		return (int)n;
	}
	return 0;
}

int vt_model_write(vt_out *o, const vt_header *h, size_t rows, const void *data,
                   const uint64_t *ids, const double *weight, const double *loss)
{
	vt_writer *w;
	int rc = vt_writer_open(&w, o, h, VT_CODEC_NONE, 0);
	if (rc < 0)
		return rc;
	rc = vt_writer_put(w, rows, (h->cols & VT_COL_IDS) ? ids : NULL,
	                   (h->cols & VT_COL_WEIGHT) ? weight : NULL,
	                   (h->cols & VT_COL_LOSS) ? loss : NULL, data);
	if (rc == 0)
		rc = vt_writer_finish(w);
	vt_writer_free(w);
	return rc;
}

uint64_t vt_centroids_id(const float *c, size_t k, size_t d)
{
	return vt_hash64(c, k * d * sizeof *c, (uint64_t)d);
}
