#define _POSIX_C_SOURCE 200809L
#include "stream/labels.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "stream/fdio.h"
#include "stream/formats_priv.h"

int vt_labels_shape_make(vt_labels_shape *s, size_t k, size_t top, size_t m, int nbits)
{
	memset(s, 0, sizeof *s);
	if (k < 1 || k > VT_LABELS_MAX_K || top < 1 || top > VT_LABELS_MAX_TOP || top > k ||
	    m > VT_MAX_DIM || (m && (nbits < 1 || nbits > VT_LABELS_MAX_NBITS)) ||
	    2 * top + (m + 3) / 4 > VT_MAX_DIM)
		return VT_EINVAL;
	s->k = k, s->top = top, s->m = m, s->nbits = m ? nbits : 0;
	s->words = 2 * top + (m + 3) / 4;
	return 0;
}

/* A metadata value as a whole decimal integer in [lo, hi]; -1 if absent or not. */
static long long meta_int(const vt_header *h, const char *key, long long lo, long long hi)
{
	const char *v = vt_header_get(h, key);
	if (!v || !*v || *v == '+' || *v == ' ')
		return -1;
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -1;
	return x;
}

int vt_labels_shape_get(const vt_header *h, vt_labels_shape *s, char *err, size_t errlen)
{
	long long k = meta_int(h, "k", 1, (long long)VT_LABELS_MAX_K);
	long long top = meta_int(h, "top", 1, VT_LABELS_MAX_TOP);
	long long m = meta_int(h, "pq_m", 0, VT_MAX_DIM);
	long long nb = vt_header_get(h, "pq_nbits") ? meta_int(h, "pq_nbits", 0, 8) : 0;
	const char *v;
	if (k < 0 || top < 0 || m < 0 || nb < 0) {
		const char *key = k < 0 ? "k" : top < 0 ? "top" : m < 0 ? "pq_m" : "pq_nbits";
		v = vt_header_get(h, key);
		snprintf(err, errlen, "labels: metadata %s=%s is not an integer in range (k 1..2^31, "
		         "top 1..%d, pq_m 0.., pq_nbits 1..8)", key, v ? v : "(none)",
		         VT_LABELS_MAX_TOP);
		return VT_EFORMAT;
	}
	if ((m > 0) != (nb > 0)) {
		snprintf(err, errlen, "labels: pq_m=%lld with pq_nbits=%lld (codes need both, or "
		         "neither)", m, nb);
		return VT_EFORMAT;
	}
	if (top > k) {
		snprintf(err, errlen, "labels: top=%lld is more than the k=%lld partitions", top, k);
		return VT_EFORMAT;
	}
	const char *codes = vt_header_get(h, "codes");
	int sq = codes && strcmp(codes, "sq") == 0;
	if (codes && !sq && strcmp(codes, "pq") != 0) {
		snprintf(err, errlen, "labels: metadata codes=%s is neither pq nor sq", codes);
		return VT_EFORMAT;
	}
	if (sq && (nb != 8 || m != meta_int(h, "d", 1, VT_MAX_DIM))) {
		v = vt_header_get(h, "d");
		snprintf(err, errlen, "labels: SQ codes need pq_nbits=8 and pq_m=d (pq_m=%lld "
		         "pq_nbits=%lld d=%s)", m, nb, v ? v : "(none)");
		return VT_EFORMAT;
	}
	if (vt_labels_shape_make(s, (size_t)k, (size_t)top, (size_t)m, (int)nb) < 0 ||
	    s->words != h->dim) {
		snprintf(err, errlen, "labels: dimension %u is not 2 top + ceil(pq_m / 4) = %lld "
		         "(top=%lld pq_m=%lld)", h->dim, 2 * top + (m + 3) / 4, top, m);
		return VT_EFORMAT;
	}
	s->sq = sq;
	return 0;
}

int vt_labels_header_init(vt_header *h, const vt_labels_shape *s)
{
	vt_header_init(h, VT_KIND_LABELS, VT_ELEM_W32, VT_COL_IDS, (uint32_t)s->words);
	int rc = 0;
	vt_header_put(h, &rc, "k", "%zu", s->k);
	vt_header_put(h, &rc, "top", "%zu", s->top);
	vt_header_put(h, &rc, "pq_m", "%zu", s->m);
	vt_header_put(h, &rc, "pq_nbits", "%d", s->nbits);
	if (s->sq)
		vt_header_put(h, &rc, "codes", "%s", "sq");
	return rc;
}

static float word_float(const unsigned char *p)
{
	uint32_t u = vt_le32(p);
	float f;
	memcpy(&f, &u, 4);
	return f;
}

