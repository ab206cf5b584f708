#define _POSIX_C_SOURCE 200809L
#include "stream/dump.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "stream/labels.h"

#define DUMP_BUF (1 << 16)

typedef struct {
	vt_out *o;
	char buf[DUMP_BUF];
	size_t n;
	int rc;
} sink;

static void put(sink *s, const char *p, size_t n)
{
	if (s->rc)
		return;
	if (s->n + n > DUMP_BUF) {
		s->rc = vt_out_write(s->o, s->buf, s->n);
		s->n = 0;
	}
	memcpy(s->buf + s->n, p, n);
	s->n += n;
}

int vt_dump_text(vt_out *o, const vt_header *h, const vt_block *b)
{
	if (h->kind == VT_KIND_LABELS) {
		vt_labels_shape ls;
		char err[200];
		if (vt_labels_shape_get(h, &ls, err, sizeof err) < 0)
			return VT_EFORMAT;
		return vt_labels_dump_text(o, &ls, b->rows, b->ids, b->data);
	}
	sink *s = malloc(sizeof *s);   /* 64 KiB: kept off the stack */
	if (!s)
		return VT_ENOMEM;
	s->o = o;
	s->n = 0;
	s->rc = 0;
	char num[64];
	size_t d = h->dim;
	for (size_t i = 0; i < b->rows && !s->rc; i++) {
		const char *sep = "";
		if (b->ids) {
			put(s, num, (size_t)snprintf(num, sizeof num, "%" PRIu64, b->ids[i]));
			sep = " ";
		}
		if (b->weight) {
			put(s, num, (size_t)snprintf(num, sizeof num, "%s%.17g", sep, b->weight[i]));
			sep = " ";
		}
		if (b->loss) {
			put(s, num, (size_t)snprintf(num, sizeof num, "%s%.17g", sep, b->loss[i]));
			sep = " ";
		}
		for (size_t j = 0; j < d; j++) {
			int n;
			if (h->elem == VT_ELEM_F64)
				n = snprintf(num, sizeof num, "%s%.17g", sep,
				             ((const double *)b->data)[i * d + j]);
			else
				n = snprintf(num, sizeof num, "%s%.9g", sep,
				             (double)((const float *)b->data)[i * d + j]);
			put(s, num, (size_t)n);
			sep = " ";
		}
		put(s, "\n", 1);
	}
	if (!s->rc && s->n)
		s->rc = vt_out_write(o, s->buf, s->n);
	int rc = s->rc;
	free(s);
	return rc;
}

void vt_to_float(const void *src, int elem, size_t n, float *dst)
{
	if (elem == VT_ELEM_F64) {
		const double *s = src;
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)s[i];
	} else {
		memcpy(dst, src, n * sizeof *dst);
	}
}
