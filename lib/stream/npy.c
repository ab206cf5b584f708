/* vtrain: the npy format (numpy's .npy): parse a header for reading, make
 * one for writing (see formats_priv.h).
 *
 * Decisions that formats.h leaves open:
 *   - dtypes read: f2 f4 f8 u1 i1 u2 i2 u4 i4 u8 i8, in either byte order
 *     ('<', '>', or '|' for one-byte types); big-endian data is byte-swapped.
 *     64-bit integers (ids, counts, ann-benchmarks' neighbours) round to
 *     the nearest float32, as u4 and i4 do.  Anything else (complex, bool,
 *     structured, ...) is VT_EUNSUP and the message names the dtype.
 *   - shape (n,) is n rows of dimension 1 (as idx labels are); shape
 *     (n, a, b, ...) is n rows of dimension a*b*...; shape () is VT_EUNSUP.
 *   - fortran_order True is VT_EUNSUP, unless at most one axis is longer
 *     than 1 (then both orders are the same bytes).
 *   - header keys other than descr/fortran_order/shape are skipped (numpy
 *     refuses them); a header over 1 MiB is VT_ELIMIT.
 *   - written: version 1.0 '<f4'; with an unknown row count the count is a
 *     20-character space-padded field, patched by vt_vecwriter_finish.
 */
#define _POSIX_C_SOURCE 200809L
#include "stream/formats_priv.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Largest npy header accepted. */
#define NPY_MAX_HEADER (1u << 20)
#define NPY_MAX_NDIM 32

typedef struct {
	const char *p, *end;
} npy_cur;