size_t vt_labels_first_bad(const vt_labels_shape *s, const void *data, size_t rows, char *why,
                           size_t whylen)
{
	const size_t N = s->top, rb = s->words * 4;
	const unsigned code_max = s->nbits ? 1u << s->nbits : 0;
	for (size_t i = 0; i < rows; i++) {
		const unsigned char *r = (const unsigned char *)data + i * rb;
		for (size_t j = 0; j < N; j++) {
			int32_t p = (int32_t)vt_le32(r + 4 * j);
			if (p < 0 || (size_t)p >= s->k) {
				snprintf(why, whylen, "partition %" PRId32 " is out of range (k=%zu)", p, s->k);
				return i;
			}
		}
		for (size_t j = 0; j < N; j++) {
			float dj = word_float(r + 4 * (N + j));
			if (!isfinite(dj) || dj < 0) {
				snprintf(why, whylen, "distance %g is %s", (double)dj,
				         isfinite(dj) ? "negative" : "not finite");
				return i;
			}
			if (j && dj < word_float(r + 4 * (N + j - 1))) {
				snprintf(why, whylen, "distance %zu (%.9g) is below distance %zu (%.9g)", j,
				         (double)dj, j - 1, (double)word_float(r + 4 * (N + j - 1)));
				return i;
			}
		}
		const unsigned char *c = r + 8 * N;
		for (size_t m = 0; m < s->m; m++) {
			if (c[m] >= code_max) {
				snprintf(why, whylen, "code %u of sub-space %zu is not below 2^%d", c[m], m,
				         s->nbits);
				return i;
			}
		}
		for (size_t m = s->m; m < (s->words - 2 * N) * 4; m++) {
			if (c[m]) {
				snprintf(why, whylen, "padding byte %zu after the codes is not 0", m);
				return i;
			}
		}
	}
	return rows;
}

int vt_labels_by_partition(const vt_header *h)
{
	const char *v = vt_header_get(h, VT_LABELS_ORDER_KEY);
	return h->kind == VT_KIND_LABELS && v && strcmp(v, VT_LABELS_ORDER_PARTITION) == 0;
}

size_t vt_labels_first_unordered(const vt_labels_shape *s, size_t rows, const uint64_t *ids,
                                 const void *data, int have_prev, uint32_t *part,
                                 uint64_t *id)
{
	for (size_t i = 0; i < rows; i++) {
		uint32_t p = vt_le32((const unsigned char *)data + i * s->words * 4);
		if ((have_prev || i) && (p < *part || (p == *part && ids[i] < *id)))
			return i;
		*part = p, *id = ids[i];
	}
	return rows;
}

void vt_labels_pack(const vt_labels_shape *s, size_t rows, const int32_t *part,
                    const float *dist, const uint8_t *codes, void *data)
{
	const size_t N = s->top, rb = s->words * 4;
	for (size_t i = 0; i < rows; i++) {
		unsigned char *r = (unsigned char *)data + i * rb;
		for (size_t j = 0; j < N; j++) {
			uint32_t u;
			memcpy(&u, &dist[i * N + j], 4);
			vt_put32(r + 4 * j, (uint32_t)part[i * N + j]);
			vt_put32(r + 4 * (N + j), u);
		}
		unsigned char *c = r + 8 * N;
		memset(c, 0, rb - 8 * N);
		if (s->m)
			memcpy(c, codes + i * s->m, s->m);
	}
}

void vt_labels_unpack(const vt_labels_shape *s, const void *data, size_t rows, int32_t *part,
                      float *dist, uint8_t *codes)
{
	const size_t N = s->top, rb = s->words * 4;
	for (size_t i = 0; i < rows; i++) {
		const unsigned char *r = (const unsigned char *)data + i * rb;
		for (size_t j = 0; part && j < N; j++)
			part[i * N + j] = (int32_t)vt_le32(r + 4 * j);
		for (size_t j = 0; dist && j < N; j++)
			dist[i * N + j] = word_float(r + 4 * (N + j));
		if (codes && s->m)
			memcpy(codes + i * s->m, r + 8 * N, s->m);
	}
}

int vt_labels_dump_text(vt_out *o, const vt_labels_shape *s, size_t rows, const uint64_t *ids,
                        const void *data)
{
	const size_t N = s->top, rb = s->words * 4;
	size_t cap = 24 + N * 32 + s->m * 4 + 2;
	char *line = malloc(cap);
	if (!line)
		return VT_ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < rows && rc == 0; i++) {
		const unsigned char *r = (const unsigned char *)data + i * rb;
		size_t n = (size_t)snprintf(line, cap, "%" PRIu64, ids[i]);
		for (size_t j = 0; j < N; j++)
			n += (size_t)snprintf(line + n, cap - n, " %" PRId32, (int32_t)vt_le32(r + 4 * j));
		for (size_t j = 0; j < N; j++)
			n += (size_t)snprintf(line + n, cap - n, " %.9g",
			                      (double)word_float(r + 4 * (N + j)));
		for (size_t m = 0; m < s->m; m++)
			n += (size_t)snprintf(line + n, cap - n, " %u", r[8 * N + m]);
		line[n++] = '\n';
		rc = vt_out_write(o, line, n);
	}
	free(line);
	return rc;
}

/* ---- .npy arrays ---- */

