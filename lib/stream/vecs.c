/* vtrain: the vector-file formats of the ANN benchmarks and MNIST (see
 * formats_priv.h):
 *   .fvecs .bvecs .ivecs   records of an int32 dimension then the values;
 *                          every record's dimension is checked
 *   .fbin .u8bin .i8bin    u32 rows, u32 dim, then the rows
 *   idx                    magic 00 00 08 0N, N big-endian extents, bytes
 * The fixed-size row bodies of bin and idx are read by formats.c.
 * An empty .fvecs/.bvecs/.ivecs input is VT_ETRUNC: with no record there is
 * no dimension.  Record numbers in messages count from 0.
 */
#define _POSIX_C_SOURCE 200809L
#include "stream/formats_priv.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "error.h"

static uint32_t be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

int vt_bin_open(vt_vecreader *r, char *err, size_t errlen)
{
	unsigned char b[8];
	int rc = vt_fmt_read_header(r->rd, b, 8, vt_format_name(r->fmt), err,
	                            errlen);
	if (rc < 0)
		return rc;
	uint32_t n = vt_le32(b), d = vt_le32(b + 4);
	rc = vt_fmt_check_dim(d, "dimension", err, errlen);
	if (rc < 0)
		return rc;
	rc = vt_fmt_check_total(n, d, vt_el_size(r->el), err, errlen);
	if (rc < 0)
		return rc;
	r->dim = d;
	r->rows = n;
	return 0;
}

int vt_idx_open(vt_vecreader *r, char *err, size_t errlen)
{
	unsigned char b[4 + 4 * 4];
	int rc = vt_fmt_read_header(r->rd, b, 4, "idx", err, errlen);
	if (rc < 0)
		return rc;
	if (b[0] != 0 || b[1] != 0)
		return vt_fmt_err(err, errlen, VT_EMAGIC,
		                  "not an idx file (bad magic %02x %02x %02x %02x)",
		                  b[0], b[1], b[2], b[3]);
	if (b[2] != 0x08)
		return vt_fmt_err(err, errlen, VT_EUNSUP,
		                  "idx type code 0x%02x is not supported (only 0x08, "
		                  "unsigned byte)", b[2]);
	unsigned nd = b[3];
	if (nd < 1 || nd > 4)
		return vt_fmt_err(err, errlen, VT_EFORMAT,
		                  "idx: %u dimensions (1..4 expected)", nd);
	rc = vt_fmt_read_header(r->rd, b + 4, 4 * nd, "idx", err, errlen);
	if (rc < 0)
		return rc;
	uint64_t n = be32(b + 4), dim = 1;
	for (unsigned i = 1; i < nd; i++) {
		uint64_t e = be32(b + 4 + 4 * i);
		dim *= e;
		if (e == 0 || dim > VT_FMT_MAX_DIM)
			return vt_fmt_check_dim(e == 0 ? 0 : dim, "idx row size", err,
			                        errlen);
	}
	r->el = VT_EL_U8;
	r->dim = (uint32_t)dim;
	r->rows = (int64_t)n;
	return 0;
}

int vt_vecs_open(vt_vecreader *r, char *err, size_t errlen)
{
	const unsigned char *p;
	ssize_t got = vt_rd_peek(r->rd, 4, &p);
	if (got < 0)
		return vt_fmt_err(err, errlen, (int)got, "read error");
	if (got == 0)
		return vt_fmt_err(err, errlen, VT_ETRUNC,
		                  "empty %s input: no record, so no dimension",
		                  vt_format_name(r->fmt));
	if (got < 4)
		return vt_fmt_err(err, errlen, VT_ETRUNC,
		                  "record 0: truncated dimension (%zd of 4 bytes)",
		                  got);
	uint32_t d = vt_le32(p);
	if (d == 0 || d > VT_FMT_MAX_DIM)
		return vt_fmt_err(err, errlen, VT_ELIMIT,
		                  "record 0: dimension %" PRId32 " out of range "
		                  "(1..%u)", (int32_t)d, (unsigned)VT_FMT_MAX_DIM);
	r->dim = d;
	r->records = 1;
	r->rows = -1;
	return 0;
}

