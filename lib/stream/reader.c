#define _POSIX_C_SOURCE 200809L
#include "stream/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "stream/codec.h"
#include "stream/labels.h"

static int check_pq_meta(const vt_header *h, char *err, size_t errlen);

struct vt_reader {
	vt_rd *rd;
	vt_header h;
	size_t row_bytes;
	unsigned char *stored, *raw, *tmp;
	size_t stored_cap, raw_cap, tmp_cap;
	uint64_t seg_frames, seg_rows, seg_chain;
	int64_t seg_announced;   /* the segment header's "rows", or -1 */
	uint64_t next_row;
	size_t last_rows, last_stored, last_raw;   /* frame read by next_stored */
	int last_codec;
	int done;
	vt_reader_stats st;
	vt_labels_shape lab;    /* labels streams: what the header promises */
};

static int read_err(int rc, char *err, size_t errlen, const char *what)
{
	if (rc == VT_ETRUNC)
		snprintf(err, errlen, "truncated stream (%s)", what);
	else if (rc == VT_EIO)
		snprintf(err, errlen, "read error (%s): %s", what, strerror(errno));
	else
		snprintf(err, errlen, "%s: %s", what, vt_strerror(rc));
	return rc;
}

int vt_header_read(vt_rd *rd, vt_header *h, char *err, size_t errlen)
{
	unsigned char fx[VT_HEADER_FIXED];
	memset(h, 0, sizeof *h);
	ssize_t got = vt_rd_read(rd, fx, sizeof fx);
	if (got < 0)
		return read_err((int)got, err, errlen, "header");
	if (got >= 4 && memcmp(fx, VT_MAGIC, 4) != 0) {
		snprintf(err, errlen, "not a vtrain stream (bad magic)");
		return VT_EMAGIC;
	}
	if ((size_t)got < sizeof fx) {
		snprintf(err, errlen, got == 0 ? "empty input (no stream header)"
		                               : "truncated stream (header)");
		return VT_ETRUNC;
	}
	uint32_t nmeta = vt_le32(fx + 16), mb = vt_le32(fx + 20);
	if (nmeta > VT_MAX_META_COUNT || mb > VT_MAX_META_BYTES) {
		snprintf(err, errlen, "header metadata too large (%u entries, %u bytes)", nmeta, mb);
		return VT_ELIMIT;
	}
	unsigned char *buf = malloc(VT_HEADER_FIXED + mb + 8);
	if (!buf)
		return VT_ENOMEM;
	memcpy(buf, fx, sizeof fx);
	int rc = vt_rd_read_exact(rd, buf + VT_HEADER_FIXED, mb + 8);
	if (rc < 0) {
		free(buf);
		return read_err(rc, err, errlen, "header");
	}
	if (vt_hash64(buf, VT_HEADER_FIXED + mb, 0) != vt_le64(buf + VT_HEADER_FIXED + mb)) {
		free(buf);
		snprintf(err, errlen, "header checksum mismatch");
		return VT_ECHECKSUM;
	}
	h->version = vt_le16(buf + 4);
	h->kind = vt_le16(buf + 6);
	h->elem = buf[8];
	h->cols = buf[9];
	h->dim = vt_le32(buf + 12);
	if (vt_le16(buf + 10) != 0) {
		free(buf);
		snprintf(err, errlen, "header: reserved bytes are not zero");
		return VT_EFORMAT;
	}
	rc = vt_header_validate(h, err, errlen);
	const unsigned char *p = buf + VT_HEADER_FIXED, *end = p + mb;
	for (uint32_t i = 0; rc == 0 && i < nmeta; i++) {
		size_t kn = end - p >= 3 ? p[0] : 0, vn = end - p >= 3 ? vt_le16(p + 1) : 0;
		if (kn < 1 || kn > VT_MAX_KEY || vn > VT_MAX_VALUE ||
		    (size_t)(end - p) < 3 + kn + vn) {
			snprintf(err, errlen, "header: malformed metadata entry %u", i + 1);
			rc = VT_EFORMAT;
			break;
		}
		char key[VT_MAX_KEY + 1], val[VT_MAX_VALUE + 1];
		memcpy(key, p + 3, kn);
		key[kn] = 0;
		memcpy(val, p + 3 + kn, vn);
		val[vn] = 0;
		if (vt_header_get(h, key)) {
			snprintf(err, errlen, "header: metadata key '%s' appears twice", key);
			rc = VT_EFORMAT;
			break;
		}
		if (strlen(key) == kn && strlen(val) == vn && !vt_utf8_valid(val, vn)) {
			snprintf(err, errlen, "header: metadata value of '%s' is not valid UTF-8", key);
			rc = VT_EFORMAT;
			break;
		}
		rc = strlen(key) == kn && strlen(val) == vn ? vt_header_set(h, key, val) : VT_EINVAL;
		if (rc == VT_EINVAL) {
			snprintf(err, errlen, "header: invalid metadata entry %u", i + 1);
			rc = VT_EFORMAT;
		}
		p += 3 + kn + vn;
	}
	if (rc == 0 && p != end) {
		snprintf(err, errlen, "header: metadata length does not match its entries");
		rc = VT_EFORMAT;
	}
	if (rc == 0 && h->kind == VT_KIND_PQ)
		rc = check_pq_meta(h, err, errlen);
	if (rc == 0 && vt_header_rows(h) == VT_EFORMAT) {
		snprintf(err, errlen, "header: metadata rows '%s' is not a row count",
		         vt_header_get(h, "rows"));
		rc = VT_EFORMAT;
	}
	if (rc == 0 && h->kind == VT_KIND_LABELS) {
		vt_labels_shape s;
		rc = vt_labels_shape_get(h, &s, err, errlen);
	}
	free(buf);
	if (rc < 0)
		vt_header_free(h);
	return rc;
}

