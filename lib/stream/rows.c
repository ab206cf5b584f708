#define _POSIX_C_SOURCE 200809L
#include "stream/rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

void vt_rows_init(vt_rows *r, uint32_t dim, unsigned cols)
{
	memset(r, 0, sizeof *r);
	r->dim = dim;
	r->cols = cols & (VT_COL_IDS | VT_COL_WEIGHT | VT_COL_LOSS);
}

void vt_rows_free(vt_rows *r)
{
	free(r->x), free(r->ids), free(r->weight), free(r->loss);
	vt_rows_init(r, r->dim, r->cols);
}

/* Grow one array to cap elements of size es; 0 or VT_ENOMEM. */
static int grow(void **p, size_t cap, size_t es)
{
	if (cap > SIZE_MAX / es)
		return VT_ENOMEM;
	void *q = realloc(*p, cap * es);
	if (!q)
		return VT_ENOMEM;
	*p = q;
	return 0;
}

int vt_rows_reserve(vt_rows *r, size_t cap)
{
	if (cap <= r->cap)
		return 0;
	if (r->dim && cap > SIZE_MAX / r->dim)
		return VT_ENOMEM;
	if (grow((void **)&r->x, cap * r->dim, sizeof *r->x) < 0 ||
	    ((r->cols & VT_COL_IDS) && grow((void **)&r->ids, cap, sizeof *r->ids) < 0) ||
	    ((r->cols & VT_COL_WEIGHT) && grow((void **)&r->weight, cap, sizeof *r->weight) < 0) ||
	    ((r->cols & VT_COL_LOSS) && grow((void **)&r->loss, cap, sizeof *r->loss) < 0))
		return VT_ENOMEM;
	r->cap = cap;
	return 0;
}

int vt_rows_push(vt_rows *r, const float *x, const uint64_t *id, const double *w,
                 const double *l)
{
	if (r->n == r->cap) {
		int rc = vt_rows_reserve(r, r->cap ? 2 * r->cap : 4096);
		if (rc < 0)
			return rc;
	}
	memcpy(r->x + r->n * r->dim, x, r->dim * sizeof *r->x);
	if (r->ids)
		r->ids[r->n] = *id;
	if (r->weight)
		r->weight[r->n] = *w;
	if (r->loss)
		r->loss[r->n] = *l;
	r->n++;
	return 0;
}

int vt_rows_read_all(vt_rows *r, vt_input *in, size_t max_rows, char *err, size_t errlen)
{
	const vt_header *h = vt_input_header(in);
	if (h->elem != VT_ELEM_F32 || h->dim != r->dim) {
		snprintf(err, errlen, "%s: is not a table of float32 rows of dimension %u",
		         vt_input_path(in), r->dim);
		return VT_EKIND;
	}
	int64_t hint = vt_input_rows_hint(in);
	/* one row more than the limit, to tell "exactly the limit" from "more" */
	size_t most = max_rows < SIZE_MAX ? max_rows + 1 : SIZE_MAX;
	size_t cap = r->n + (hint > 0 ? (size_t)hint : 65536);
	for (;;) {
		if (cap > most)
			cap = most;
		if (vt_rows_reserve(r, cap) < 0) {
			snprintf(err, errlen, "%s: %zu rows do not fit in memory", vt_input_path(in),
			         cap);
			return VT_ENOMEM;
		}
		long got = vt_input_read(in, cap - r->n, r->x + r->n * r->dim,
		                         r->ids ? r->ids + r->n : NULL,
		                         r->weight ? r->weight + r->n : NULL,
		                         r->loss ? r->loss + r->n : NULL, err, errlen);
		if (got < 0)
			return (int)got;
		r->n += (size_t)got;
		if (r->n > max_rows) {
			snprintf(err, errlen, "%s: more than %zu rows", vt_input_path(in), max_rows);
			return VT_ELIMIT;
		}
		if (r->n < cap)
			return 0;
		cap = cap <= SIZE_MAX / 2 ? cap * 2 : SIZE_MAX;
	}
}
