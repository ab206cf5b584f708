#define _POSIX_C_SOURCE 200809L
#include "stream/writer.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "stream/codec.h"
#include "stream/fdio.h"

struct vt_writer {
	vt_out *o;
	vt_header h;
	int codec;
	size_t row_bytes, cap_rows, fill;
	size_t off[4], cnt[4], sz[4];   /* planes at capacity */
	int nplanes;
	unsigned char *raw, *enc, *tmp;
	uint64_t frames, rows, chain;
};

int vt_writer_open(vt_writer **out, vt_out *o, const vt_header *h, int codec,
                   size_t frame_bytes)
{
	char err[256];
	*out = NULL;
	if (vt_header_validate(h, err, sizeof err) < 0 || codec < 0 ||
	    codec > VT_CODEC_LZ4_SHUFFLE)
		return VT_EINVAL;
	vt_writer *w = calloc(1, sizeof *w);
	if (!w)
		return VT_ENOMEM;
	int rc = vt_header_copy(&w->h, h);
	if (rc < 0) {
		free(w);
		return rc;
	}
	w->o = o;
	w->codec = codec;
	w->row_bytes = vt_row_bytes(h);
	if (!frame_bytes)
		frame_bytes = VT_DEFAULT_FRAME_RAW;
	if (frame_bytes > VT_MAX_FRAME_RAW)
		frame_bytes = VT_MAX_FRAME_RAW;
	w->cap_rows = frame_bytes / w->row_bytes;
	if (w->cap_rows < 1)
		w->cap_rows = 1;
	size_t raw_cap = w->cap_rows * w->row_bytes;
	w->nplanes = vt_frame_planes(h, w->cap_rows, w->off, w->cnt, w->sz);
	w->raw = aligned_alloc(64, (raw_cap + 63) & ~(size_t)63);
	if (codec != VT_CODEC_NONE) {
		w->enc = malloc(vt_codec_bound(raw_cap));
		w->tmp = malloc(raw_cap);
	}
	if (!w->raw || (codec != VT_CODEC_NONE && (!w->enc || !w->tmp))) {
		vt_writer_free(w);
		return VT_ENOMEM;
	}
	unsigned char *hb;
	size_t hl;
	rc = vt_header_encode(h, &hb, &hl);
	if (rc == 0) {
		rc = vt_out_write(o, hb, hl);
		free(hb);
	}
	if (rc < 0) {
		vt_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

static int emit(vt_writer *w, int codec, size_t rows, const unsigned char *stored,
                size_t stored_len, size_t raw_len, uint64_t check)
{
	unsigned char fh[VT_FRAME_HEADER] = {0};
	memcpy(fh, VT_FRAME_TAG, 4);
	fh[4] = (unsigned char)codec;
	vt_put32(fh + 8, (uint32_t)rows);
	vt_put32(fh + 12, (uint32_t)raw_len);
	vt_put32(fh + 16, (uint32_t)stored_len);
	vt_put32(fh + 20, (uint32_t)vt_hash64(fh, 20, 0));
	vt_put64(fh + 24, check);
	int rc = vt_out_write(w->o, fh, sizeof fh);
	if (rc == 0)
		rc = vt_out_write(w->o, stored, stored_len);
	if (rc < 0)
		return rc;
	unsigned char ck[8];
	vt_put64(ck, check);
	w->chain = vt_hash64(ck, 8, w->chain);
	w->frames++;
	w->rows += rows;
	return 0;
}

static int flush(vt_writer *w)
{
	size_t rows = w->fill;
	if (rows == 0)
		return 0;
	if (rows < w->cap_rows) {
		/* Compact the planes to the layout of a `rows`-row frame. */
		size_t off[4], cnt[4], sz[4];
		int np = vt_frame_planes(&w->h, rows, off, cnt, sz);
		for (int i = 1; i < np; i++)
			memmove(w->raw + off[i], w->raw + w->off[i], cnt[i] * sz[i]);
	}
	size_t raw_len = rows * w->row_bytes;
	const unsigned char *stored = w->raw;
	size_t stored_len = raw_len;
	int used = VT_CODEC_NONE;
	if (w->codec != VT_CODEC_NONE) {
		long n = vt_codec_encode(w->codec, &w->h, rows, w->raw, raw_len, w->enc,
		                         w->tmp, &used);
		if (n < 0)
			return (int)n;
		stored = w->enc;
		stored_len = (size_t)n;
	}
	w->fill = 0;
	return emit(w, used, rows, stored, stored_len, raw_len, vt_hash64(stored, stored_len, 0));
}

int vt_writer_put(vt_writer *w, size_t rows, const uint64_t *ids,
                  const double *weight, const double *loss, const void *data)
{
	if (!!ids != !!(w->h.cols & VT_COL_IDS) || !!weight != !!(w->h.cols & VT_COL_WEIGHT) ||
	    !!loss != !!(w->h.cols & VT_COL_LOSS) || (rows && !data))
		return VT_EINVAL;
	size_t vb = (size_t)w->h.dim * vt_elem_size(w->h.elem);
	while (rows > 0) {
		size_t n = w->cap_rows - w->fill;
		if (n > rows)
			n = rows;
		int p = 0;
		if (ids)
			memcpy(w->raw + w->off[p++] + w->fill * 8, ids, n * 8), ids += n;
		if (weight)
			memcpy(w->raw + w->off[p++] + w->fill * 8, weight, n * 8), weight += n;
		if (loss)
			memcpy(w->raw + w->off[p++] + w->fill * 8, loss, n * 8), loss += n;
		memcpy(w->raw + w->off[p] + w->fill * vb, data, n * vb);
		data = (const char *)data + n * vb;
		w->fill += n;
		rows -= n;
		if (w->fill == w->cap_rows) {
			int rc = flush(w);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int vt_writer_put_frame(vt_writer *w, int codec, size_t rows, const unsigned char *stored,
                        size_t stored_len, size_t raw_len, uint64_t check)
{
	int rc = flush(w);
	if (rc < 0)
		return rc;
	if (raw_len != rows * w->row_bytes)
		return VT_EINVAL;
	return emit(w, codec, rows, stored, stored_len, raw_len, check);
}

int vt_writer_finish(vt_writer *w)
{
	int rc = flush(w);
	if (rc < 0)
		return rc;
	/* a header that announces its rows must be right, or no end marker */
	int64_t announced = vt_header_rows(&w->h);
	if (announced >= 0 && (uint64_t)announced != w->rows)
		return VT_EFORMAT;
	unsigned char m[VT_END_MARKER] = {0};
	memcpy(m, VT_END_TAG, 4);
	vt_put64(m + 8, w->frames);
	vt_put64(m + 16, w->rows);
	vt_put64(m + 24, w->chain);
	vt_put64(m + 32, vt_hash64(m, 32, 0));
	return vt_out_write(w->o, m, sizeof m);
}

uint64_t vt_writer_rows(const vt_writer *w)
{
	return w->rows + w->fill;
}

void vt_writer_free(vt_writer *w)
{
	if (!w)
		return;
	vt_header_free(&w->h);
	free(w->raw);
	free(w->enc);
	free(w->tmp);
	free(w);
}