int vt_reader_open(vt_reader **out, vt_rd *rd, char *err, size_t errlen)
{
	*out = NULL;
	if (errlen)
		err[0] = 0;
	vt_reader *r = calloc(1, sizeof *r);
	if (!r)
		return VT_ENOMEM;
	int rc = vt_header_read(rd, &r->h, err, errlen);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->rd = rd;
	r->row_bytes = vt_row_bytes(&r->h);
	if (r->h.kind == VT_KIND_LABELS)
		vt_labels_shape_get(&r->h, &r->lab, err, errlen); /* checked by vt_header_read */
	r->st.segments = 1;
	r->seg_announced = vt_header_rows(&r->h);
	*out = r;
	return 0;
}

const vt_header *vt_reader_header(const vt_reader *r)
{
	return &r->h;
}

const vt_reader_stats *vt_reader_stats_get(const vt_reader *r)
{
	return &r->st;
}

void vt_reader_free(vt_reader *r)
{
	if (!r)
		return;
	vt_header_free(&r->h);
	free(r->stored);
	free(r->raw);
	free(r->tmp);
	free(r);
}

static int grow(unsigned char **buf, size_t *cap, size_t need)
{
	if (*cap >= need)
		return 0;
	/* 64-byte alignment keeps every plane aligned for its element type. */
	void *p = NULL;
	if (posix_memalign(&p, 64, need ? need : 64) != 0)
		return VT_ENOMEM;
	free(*buf);
	*buf = p;
	*cap = need;
	return 0;
}

/* A metadata value as a whole decimal integer in [lo, hi]; -1 if absent or not. */
static long long meta_int(const vt_header *h, const char *key, long long lo, long long hi)
{
	const char *v = vt_header_get(h, key);
	if (!v || !*v)
		return -1;
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -1;
	return x;
}

/* What a PQ codebook's metadata promises about its shape: m sub-spaces of
 * dim d/m, 2^nbits rows each (1 <= nbits <= 16).  Checked when the header
 * is read; the row count m 2^nbits at the end marker. */
static int check_pq_meta(const vt_header *h, char *err, size_t errlen)
{
	long long m = meta_int(h, "m", 1, 1 << 20), nbits = meta_int(h, "nbits", 1, 16);
	long long d = meta_int(h, "d", 1, 1 << 20);
	if (m < 0 || nbits < 0 || d < 0) {
		snprintf(err, errlen, "PQ codebook: metadata m, nbits (1..16) and d must be integers, got "
		         "m=%s nbits=%s d=%s", vt_header_get(h, "m") ? vt_header_get(h, "m") : "(none)",
		         vt_header_get(h, "nbits") ? vt_header_get(h, "nbits") : "(none)",
		         vt_header_get(h, "d") ? vt_header_get(h, "d") : "(none)");
		return VT_EFORMAT;
	}
	if ((long long)h->dim * m != d) {
		snprintf(err, errlen, "PQ codebook: m=%lld sub-spaces of dim %u do not make d=%lld", m,
		         h->dim, d);
		return VT_EFORMAT;
	}
	return 0;
}

