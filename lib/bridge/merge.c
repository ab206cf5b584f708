#define _POSIX_C_SOURCE 200809L
#include "bridge/merge.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "stream/fdio.h"
#include "stream/labels.h"
#include "train/vecops.h"

/* One input, read a batch of rows at a time. */
typedef struct {
	vt_input *in;
	const char *path;
	size_t n, pos;        /* rows in the batch, next row */
	float *x;
	uint64_t *ids;
	double *w, *l;        /* NULL for vectors */
	uint64_t rows;        /* rows read so far */
	uint64_t last;        /* id of the last row taken */
	uint32_t lastp;       /* by partition: partition of the last row taken */
	int done;
	uint64_t hhash;       /* hash of the header, to order inputs for metadata */
} src;

struct vt_merge {
	size_t d, batch, nin, nh;
	int weighted;
	int labels;           /* labels: words, not floats; ids must be unique */
	int by_part;          /* labels sorted by (partition, id) (vassign --sort) */
	int taken;            /* a row has been merged: last_id, last_path hold */
	uint64_t last_id;
	uint32_t last_part;
	const char *last_path;
	src *S;
	src **heap;           /* a binary min-heap of the inputs with rows left */
	const vt_header *first;
};

/* The partition (word 0) of row i of s's batch of labels. */
static uint32_t row_part(const vt_merge *m, const src *s, size_t i)
{
	return vt_le32((const unsigned char *)(s->x + i * m->d));
}

/* Fill s's batch; check the ids are sorted and the values finite. */
static int refill(vt_merge *m, src *s, char *err, size_t errlen)
{
	long got = vt_input_read(s->in, m->batch, s->x, s->ids, s->w, s->l, err, errlen);
	if (got < 0)
		return (int)got;
	s->n = (size_t)got;
	s->pos = 0;
	if (got == 0) {
		s->done = 1;
		return 0;
	}
	size_t bad = m->labels ? s->n : vt_first_nonfinite_row(s->x, s->n, m->d);
	if (bad < s->n) {
		snprintf(err, errlen, "%s: row %" PRIu64 " has a NaN or infinite value", s->path,
		         s->rows + bad);
		return VT_EDATA;
	}
	for (size_t i = 0; m->by_part && i < s->n; i++) {
		uint64_t prev = i ? s->ids[i - 1] : s->last;
		uint32_t p = row_part(m, s, i), pp = i ? row_part(m, s, i - 1) : s->lastp;
		if ((s->rows > 0 || i > 0) && (p < pp || (p == pp && s->ids[i] < prev))) {
			snprintf(err, errlen, "%s: not sorted by (partition, id) as its metadata "
			         "order=partition says (row %" PRIu64 ": partition %" PRIu32 ", id %"
			         PRIu64 " after partition %" PRIu32 ", id %" PRIu64 ")", s->path,
			         s->rows + i, p, s->ids[i], pp, prev);
			return VT_EFORMAT;
		}
	}
	for (size_t i = 0; !m->by_part && i < s->n; i++) {
		uint64_t prev = i ? s->ids[i - 1] : s->last;
		if ((s->rows > 0 || i > 0) && s->ids[i] < prev) {
			snprintf(err, errlen, "%s: not sorted by id (row %" PRIu64 " has id %" PRIu64
			         " after %" PRIu64 "); vmerge merges id-sorted streams, as vsample "
			         "and vcoreset write them", s->path, s->rows + i, s->ids[i], prev);
			return VT_EFORMAT;
		}
	}
	s->rows += s->n;
	return 0;
}

/* Order of the current rows of two inputs: id, then the row's bytes (so
 * that equal ids come out in an order that does not depend on the
 * arguments), then the header. */
static int row_cmp(const vt_merge *m, const src *a, const src *b)
{
	const size_t d = m->d;
	if (m->by_part) {
		uint32_t pa = row_part(m, a, a->pos), pb = row_part(m, b, b->pos);
		if (pa != pb)
			return pa < pb ? -1 : 1;
	}
	uint64_t ia = a->ids[a->pos], ib = b->ids[b->pos];
	if (ia != ib)
		return ia < ib ? -1 : 1;
	int r;
	if (a->w && (r = memcmp(a->w + a->pos, b->w + b->pos, sizeof(double))))
		return r;
	if (a->l && (r = memcmp(a->l + a->pos, b->l + b->pos, sizeof(double))))
		return r;
	if ((r = memcmp(a->x + a->pos * d, b->x + b->pos * d, d * sizeof(float))))
		return r;
	return a->hhash < b->hhash ? -1 : a->hhash > b->hhash;
}

static void sift_down(const vt_merge *mg, src **h, size_t n, size_t i)
{
	for (;;) {
		size_t m = i, a = 2 * i + 1, b = a + 1;
		if (a < n && row_cmp(mg, h[a], h[m]) < 0)
			m = a;
		if (b < n && row_cmp(mg, h[b], h[m]) < 0)
			m = b;
		if (m == i)
			return;
		src *t = h[i];
		h[i] = h[m], h[m] = t;
		i = m;
	}
}

