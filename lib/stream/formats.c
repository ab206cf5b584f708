/* vtrain: foreign vector file formats (see formats.h).
 *
 * Decisions that the header leaves open:
 *   - npy dtypes read: f2 f4 f8 u1 i1 u2 i2 u4 i4, in either byte order
 *     ('<', '>', or '|' for one-byte types); big-endian data is byte-swapped.
 *     Anything else (complex, bool, i8, structured, ...) is VT_EUNSUP and the
 *     message names the dtype.
 *   - npy shape (n,) is n rows of dimension 1 (as idx labels are); shape
 *     (n, a, b, ...) is n rows of dimension a*b*...; shape () is VT_EUNSUP.
 *   - fortran_order True is VT_EUNSUP, unless at most one axis is longer
 *     than 1 (then both orders are the same bytes).
 *   - Data after the last row that a header declares (npy, fbin, idx) is
 *     VT_EFORMAT: a file is exactly one array.
 *   - An empty .fvecs/.bvecs/.ivecs input is VT_ETRUNC: with no record there
 *     is no dimension.
 *   - Record and row numbers in messages count from 0.
 *   - vt_format_detect trusts the strong magic numbers (vtrain, npy) first,
 *     then a known extension, then the weak idx magic (4 bytes that a .fbin
 *     with a row count of 0x0N080000 could also start with).
 *   - npy header keys other than descr/fortran_order/shape are skipped
 *     (numpy refuses them); a header over 1 MiB is VT_ELIMIT.
 *   - Writers: npy is version 1.0 '<f4'; with an unknown row count the
 *     count is written as a 20-character space-padded field and patched by
 *     vt_vecwriter_finish.  text is "%.9g" (exactly as printf, also checked
 *     by the tests) separated by single spaces, one row per line.  A given
 *     rows_hint is a promise for every writer: more rows is VT_EINVAL in
 *     vt_vecwriter_write, fewer is VT_ETRUNC in vt_vecwriter_finish.
 */
#define _POSIX_C_SOURCE 200809L
#include "stream/formats.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Bytes of the scratch block used for conversions (at least one record). */
#define FMT_SCRATCH (1u << 20)
/* Largest npy header accepted. */
#define NPY_MAX_HEADER (1u << 20)
#define NPY_MAX_NDIM 32
/* Page size assumed for read alignment (see bad_alias). */
#define ALIAS_PAGE 4096u

/* ------------------------------------------------------------------ */
/* helpers */

static int fmt_err(char *err, size_t errlen, int code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	;

static int fmt_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int host_le(void)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
	return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#else
	const uint16_t one = 1;
	unsigned char c;
	memcpy(&c, &one, 1);
	return c == 1;
#endif
}

static uint32_t be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Reverse the bytes of n elements of size es (2, 4 or 8) in place. */
static void swap_bytes(unsigned char *p, size_t n, size_t es)
{
	for (size_t i = 0; i < n; i++, p += es) {
		for (size_t a = 0, b = es - 1; a < b; a++, b--) {
			unsigned char t = p[a];
			p[a] = p[b];
			p[b] = t;
		}
	}
}

/* ------------------------------------------------------------------ */
/* names and detection */

static const struct {
	vt_format f;
	const char *name;
} fmt_names[] = {
	{VT_FMT_VT, "vt"},       {VT_FMT_NPY, "npy"},     {VT_FMT_FVECS, "fvecs"},
	{VT_FMT_BVECS, "bvecs"}, {VT_FMT_IVECS, "ivecs"}, {VT_FMT_FBIN, "fbin"},
	{VT_FMT_U8BIN, "u8bin"}, {VT_FMT_I8BIN, "i8bin"}, {VT_FMT_IDX, "idx"},
	{VT_FMT_RAW, "raw"},     {VT_FMT_TEXT, "text"},
};

const char *vt_format_name(vt_format f)
{
	if (f == VT_FMT_AUTO)
		return "auto";
	for (size_t i = 0; i < sizeof fmt_names / sizeof fmt_names[0]; i++)
		if (fmt_names[i].f == f)
			return fmt_names[i].name;
	return "unknown";
}

int vt_format_parse(const char *name, vt_format *out)
{
	if (!name)
		return VT_EINVAL;
	for (size_t i = 0; i < sizeof fmt_names / sizeof fmt_names[0]; i++) {
		if (strcmp(name, fmt_names[i].name) == 0) {
			*out = fmt_names[i].f;
			return 0;
		}
	}
	if (strcmp(name, "stream") == 0) {
		*out = VT_FMT_VT;
		return 0;
	}
	return VT_EINVAL;
}

static int ends_with_ci(const char *s, size_t n, const char *suf)
{
	size_t m = strlen(suf);
	if (n < m)
		return 0;
	for (size_t i = 0; i < m; i++)
		if (tolower((unsigned char)s[n - m + i]) != suf[i])
			return 0;
	return 1;
}

static int detect_ext(const char *path, vt_format *out)
{
	static const struct {
		const char *ext;
		vt_format f;
	} exts[] = {
		{".fvecs", VT_FMT_FVECS}, {".bvecs", VT_FMT_BVECS},
		{".ivecs", VT_FMT_IVECS}, {".fbin", VT_FMT_FBIN},
		{".u8bin", VT_FMT_U8BIN}, {".i8bin", VT_FMT_I8BIN},
		{".npy", VT_FMT_NPY},     {".idx", VT_FMT_IDX},
		{".raw", VT_FMT_RAW},     {".f32", VT_FMT_RAW},
	};
	if (!path)
		return VT_EMAGIC;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
		if (ends_with_ci(base, n, exts[i].ext)) {
			*out = exts[i].f;
			return 0;
		}
	}
	/* MNIST names: train-images-idx3-ubyte, t10k-labels.idx1-ubyte */
	if (n >= 10 && (ends_with_ci(base, n, "-ubyte") ||
	                ends_with_ci(base, n, ".ubyte"))) {
		const char *s = base + n - 10;
		if (tolower((unsigned char)s[0]) == 'i' &&
		    tolower((unsigned char)s[1]) == 'd' &&
		    tolower((unsigned char)s[2]) == 'x' &&
		    s[3] >= '1' && s[3] <= '9') {
			*out = VT_FMT_IDX;
			return 0;
		}
	}
	return VT_EMAGIC;
}

