#define _POSIX_C_SOURCE 200809L
#include "stream/format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "error.h"
#include "stream/fdio.h"

uint64_t vt_hash64(const void *p, size_t n, uint64_t seed)
{
	return XXH3_64bits_withSeed(p, n, seed);
}

void vt_header_init(vt_header *h, int kind, int elem, int cols, uint32_t dim)
{
	memset(h, 0, sizeof *h);
	h->version = VT_VERSION;
	h->kind = (uint16_t)kind;
	h->elem = (uint8_t)elem;
	h->cols = (uint8_t)cols;
	h->dim = dim;
}

void vt_header_free(vt_header *h)
{
	for (size_t i = 0; i < h->nmeta; i++)
		free(h->meta[i].value);
	free(h->meta);
	h->meta = NULL;
	h->nmeta = 0;
}

int vt_header_copy(vt_header *dst, const vt_header *src)
{
	*dst = *src;
	dst->meta = NULL;
	dst->nmeta = 0;
	for (size_t i = 0; i < src->nmeta; i++) {
		int rc = vt_header_set(dst, src->meta[i].key, src->meta[i].value);
		if (rc < 0) {
			vt_header_free(dst);
			return rc;
		}
	}
	return 0;
}

static int key_ok(const char *k, size_t n)
{
	if (n < 1 || n > VT_MAX_KEY)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

int vt_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		unsigned c = *p++;
		if (c < 0x80)
			continue;
		size_t more;
		unsigned cp, min;
		if (c >= 0xc2 && c <= 0xdf)
			more = 1, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0; /* a continuation byte first, an overlong C0/C1, or > U+10FFFF */
		if ((size_t)(end - p) < more)
			return 0;
		for (size_t i = 0; i < more; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		p += more;
		/* overlong, a UTF-16 surrogate, or beyond U+10FFFF */
		if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
	}
	return 1;
}

static int value_ok(const char *v, size_t n)
{
	if (n > VT_MAX_VALUE)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (v[i] == '\0' || v[i] == '\n')
			return 0;
	return vt_utf8_valid(v, n);
}

int vt_header_set(vt_header *h, const char *key, const char *value)
{
	size_t kn = strlen(key), vn = strlen(value);
	if (!key_ok(key, kn) || !value_ok(value, vn))
		return VT_EINVAL;
	char *v = malloc(vn + 1);
	if (!v)
		return VT_ENOMEM;
	memcpy(v, value, vn + 1);
	for (size_t i = 0; i < h->nmeta; i++) {
		if (strcmp(h->meta[i].key, key) == 0) {
			free(h->meta[i].value);
			h->meta[i].value = v;
			return 0;
		}
	}
	if (h->nmeta >= VT_MAX_META_COUNT) {
		free(v);
		return VT_ELIMIT;
	}
	vt_meta_entry *m = realloc(h->meta, (h->nmeta + 1) * sizeof *m);
	if (!m) {
		free(v);
		return VT_ENOMEM;
	}
	h->meta = m;
	memcpy(m[h->nmeta].key, key, kn + 1);
	m[h->nmeta].value = v;
	h->nmeta++;
	return 0;
}

void vt_header_unset(vt_header *h, const char *key)
{
	for (size_t i = 0; i < h->nmeta; i++) {
		if (strcmp(h->meta[i].key, key) != 0)
			continue;
		free(h->meta[i].value);
		memmove(&h->meta[i], &h->meta[i + 1], (h->nmeta - i - 1) * sizeof h->meta[i]);
		h->nmeta--;
		return;
	}
}

int64_t vt_header_rows(const vt_header *h)
{
	const char *v = vt_header_get(h, "rows");
	if (!v)
		return -1;
	int64_t n = 0;
	if (!*v)
		return VT_EFORMAT;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9' || n > (INT64_MAX - 9) / 10)
			return VT_EFORMAT;
		n = n * 10 + (*p - '0');
	}
	return n;
}

int vt_header_setf(vt_header *h, const char *key, const char *fmt, ...)
{
	char buf[VT_MAX_VALUE + 1];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n > VT_MAX_VALUE)
		return VT_ELIMIT;
	return vt_header_set(h, key, buf);
}

void vt_header_put(vt_header *h, int *rc, const char *key, const char *fmt, ...)
{
	if (*rc < 0)
		return;
	char buf[VT_MAX_VALUE + 1];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	*rc = n < 0 || (size_t)n > VT_MAX_VALUE ? VT_ELIMIT : vt_header_set(h, key, buf);
}