static int header_hash(const vt_header *h, uint64_t *v)
{
	unsigned char *buf;
	size_t len;
	int rc = vt_header_encode(h, &buf, &len);
	if (rc < 0)
		return rc;
	*v = vt_hash64(buf, len, 0);
	free(buf);
	return 0;
}

void vt_merge_free(vt_merge *m)
{
	if (!m)
		return;
	for (size_t i = 0; m->S && i < m->nin; i++)
		free(m->S[i].x), free(m->S[i].ids), free(m->S[i].w), free(m->S[i].l);
	free(m->S);
	free(m->heap);
	free(m);
}

int vt_merge_open(vt_merge **out, vt_input *const *ins, const char *const *paths, size_t nin,
                  char *err, size_t errlen)
{
	*out = NULL;
	if (nin == 0) {
		snprintf(err, errlen, "no inputs to merge");
		return VT_EINVAL;
	}
	vt_merge *m = calloc(1, sizeof *m);
	if (!m) {
		snprintf(err, errlen, "%s", vt_strerror(VT_ENOMEM));
		return VT_ENOMEM;
	}
	const vt_header *h0 = vt_input_header(ins[0]);
	m->weighted = h0->kind == VT_KIND_POINTS;
	m->labels = h0->kind == VT_KIND_LABELS;
	m->by_part = m->labels && vt_labels_by_partition(h0);
	m->d = h0->dim;
	m->nin = nin;
	size_t rb = m->d * 4 + 24;
	m->batch = (1u << 20) / rb;
	m->batch = m->batch < 16 ? 16 : m->batch > 65536 ? 65536 : m->batch;
	m->S = calloc(nin, sizeof *m->S);
	m->heap = malloc(nin * sizeof *m->heap);
	int rc = m->S && m->heap ? 0 : VT_ENOMEM;
	for (size_t i = 0; rc == 0 && i < nin; i++) {
		src *s = &m->S[i];
		s->in = ins[i];
		s->path = paths[i];
		s->x = malloc(m->batch * m->d * sizeof *s->x);
		s->ids = malloc(m->batch * sizeof *s->ids);
		s->w = m->weighted ? malloc(m->batch * sizeof *s->w) : NULL;
		s->l = m->weighted ? malloc(m->batch * sizeof *s->l) : NULL;
		if (!s->x || !s->ids || (m->weighted && (!s->w || !s->l)))
			rc = VT_ENOMEM;
		else
			rc = header_hash(vt_input_header(s->in), &s->hhash);
		if (rc < 0)
			break;
		if ((rc = refill(m, s, err, errlen)) < 0) {
			vt_merge_free(m);
			return rc;      /* with the input's message */
		}
		if (!s->done)
			m->heap[m->nh++] = s;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s", vt_strerror(rc));
		vt_merge_free(m);
		return rc;
	}
	for (size_t i = m->nh; i-- > 0;)
		sift_down(m, m->heap, m->nh, i);
	/* the metadata of the input that comes first: the smallest first row,
	 * or, when all are empty, the smallest header hash */
	const src *first = m->nh ? m->heap[0] : &m->S[0];
	for (size_t i = 1; !m->nh && i < nin; i++)
		if (m->S[i].hhash < first->hhash)
			first = &m->S[i];
	m->first = vt_input_header(first->in);
	*out = m;
	return 0;
}

const vt_header *vt_merge_first_header(const vt_merge *m)
{
	return m->first;
}

size_t vt_merge_batch(const vt_merge *m)
{
	return m->batch;
}

long vt_merge_read(vt_merge *m, size_t max, float *x, uint64_t *ids, double *w, double *l,
                   char *err, size_t errlen)
{
	size_t n = 0, d = m->d;
	while (n < max && m->nh) {
		src *s = m->heap[0];
		size_t i = s->pos;
		if (m->labels && m->taken && s->ids[i] == m->last_id &&
		    (!m->by_part || row_part(m, s, i) == m->last_part)) {
			snprintf(err, errlen, "%s: id %" PRIu64 " appears twice (also in %s); labels of "
			         "shards must not overlap", s->path, s->ids[i], m->last_path);
			return VT_EFORMAT;
		}
		m->taken = 1, m->last_id = s->ids[i], m->last_path = s->path;
		if (m->by_part)
			m->last_part = s->lastp = row_part(m, s, i);
		memcpy(x + n * d, s->x + i * d, d * sizeof *x);
		ids[n] = s->ids[i];
		if (m->weighted && w)
			w[n] = s->w[i];
		if (m->weighted && l)
			l[n] = s->l[i];
		n++;
		s->last = s->ids[i];
		if (++s->pos == s->n) {
			int rc = refill(m, s, err, errlen);
			if (rc < 0)
				return rc;
		}
		if (s->done)
			m->heap[0] = m->heap[--m->nh];
		sift_down(m, m->heap, m->nh, 0);
	}
	return (long)n;
}