int vt_format_detect(const unsigned char *head, size_t n, const char *path,
                     vt_format *out)
{
	if (head && n >= 4 && memcmp(head, "VTS\x1a", 4) == 0) {
		*out = VT_FMT_VT;
		return 0;
	}
	if (head && n >= 6 && memcmp(head, "\x93NUMPY", 6) == 0) {
		*out = VT_FMT_NPY;
		return 0;
	}
	if (detect_ext(path, out) == 0)
		return 0;
	if (head && n >= 4 && head[0] == 0 && head[1] == 0 && head[2] == 0x08 &&
	    head[3] >= 1 && head[3] <= 4) {
		*out = VT_FMT_IDX;
		return 0;
	}
	return VT_EMAGIC;
}

/* ------------------------------------------------------------------ */
/* element types and conversion */

typedef enum {
	EL_F32, EL_F16, EL_F64, EL_U8, EL_I8, EL_U16, EL_I16, EL_U32, EL_I32,
} el_type;

static size_t el_size(el_type t)
{
	switch (t) {
	case EL_U8: case EL_I8: return 1;
	case EL_F16: case EL_U16: case EL_I16: return 2;
	case EL_F64: return 8;
	default: return 4;
	}
}

/* IEEE half to single: exact for every value, subnormals, infinities and
 * NaNs (the payload is kept).  Branch-free, so that the loop vectorizes. */
static inline float half_to_float(uint16_t h)
{
	uint32_t em = h & 0x7fffu;
	uint32_t e = em & 0x7c00u;
	uint32_t normal = (em << 13) + (112u << 23);   /* rebias 15 -> 127 */
	uint32_t special = (em << 13) + (224u << 23);  /* inf, nan: exp 255 */
	float sub = (float)(int32_t)em * 5.9604644775390625e-8f; /* m 2^-24 */
	uint32_t subbits;
	memcpy(&subbits, &sub, 4);
	uint32_t is_special = 0u - (uint32_t)(e == 0x7c00u);   /* all ones */
	uint32_t is_sub = 0u - (uint32_t)(e == 0);
	uint32_t bits = (normal & ~is_special) | (special & is_special);
	bits = (bits & ~is_sub) | (subbits & is_sub);
	bits |= (uint32_t)(h & 0x8000u) << 16;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

/* Convert n little-endian (or, with swap, big-endian) elements of type t at
 * src to float at dst.  src and dst do not overlap, except for t == EL_F32
 * / EL_I32 where src == dst is allowed.  One switch, then a plain loop. */
#if defined(__GNUC__) && !defined(__clang__)
/* GCC vectorizes these loops only at -O3 or with the dynamic cost model. */
__attribute__((optimize("tree-loop-vectorize", "vect-cost-model=dynamic")))
#endif
static void convert(el_type t, int swap, unsigned char *src, float *dst,
                    size_t n)
{
	size_t es = el_size(t);
	if (es > 1 && (swap || !host_le()))
		swap_bytes(src, n, es);
	/* From here src is in host order. */
	switch (t) {
	case EL_F32:
		if ((void *)src != (void *)dst)
			memcpy(dst, src, n * 4);
		break;
	case EL_U8:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)src[i];
		break;
	case EL_I8:
		for (size_t i = 0; i < n; i++)
			dst[i] = (float)(int8_t)src[i];
		break;
	case EL_F16:
		for (size_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, src + 2 * i, 2);
			dst[i] = half_to_float(h);
		}
		break;
	case EL_U16:
		for (size_t i = 0; i < n; i++) {
			uint16_t v;
			memcpy(&v, src + 2 * i, 2);
			dst[i] = (float)v;
		}
		break;
	case EL_I16:
		for (size_t i = 0; i < n; i++) {
			int16_t v;
			memcpy(&v, src + 2 * i, 2);
			dst[i] = (float)v;
		}
		break;
	case EL_U32:
		for (size_t i = 0; i < n; i++) {
			uint32_t v;
			memcpy(&v, src + 4 * i, 4);
			dst[i] = (float)v;
		}
		break;
	case EL_I32:
		/* may be in place: each element is read before it is written */
		for (size_t i = 0; i < n; i++) {
			int32_t v;
			memcpy(&v, src + 4 * i, 4);
			float f = (float)v;
			memcpy((unsigned char *)dst + 4 * i, &f, 4);
		}
		break;
	case EL_F64:
		for (size_t i = 0; i < n; i++) {
			double v;
			memcpy(&v, src + 8 * i, 8);
			dst[i] = (float)v;
		}
		break;
	}
}

/* ------------------------------------------------------------------ */
/* readers */

struct vt_vecreader {
	vt_format fmt;
	vt_rd *rd;
	uint32_t dim;
	el_type el;
	int swap;            /* data is big-endian */
	int records;         /* *vecs: each row has its own int32 dim */
	int64_t rows;        /* from the header, or -1 */
	uint64_t done;       /* rows read so far */
	int ended;           /* 0 returned (or trailing data checked) */
	unsigned char *scratch;
	size_t scratch_cap;
};

uint32_t vt_vecreader_dim(const vt_vecreader *r)
{
	return r->dim;
}

int64_t vt_vecreader_rows(const vt_vecreader *r)
{
	return r->rows;
}

void vt_vecreader_free(vt_vecreader *r)
{
	if (!r)
		return;
	free(r->scratch);
	free(r);
}

static int check_dim(uint64_t d, const char *what, char *err, size_t errlen)
{
	if (d == 0 || d > VT_FMT_MAX_DIM)
		return fmt_err(err, errlen, VT_ELIMIT,
		               "%s %" PRIu64 " out of range (1..%u)", what, d,
		               (unsigned)VT_FMT_MAX_DIM);
	return 0;
}

/* rows x dim x es must fit in a signed 64-bit byte count. */
static int check_total(uint64_t rows, uint32_t dim, size_t es, char *err,
                       size_t errlen)
{
	if (rows > (uint64_t)INT64_MAX / ((uint64_t)dim * es))
		return fmt_err(err, errlen, VT_ELIMIT,
		               "%" PRIu64 " rows of dimension %u is too large",
		               rows, dim);
	return 0;
}