static void npy_ws(npy_cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
	                         *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

/* A quoted string ('...' or "...", no escapes needed for what numpy writes
 * for simple dtypes; a backslash escapes the next character). */
static int npy_string(npy_cur *c, char *out, size_t outlen)
{
	if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
		return -1;
	char q = *c->p++;
	size_t n = 0;
	while (c->p < c->end && *c->p != q) {
		if (*c->p == '\\' && c->p + 1 < c->end)
			c->p++;
		if (out && n + 1 < outlen)
			out[n] = *c->p;
		n++;
		c->p++;
	}
	if (c->p >= c->end)
		return -1;
	c->p++;
	if (out) {
		if (n >= outlen)
			return -2;   /* too long for the caller */
		out[n] = 0;
	}
	return 0;
}

/* Skip one Python literal of any kind (for keys we do not know). */
static int npy_skip_value(npy_cur *c, int depth)
{
	if (depth > 16)
		return -1;
	npy_ws(c);
	if (c->p >= c->end)
		return -1;
	char ch = *c->p;
	if (ch == '\'' || ch == '"')
		return npy_string(c, NULL, 0);
	if (ch == '(' || ch == '[' || ch == '{') {
		char close = ch == '(' ? ')' : ch == '[' ? ']' : '}';
		c->p++;
		for (;;) {
			npy_ws(c);
			if (c->p < c->end && *c->p == close) {
				c->p++;
				return 0;
			}
			if (npy_skip_value(c, depth + 1) < 0)
				return -1;
			npy_ws(c);
			if (c->p < c->end && (*c->p == ',' || *c->p == ':'))
				c->p++;
			else if (c->p >= c->end || *c->p != close)
				return -1;
		}
	}
	const char *s = c->p;
	while (c->p < c->end && (isalnum((unsigned char)*c->p) || *c->p == '_' ||
	                         *c->p == '.' || *c->p == '-' || *c->p == '+'))
		c->p++;
	return c->p > s ? 0 : -1;
}

typedef struct {
	char descr[32];
	int descr_ok, descr_struct;
	int fortran, fortran_ok;
	uint64_t shape[NPY_MAX_NDIM];
	int ndim, shape_ok;
	int shape_big;       /* an extent did not fit in 63 bits */
} npy_hdr;

static int npy_shape(npy_cur *c, npy_hdr *h)
{
	if (c->p >= c->end || *c->p != '(')
		return -1;
	c->p++;
	h->ndim = 0;
	for (;;) {
		npy_ws(c);
		if (c->p < c->end && *c->p == ')') {
			c->p++;
			return 0;
		}
		if (c->p >= c->end || !isdigit((unsigned char)*c->p))
			return -1;
		uint64_t v = 0;
		while (c->p < c->end && isdigit((unsigned char)*c->p)) {
			unsigned dg = (unsigned)(*c->p - '0');
			if (v > ((uint64_t)INT64_MAX - dg) / 10)
				h->shape_big = 1;
			else
				v = v * 10 + dg;
			c->p++;
		}
		if (c->p < c->end && (*c->p == 'L' || *c->p == 'l'))
			c->p++;   /* Python 2 long */
		if (h->ndim >= NPY_MAX_NDIM)
			return -1;
		h->shape[h->ndim++] = v;
		npy_ws(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == ')') {
			c->p++;
			/* "(5)" is an int in parentheses, not a tuple */
			return h->ndim == 1 ? -1 : 0;
		}
		return -1;
	}
}

static int npy_parse_dict(const char *s, size_t n, npy_hdr *h, char *err,
                          size_t errlen)
{
	npy_cur c = {s, s + n};
	memset(h, 0, sizeof *h);
	npy_ws(&c);
	if (c.p >= c.end || *c.p != '{')
		return vt_fmt_err(err, errlen, VT_EFORMAT,
		                  "npy header is not a dictionary");
	c.p++;
	for (;;) {
		npy_ws(&c);
		if (c.p < c.end && *c.p == '}') {
			c.p++;
			break;
		}
		char key[32];
		int rc = npy_string(&c, key, sizeof key);
		if (rc == -1)
			return vt_fmt_err(err, errlen, VT_EFORMAT,
			                  "npy header: expected a quoted key at "
			                  "offset %td", c.p - s);
		if (rc == -2)
			key[0] = 0;   /* unknown long key: skipped below */
		npy_ws(&c);
		if (c.p >= c.end || *c.p != ':')
			return vt_fmt_err(err, errlen, VT_EFORMAT,
			                  "npy header: expected ':' after '%s'", key);
		c.p++;
		npy_ws(&c);
		if (strcmp(key, "descr") == 0) {
			if (h->descr_ok)
				return vt_fmt_err(err, errlen, VT_EFORMAT,
				                  "npy header: 'descr' given twice");
			if (c.p < c.end && *c.p == '[') {
				h->descr_struct = 1;
				if (npy_skip_value(&c, 0) < 0)
					return vt_fmt_err(err, errlen, VT_EFORMAT,
					                  "npy header: bad 'descr'");
			} else {
				rc = npy_string(&c, h->descr, sizeof h->descr);
				if (rc == -2)
					return vt_fmt_err(err, errlen, VT_EUNSUP,
					                  "npy dtype is not supported "
					                  "(descr too long)");
				if (rc < 0)
					return vt_fmt_err(err, errlen, VT_EFORMAT,
					                  "npy header: 'descr' is not "
					                  "a string");
			}
			h->descr_ok = 1;
		} else if (strcmp(key, "fortran_order") == 0) {
			if (h->fortran_ok)
				return vt_fmt_err(err, errlen, VT_EFORMAT,
				                  "npy header: 'fortran_order' "
				                  "given twice");
			if (c.end - c.p >= 4 && memcmp(c.p, "True", 4) == 0) {
				h->fortran = 1;
				c.p += 4;
			} else if (c.end - c.p >= 5 &&
			           memcmp(c.p, "False", 5) == 0) {
				h->fortran = 0;
				c.p += 5;
			} else {
				return vt_fmt_err(err, errlen, VT_EFORMAT,
				                  "npy header: 'fortran_order' is "
				                  "not True or False");
			}
			h->fortran_ok = 1;
		} else if (strcmp(key, "shape") == 0) {
			if (h->shape_ok)
				return vt_fmt_err(err, errlen, VT_EFORMAT,
				                  "npy header: 'shape' given twice");
			if (npy_shape(&c, h) < 0)
				return vt_fmt_err(err, errlen, VT_EFORMAT,
				                  "npy header: 'shape' is not a "
				                  "tuple of at most %d integers",
				                  NPY_MAX_NDIM);
			h->shape_ok = 1;
		} else {
			if (npy_skip_value(&c, 0) < 0)
				return vt_fmt_err(err, errlen, VT_EFORMAT,
				                  "npy header: bad value for key "
				                  "'%s'", key);
		}
		npy_ws(&c);
		if (c.p < c.end && *c.p == ',') {
			c.p++;
			continue;
		}
		if (c.p < c.end && *c.p == '}') {
			c.p++;
			break;
		}
		return vt_fmt_err(err, errlen, VT_EFORMAT,
		                  "npy header: expected ',' or '}' at offset %td",
		                  c.p - s);
	}
	npy_ws(&c);
	if (c.p != c.end)
		return vt_fmt_err(err, errlen, VT_EFORMAT,
		                  "npy header: unexpected text after the "
		                  "dictionary at offset %td", c.p - s);
	if (!h->descr_ok || !h->fortran_ok || !h->shape_ok)
		return vt_fmt_err(err, errlen, VT_EFORMAT,
		                  "npy header lacks '%s'",
		                  !h->descr_ok ? "descr" :
		                  !h->fortran_ok ? "fortran_order" : "shape");
	return 0;
}

static int npy_dtype(const char *d, vt_el_type *t, int *swap, char *err,
                     size_t errlen)
{
	static const struct {
		const char *code;
		vt_el_type t;
	} types[] = {
		{"f2", VT_EL_F16}, {"f4", VT_EL_F32}, {"f8", VT_EL_F64},
		{"u1", VT_EL_U8},  {"i1", VT_EL_I8},  {"u2", VT_EL_U16},
		{"i2", VT_EL_I16}, {"u4", VT_EL_U32}, {"i4", VT_EL_I32},
		{"u8", VT_EL_U64}, {"i8", VT_EL_I64},
	};
	char order = d[0];
	if ((order == '<' || order == '>' || order == '|') && d[1]) {
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
			if (strcmp(d + 1, types[i].code) != 0)
				continue;
			size_t es = vt_el_size(types[i].t);
			if (order == '|' && es != 1)
				break;   /* byte order missing */
			*t = types[i].t;
			*swap = order == '>' && es > 1;
			return 0;
		}
	}
	return vt_fmt_err(err, errlen, VT_EUNSUP,
	                  "npy dtype '%s' is not supported (supported: f2 f4 f8 "
	                  "u1 i1 u2 i2 u4 i4 u8 i8, either byte order)", d);
}