/* Handle an end marker (tag already read into m[0..4)). */
static int read_end(vt_reader *r, unsigned char m[VT_END_MARKER], char *err, size_t errlen)
{
	int rc = vt_rd_read_exact(r->rd, m + 4, VT_END_MARKER - 4);
	if (rc < 0)
		return read_err(rc, err, errlen, "end marker");
	if (vt_hash64(m, 32, 0) != vt_le64(m + 32)) {
		snprintf(err, errlen, "end marker checksum mismatch");
		return VT_ECHECKSUM;
	}
	uint64_t frames = vt_le64(m + 8), rows = vt_le64(m + 16), chain = vt_le64(m + 24);
	if (vt_le32(m + 4) != 0 || frames != r->seg_frames || rows != r->seg_rows) {
		snprintf(err, errlen,
		         "end marker says %llu frames and %llu rows, but %llu frames and %llu rows were read",
		         (unsigned long long)frames, (unsigned long long)rows,
		         (unsigned long long)r->seg_frames, (unsigned long long)r->seg_rows);
		return VT_EFORMAT;
	}
	if (chain != r->seg_chain) {
		snprintf(err, errlen, "end marker: frame chain checksum mismatch (frames lost or reordered)");
		return VT_ECHECKSUM;
	}
	if (r->seg_announced >= 0 && rows != (uint64_t)r->seg_announced) {
		snprintf(err, errlen, "end marker: %llu rows, but the header announced %lld "
		         "(metadata rows)", (unsigned long long)rows, (long long)r->seg_announced);
		return VT_EFORMAT;
	}
	if (r->h.kind == VT_KIND_PQ) {
		long long pm = meta_int(&r->h, "m", 1, 1 << 20), nb = meta_int(&r->h, "nbits", 1, 16);
		if (rows != (uint64_t)pm << nb) {
			snprintf(err, errlen, "PQ codebook: %llu rows, but m=%lld nbits=%lld make %llu",
			         (unsigned long long)rows, pm, nb, (unsigned long long)pm << nb);
			return VT_EFORMAT;
		}
	}
	return 0;
}

/* After an end marker: end of input, or the header of a concatenated stream. */
static int next_segment(vt_reader *r, char *err, size_t errlen)
{
	int eof = vt_rd_at_eof(r->rd);
	if (eof < 0)
		return read_err(eof, err, errlen, "after end marker");
	if (eof) {
		r->done = 1;
		return 0;
	}
	vt_header h2;
	int rc = vt_header_read(r->rd, &h2, err, errlen);
	if (rc < 0) {
		char tmp[256];
		snprintf(tmp, sizeof tmp, "%s", err);
		snprintf(err, errlen, "concatenated stream %llu: %s",
		         (unsigned long long)r->st.segments + 1, tmp);
		return rc;
	}
	char why[300];
	rc = vt_header_compatible(&r->h, &h2, why, sizeof why);
	if (rc < 0) {
		snprintf(err, errlen, "concatenated stream %llu %s",
		         (unsigned long long)r->st.segments + 1, why);
		vt_header_free(&h2);
		return rc;
	}
	r->seg_announced = vt_header_rows(&h2);
	vt_header_free(&h2);
	r->st.segments++;
	r->seg_frames = r->seg_rows = r->seg_chain = 0;
	return 1;
}

/* Read and verify the next frame's header and stored payload.  Returns rows
 * (> 0), 0 at the end, or an error. */