static int read_header_bytes(vt_rd *rd, void *dst, size_t n, const char *what,
                             char *err, size_t errlen)
{
	ssize_t got = vt_rd_read(rd, dst, n);
	if (got < 0)
		return fmt_err(err, errlen, (int)got, "read error in %s header",
		               what);
	if ((size_t)got < n)
		return fmt_err(err, errlen, VT_ETRUNC,
		               "%s header truncated (%zd of %zu bytes)", what, got,
		               n);
	return 0;
}

/* --- npy header --- */

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
		return fmt_err(err, errlen, VT_EFORMAT,
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
			return fmt_err(err, errlen, VT_EFORMAT,
			               "npy header: expected a quoted key at "
			               "offset %td", c.p - s);
		if (rc == -2)
			key[0] = 0;   /* unknown long key: skipped below */
		npy_ws(&c);
		if (c.p >= c.end || *c.p != ':')
			return fmt_err(err, errlen, VT_EFORMAT,
			               "npy header: expected ':' after '%s'", key);
		c.p++;
		npy_ws(&c);
		if (strcmp(key, "descr") == 0) {
			if (h->descr_ok)
				return fmt_err(err, errlen, VT_EFORMAT,
				               "npy header: 'descr' given twice");
			if (c.p < c.end && *c.p == '[') {
				h->descr_struct = 1;
				if (npy_skip_value(&c, 0) < 0)
					return fmt_err(err, errlen, VT_EFORMAT,
					               "npy header: bad 'descr'");
			} else {
				rc = npy_string(&c, h->descr, sizeof h->descr);
				if (rc == -2)
					return fmt_err(err, errlen, VT_EUNSUP,
					               "npy dtype is not supported "
					               "(descr too long)");
				if (rc < 0)
					return fmt_err(err, errlen, VT_EFORMAT,
					               "npy header: 'descr' is not "
					               "a string");
			}
			h->descr_ok = 1;
		} else if (strcmp(key, "fortran_order") == 0) {
			if (h->fortran_ok)
				return fmt_err(err, errlen, VT_EFORMAT,
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
				return fmt_err(err, errlen, VT_EFORMAT,
				               "npy header: 'fortran_order' is "
				               "not True or False");
			}
			h->fortran_ok = 1;
		} else if (strcmp(key, "shape") == 0) {
			if (h->shape_ok)
				return fmt_err(err, errlen, VT_EFORMAT,
				               "npy header: 'shape' given twice");
			if (npy_shape(&c, h) < 0)
				return fmt_err(err, errlen, VT_EFORMAT,
				               "npy header: 'shape' is not a "
				               "tuple of at most %d integers",
				               NPY_MAX_NDIM);
			h->shape_ok = 1;
		} else {
			if (npy_skip_value(&c, 0) < 0)
				return fmt_err(err, errlen, VT_EFORMAT,
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
		return fmt_err(err, errlen, VT_EFORMAT,
		               "npy header: expected ',' or '}' at offset %td",
		               c.p - s);
	}
	npy_ws(&c);
	if (c.p != c.end)
		return fmt_err(err, errlen, VT_EFORMAT,
		               "npy header: unexpected text after the "
		               "dictionary at offset %td", c.p - s);
	if (!h->descr_ok || !h->fortran_ok || !h->shape_ok)
		return fmt_err(err, errlen, VT_EFORMAT,
		               "npy header lacks '%s'",
		               !h->descr_ok ? "descr" :
		               !h->fortran_ok ? "fortran_order" : "shape");
	return 0;
}

static int npy_dtype(const char *d, el_type *t, int *swap, char *err,
                     size_t errlen)
{
	static const struct {
		const char *code;
		el_type t;
	} types[] = {
		{"f2", EL_F16}, {"f4", EL_F32}, {"f8", EL_F64},
		{"u1", EL_U8},  {"i1", EL_I8},  {"u2", EL_U16},
		{"i2", EL_I16}, {"u4", EL_U32}, {"i4", EL_I32},
	};
	char order = d[0];
	if ((order == '<' || order == '>' || order == '|') && d[1]) {
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
			if (strcmp(d + 1, types[i].code) != 0)
				continue;
			size_t es = el_size(types[i].t);
			if (order == '|' && es != 1)
				break;   /* byte order missing */
			*t = types[i].t;
			*swap = order == '>' && es > 1;
			return 0;
		}
	}
	return fmt_err(err, errlen, VT_EUNSUP,
	               "npy dtype '%s' is not supported (supported: f2 f4 f8 "
	               "u1 i1 u2 i2 u4 i4, either byte order)", d);
}