int vt_npy_open(vt_vecreader *r, char *err, size_t errlen)
{
	unsigned char pre[12];
	int rc = vt_fmt_read_header(r->rd, pre, 8, "npy", err, errlen);
	if (rc < 0)
		return rc;
	if (memcmp(pre, "\x93NUMPY", 6) != 0)
		return vt_fmt_err(err, errlen, VT_EMAGIC,
		                  "not an npy file (bad magic)");
	unsigned major = pre[6], minor = pre[7];
	uint32_t hlen;
	if (major == 1) {
		rc = vt_fmt_read_header(r->rd, pre + 8, 2, "npy", err, errlen);
		if (rc < 0)
			return rc;
		hlen = vt_le16(pre + 8);
	} else if (major == 2 || major == 3) {
		rc = vt_fmt_read_header(r->rd, pre + 8, 4, "npy", err, errlen);
		if (rc < 0)
			return rc;
		hlen = vt_le32(pre + 8);
	} else {
		return vt_fmt_err(err, errlen, VT_EVERSION,
		                  "npy format version %u.%u is not supported "
		                  "(1.0, 2.0, 3.0 are)", major, minor);
	}
	if (hlen > NPY_MAX_HEADER)
		return vt_fmt_err(err, errlen, VT_ELIMIT,
		                  "npy header of %" PRIu32 " bytes exceeds the "
		                  "limit of %u", hlen, (unsigned)NPY_MAX_HEADER);
	char *hdr = malloc(hlen + 1u);
	if (!hdr)
		return vt_fmt_err(err, errlen, VT_ENOMEM, "out of memory");
	rc = vt_fmt_read_header(r->rd, hdr, hlen, "npy", err, errlen);
	if (rc < 0) {
		free(hdr);
		return rc;
	}
	hdr[hlen] = 0;
	if (memchr(hdr, 0, hlen)) {
		free(hdr);
		return vt_fmt_err(err, errlen, VT_EFORMAT,
		                  "npy header contains a NUL byte");
	}
	npy_hdr h;
	rc = npy_parse_dict(hdr, hlen, &h, err, errlen);
	free(hdr);
	if (rc < 0)
		return rc;
	if (h.descr_struct)
		return vt_fmt_err(err, errlen, VT_EUNSUP,
		                  "npy structured dtypes are not supported");
	rc = npy_dtype(h.descr, &r->el, &r->swap, err, errlen);
	if (rc < 0)
		return rc;
	if (h.ndim == 0)
		return vt_fmt_err(err, errlen, VT_EUNSUP,
		                  "npy 0-d arrays (scalars) are not supported");
	if (h.shape_big)
		return vt_fmt_err(err, errlen, VT_ELIMIT,
		                  "npy shape has an extent too large");
	if (h.fortran) {
		int longer = 0;
		for (int i = 0; i < h.ndim; i++)
			longer += h.shape[i] > 1;
		if (longer > 1)
			return vt_fmt_err(err, errlen, VT_EUNSUP,
			                  "fortran_order arrays are not supported; "
			                  "save with C order");
	}
	uint64_t dim = 1;
	for (int i = 1; i < h.ndim; i++) {
		if (h.shape[i] == 0 || h.shape[i] > VT_FMT_MAX_DIM)
			return vt_fmt_check_dim(h.shape[i], "npy row dimension", err,
			                        errlen);
		dim *= h.shape[i];
		if (dim > VT_FMT_MAX_DIM)
			return vt_fmt_check_dim(dim, "npy row dimension", err, errlen);
	}
	r->dim = (uint32_t)dim;
	rc = vt_fmt_check_total(h.shape[0], r->dim, vt_el_size(r->el), err, errlen);
	if (rc < 0)
		return rc;
	r->rows = (int64_t)h.shape[0];
	return 0;
}