static long read_frame(vt_reader *r, int *codec, size_t *stored_len, size_t *raw_len,
                       uint64_t *check, char *err, size_t errlen)
{
	for (;;) {
		if (r->done)
			return 0;
		unsigned char fh[VT_END_MARKER];
		uint64_t fno = r->st.frames + 1;
		ssize_t got = vt_rd_read(r->rd, fh, 4);
		if (got < 0)
			return read_err((int)got, err, errlen, "frame header");
		if (got < 4) {
			snprintf(err, errlen, "frame %llu: truncated stream (no end marker)",
			         (unsigned long long)fno);
			return VT_ETRUNC;
		}
		if (memcmp(fh, VT_END_TAG, 4) == 0) {
			int rc = read_end(r, fh, err, errlen);
			if (rc < 0)
				return rc;
			rc = next_segment(r, err, errlen);
			if (rc < 0)
				return rc;
			continue;
		}
		if (memcmp(fh, VT_FRAME_TAG, 4) != 0) {
			snprintf(err, errlen, "frame %llu: bad frame tag", (unsigned long long)fno);
			return VT_EFORMAT;
		}
		int rc = vt_rd_read_exact(r->rd, fh + 4, VT_FRAME_HEADER - 4);
		if (rc < 0) {
			snprintf(err, errlen, "frame %llu: truncated stream (frame header)",
			         (unsigned long long)fno);
			return rc;
		}
		if ((uint32_t)vt_hash64(fh, 20, 0) != vt_le32(fh + 20)) {
			snprintf(err, errlen, "frame %llu: frame header checksum mismatch",
			         (unsigned long long)fno);
			return VT_ECHECKSUM;
		}
		size_t rows = vt_le32(fh + 8);
		*codec = fh[4];
		*raw_len = vt_le32(fh + 12);
		*stored_len = vt_le32(fh + 16);
		*check = vt_le64(fh + 24);
		if (fh[5] || fh[6] || fh[7] || *codec > VT_CODEC_LZ4_SHUFFLE) {
			snprintf(err, errlen, "frame %llu: unknown codec %d", (unsigned long long)fno, *codec);
			return VT_EFORMAT;
		}
		if (rows == 0 || *raw_len > VT_MAX_FRAME_RAW || *stored_len == 0 ||
		    (uint64_t)rows * r->row_bytes != *raw_len ||
		    *stored_len > vt_codec_bound(*raw_len) ||
		    (*codec == VT_CODEC_NONE && *stored_len != *raw_len)) {
			snprintf(err, errlen, "frame %llu: bad sizes (%zu rows, %zu raw bytes, %zu stored bytes)",
			         (unsigned long long)fno, rows, *raw_len, *stored_len);
			return VT_ELIMIT;
		}
		if (grow(&r->stored, &r->stored_cap, *stored_len) < 0)
			return VT_ENOMEM;
		rc = vt_rd_read_exact(r->rd, r->stored, *stored_len);
		if (rc < 0) {
			if (rc == VT_ETRUNC)
				snprintf(err, errlen, "frame %llu: truncated stream (payload)",
				         (unsigned long long)fno);
			else
				read_err(rc, err, errlen, "frame payload");
			return rc;
		}
		if (vt_hash64(r->stored, *stored_len, 0) != *check) {
			snprintf(err, errlen, "frame %llu: checksum mismatch", (unsigned long long)fno);
			return VT_ECHECKSUM;
		}
		unsigned char ck[8];
		vt_put64(ck, *check);
		r->seg_chain = vt_hash64(ck, 8, r->seg_chain);
		r->seg_frames++;
		r->seg_rows += rows;
		if (r->seg_announced >= 0 && r->seg_rows > (uint64_t)r->seg_announced) {
			snprintf(err, errlen, "frame %llu: more rows than the %lld the header announced "
			         "(metadata rows)", (unsigned long long)fno, (long long)r->seg_announced);
			return VT_EFORMAT;
		}
		r->st.frames++;
		r->st.rows += rows;
		r->st.stored_bytes += *stored_len;
		r->st.raw_bytes += *raw_len;
		r->st.codec_frames[*codec]++;
		return (long)rows;
	}
}

long vt_reader_next_stored(vt_reader *r, int *codec, const unsigned char **stored,
                           size_t *stored_len, size_t *raw_len, uint64_t *check,
                           char *err, size_t errlen)
{
	long rows = read_frame(r, codec, stored_len, raw_len, check, err, errlen);
	if (rows > 0) {
		*stored = r->stored;
		r->last_rows = (size_t)rows;
		r->last_codec = *codec;
		r->last_stored = *stored_len;
		r->last_raw = *raw_len;
	}
	return rows;
}

/* The values a kind promises (docs/FORMAT.md, "Values"): weights (counts)
 * and losses finite and >= 0 wherever those columns are; the rows of
 * centroids, PQ codebooks and accumulators' sums finite; labels as
 * vt_labels_first_bad says (partitions, distances, codes).  Vectors may hold
 * NaN (each program drops or refuses such rows), SQ partial forms are
 * checked where they are parsed.  Row numbers count from 0 over the stream. */
