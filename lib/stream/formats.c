/* vtrain: foreign vector file formats (see formats.h): names, detection,
 * and the reader and writer objects over the format modules (npy.c,
 * vecs.c, elem.c, numfmt.c; formats_priv.h says who does what).
 *
 * Decisions that the header leaves open (npy's own are in npy.c):
 *   - Data after the last row that a header declares (npy, fbin, idx) is
 *     VT_EFORMAT: a file is exactly one array.
 *   - Record and row numbers in messages count from 0.
 *   - vt_format_detect trusts the strong magic numbers (vtrain, npy) first,
 *     then a known extension, then the weak idx magic (4 bytes that a .fbin
 *     with a row count of 0x0N080000 could also start with).
 *   - Writers: text is "%.9g" (exactly as printf, also checked by the
 *     tests) separated by single spaces, one row per line.  A given
 *     rows_hint is a promise for every writer: more rows is VT_EINVAL in
 *     vt_vecwriter_write, fewer is VT_ETRUNC in vt_vecwriter_finish.
 */
#define _POSIX_C_SOURCE 200809L
#include "stream/formats_priv.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

                                          
int vt_fmt_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
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
	{VT_FMT_RAW, "raw"},     {VT_FMT_TEXT, "text"},   {VT_FMT_HDF5, "hdf5"},
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
		{".hdf5", VT_FMT_HDF5},   {".h5", VT_FMT_HDF5},
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
	if (head && n >= 8 && memcmp(head, "\x89HDF\r\n\x1a\n", 8) == 0) {
		*out = VT_FMT_HDF5;
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
/* the reader */

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
	vt_h5_close(r->h5);
	free(r->scratch);
	free(r);
}

int vt_fmt_check_dim(uint64_t d, const char *what, char *err, size_t errlen)
{
	if (d == 0 || d > VT_FMT_MAX_DIM)
		return vt_fmt_err(err, errlen, VT_ELIMIT,
		                  "%s %" PRIu64 " out of range (1..%u)", what, d,
		                  (unsigned)VT_FMT_MAX_DIM);
	return 0;
}

/* rows x dim x es must fit in a signed 64-bit byte count. */
int vt_fmt_check_total(uint64_t rows, uint32_t dim, size_t es, char *err,
                       size_t errlen)
{
	if (rows > (uint64_t)INT64_MAX / ((uint64_t)dim * es))
		return vt_fmt_err(err, errlen, VT_ELIMIT,
		                  "%" PRIu64 " rows of dimension %u is too large",
		                  rows, dim);
	return 0;
}

