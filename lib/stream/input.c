#define _POSIX_C_SOURCE 200809L
#include "stream/input.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "stream/fdio.h"
#include "stream/labels.h"

struct vt_input {
	const char *const *paths;
	size_t npaths, cur;
	vt_input_opts opts;
	vt_header h;           /* the input's header (first source's) */
	vt_rd rd;
	int rd_open;
	char *file;            /* the current path without its :NAME (HDF5), or NULL */
	vt_format fmt;
	vt_reader *rdr;        /* for a vtrain stream */
	vt_vecreader *vr;      /* for a foreign file */
	float *buf;            /* block buffer for a foreign file */
	size_t buf_rows;
	uint64_t rows;
	int done;
	vt_block pend;         /* rows of the last block not yet taken by vt_input_read */
	size_t pend_off;
	/* labels of order=partition: the order checked over every block */
	int by_part;
	vt_labels_shape lab;
	uint32_t last_part;
	uint64_t last_id;
};

static const char *const stdin_path[] = {"-"};

static const char *cur_name(const vt_input *in)
{
	const char *p = in->paths[in->cur];
	return strcmp(p, "-") == 0 ? "(stdin)" : p;
}

static void close_source(vt_input *in)
{
	vt_reader_free(in->rdr);
	vt_vecreader_free(in->vr);
	in->rdr = NULL;
	in->vr = NULL;
	if (in->rd_open)
		vt_rd_close(&in->rd);
	in->rd_open = 0;
	free(in->file);
	in->file = NULL;
}

/* Prefix err with the current path. */
static int fail(vt_input *in, int rc, const char *msg, char *err, size_t errlen)
{
	char tmp[512];
	snprintf(tmp, sizeof tmp, "%s", msg);
	snprintf(err, errlen, "%s: %s", cur_name(in), tmp);
	return rc;
}

/* open_source's answer for an empty file of a headerless format (fvecs,
 * bvecs, ivecs, raw): zero rows, and no dimension to check. */
#define EMPTY_SOURCE 1

static int headerless(vt_format f)
{
	return f == VT_FMT_FVECS || f == VT_FMT_BVECS || f == VT_FMT_IVECS || f == VT_FMT_RAW;
}

/* Open paths[cur]; check it against the input's header (when first == 0). */
static int open_source(vt_input *in, int first, char *err, size_t errlen)
{
	char msg[400] = "";
	const char *path = in->paths[in->cur], *dataset = NULL;
	/* FILE:NAME names a dataset of an HDF5 file */
	size_t flen = strcmp(path, "-") ? vt_hdf5_split(path) : 1;
	if (path[flen]) {
		in->file = strndup(path, flen);
		if (!in->file)
			return fail(in, VT_ENOMEM, vt_strerror(VT_ENOMEM), err, errlen);
		dataset = path + flen + 1;
		path = in->file;
	}
	int rc = vt_rd_open(&in->rd, path);
	if (rc < 0) {
		snprintf(msg, sizeof msg, "%s", rc == VT_EIO ? strerror(errno) : vt_strerror(rc));
		return fail(in, rc, msg, err, errlen);
	}
	in->rd_open = 1;
	vt_format fmt = in->opts.from;
	if (fmt == VT_FMT_AUTO) {
		const unsigned char *head;
		ssize_t n = vt_rd_peek(&in->rd, 16, &head);
		if (n < 0)
			return fail(in, (int)n, strerror(errno), err, errlen);
		if (n == 0) {
			/* An empty file of a headerless format (by extension) is a valid
			 * file of zero rows; anything else needs a header. */
			if (vt_format_detect(head, 0, strcmp(path, "-") ? path : NULL, &fmt) < 0 ||
			    !headerless(fmt))
				return fail(in, VT_ETRUNC, "empty input", err, errlen);
			return EMPTY_SOURCE;
		}
		rc = vt_format_detect(head, (size_t)n, strcmp(path, "-") ? path : NULL, &fmt);
		if (rc < 0)
			return fail(in, rc,
			            "unknown format (not a vtrain stream, .npy, HDF5 or idx file, and no "
			            "known extension; use --from)", err, errlen);
	} else if (headerless(fmt)) {
		int eof = vt_rd_at_eof(&in->rd);
		if (eof < 0)
			return fail(in, eof, strerror(errno), err, errlen);
		if (eof)
			return EMPTY_SOURCE;
	}
	in->fmt = fmt;
	if (dataset && fmt != VT_FMT_HDF5) {
		snprintf(msg, sizeof msg, "a :NAME suffix names a dataset of an HDF5 file, and %s is "
		         "%s", path, vt_format_name(fmt));
		return fail(in, VT_EINVAL, msg, err, errlen);
	}
	if (fmt == VT_FMT_HDF5) {
		if (strcmp(path, "-") == 0)
			return fail(in, VT_EUNSUP, "HDF5 is read from a named file (libhdf5 needs "
			            "random access), not from standard input", err, errlen);
		vt_rd_close(&in->rd);   /* libhdf5 opens the file itself */
		in->rd_open = 0;
	}
	vt_header h;
	if (fmt == VT_FMT_VT) {
		rc = vt_reader_open(&in->rdr, &in->rd, msg, sizeof msg);
		if (rc < 0)
			return fail(in, rc, msg, err, errlen);
		rc = vt_header_copy(&h, vt_reader_header(in->rdr));
		if (rc < 0)
			return fail(in, rc, vt_strerror(rc), err, errlen);
	} else {
		if (fmt == VT_FMT_RAW && in->opts.raw_dim == 0)
			return fail(in, VT_EINVAL, "raw float32 input needs --dim", err, errlen);
		if (fmt == VT_FMT_TEXT)
			return fail(in, VT_EUNSUP, "text is an output format only", err, errlen);
		if (fmt == VT_FMT_HDF5)
			rc = vt_vecreader_open_hdf5(&in->vr, path, dataset, msg, sizeof msg);
		else
			rc = vt_vecreader_open(&in->vr, &in->rd, fmt, in->opts.raw_dim, msg,
			                       sizeof msg);
		if (rc < 0)
			return fail(in, rc, msg, err, errlen);
		uint32_t dim = vt_vecreader_dim(in->vr);
		vt_header_init(&h, VT_KIND_VECTORS, VT_ELEM_F32, 0, dim);
		rc = vt_header_set(&h, "source", vt_format_name(fmt));
		if (rc < 0)
			return fail(in, rc, vt_strerror(rc), err, errlen);
		size_t want = in->opts.block_rows;
		if (!want) {
			want = VT_DEFAULT_FRAME_RAW / ((size_t)dim * 4);
			if (want < 1)
				want = 1;
		}
		if (want > in->buf_rows) {
			float *b = malloc(want * (size_t)dim * sizeof *b);
			if (!b) {
				vt_header_free(&h);
				return fail(in, VT_ENOMEM, vt_strerror(VT_ENOMEM), err, errlen);
			}
			free(in->buf);
			in->buf = b;
			in->buf_rows = want;
		}
	}
	if (first) {
		in->h = h;
		return 0;
	}
	char why[300];
	rc = vt_header_compatible(&in->h, &h, why, sizeof why);
	if (rc < 0) {
		snprintf(msg, sizeof msg, "%s (%s)", why,
		         strcmp(in->paths[0], "-") ? in->paths[0] : "(stdin)");
		vt_header_free(&h);
		return fail(in, rc, msg, err, errlen);
	}
	vt_header_free(&h);
	return 0;
}