static int check_values(const vt_reader *r, const vt_block *b, char *err, size_t errlen)
{
	const char *bad = NULL, *col = NULL;
	size_t row = 0;
	double v = 0;
	for (size_t i = 0; i < b->rows && !bad; i++) {
		if (b->weight && !(isfinite(b->weight[i]) && b->weight[i] >= 0))
			bad = "weight", col = r->h.kind == VT_KIND_ACCUM ? "count" : "weight",
			row = i, v = b->weight[i];
		else if (b->loss && !(isfinite(b->loss[i]) && b->loss[i] >= 0))
			bad = "loss", col = "loss", row = i, v = b->loss[i];
	}
	if (bad) {
		snprintf(err, errlen, "frame %llu: row %llu: %s %g is %s",
		         (unsigned long long)r->st.frames, (unsigned long long)(b->first_row + row),
		         col, v, isfinite(v) ? "negative" : "not finite");
		return VT_EDATA;
	}
	int kind = r->h.kind;
	if (kind == VT_KIND_LABELS) {
		char why[200];
		size_t i = vt_labels_first_bad(&r->lab, b->data, b->rows, why, sizeof why);
		if (i < b->rows) {
			snprintf(err, errlen, "frame %llu: row %llu: %s", (unsigned long long)r->st.frames,
			         (unsigned long long)(b->first_row + i), why);
			return VT_EDATA;
		}
		return 0;
	}
	if (kind != VT_KIND_CENTROIDS && kind != VT_KIND_PQ && kind != VT_KIND_ACCUM)
		return 0;
	size_t n = b->rows * r->h.dim;
	for (size_t i = 0; i < n; i++) {
		double x = r->h.elem == VT_ELEM_F64 ? ((const double *)b->data)[i]
		                                    : ((const float *)b->data)[i];
		if (!isfinite(x)) {
			snprintf(err, errlen, "frame %llu: row %llu: %s %g is not finite",
			         (unsigned long long)r->st.frames,
			         (unsigned long long)(b->first_row + i / r->h.dim),
			         kind == VT_KIND_ACCUM ? "a sum" : "a value", x);
			return VT_EDATA;
		}
	}
	return 0;
}

long vt_reader_decode_stored(vt_reader *r, vt_block *b, char *err, size_t errlen)
{
	size_t rows = r->last_rows;
	if (!rows)
		return VT_EINVAL;
	const unsigned char *raw = r->stored;
	if (r->last_codec != VT_CODEC_NONE) {
		if (grow(&r->raw, &r->raw_cap, r->last_raw) < 0 ||
		    (r->last_codec == VT_CODEC_LZ4_SHUFFLE && grow(&r->tmp, &r->tmp_cap, r->last_raw) < 0))
			return VT_ENOMEM;
		int rc = vt_codec_decode(r->last_codec, &r->h, rows, r->stored, r->last_stored,
		                         r->raw, r->last_raw, r->tmp);
		if (rc < 0) {
			snprintf(err, errlen, "frame %llu: corrupt %s payload",
			         (unsigned long long)r->st.frames, vt_codec_name(r->last_codec));
			return rc;
		}
		raw = r->raw;
	}
	size_t off[4], cnt[4], sz[4];
	int np = vt_frame_planes(&r->h, rows, off, cnt, sz);
	int p = 0;
	b->rows = rows;
	b->first_row = r->next_row;
	b->ids = (r->h.cols & VT_COL_IDS) ? (const uint64_t *)(raw + off[p++]) : NULL;
	b->weight = (r->h.cols & VT_COL_WEIGHT) ? (const double *)(raw + off[p++]) : NULL;
	b->loss = (r->h.cols & VT_COL_LOSS) ? (const double *)(raw + off[p++]) : NULL;
	b->data = raw + off[np - 1];
	r->next_row += rows;
	r->last_rows = 0;
	int rc = check_values(r, b, err, errlen);
	return rc < 0 ? rc : (long)rows;
}

long vt_reader_next(vt_reader *r, vt_block *b, char *err, size_t errlen)
{
	int codec;
	const unsigned char *stored;
	size_t stored_len, raw_len;
	uint64_t check;
	long rows = vt_reader_next_stored(r, &codec, &stored, &stored_len, &raw_len, &check,
	                                  err, errlen);
	if (rows <= 0)
		return rows;
	return vt_reader_decode_stored(r, b, err, errlen);
}