static int open_npy(vt_vecreader *r, char *err, size_t errlen)
{
	unsigned char pre[12];
	int rc = read_header_bytes(r->rd, pre, 8, "npy", err, errlen);
	if (rc < 0)
		return rc;
	if (memcmp(pre, "\x93NUMPY", 6) != 0)
		return fmt_err(err, errlen, VT_EMAGIC,
		               "not an npy file (bad magic)");
	unsigned major = pre[6], minor = pre[7];
	uint32_t hlen;
	if (major == 1) {
		rc = read_header_bytes(r->rd, pre + 8, 2, "npy", err, errlen);
		if (rc < 0)
			return rc;
		hlen = vt_le16(pre + 8);
	} else if (major == 2 || major == 3) {
		rc = read_header_bytes(r->rd, pre + 8, 4, "npy", err, errlen);
		if (rc < 0)
			return rc;
		hlen = vt_le32(pre + 8);
	} else {
		return fmt_err(err, errlen, VT_EVERSION,
		               "npy format version %u.%u is not supported "
		               "(1.0, 2.0, 3.0 are)", major, minor);
	}
	if (hlen > NPY_MAX_HEADER)
		return fmt_err(err, errlen, VT_ELIMIT,
		               "npy header of %" PRIu32 " bytes exceeds the "
		               "limit of %u", hlen, (unsigned)NPY_MAX_HEADER);
	char *hdr = malloc(hlen + 1u);
	if (!hdr)
		return fmt_err(err, errlen, VT_ENOMEM, "out of memory");
	rc = read_header_bytes(r->rd, hdr, hlen, "npy", err, errlen);
	if (rc < 0) {
		free(hdr);
		return rc;
	}
	hdr[hlen] = 0;
	if (memchr(hdr, 0, hlen)) {
		free(hdr);
		return fmt_err(err, errlen, VT_EFORMAT,
		               "npy header contains a NUL byte");
	}
	npy_hdr h;
	rc = npy_parse_dict(hdr, hlen, &h, err, errlen);
	free(hdr);
	if (rc < 0)
		return rc;
	if (h.descr_struct)
		return fmt_err(err, errlen, VT_EUNSUP,
		               "npy structured dtypes are not supported");
	rc = npy_dtype(h.descr, &r->el, &r->swap, err, errlen);
	if (rc < 0)
		return rc;
	if (h.ndim == 0)
		return fmt_err(err, errlen, VT_EUNSUP,
		               "npy 0-d arrays (scalars) are not supported");
	if (h.shape_big)
		return fmt_err(err, errlen, VT_ELIMIT,
		               "npy shape has an extent too large");
	if (h.fortran) {
		int longer = 0;
		for (int i = 0; i < h.ndim; i++)
			longer += h.shape[i] > 1;
		if (longer > 1)
			return fmt_err(err, errlen, VT_EUNSUP,
			               "fortran_order arrays are not supported; "
			               "save with C order");
	}
	uint64_t dim = 1;
	for (int i = 1; i < h.ndim; i++) {
		if (h.shape[i] == 0 || h.shape[i] > VT_FMT_MAX_DIM)
			return check_dim(h.shape[i], "npy row dimension", err,
			                 errlen);
		dim *= h.shape[i];
		if (dim > VT_FMT_MAX_DIM)
			return check_dim(dim, "npy row dimension", err, errlen);
	}
	r->dim = (uint32_t)dim;
	rc = check_total(h.shape[0], r->dim, el_size(r->el), err, errlen);
	if (rc < 0)
		return rc;
	r->rows = (int64_t)h.shape[0];
	return 0;
}

static int open_bin(vt_vecreader *r, char *err, size_t errlen)
{
	unsigned char b[8];
	int rc = read_header_bytes(r->rd, b, 8, vt_format_name(r->fmt), err,
	                           errlen);
	if (rc < 0)
		return rc;
	uint32_t n = vt_le32(b), d = vt_le32(b + 4);
	rc = check_dim(d, "dimension", err, errlen);
	if (rc < 0)
		return rc;
	rc = check_total(n, d, el_size(r->el), err, errlen);
	if (rc < 0)
		return rc;
	r->dim = d;
	r->rows = n;
	return 0;
}

static int open_idx(vt_vecreader *r, char *err, size_t errlen)
{
	unsigned char b[4 + 4 * 4];
	int rc = read_header_bytes(r->rd, b, 4, "idx", err, errlen);
	if (rc < 0)
		return rc;
	if (b[0] != 0 || b[1] != 0)
		return fmt_err(err, errlen, VT_EMAGIC,
		               "not an idx file (bad magic %02x %02x %02x %02x)",
		               b[0], b[1], b[2], b[3]);
	if (b[2] != 0x08)
		return fmt_err(err, errlen, VT_EUNSUP,
		               "idx type code 0x%02x is not supported (only 0x08, "
		               "unsigned byte)", b[2]);
	unsigned nd = b[3];
	if (nd < 1 || nd > 4)
		return fmt_err(err, errlen, VT_EFORMAT,
		               "idx: %u dimensions (1..4 expected)", nd);
	rc = read_header_bytes(r->rd, b + 4, 4 * nd, "idx", err, errlen);
	if (rc < 0)
		return rc;
	uint64_t n = be32(b + 4), dim = 1;
	for (unsigned i = 1; i < nd; i++) {
		uint64_t e = be32(b + 4 + 4 * i);
		dim *= e;
		if (e == 0 || dim > VT_FMT_MAX_DIM)
			return check_dim(e == 0 ? 0 : dim, "idx row size", err,
			                 errlen);
	}
	r->el = EL_U8;
	r->dim = (uint32_t)dim;
	r->rows = (int64_t)n;
	return 0;
}

static int open_vecs(vt_vecreader *r, char *err, size_t errlen)
{
	const unsigned char *p;
	ssize_t got = vt_rd_peek(r->rd, 4, &p);
	if (got < 0)
		return fmt_err(err, errlen, (int)got, "read error");
	if (got == 0)
		return fmt_err(err, errlen, VT_ETRUNC,
		               "empty %s input: no record, so no dimension",
		               vt_format_name(r->fmt));
	if (got < 4)
		return fmt_err(err, errlen, VT_ETRUNC,
		               "record 0: truncated dimension (%zd of 4 bytes)",
		               got);
	uint32_t d = vt_le32(p);
	if (d == 0 || d > VT_FMT_MAX_DIM)
		return fmt_err(err, errlen, VT_ELIMIT,
		               "record 0: dimension %" PRId32 " out of range "
		               "(1..%u)", (int32_t)d, (unsigned)VT_FMT_MAX_DIM);
	r->dim = d;
	r->records = 1;
	r->rows = -1;
	return 0;
}