/* Check and compact n records of recsize bytes at src (record index first
 * from r->done) into dst, converting; src may equal (unsigned char *)dst
 * for 4-byte elements (forward compaction never overtakes the reader). */
static int vecs_unpack(vt_vecreader *r, unsigned char *src, float *dst,
                       size_t n, uint64_t off0, char *err, size_t errlen)
{
	size_t d = r->dim, es = vt_el_size(r->el), recsize = 4 + d * es;
	for (size_t i = 0; i < n; i++) {
		unsigned char *rec = src + i * recsize;
		uint32_t rd = vt_le32(rec);
		if (rd != r->dim)
			return vt_fmt_err(err, errlen, VT_EFORMAT,
			                  "record %" PRIu64 " (byte offset %" PRIu64
			                  "): dimension %" PRId32 ", expected %u",
			                  r->done + i, off0 + i * recsize,
			                  (int32_t)rd, r->dim);
		if (es == 4) {
			/* move first, convert in place */
			memmove(dst + i * d, rec + 4, d * 4);
			if (r->el != VT_EL_F32 || !vt_host_le())
				vt_el_convert(r->el, 0, (unsigned char *)(dst + i * d),
				              dst + i * d, d);
		} else {
			vt_el_convert(r->el, 0, rec + 4, dst + i * d, d);
		}
	}
	return 0;
}

int64_t vt_vecs_read(vt_vecreader *r, float *dst, size_t max_rows, char *err,
                     size_t errlen)
{
	size_t d = r->dim, es = vt_el_size(r->el), recsize = 4 + d * es;
	size_t done = 0;
	/* 4-byte elements: read as many records as fit straight into dst
	 * (n (d+1) <= max_rows d) and compact them in place. */
	if (es == 4) {
		size_t n = max_rows / (d + 1) * d + max_rows % (d + 1) * d / (d + 1);
		if (n > 0) {
			uint64_t off0 = r->rd->offset;
			ssize_t got = vt_fmt_read_into(r, dst, n * recsize, err, errlen);
			if (got < 0)
				return vt_fmt_err(err, errlen, (int)got, "read error");
			size_t full = (size_t)got / recsize;
			int rc = vecs_unpack(r, (unsigned char *)dst, dst, full,
			                     off0, err, errlen);
			if (rc < 0)
				return rc;
			r->done += full;
			done = full;
			if ((size_t)got % recsize)
				return vt_fmt_trunc_err(r, r->done, (size_t)got % recsize,
				                        recsize, err, errlen);
			if (full < n)
				return (int64_t)done;
		}
	}
	while (done < max_rows) {
		int rc = vt_fmt_get_scratch(r, recsize, err, errlen);
		if (rc < 0)
			return rc;
		size_t n = r->scratch_cap / recsize;
		if (n > max_rows - done)
			n = max_rows - done;
		uint64_t off0 = r->rd->offset;
		unsigned char *b = vt_fmt_scratch_base(r);
		ssize_t got = vt_rd_read(r->rd, b, n * recsize);
		if (got < 0)
			return vt_fmt_err(err, errlen, (int)got, "read error");
		size_t full = (size_t)got / recsize;
		rc = vecs_unpack(r, b, dst + done * d, full, off0, err, errlen);
		if (rc < 0)
			return rc;
		r->done += full;
		done += full;
		if ((size_t)got % recsize)
			return vt_fmt_trunc_err(r, r->done, (size_t)got % recsize, recsize,
			                        err, errlen);
		if (full < n)
			break;
	}
	return (int64_t)done;
}

int vt_fvecs_write(vt_vecwriter *w, const float *x, size_t rows, char *err, size_t errlen)
{
	size_t d = w->dim, recsize = 4 + d * 4;
	for (size_t r = 0; r < rows; r++) {
		if (w->buf_cap - w->buf_len < recsize) {
			int rc = vt_fmt_flush(w, err, errlen);
			if (rc < 0)
				return rc;
		}
		unsigned char *p = w->buf + w->buf_len;
		vt_put32(p, w->dim);
		memcpy(p + 4, x + r * d, d * 4);
		if (!vt_host_le())
			vt_el_swap(p + 4, d, 4);
		w->buf_len += recsize;
	}
	return 0;
}