size_t vt_npy_header(char *h, size_t cap, uint64_t rows, uint32_t group, uint32_t dim,
                     int fixed)
{
	return vt_npy_header_descr(h, cap, "<f4", rows, group, dim, fixed);
}

size_t vt_npy_header_descr(char *h, size_t cap, const char *descr, uint64_t rows,
                           uint32_t group, uint32_t dim, int fixed)
{
	char count[32], mid[16] = "", last[16] = "";
	uint64_t first = group > 1 ? rows / group : rows;
	if (fixed)
		snprintf(count, sizeof count, "%-*" PRIu64, VT_NPY_COUNT_WIDTH, first);
	else
		snprintf(count, sizeof count, "%" PRIu64, first);
	if (group > 1)
		snprintf(mid, sizeof mid, "%u, ", group);
	if (dim)
		snprintf(last, sizeof last, "%u", dim);
	memcpy(h, "\x93NUMPY\x01\x00", 8);
	int n = snprintf(h + 10, cap - 10,
	                 "{'descr': '%s', 'fortran_order': False, "
	                 "'shape': (%s, %s%s), }", descr, count, mid, last);
	size_t len = 10 + (size_t)n + 1;   /* + '\n' */
	size_t total = (len + 63) / 64 * 64;
	memset(h + 10 + n, ' ', total - 10 - (size_t)n - 1);
	h[total - 1] = '\n';
	vt_put16((unsigned char *)h + 8, (uint16_t)(total - 10));
	return total;
}