/* The next n bytes at *off of fd into buf; VT_ETRUNC if the file ends. */
static int pread_at(int fd, void *buf, size_t n, uint64_t *off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(*off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return VT_EIO;
		if (r == 0)
			return VT_ETRUNC;
		got += (size_t)r;
	}
	*off += n;
	return 0;
}

/* The error of a damaged file, as the reader words it: read it all (its
 * payloads too) until the reader stops.  Returns that error with "PATH: "
 * before the reader's message, or 0 with the rows if it reads whole. */
static int read_for_error(const char *path, uint64_t *rows, char *err, size_t errlen)
{
	char msg[512] = "";
	vt_rd rd;
	vt_reader *r = NULL;
	int rc = vt_rd_open(&rd, path);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	long got = vt_reader_open(&r, &rd, msg, sizeof msg);
	uint64_t n = 0;
	while (got >= 0) {
		int codec;
		const unsigned char *st;
		size_t sl, rl;
		uint64_t ck;
		got = vt_reader_next_stored(r, &codec, &st, &sl, &rl, &ck, msg, sizeof msg);
		if (got <= 0)
			break;
		n += (uint64_t)got;
	}
	vt_reader_free(r);
	vt_rd_close(&rd);
	if (got < 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		return (int)got;
	}
	*rows = n;
	return 0;
}

int vt_stream_count_rows(const char *path, uint64_t *rows, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VT_EIO;
	}
	uint64_t off = 0, total = 0;
	unsigned char b[VT_END_MARKER], *meta = NULL;
	int rc = 0;
	for (;;) {
		/* a segment: its header, then frames up to the end marker */
		if ((rc = pread_at(fd, b, VT_HEADER_FIXED, &off)) < 0)
			break;
		uint32_t mbytes = vt_le32(b + 20);
		if (memcmp(b, VT_MAGIC, 4) != 0 || mbytes > VT_MAX_META_BYTES) {
			rc = VT_EFORMAT;
			break;
		}
		unsigned char *m = realloc(meta, VT_HEADER_FIXED + mbytes + 8);
		if (!m) {
			rc = VT_ENOMEM;
			break;
		}
		meta = m;
		memcpy(meta, b, VT_HEADER_FIXED);
		if ((rc = pread_at(fd, meta + VT_HEADER_FIXED, mbytes + 8, &off)) < 0)
			break;
		if (vt_hash64(meta, VT_HEADER_FIXED + mbytes, 0) != vt_le64(meta + VT_HEADER_FIXED + mbytes)) {
			rc = VT_ECHECKSUM;
			break;
		}
		uint64_t sframes = 0, srows = 0;
		for (;;) {
			if ((rc = pread_at(fd, b, 4, &off)) < 0)
				break;
			if (memcmp(b, VT_END_TAG, 4) == 0) {
				if ((rc = pread_at(fd, b + 4, VT_END_MARKER - 4, &off)) < 0)
					break;
				if (vt_hash64(b, 32, 0) != vt_le64(b + 32))
					rc = VT_ECHECKSUM;
				else if (vt_le64(b + 8) != sframes || vt_le64(b + 16) != srows)
					rc = VT_EFORMAT;
				break;
			}
			if (memcmp(b, VT_FRAME_TAG, 4) != 0) {
				rc = VT_EFORMAT;
				break;
			}
			if ((rc = pread_at(fd, b + 4, VT_FRAME_HEADER - 4, &off)) < 0)
				break;
			if ((uint32_t)vt_hash64(b, 20, 0) != vt_le32(b + 20)) {
				rc = VT_ECHECKSUM;
				break;
			}
			uint32_t r = vt_le32(b + 8), stored = vt_le32(b + 16);
			if (r == 0 || stored == 0 || stored > vt_codec_bound(VT_MAX_FRAME_RAW)) {
				rc = VT_ELIMIT;
				break;
			}
			off += stored;
			sframes++;
			srows += r;
		}
		if (rc < 0)
			break;
		total += srows;
		/* another segment follows, or the file ends here */
		ssize_t got;
		while ((got = pread(fd, b, 1, (off_t)off)) < 0 && errno == EINTR)
			;
		if (got < 0) {
			rc = VT_EIO;
			break;
		}
		if (got == 0)
			break;
	}
	close(fd);
	free(meta);
	if (rc < 0)   /* say what is wrong as the reader does */
		return read_for_error(path, rows, err, errlen);
	*rows = total;
	return rc;
}
