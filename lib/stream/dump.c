#define _POSIX_C_SOURCE 200809L
#include "stream/dump.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

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
	static sink s;   /* 64 KiB: kept off the stack */
	s.o = o;
	s.n = 0;
	s.rc = 0;
	char num[64];
	size_t d = h->dim;
	for (size_t i = 0; i < b->rows && !s.rc; i++) {
		int first = 1;
		if (b->ids) {
			int n = snprintf(num, sizeof num, "%" PRIu64, b->ids[i]);
			put(&s, num, (size_t)n);
			first = 0;
		}
		if (b->weight) {
			int n = snprintf(num, sizeof num, first ? "%.17g" : " %.17g", b->weight[i]);
			put(&s, num, (size_t)n);
			first = 0;
		}
		if (b->loss) {
			int n = snprintf(num, sizeof num, first ? "%.17g" : " %.17g", b->loss[i]);
			put(&s, num, (size_t)n);
			first = 0;
		}
		for (size_t j = 0; j < d; j++) {
			int n;
			if (h->elem == VT_ELEM_F64)
				n = snprintf(num, sizeof num, first ? "%.17g" : " %.17g",
				             ((const double *)b->data)[i * d + j]);
			else
				n = snprintf(num, sizeof num, first ? "%.9g" : " %.9g",
				             (double)((const float *)b->data)[i * d + j]);
			put(&s, num, (size_t)n);
			first = 0;
		}
		put(&s, "\n", 1);
	}
	if (!s.rc && s.n)
		s.rc = vt_out_write(o, s.buf, s.n);
	return s.rc;
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