const char *vt_header_get(const vt_header *h, const char *key)
{
	for (size_t i = 0; i < h->nmeta; i++)
		if (strcmp(h->meta[i].key, key) == 0)
			return h->meta[i].value;
	return NULL;
}

size_t vt_elem_size(int elem)
{
	return elem == VT_ELEM_F32 || elem == VT_ELEM_W32 ? 4 : elem == VT_ELEM_F64 ? 8 : 0;
}

const char *vt_elem_name(int elem)
{
	return elem == VT_ELEM_F32 ? "f32" : elem == VT_ELEM_F64 ? "f64"
	     : elem == VT_ELEM_W32 ? "w32" : "unknown";
}

size_t vt_row_bytes(const vt_header *h)
{
	size_t b = (size_t)h->dim * vt_elem_size(h->elem);
	if (h->cols & VT_COL_IDS)
		b += 8;
	if (h->cols & VT_COL_WEIGHT)
		b += 8;
	if (h->cols & VT_COL_LOSS)
		b += 8;
	return b;
}

static const char *const kind_names[] = {
	NULL, "vectors", "points", "centroids", "pq", "sq", "accum", "labels",
};

const char *vt_kind_name(int kind)
{
	if (kind >= 1 && kind <= VT_KIND_LABELS)
		return kind_names[kind];
	return "unknown";
}