static const char *const npy_names[VT_LABELS_NPY_ARRAYS] = {
	"ids", "partitions", "distances", "codes",
};
static const char *const npy_descr[VT_LABELS_NPY_ARRAYS] = {"<i8", "<i4", "<f4", "|u1"};

const char *vt_labels_npy_name(int a)
{
	return a >= 0 && a < VT_LABELS_NPY_ARRAYS ? npy_names[a] : "unknown";
}

struct vt_labels_npy {
	vt_labels_shape s;
	vt_out *o[VT_LABELS_NPY_ARRAYS];
	uint64_t hdr_off[VT_LABELS_NPY_ARRAYS];
	size_t hdr_len[VT_LABELS_NPY_ARRAYS];
	uint64_t rows;
	unsigned char *buf;   /* one block's array */
	size_t cap;
};

/* The columns of array a (0: one-dimensional). */
static uint32_t npy_cols(const vt_labels_shape *s, int a)
{
	return a == VT_LABELS_NPY_IDS ? 0 : a == VT_LABELS_NPY_CODES ? (uint32_t)s->m
	                                                              : (uint32_t)s->top;
}

static int npy_header(vt_labels_npy *w, int a, int final)
{
	char h[256];
	size_t len = vt_npy_header_descr(h, sizeof h, npy_descr[a], final ? w->rows : 0, 1,
	                                 npy_cols(&w->s, a), 1);
	if (!final) {
		w->hdr_off[a] = w->o[a]->written;
		w->hdr_len[a] = len;
		return vt_out_write(w->o[a], h, len);
	}
	if (len != w->hdr_len[a])
		return VT_EINVAL;
	return vt_out_pwrite(w->o[a], h, len, w->hdr_off[a]);
}

int vt_labels_npy_open(vt_labels_npy **out, vt_out *const outs[VT_LABELS_NPY_ARRAYS],
                       const vt_labels_shape *s)
{
	*out = NULL;
	vt_labels_npy *w = calloc(1, sizeof *w);
	if (!w)
		return VT_ENOMEM;
	w->s = *s;
	int rc = 0;
	for (int a = 0; a < VT_LABELS_NPY_ARRAYS && rc == 0; a++) {
		if (a == VT_LABELS_NPY_CODES && !s->m)
			continue;
		w->o[a] = outs[a];
		if (!outs[a] || !outs[a]->seekable)
			rc = VT_EUNSUP;
		else
			rc = npy_header(w, a, 0);
	}
	if (rc < 0) {
		vt_labels_npy_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int vt_labels_npy_write(vt_labels_npy *w, size_t rows, const uint64_t *ids, const void *data)
{
	const size_t n = rows, N = w->s.top;
	size_t need = n * (N * 4 > 8 ? N * 4 : 8);
	if (need < n * w->s.m)
		need = n * w->s.m;
	if (w->cap < need) {
		unsigned char *p = malloc(need);
		if (!p)
			return VT_ENOMEM;
		free(w->buf);
		w->buf = p;
		w->cap = need;
	}
	for (size_t i = 0; i < n; i++)
		vt_put64(w->buf + 8 * i, ids[i]);
	int rc = vt_out_write(w->o[VT_LABELS_NPY_IDS], w->buf, 8 * n);
	/* partitions and distances are already little-endian words */
	const size_t rb = w->s.words * 4;
	for (int a = VT_LABELS_NPY_PARTITIONS; rc == 0 && a <= VT_LABELS_NPY_CODES; a++) {
		if (!w->o[a])
			continue;
		size_t off = a == VT_LABELS_NPY_PARTITIONS ? 0 : a == VT_LABELS_NPY_DISTANCES ? 4 * N
		                                                                              : 8 * N;
		size_t len = a == VT_LABELS_NPY_CODES ? w->s.m : 4 * N;
		for (size_t i = 0; i < n; i++)
			memcpy(w->buf + i * len, (const unsigned char *)data + i * rb + off, len);
		rc = vt_out_write(w->o[a], w->buf, n * len);
	}
	if (rc == 0)
		w->rows += n;
	return rc;
}

int vt_labels_npy_finish(vt_labels_npy *w)
{
	int rc = 0;
	for (int a = 0; a < VT_LABELS_NPY_ARRAYS && rc == 0; a++)
		if (w->o[a])
			rc = npy_header(w, a, 1);
	return rc;
}

void vt_labels_npy_free(vt_labels_npy *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w);
}

int vt_labels_offsets_npy(vt_out *o, const uint64_t *counts, size_t k)
{
	char h[256];
	size_t len = vt_npy_header_descr(h, sizeof h, "<i8", (uint64_t)k + 1, 1, 0, 0);
	int rc = vt_out_write(o, h, len);
	unsigned char b[8 * 1024];
	uint64_t off = 0;
	size_t n = 0;
	for (size_t p = 0; p <= k && rc == 0; p++) {
		vt_put64(b + 8 * n++, off);
		if (p < k)
			off += counts[p];
		if (n == sizeof b / 8 || p == k) {
			rc = vt_out_write(o, b, 8 * n);
			n = 0;
		}
	}
	return rc;
}