int vt_fmt_read_header(vt_rd *rd, void *dst, size_t n, const char *what,
                       char *err, size_t errlen)
{
	ssize_t got = vt_rd_read(rd, dst, n);
	if (got < 0)
		return vt_fmt_err(err, errlen, (int)got, "read error in %s header",
		                  what);
	if ((size_t)got < n)
		return vt_fmt_err(err, errlen, VT_ETRUNC,
		                  "%s header truncated (%zd of %zu bytes)", what, got,
		                  n);
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
		return vt_fmt_err(err, errlen, VT_ENOMEM, "out of memory");
	r->fmt = fmt;
	r->rd = rd;
	r->rows = -1;
	int rc;
	switch (fmt) {
	case VT_FMT_NPY:
		rc = vt_npy_open(r, err, errlen);
		break;
	case VT_FMT_FVECS:
		r->el = VT_EL_F32;
		rc = vt_vecs_open(r, err, errlen);
		break;
	case VT_FMT_BVECS:
		r->el = VT_EL_U8;
		rc = vt_vecs_open(r, err, errlen);
		break;
	case VT_FMT_IVECS:
		r->el = VT_EL_I32;
		rc = vt_vecs_open(r, err, errlen);
		break;
	case VT_FMT_FBIN:
		r->el = VT_EL_F32;
		rc = vt_bin_open(r, err, errlen);
		break;
	case VT_FMT_U8BIN:
		r->el = VT_EL_U8;
		rc = vt_bin_open(r, err, errlen);
		break;
	case VT_FMT_I8BIN:
		r->el = VT_EL_I8;
		rc = vt_bin_open(r, err, errlen);
		break;
	case VT_FMT_IDX:
		rc = vt_idx_open(r, err, errlen);
		break;
	case VT_FMT_RAW:
		r->el = VT_EL_F32;
		if (raw_dim == 0)
			rc = vt_fmt_err(err, errlen, VT_EINVAL,
			                "raw input needs a dimension");
		else
			rc = vt_fmt_check_dim(raw_dim, "raw dimension", err, errlen);
		r->dim = raw_dim;
		break;
	default:
		rc = vt_fmt_err(err, errlen, VT_EINVAL,
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

int vt_fmt_get_scratch(vt_vecreader *r, size_t need, char *err, size_t errlen)
{
	if (r->scratch)
		return 0;
	size_t cap = need > VT_FMT_SCRATCH ? need : VT_FMT_SCRATCH;
	r->scratch = malloc(cap + VT_FMT_ALIAS_PAGE);
	if (!r->scratch)
		return vt_fmt_err(err, errlen, VT_ENOMEM, "out of memory");
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
	                        (VT_FMT_ALIAS_PAGE - 1));
	return d != 0 && (d < 64 || d > VT_FMT_ALIAS_PAGE - 64);
}

unsigned char *vt_fmt_scratch_base(vt_vecreader *r)
{
	uintptr_t k = (256u + (uintptr_t)r->rd->offset -
	               (uintptr_t)r->scratch) & (VT_FMT_ALIAS_PAGE - 1);
	return r->scratch + k;
}

/* Read up to n bytes into dst, like vt_rd_read. */
ssize_t vt_fmt_read_into(vt_vecreader *r, void *dst, size_t n, char *err,
                         size_t errlen)
{
	if (n < (1u << 16) || !bad_alias(dst, r->rd->offset))
		return vt_rd_read(r->rd, dst, n);
	int rc = vt_fmt_get_scratch(r, 0, err, errlen);
	if (rc < 0)
		return rc;
	size_t got = 0;
	while (got < n) {
		size_t m = n - got < r->scratch_cap ? n - got : r->scratch_cap;
		unsigned char *b = vt_fmt_scratch_base(r);
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

int64_t vt_fmt_trunc_err(vt_vecreader *r, uint64_t row, size_t partial,
                         size_t rowbytes, char *err, size_t errlen)
{
	const char *unit = r->records ? "record" : "row";
	return vt_fmt_err(err, errlen, VT_ETRUNC,
	                  "%s %" PRIu64 " truncated: %zu of %zu bytes (input "
	                  "ends at byte offset %" PRIu64 ")",
	                  unit, row, partial, rowbytes, r->rd->offset);
}

/* Fixed-size rows (npy, *bin, idx, raw). */
static int64_t read_rows(vt_vecreader *r, float *dst, size_t max_rows,
                         char *err, size_t errlen)
{
	size_t d = r->dim, es = vt_el_size(r->el), rowbytes = d * es;
	uint64_t want = max_rows;
	if (r->rows >= 0 && want > (uint64_t)r->rows - r->done)
		want = (uint64_t)r->rows - r->done;
	uint64_t got = 0;   /* bytes */
	uint64_t total = want * rowbytes;
	if (r->el == VT_EL_F32) {
		ssize_t g = vt_fmt_read_into(r, dst, (size_t)total, err, errlen);
		if (g < 0)
			return vt_fmt_err(err, errlen, (int)g, "read error");
		got = (uint64_t)g;
		if (r->swap || !vt_host_le())
			vt_el_swap((unsigned char *)dst, got / 4, 4);
	} else {
		int rc = vt_fmt_get_scratch(r, 0, err, errlen);
		if (rc < 0)
			return rc;
		/* whole elements per piece */
		size_t piece = r->scratch_cap / es * es;
		while (got < total) {
			size_t n = total - got < piece ? (size_t)(total - got) : piece;
			unsigned char *b = vt_fmt_scratch_base(r);
			ssize_t g = vt_rd_read(r->rd, b, n);
			if (g < 0)
				return vt_fmt_err(err, errlen, (int)g, "read error");
			size_t ne = (size_t)g / es;
			vt_el_convert(r->el, r->swap, b, dst + got / es, ne);
			got += (uint64_t)g;
			if ((size_t)g < n)
				break;
		}
	}
	uint64_t rows = got / rowbytes;
	if (got < total) {
		uint64_t row = r->done + rows;
		if (r->rows >= 0)
			return vt_fmt_err(err, errlen, VT_ETRUNC,
			                  "input ends at row %" PRIu64 " of %" PRId64
			                  " (byte offset %" PRIu64 ")", row, r->rows,
			                  r->rd->offset);
		if (got % rowbytes)
			return vt_fmt_trunc_err(r, row, (size_t)(got % rowbytes),
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
	if (r->h5)
		return vt_h5_read(r, dst, max_rows, err, errlen);
	if (r->rows >= 0 && r->done >= (uint64_t)r->rows) {
		if (r->ended)
			return 0;
		int e = vt_rd_at_eof(r->rd);
		if (e < 0)
			return vt_fmt_err(err, errlen, e, "read error");
		if (!e)
			return vt_fmt_err(err, errlen, VT_EFORMAT,
			                  "trailing data after the %" PRId64 " rows "
			                  "the header declares (byte offset %" PRIu64
			                  ")", r->rows, r->rd->offset);
		r->ended = 1;
		return 0;
	}
	if (r->records)
		return vt_vecs_read(r, dst, max_rows, err, errlen);
	return read_rows(r, dst, max_rows, err, errlen);
}

/* ------------------------------------------------------------------ */
/* the writer */

int vt_fmt_flush(vt_vecwriter *w, char *err, size_t errlen)
{
	if (!w->buf_len)
		return 0;
	int rc = vt_out_write(w->o, w->buf, w->buf_len);
	w->buf_len = 0;
	if (rc < 0)
		return vt_fmt_err(err, errlen, rc, "write error");
	return 0;
}

static int w_header(vt_vecwriter *w, int final, char *err, size_t errlen)
{
	unsigned char h[256];
	size_t len;
	uint64_t rows = final ? w->rows : (w->hint >= 0 ? (uint64_t)w->hint : 0);
	if (w->fmt == VT_FMT_NPY) {
		len = vt_npy_header((char *)h, sizeof h, rows, w->group, w->dim, w->hint < 0);
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
			return vt_fmt_err(err, errlen, VT_EINVAL,
			                  "header length changed");
		rc = vt_out_pwrite(w->o, h, len, w->hdr_off);
	}
	if (rc < 0)
		return vt_fmt_err(err, errlen, rc, "%s",
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
		return vt_fmt_err(err, errlen, VT_EINVAL,
		                  "rows cannot be grouped by %u", (unsigned)group);
	if (err && errlen)
		err[0] = 0;
	if (fmt != VT_FMT_NPY && fmt != VT_FMT_FVECS && fmt != VT_FMT_FBIN &&
	    fmt != VT_FMT_RAW && fmt != VT_FMT_TEXT)
		return vt_fmt_err(err, errlen, VT_EUNSUP,
		                  "cannot write format '%s'", vt_format_name(fmt));
	if (dim == 0 || dim > VT_FMT_MAX_DIM)
		return vt_fmt_err(err, errlen, VT_EINVAL,
		                  "dimension %u out of range (1..%u)", dim,
		                  (unsigned)VT_FMT_MAX_DIM);
	if (rows_hint < -1)
		rows_hint = -1;
	if (fmt == VT_FMT_FBIN && rows_hint > (int64_t)UINT32_MAX)
		return vt_fmt_err(err, errlen, VT_ELIMIT,
		                  "fbin holds at most %" PRIu32 " rows, not %" PRId64,
		                  UINT32_MAX, rows_hint);
	vt_vecwriter *w = calloc(1, sizeof *w);
	if (!w)
		return vt_fmt_err(err, errlen, VT_ENOMEM, "out of memory");
	w->fmt = fmt;
	w->o = o;
	w->group = group;
	w->dim = dim;
	w->hint = rows_hint;
	if (fmt == VT_FMT_FVECS || fmt == VT_FMT_TEXT || !vt_host_le()) {
		size_t need = (size_t)dim * 4 + 4;
		if (fmt == VT_FMT_TEXT)
			need = (size_t)dim * 24 + 64;
		w->buf_cap = need > VT_FMT_WBUF ? need : VT_FMT_WBUF;
		w->buf = malloc(w->buf_cap);
		if (!w->buf) {
			free(w);
			return vt_fmt_err(err, errlen, VT_ENOMEM, "out of memory");
		}
	}
	w->held = (fmt == VT_FMT_NPY || fmt == VT_FMT_FBIN) && rows_hint < 0 && !o->seekable;
	if ((fmt == VT_FMT_NPY || fmt == VT_FMT_FBIN) && !w->held) {
		int rc = w_header(w, 0, err, errlen);
		if (rc < 0) {
			vt_vecwriter_free(w);
			return rc;
		}
	}
	*out = w;
	return 0;
}

static int write_text(vt_vecwriter *w, const float *x, size_t rows, char *err,
                      size_t errlen)
{
	size_t d = w->dim;
	size_t rowmax = d * 24 + 2;
	for (size_t r = 0; r < rows; r++) {
		if (w->buf_cap - w->buf_len < rowmax) {
			int rc = vt_fmt_flush(w, err, errlen);
			if (rc < 0)
				return rc;
		}
		char *p = vt_fmt_g9_row((char *)w->buf + w->buf_len, x + r * d, d);
		*p++ = '\n';
		w->buf_len = (size_t)(p - (char *)w->buf);
	}
	return 0;
}

/* Append bytes (little-endian already) to the held data. */
static int hold(vt_vecwriter *w, const void *p, size_t n, char *err, size_t errlen)
{
	if (n > VT_FMT_PIPE_MAX - w->mem_len)
		return vt_fmt_err(err, errlen, VT_ELIMIT,
		                  "%s of an unknown row count to a pipe is held in memory "
		                  "up to %zu MiB, and this one is larger; write it to a file "
		                  "(-o FILE.%s)", vt_format_name(w->fmt), VT_FMT_PIPE_MAX >> 20,
		                  vt_format_name(w->fmt));
	if (w->mem_len + n > w->mem_cap) {
		size_t cap = w->mem_cap ? w->mem_cap : VT_FMT_WBUF;
		while (cap < w->mem_len + n)
			cap *= 2;
		if (cap > VT_FMT_PIPE_MAX)
			cap = VT_FMT_PIPE_MAX;
		unsigned char *m = realloc(w->mem, cap);
		if (!m)
			return vt_fmt_err(err, errlen, VT_ENOMEM, "out of memory");
		w->mem = m, w->mem_cap = cap;
	}
	memcpy(w->mem + w->mem_len, p, n);
	w->mem_len += n;
	return 0;
}

static int write_plain(vt_vecwriter *w, const float *x, size_t rows,
                       char *err, size_t errlen)
{
	size_t bytes = rows * w->dim * 4;
	int rc;
	if (w->held) {
		size_t at = w->mem_len;
		if ((rc = hold(w, x, bytes, err, errlen)) < 0)
			return rc;
		if (!vt_host_le())
			vt_el_swap(w->mem + at, bytes / 4, 4);
		return 0;
	}
	if (vt_host_le()) {
		rc = vt_out_write(w->o, x, bytes);
		if (rc < 0)
			return vt_fmt_err(err, errlen, rc, "write error");
		return 0;
	}
	const unsigned char *s = (const unsigned char *)x;
	while (bytes) {
		size_t n = bytes < w->buf_cap ? bytes : w->buf_cap / 4 * 4;
		memcpy(w->buf, s, n);
		vt_el_swap(w->buf, n / 4, 4);
		rc = vt_out_write(w->o, w->buf, n);
		if (rc < 0)
			return vt_fmt_err(err, errlen, rc, "write error");
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
		return vt_fmt_err(err, errlen, VT_EINVAL,
		                  "more rows than the %" PRId64 " announced",
		                  w->hint);
	if (w->fmt == VT_FMT_FBIN && w->rows + rows > UINT32_MAX)
		return vt_fmt_err(err, errlen, VT_ELIMIT,
		                  "fbin holds at most %" PRIu32 " rows", UINT32_MAX);
	int rc;
	switch (w->fmt) {
	case VT_FMT_TEXT:
		rc = write_text(w, x, rows, err, errlen);
		break;
	case VT_FMT_FVECS:
		rc = vt_fvecs_write(w, x, rows, err, errlen);
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
	int rc = vt_fmt_flush(w, err, errlen);
	if (rc < 0)
		return rc;
	if (w->group > 1 && w->rows % w->group)
		return vt_fmt_err(err, errlen, VT_EINVAL,
		                  "%" PRIu64 " rows are not groups of %u", w->rows,
		                  (unsigned)w->group);
	if (w->hint >= 0) {
		if (w->rows != (uint64_t)w->hint)
			return vt_fmt_err(err, errlen, VT_ETRUNC,
			                  "wrote %" PRIu64 " rows of the %" PRId64
			                  " announced", w->rows, w->hint);
		return 0;
	}
	if (w->held) {
		/* the count is known now: the header, then the data held */
		w->hint = (int64_t)w->rows;
		if ((rc = w_header(w, 0, err, errlen)) < 0)
			return rc;
		if (w->mem_len && (rc = vt_out_write(w->o, w->mem, w->mem_len)) < 0)
			return vt_fmt_err(err, errlen, rc, "write error");
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
	free(w->mem);
	free(w);
}