int vt_input_open(vt_input **out, const char *const *paths, size_t npaths,
                  const vt_input_opts *opts, char *err, size_t errlen)
{
	*out = NULL;
	vt_input *in = calloc(1, sizeof *in);
	if (!in)
		return VT_ENOMEM;
	if (npaths == 0) {
		paths = stdin_path;
		npaths = 1;
	}
	in->paths = paths;
	in->npaths = npaths;
	if (opts)
		in->opts = *opts;
	int rc;
	while ((rc = open_source(in, 1, err, errlen)) == EMPTY_SOURCE) {
		close_source(in);
		if (in->cur + 1 == in->npaths) {
			/* Only empty headerless files: zero rows, of the --dim if given. */
			vt_header_init(&in->h, VT_KIND_VECTORS, VT_ELEM_F32, 0,
			               in->opts.raw_dim ? in->opts.raw_dim : 1);
			in->done = 1;
			break;
		}
		in->cur++;
	}
	if (rc < 0) {
		vt_input_free(in);
		return rc;
	}
	if (vt_labels_by_partition(&in->h)) {
		in->by_part = 1;
		vt_labels_shape_get(&in->h, &in->lab, err, errlen); /* checked by the reader */
	}
	*out = in;
	return 0;
}

const vt_header *vt_input_header(const vt_input *in)
{
	return &in->h;
}

/* Labels of order=partition: the rows of b follow the rows before them in
 * (partition, id) order, over all segments and files; else VT_EFORMAT.
 * Returns b's rows or the error. */
static long check_order(vt_input *in, const vt_block *b, char *err, size_t errlen)
{
	if (!in->by_part)
		return (long)b->rows;
	uint32_t p0 = in->last_part;
	uint64_t i0 = in->last_id;
	size_t i = vt_labels_first_unordered(&in->lab, b->rows, b->ids, b->data, b->first_row > 0,
	                                     &in->last_part, &in->last_id);
	if (i == b->rows)
		return (long)b->rows;
	if (i > 0)
		p0 = in->last_part, i0 = in->last_id;
	char msg[400];
	snprintf(msg, sizeof msg, "row %llu: partition %u, id %llu after partition %u, id %llu: "
	         "not in the (partition, id) order that its metadata order=partition says "
	         "(labels sorted apart do not concatenate in order: merge them with vmerge)",
	         (unsigned long long)(b->first_row + i),
	         (unsigned)vt_le32((const unsigned char *)b->data + i * in->lab.words * 4),
	         (unsigned long long)b->ids[i], (unsigned)p0, (unsigned long long)i0);
	return fail(in, VT_EFORMAT, msg, err, errlen);
}