int vt_vecreader_open(vt_vecreader **out, vt_rd *rd, vt_format fmt,
                      uint32_t raw_dim, char *err, size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	vt_vecreader *r = calloc(1, sizeof *r);
	if (!r)
		return fmt_err(err, errlen, VT_ENOMEM, "out of memory");
	r->fmt = fmt;
	r->rd = rd;
	r->rows = -1;
	int rc;
	switch (fmt) {
	case VT_FMT_NPY:
		rc = open_npy(r, err, errlen);
		break;
	case VT_FMT_FVECS:
		r->el = EL_F32;
		rc = open_vecs(r, err, errlen);
		break;
	case VT_FMT_BVECS:
		r->el = EL_U8;
		rc = open_vecs(r, err, errlen);
		break;
	case VT_FMT_IVECS:
		r->el = EL_I32;
		rc = open_vecs(r, err, errlen);
		break;
	case VT_FMT_FBIN:
		r->el = EL_F32;
		rc = open_bin(r, err, errlen);
		break;
	case VT_FMT_U8BIN:
		r->el = EL_U8;
		rc = open_bin(r, err, errlen);
		break;
	case VT_FMT_I8BIN:
		r->el = EL_I8;
		rc = open_bin(r, err, errlen);
		break;
	case VT_FMT_IDX:
		rc = open_idx(r, err, errlen);
		break;
	case VT_FMT_RAW:
		r->el = EL_F32;
		if (raw_dim == 0)
			rc = fmt_err(err, errlen, VT_EINVAL,
			             "raw input needs a dimension");
		else
			rc = check_dim(raw_dim, "raw dimension", err, errlen);
		r->dim = raw_dim;
		break;
	default:
		rc = fmt_err(err, errlen, VT_EINVAL,
		             "cannot read format '%s' as vectors here",
		             vt_format_name(fmt));
		break;
	}
	if (rc < 0) {
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static int get_scratch(vt_vecreader *r, size_t need, char *err, size_t errlen)
{
	if (r->scratch)
		return 0;
	size_t cap = need > FMT_SCRATCH ? need : FMT_SCRATCH;
	r->scratch = malloc(cap + ALIAS_PAGE);
	if (!r->scratch)
		return fmt_err(err, errlen, VT_ENOMEM, "out of memory");
	r->scratch_cap = cap;
	return 0;
}

/* The kernel's copy from the page cache to user memory (rep movsb) can run
 * several times slower when destination and source are a few bytes apart
 * modulo the page size (4K aliasing; measured 1.7 against 9 GB/s on an AMD
 * EPYC).  The source is the file offset, so a read is steered away from
 * that case: scratch reads land at a chosen place in the scratch block, and
 * large reads into a caller's buffer that would alias go through it. */
static int bad_alias(const void *dst, uint64_t off)
{
	unsigned d = (unsigned)(((uintptr_t)dst - (uintptr_t)off) &
	                        (ALIAS_PAGE - 1));
	return d != 0 && (d < 64 || d > ALIAS_PAGE - 64);
}

static unsigned char *scratch_base(vt_vecreader *r)
{
	uintptr_t k = (256u + (uintptr_t)r->rd->offset -
	               (uintptr_t)r->scratch) & (ALIAS_PAGE - 1);
	return r->scratch + k;
}

/* Read up to n bytes into dst, like vt_rd_read. */
static ssize_t read_into(vt_vecreader *r, void *dst, size_t n, char *err,
                         size_t errlen)
{
	if (n < (1u << 16) || !bad_alias(dst, r->rd->offset))
		return vt_rd_read(r->rd, dst, n);
	int rc = get_scratch(r, 0, err, errlen);
	if (rc < 0)
		return rc;
	size_t got = 0;
	while (got < n) {
		size_t m = n - got < r->scratch_cap ? n - got : r->scratch_cap;
		unsigned char *b = scratch_base(r);
		ssize_t g = vt_rd_read(r->rd, b, m);
		if (g < 0)
			return g;
		memcpy((unsigned char *)dst + got, b, (size_t)g);
		got += (size_t)g;
		if ((size_t)g < m)
			break;
	}
	return (ssize_t)got;
}

/* Check and compact n records of recsize bytes at src (record index first
 * from r->done) into dst, converting; src may equal (unsigned char *)dst
 * for 4-byte elements (forward compaction never overtakes the reader). */
static int vecs_unpack(vt_vecreader *r, unsigned char *src, float *dst,
                       size_t n, uint64_t off0, char *err, size_t errlen)
{
	size_t d = r->dim, es = el_size(r->el), recsize = 4 + d * es;
	for (size_t i = 0; i < n; i++) {
		unsigned char *rec = src + i * recsize;
		uint32_t rd = vt_le32(rec);
		if (rd != r->dim)
			return fmt_err(err, errlen, VT_EFORMAT,
			               "record %" PRIu64 " (byte offset %" PRIu64
			               "): dimension %" PRId32 ", expected %u",
			               r->done + i, off0 + i * recsize,
			               (int32_t)rd, r->dim);
		if (es == 4) {
			/* move first, convert in place */
			memmove(dst + i * d, rec + 4, d * 4);
			if (r->el != EL_F32 || !host_le())
				convert(r->el, 0, (unsigned char *)(dst + i * d),
				        dst + i * d, d);
		} else {
			convert(r->el, 0, rec + 4, dst + i * d, d);
		}
	}
	return 0;
}

static int64_t trunc_err(vt_vecreader *r, uint64_t row, size_t partial,
                         size_t rowbytes, char *err, size_t errlen)
{
	const char *unit = r->records ? "record" : "row";
	return fmt_err(err, errlen, VT_ETRUNC,
	               "%s %" PRIu64 " truncated: %zu of %zu bytes (input "
	               "ends at byte offset %" PRIu64 ")",
	               unit, row, partial, rowbytes, r->rd->offset);
}

static int64_t read_vecs(vt_vecreader *r, float *dst, size_t max_rows,
                         char *err, size_t errlen)
{
	size_t d = r->dim, es = el_size(r->el), recsize = 4 + d * es;
	size_t done = 0;
	/* 4-byte elements: read as many records as fit straight into dst
	 * (n (d+1) <= max_rows d) and compact them in place. */
	if (es == 4) {
		size_t n = max_rows / (d + 1) * d + max_rows % (d + 1) * d / (d + 1);
		if (n > 0) {
			uint64_t off0 = r->rd->offset;
			ssize_t got = read_into(r, dst, n * recsize, err, errlen);
			if (got < 0)
				return fmt_err(err, errlen, (int)got, "read error");
			size_t full = (size_t)got / recsize;
			int rc = vecs_unpack(r, (unsigned char *)dst, dst, full,
			                     off0, err, errlen);
			if (rc < 0)
				return rc;
			r->done += full;
			done = full;
			if ((size_t)got % recsize)
				return trunc_err(r, r->done, (size_t)got % recsize,
				                 recsize, err, errlen);
			if (full < n)
				return (int64_t)done;
		}
	}
	while (done < max_rows) {
		int rc = get_scratch(r, recsize, err, errlen);
		if (rc < 0)
			return rc;
		size_t n = r->scratch_cap / recsize;
		if (n > max_rows - done)
			n = max_rows - done;
		uint64_t off0 = r->rd->offset;
		unsigned char *b = scratch_base(r);
		ssize_t got = vt_rd_read(r->rd, b, n * recsize);
		if (got < 0)
			return fmt_err(err, errlen, (int)got, "read error");
		size_t full = (size_t)got / recsize;
		rc = vecs_unpack(r, b, dst + done * d, full, off0, err, errlen);
		if (rc < 0)
			return rc;
		r->done += full;
		done += full;
		if ((size_t)got % recsize)
			return trunc_err(r, r->done, (size_t)got % recsize, recsize,
			                 err, errlen);
		if (full < n)
			break;
	}
	return (int64_t)done;
}

/* Fixed-size rows (npy, *bin, idx, raw). */
static int64_t read_rows(vt_vecreader *r, float *dst, size_t max_rows,
                         char *err, size_t errlen)
{
	size_t d = r->dim, es = el_size(r->el), rowbytes = d * es;
	uint64_t want = max_rows;
	if (r->rows >= 0 && want > (uint64_t)r->rows - r->done)
		want = (uint64_t)r->rows - r->done;
	uint64_t got = 0;   /* bytes */
	uint64_t total = want * rowbytes;
	if (r->el == EL_F32) {
		ssize_t g = read_into(r, dst, (size_t)total, err, errlen);
		if (g < 0)
			return fmt_err(err, errlen, (int)g, "read error");
		got = (uint64_t)g;
		if (r->swap || !host_le())
			swap_bytes((unsigned char *)dst, got / 4, 4);
	} else {
		int rc = get_scratch(r, 0, err, errlen);
		if (rc < 0)
			return rc;
		/* whole elements per piece */
		size_t piece = r->scratch_cap / es * es;
		while (got < total) {
			size_t n = total - got < piece ? (size_t)(total - got) : piece;
			unsigned char *b = scratch_base(r);
			ssize_t g = vt_rd_read(r->rd, b, n);
			if (g < 0)
				return fmt_err(err, errlen, (int)g, "read error");
			size_t ne = (size_t)g / es;
			convert(r->el, r->swap, b, dst + got / es, ne);
			got += (uint64_t)g;
			if ((size_t)g < n)
				break;
		}
	}
	uint64_t rows = got / rowbytes;
	if (got < total) {
		uint64_t row = r->done + rows;
		if (r->rows >= 0)
			return fmt_err(err, errlen, VT_ETRUNC,
			               "input ends at row %" PRIu64 " of %" PRId64
			               " (byte offset %" PRIu64 ")", row, r->rows,
			               r->rd->offset);
		if (got % rowbytes)
			return trunc_err(r, row, (size_t)(got % rowbytes),
			                 rowbytes, err, errlen);
	}
	r->done += rows;
	return (int64_t)rows;
}

int64_t vt_vecreader_read(vt_vecreader *r, float *dst, size_t max_rows,
                          char *err, size_t errlen)
{
	if (max_rows == 0)
		return 0;
	/* keep every byte count well inside ssize_t */
	size_t rowmax = ((size_t)1 << 40) / ((size_t)r->dim * 8 + 4);
	if (max_rows > rowmax)
		max_rows = rowmax;
	if (r->rows >= 0 && r->done >= (uint64_t)r->rows) {
		if (r->ended)
			return 0;
		int e = vt_rd_at_eof(r->rd);
		if (e < 0)
			return fmt_err(err, errlen, e, "read error");
		if (!e)
			return fmt_err(err, errlen, VT_EFORMAT,
			               "trailing data after the %" PRId64 " rows "
			               "the header declares (byte offset %" PRIu64
			               ")", r->rows, r->rd->offset);
		r->ended = 1;
		return 0;
	}
	if (r->records)
		return read_vecs(r, dst, max_rows, err, errlen);
	return read_rows(r, dst, max_rows, err, errlen);
}

/* ------------------------------------------------------------------ */
/* writers */

#define WBUF_SIZE (1u << 20)
#define NPY_COUNT_WIDTH 20   /* digits reserved for an unknown row count */

struct vt_vecwriter {
	vt_format fmt;
	vt_out *o;
	uint32_t dim;
	uint32_t group;       /* npy: rows grouped as (rows / group, group, dim) */
	int64_t hint;
	uint64_t rows;
	uint64_t hdr_off;     /* where our header starts in o */
	size_t hdr_len;
	unsigned char *buf;   /* fvecs/text staging, or byte swapping */
	size_t buf_cap, buf_len;
};

/* The npy header for rows x dim '<f4', or (rows / group) x group x dim
 * when group > 1.  With fixed, the first extent takes NPY_COUNT_WIDTH
 * characters (padded with spaces) so that it can be rewritten in place.
 * Returns the length (a multiple of 64). */
static size_t npy_header(char *h, size_t cap, uint64_t rows, uint32_t group,
                         uint32_t dim, int fixed)
{
	char count[32], mid[16] = "";
	uint64_t first = group > 1 ? rows / group : rows;
	if (fixed)
		snprintf(count, sizeof count, "%-*" PRIu64, NPY_COUNT_WIDTH, first);
	else
		snprintf(count, sizeof count, "%" PRIu64, first);
	if (group > 1)
		snprintf(mid, sizeof mid, "%u, ", group);
	memcpy(h, "\x93NUMPY\x01\x00", 8);
	int n = snprintf(h + 10, cap - 10,
	                 "{'descr': '<f4', 'fortran_order': False, "
	                 "'shape': (%s, %s%u), }", count, mid, dim);
	size_t len = 10 + (size_t)n + 1;   /* + '\n' */
	size_t total = (len + 63) / 64 * 64;
	memset(h + 10 + n, ' ', total - 10 - (size_t)n - 1);
	h[total - 1] = '\n';
	vt_put16((unsigned char *)h + 8, (uint16_t)(total - 10));
	return total;
}

static int w_flush(vt_vecwriter *w, char *err, size_t errlen)
{
	if (!w->buf_len)
		return 0;
	int rc = vt_out_write(w->o, w->buf, w->buf_len);
	w->buf_len = 0;
	if (rc < 0)
		return fmt_err(err, errlen, rc, "write error");
	return 0;
}

static int w_header(vt_vecwriter *w, int final, char *err, size_t errlen)
{
	unsigned char h[256];
	size_t len;
	uint64_t rows = final ? w->rows : (w->hint >= 0 ? (uint64_t)w->hint : 0);
	if (w->fmt == VT_FMT_NPY) {
		len = npy_header((char *)h, sizeof h, rows, w->group, w->dim, w->hint < 0);
	} else {
		vt_put32(h, (uint32_t)rows);
		vt_put32(h + 4, w->dim);
		len = 8;
	}
	int rc;
	if (!final) {
		w->hdr_off = w->o->written;
		w->hdr_len = len;
		rc = vt_out_write(w->o, h, len);
	} else {
		if (len != w->hdr_len)
			return fmt_err(err, errlen, VT_EINVAL,
			               "header length changed");
		rc = vt_out_pwrite(w->o, h, len, w->hdr_off);
	}
	if (rc < 0)
		return fmt_err(err, errlen, rc, "%s",
		               rc == VT_EUNSUP ? "cannot patch the header: output "
		               "is not seekable" : "write error");
	return 0;
}

int vt_vecwriter_open(vt_vecwriter **out, vt_out *o, vt_format fmt,
                      uint32_t dim, int64_t rows_hint, char *err,
                      size_t errlen)
{
	return vt_vecwriter_open_grouped(out, o, fmt, 1, dim, rows_hint, err, errlen);
}

int vt_vecwriter_open_grouped(vt_vecwriter **out, vt_out *o, vt_format fmt,
                              uint32_t group, uint32_t dim, int64_t rows_hint,
                              char *err, size_t errlen)
{
	*out = NULL;
	if (group == 0 || (group > 1 && fmt != VT_FMT_NPY) ||
	    (group > 1 && rows_hint >= 0 && rows_hint % group))
		return fmt_err(err, errlen, VT_EINVAL,
		               "rows cannot be grouped by %u", (unsigned)group);
	if (err && errlen)
		err[0] = 0;
	if (fmt != VT_FMT_NPY && fmt != VT_FMT_FVECS && fmt != VT_FMT_FBIN &&
	    fmt != VT_FMT_RAW && fmt != VT_FMT_TEXT)
		return fmt_err(err, errlen, VT_EUNSUP,
		               "cannot write format '%s'", vt_format_name(fmt));
	if (dim == 0 || dim > VT_FMT_MAX_DIM)
		return fmt_err(err, errlen, VT_EINVAL,
		               "dimension %u out of range (1..%u)", dim,
		               (unsigned)VT_FMT_MAX_DIM);
	if (rows_hint < -1)
		rows_hint = -1;
	if ((fmt == VT_FMT_NPY || fmt == VT_FMT_FBIN) && rows_hint < 0 &&
	    !o->seekable)
		return fmt_err(err, errlen, VT_EUNSUP,
		               "%s output needs a known row count or a seekable "
		               "output; use -o FILE", vt_format_name(fmt));
	if (fmt == VT_FMT_FBIN && rows_hint > (int64_t)UINT32_MAX)
		return fmt_err(err, errlen, VT_ELIMIT,
		               "fbin holds at most %" PRIu32 " rows, not %" PRId64,
		               UINT32_MAX, rows_hint);
	vt_vecwriter *w = calloc(1, sizeof *w);
	if (!w)
		return fmt_err(err, errlen, VT_ENOMEM, "out of memory");
	w->fmt = fmt;
	w->o = o;
	w->group = group;
	w->dim = dim;
	w->hint = rows_hint;
	if (fmt == VT_FMT_FVECS || fmt == VT_FMT_TEXT || !host_le()) {
		size_t need = (size_t)dim * 4 + 4;
		if (fmt == VT_FMT_TEXT)
			need = (size_t)dim * 24 + 64;
		w->buf_cap = need > WBUF_SIZE ? need : WBUF_SIZE;
		w->buf = malloc(w->buf_cap);
		if (!w->buf) {
			free(w);
			return fmt_err(err, errlen, VT_ENOMEM, "out of memory");
		}
	}
	if (fmt == VT_FMT_NPY || fmt == VT_FMT_FBIN) {
		int rc = w_header(w, 0, err, errlen);
		if (rc < 0) {
			vt_vecwriter_free(w);
			return rc;
		}
	}
	*out = w;
	return 0;
}

/* Powers of ten 1e0 .. 1e53 (literals, so each is correctly rounded). */
static const double pow10_tab[] = {
	1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21,
	1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32,
	1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43,
	1e44, 1e45, 1e46, 1e47, 1e48, 1e49, 1e50, 1e51, 1e52, 1e53,
};

/* |v| scaled by 10^k (k in -53..53): within 1 ulp. */
static double scale10(double v, int k)
{
	return k >= 0 ? v * pow10_tab[k] : v / pow10_tab[-k];
}

/* Append "%.9g" of v at p (at most 16 bytes); returns the new end.
 *
 * The 9 significant digits come from |v| * 10^(8-E) in double, which is
 * within 2.5e-7 of the exact product (|v| < 1e9 after scaling, one or two
 * roundings); that is decisive unless the fraction is within 1e-6 of one
 * half (then, and for NaN/inf, snprintf decides).  The tests compare this
 * against snprintf on a million values. */
static char *put_g9(char *p, float v)
{
	if (v > -1e9f && v < 1e9f && v == (float)(int32_t)v &&
	    !(v == 0 && signbit(v))) {
		int32_t i = (int32_t)v;
		uint32_t u = i < 0 ? (uint32_t)0 - (uint32_t)i : (uint32_t)i;
		char tmp[12];
		int n = 0;
		do {
			tmp[n++] = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		if (i < 0)
			*p++ = '-';
		while (n)
			*p++ = tmp[--n];
		return p;
	}
	double a = fabs((double)v);
	if (!(a < HUGE_VAL) || a == 0)
		return p + snprintf(p, 24, "%.9g", (double)v);
	uint64_t bits;
	memcpy(&bits, &a, 8);
	int eb = (int)(bits >> 52) - 1023;   /* a in [2^eb, 2^(eb+1)) */
	int e10 = (int)floor(eb * 0.30102999566398120);
	double s = scale10(a, 8 - e10);
	if (s >= 999999999.5) {
		e10++;
		s = scale10(a, 8 - e10);
	}
	if (s < 99999999.5 || s >= 999999999.5)
		return p + snprintf(p, 24, "%.9g", (double)v);
	uint32_t dgt = (uint32_t)s;
	double frac = s - dgt;
	if (fabs(frac - 0.5) < 1e-6)
		return p + snprintf(p, 24, "%.9g", (double)v);
	if (frac > 0.5)
		dgt++;
	if (dgt >= 1000000000u) {
		dgt = 100000000u;
		e10++;
	}
	char dg[9];
	for (int k = 8; k >= 0; k--) {
		dg[k] = (char)('0' + dgt % 10);
		dgt /= 10;
	}
	int nd = 9;   /* significant digits after trimming trailing zeros */
	while (nd > 1 && dg[nd - 1] == '0')
		nd--;
	if (signbit(v))
		*p++ = '-';
	if (e10 >= -4 && e10 < 9) {
		if (e10 >= 0) {
			for (int k = 0; k <= e10; k++)
				*p++ = dg[k];
			if (nd > e10 + 1) {
				*p++ = '.';
				for (int k = e10 + 1; k < nd; k++)
					*p++ = dg[k];
			}
		} else {
			*p++ = '0';
			*p++ = '.';
			for (int k = -1; k > e10; k--)
				*p++ = '0';
			for (int k = 0; k < nd; k++)
				*p++ = dg[k];
		}
	} else {
		*p++ = dg[0];
		if (nd > 1) {
			*p++ = '.';
			for (int k = 1; k < nd; k++)
				*p++ = dg[k];
		}
		*p++ = 'e';
		*p++ = e10 < 0 ? '-' : '+';
		int x = e10 < 0 ? -e10 : e10;
		if (x >= 10) {
			*p++ = (char)('0' + x / 10);
			*p++ = (char)('0' + x % 10);
		} else {
			*p++ = '0';
			*p++ = (char)('0' + x);
		}
	}
	return p;
}

static int write_text(vt_vecwriter *w, const float *x, size_t rows, char *err,
                      size_t errlen)
{
	size_t d = w->dim;
	size_t rowmax = d * 24 + 2;
	for (size_t r = 0; r < rows; r++) {
		if (w->buf_cap - w->buf_len < rowmax) {
			int rc = w_flush(w, err, errlen);
			if (rc < 0)
				return rc;
		}
		char *p = (char *)w->buf + w->buf_len;
		const float *row = x + r * d;
		for (size_t j = 0; j < d; j++) {
			if (j)
				*p++ = ' ';
			p = put_g9(p, row[j]);
		}
		*p++ = '\n';
		w->buf_len = (size_t)(p - (char *)w->buf);
	}
	return 0;
}

static int write_fvecs(vt_vecwriter *w, const float *x, size_t rows,
                       char *err, size_t errlen)
{
	size_t d = w->dim, recsize = 4 + d * 4;
	for (size_t r = 0; r < rows; r++) {
		if (w->buf_cap - w->buf_len < recsize) {
			int rc = w_flush(w, err, errlen);
			if (rc < 0)
				return rc;
		}
		unsigned char *p = w->buf + w->buf_len;
		vt_put32(p, w->dim);
		memcpy(p + 4, x + r * d, d * 4);
		if (!host_le())
			swap_bytes(p + 4, d, 4);
		w->buf_len += recsize;
	}
	return 0;
}

static int write_plain(vt_vecwriter *w, const float *x, size_t rows,
                       char *err, size_t errlen)
{
	size_t bytes = rows * w->dim * 4;
	int rc;
	if (host_le()) {
		rc = vt_out_write(w->o, x, bytes);
		if (rc < 0)
			return fmt_err(err, errlen, rc, "write error");
		return 0;
	}
	const unsigned char *s = (const unsigned char *)x;
	while (bytes) {
		size_t n = bytes < w->buf_cap ? bytes : w->buf_cap / 4 * 4;
		memcpy(w->buf, s, n);
		swap_bytes(w->buf, n / 4, 4);
		rc = vt_out_write(w->o, w->buf, n);
		if (rc < 0)
			return fmt_err(err, errlen, rc, "write error");
		s += n;
		bytes -= n;
	}
	return 0;
}

int vt_vecwriter_write(vt_vecwriter *w, const float *x, size_t rows,
                       char *err, size_t errlen)
{
	if (rows == 0)
		return 0;
	if (w->hint >= 0 && rows > (uint64_t)w->hint - w->rows)
		return fmt_err(err, errlen, VT_EINVAL,
		               "more rows than the %" PRId64 " announced",
		               w->hint);
	if (w->fmt == VT_FMT_FBIN && w->rows + rows > UINT32_MAX)
		return fmt_err(err, errlen, VT_ELIMIT,
		               "fbin holds at most %" PRIu32 " rows", UINT32_MAX);
	int rc;
	switch (w->fmt) {
	case VT_FMT_TEXT:
		rc = write_text(w, x, rows, err, errlen);
		break;
	case VT_FMT_FVECS:
		rc = write_fvecs(w, x, rows, err, errlen);
		break;
	default:
		rc = write_plain(w, x, rows, err, errlen);
		break;
	}
	if (rc < 0)
		return rc;
	w->rows += rows;
	return 0;
}

int vt_vecwriter_finish(vt_vecwriter *w, char *err, size_t errlen)
{
	int rc = w_flush(w, err, errlen);
	if (rc < 0)
		return rc;
	if (w->group > 1 && w->rows % w->group)
		return fmt_err(err, errlen, VT_EINVAL,
		               "%" PRIu64 " rows are not groups of %u", w->rows,
		               (unsigned)w->group);
	if (w->hint >= 0) {
		if (w->rows != (uint64_t)w->hint)
			return fmt_err(err, errlen, VT_ETRUNC,
			               "wrote %" PRIu64 " rows of the %" PRId64
			               " announced", w->rows, w->hint);
		return 0;
	}
	if (w->fmt == VT_FMT_NPY || w->fmt == VT_FMT_FBIN)
		return w_header(w, 1, err, errlen);
	return 0;
}

void vt_vecwriter_free(vt_vecwriter *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w);
}