int vt_kind_parse(const char *name)
{
	for (int k = 1; k <= VT_KIND_LABELS; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return 0;
}

const char *vt_codec_name(int codec)
{
	switch (codec) {
	case VT_CODEC_NONE: return "none";
	case VT_CODEC_LZ4: return "lz4";
	case VT_CODEC_LZ4_SHUFFLE: return "lz4-shuffle";
	default: return "unknown";
	}
}

int vt_codec_parse(const char *name)
{
	if (strcmp(name, "none") == 0)
		return VT_CODEC_NONE;
	if (strcmp(name, "lz4") == 0)
		return VT_CODEC_LZ4;
	if (strcmp(name, "lz4-shuffle") == 0)
		return VT_CODEC_LZ4_SHUFFLE;
	return -1;
}

/* Element type and the columns each kind requires (req) and allows (ok). */
static int kind_rules(int kind, int *elem, int *req, int *ok)
{
	switch (kind) {
	case VT_KIND_VECTORS:
		*elem = VT_ELEM_F32, *req = 0, *ok = VT_COL_IDS;
		return 0;
	case VT_KIND_POINTS:
		*elem = VT_ELEM_F32, *req = VT_COL_WEIGHT | VT_COL_LOSS, *ok = VT_COL_ALL;
		return 0;
	case VT_KIND_CENTROIDS:
		*elem = VT_ELEM_F32, *req = VT_COL_WEIGHT | VT_COL_LOSS;
		*ok = VT_COL_WEIGHT | VT_COL_LOSS;
		return 0;
	case VT_KIND_PQ:
		*elem = VT_ELEM_F32, *req = 0, *ok = 0;
		return 0;
	case VT_KIND_SQ:
		*elem = VT_ELEM_F64, *req = 0, *ok = 0;
		return 0;
	case VT_KIND_ACCUM:
		*elem = VT_ELEM_F64, *req = VT_COL_WEIGHT | VT_COL_LOSS;
		*ok = VT_COL_WEIGHT | VT_COL_LOSS;
		return 0;
	case VT_KIND_LABELS:
		*elem = VT_ELEM_W32, *req = VT_COL_IDS, *ok = VT_COL_IDS;
		return 0;
	}
	return -1;
}

int vt_header_validate(const vt_header *h, char *err, size_t errlen)
{
	int elem, req, ok;
	if (h->version != VT_VERSION) {
		snprintf(err, errlen, "unsupported format version %u (this build reads version %d)",
		         h->version, VT_VERSION);
		return VT_EVERSION;
	}
	if (kind_rules(h->kind, &elem, &req, &ok) < 0) {
		snprintf(err, errlen, "unknown stream kind %u", h->kind);
		return VT_EKIND;
	}
	if (h->elem != elem) {
		snprintf(err, errlen, "element type %u is not valid for kind %s",
		         h->elem, vt_kind_name(h->kind));
		return VT_EFORMAT;
	}
	if ((h->cols & req) != req || (h->cols & ~ok)) {
		snprintf(err, errlen, "column flags 0x%x are not valid for kind %s",
		         h->cols, vt_kind_name(h->kind));
		return VT_EFORMAT;
	}
	if (h->dim < 1 || h->dim > VT_MAX_DIM) {
		snprintf(err, errlen, "dimension %u out of range (1..%u)", h->dim, VT_MAX_DIM);
		return VT_ELIMIT;
	}
	return 0;
}

int vt_header_compatible(const vt_header *a, const vt_header *b, char *err, size_t errlen)
{
	if (a->kind != b->kind || a->elem != b->elem || a->cols != b->cols) {
		snprintf(err, errlen, "is %s%s, but the first input is %s%s", vt_kind_name(b->kind),
		         (b->cols & VT_COL_IDS) ? " with ids" : "", vt_kind_name(a->kind),
		         (a->cols & VT_COL_IDS) ? " with ids" : "");
		return VT_EKIND;
	}
	if (a->dim != b->dim) {
		snprintf(err, errlen, "has dimension %u, but the first input has dimension %u",
		         b->dim, a->dim);
		return VT_EDIM;
	}
	if (a->kind == VT_KIND_ACCUM) {
		const char *ia = vt_header_get(a, "centroids_id"), *ib = vt_header_get(b, "centroids_id");
		if (!ia || !ib || strcmp(ia, ib) != 0) {
			snprintf(err, errlen,
			         "accumulators computed against other centroids (centroids_id %s, first input %s)",
			         ib ? ib : "missing", ia ? ia : "missing");
			return VT_EFORMAT;
		}
		/* sums under one metric are not updates under another */
		const char *ma = vt_header_get(a, "metric"), *mb = vt_header_get(b, "metric");
		if (strcmp(ma ? ma : "l2", mb ? mb : "l2") != 0) {
			snprintf(err, errlen,
			         "accumulators made with metric=%s, but the first input with metric=%s",
			         mb ? mb : "l2", ma ? ma : "l2");
			return VT_EFORMAT;
		}
	}
	if (a->kind == VT_KIND_SQ || a->kind == VT_KIND_LABELS) {
		/* the rows of SQ streams and labels mean what these say */
		static const char *const sq[] = {"mode", "form", "metric", "centroids_id", NULL};
		static const char *const lab[] = {"k", "top", "pq_m", "pq_nbits", "metric",
		                                  "centroids_id", "pq_id", "codes", "sq_id",
		                                  "order", NULL};
		const char *const *keys = a->kind == VT_KIND_SQ ? sq : lab;
		for (size_t i = 0; keys[i]; i++) {
			const char *va = vt_header_get(a, keys[i]), *vb = vt_header_get(b, keys[i]);
			if ((va || vb) && (!va || !vb || strcmp(va, vb) != 0)) {
				snprintf(err, errlen, "%s with %s %s, but the first input has %s",
				         a->kind == VT_KIND_SQ ? "SQ statistics" : "labels", keys[i],
				         vb ? vb : "(none)", va ? va : "(none)");
				return VT_EFORMAT;
			}
		}
	}
	return 0;
}

int vt_header_encode(const vt_header *h, unsigned char **out, size_t *len)
{
	size_t mb = 0;
	for (size_t i = 0; i < h->nmeta; i++)
		mb += 3 + strlen(h->meta[i].key) + strlen(h->meta[i].value);
	if (mb > VT_MAX_META_BYTES || h->nmeta > VT_MAX_META_COUNT)
		return VT_ELIMIT;
	size_t n = VT_HEADER_FIXED + mb + 8;
	unsigned char *b = calloc(1, n);
	if (!b)
		return VT_ENOMEM;
	memcpy(b, VT_MAGIC, 4);
	vt_put16(b + 4, h->version);
	vt_put16(b + 6, h->kind);
	b[8] = h->elem;
	b[9] = h->cols;
	vt_put32(b + 12, h->dim);
	vt_put32(b + 16, (uint32_t)h->nmeta);
	vt_put32(b + 20, (uint32_t)mb);
	unsigned char *p = b + VT_HEADER_FIXED;
	for (size_t i = 0; i < h->nmeta; i++) {
		size_t kn = strlen(h->meta[i].key), vn = strlen(h->meta[i].value);
		p[0] = (unsigned char)kn;
		vt_put16(p + 1, (uint16_t)vn);
		memcpy(p + 3, h->meta[i].key, kn);
		memcpy(p + 3 + kn, h->meta[i].value, vn);
		p += 3 + kn + vn;
	}
	vt_put64(p, vt_hash64(b, VT_HEADER_FIXED + mb, 0));
	*out = b;
	*len = n;
	return 0;
}