/* Move to the next path after the current one ended.  Returns 1 if there is
 * one, 0 at the end of all, or an error. */
static int advance(vt_input *in, char *err, size_t errlen)
{
	close_source(in);
	if (in->cur + 1 >= in->npaths) {
		in->done = 1;
		return 0;
	}
	in->cur++;
	int rc = open_source(in, 0, err, errlen);
	if (rc == EMPTY_SOURCE)
		return advance(in, err, errlen);
	return rc < 0 ? rc : 1;
}

long vt_input_next(vt_input *in, vt_block *b, char *err, size_t errlen)
{
	char msg[400];
	while (!in->done) {
		long n;
		if (in->rdr) {
			n = vt_reader_next(in->rdr, b, msg, sizeof msg);
		} else {
			int64_t m = vt_vecreader_read(in->vr, in->buf, in->buf_rows, msg, sizeof msg);
			n = (long)m;
			if (m > 0) {
				b->rows = (size_t)m;
				b->ids = NULL;
				b->weight = b->loss = NULL;
				b->data = in->buf;
			}
		}
		if (n < 0)
			return fail(in, (int)n, msg, err, errlen);
		if (n > 0) {
			b->first_row = in->rows;
			in->rows += (uint64_t)n;
			return check_order(in, b, err, errlen);
		}
		int rc = advance(in, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

long vt_input_next_stored(vt_input *in, int *codec, const unsigned char **stored,
                          size_t *stored_len, size_t *raw_len, uint64_t *check,
                          char *err, size_t errlen)
{
	char msg[400];
	while (!in->done) {
		if (!in->rdr || in->by_part)
			return VT_EUNSUP;   /* sorted labels: their order is checked decoded */
		long n = vt_reader_next_stored(in->rdr, codec, stored, stored_len, raw_len, check,
		                               msg, sizeof msg);
		if (n < 0)
			return fail(in, (int)n, msg, err, errlen);
		if (n > 0) {
			in->rows += (uint64_t)n;
			return n;
		}
		int rc = advance(in, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

long vt_input_decode_stored(vt_input *in, vt_block *b, char *err, size_t errlen)
{
	char msg[400];
	if (!in->rdr)
		return VT_EINVAL;
	long n = vt_reader_decode_stored(in->rdr, b, msg, sizeof msg);
	if (n < 0)
		return fail(in, (int)n, msg, err, errlen);
	b->first_row = in->rows - (uint64_t)n;
	return check_order(in, b, err, errlen);
}

long vt_input_read(vt_input *in, size_t max, void *data, uint64_t *ids, double *weight,
                   double *loss, char *err, size_t errlen)
{
	size_t got = 0, es = vt_elem_size(in->h.elem), rb = (size_t)in->h.dim * es;
	while (got < max) {
		if (in->pend_off >= in->pend.rows) {
			long n = vt_input_next(in, &in->pend, err, errlen);
			if (n < 0)
				return n;
			in->pend_off = 0;
			if (n == 0) {
				in->pend.rows = 0;
				break;
			}
		}
		const vt_block *b = &in->pend;
		size_t o = in->pend_off, m = b->rows - o;
		if (m > max - got)
			m = max - got;
		memcpy((char *)data + got * rb, (const char *)b->data + o * rb, m * rb);
		for (size_t i = 0; i < m; i++) {
			if (ids)
				ids[got + i] = b->ids ? b->ids[o + i] : b->first_row + o + i;
			if (weight)
				weight[got + i] = b->weight ? b->weight[o + i] : 1.0;
			if (loss)
				loss[got + i] = b->loss ? b->loss[o + i] : 0.0;
		}
		in->pend_off += m;
		got += m;
	}
	return (long)got;
}

int64_t vt_input_rows_hint(const vt_input *in)
{
	if (in->npaths != 1 || !in->vr)
		return -1;
	return vt_vecreader_rows(in->vr);
}

int vt_input_count_rows(const vt_input *in, int64_t *rows, char *err, size_t errlen)
{
	*rows = vt_input_rows_hint(in);
	if (*rows >= 0 || in->npaths != 1 || in->fmt != VT_FMT_VT || strcmp(in->paths[0], "-") == 0)
		return 0;
	struct stat st;
	if (stat(in->paths[0], &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	uint64_t n;
	int rc = vt_stream_count_rows(in->paths[0], &n, err, errlen);
	if (rc < 0)
		return rc;
	*rows = n > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n;
	return 0;
}

const char *vt_input_path(const vt_input *in)
{
	return cur_name(in);
}

vt_format vt_input_format(const vt_input *in)
{
	return in->fmt;
}

uint64_t vt_input_rows(const vt_input *in)
{
	return in->rows;
}

void vt_input_free(vt_input *in)
{
	if (!in)
		return;
	close_source(in);
	vt_header_free(&in->h);
	free(in->buf);
	free(in);
}
