/* Fuzz the LZ4 frame path (codecs lz4 and lz4-shuffle).  The fuzz bytes
 * are wrapped as the stored payload of one frame of a valid stream, with
 * right checksums, so that every input reaches the decoder and the
 * unshuffle instead of stopping at a checksum:
 *
 *   byte 0     bits 0-2: shape (kind, element type, columns; see shapes[]),
 *              bit 3: codec lz4 (0) or lz4-shuffle (1)
 *   bytes 1-2  dim - 1, little-endian, mod 1024
 *   bytes 3-4  rows - 1, little-endian, mod 4096 (fewer if the frame would
 *              pass 1 MiB)
 *   bytes 5-   the stored payload (cut at LZ4_compressBound(raw length))
 *
 * The stream is read through vt_input, as the tools read it.  The payload
 * is also decoded directly into buffers of exactly the raw length, and
 * what decodes is encoded again and decoded again: the round trip must
 * give the same bytes. */
#include "fuzz.h"

#include "stream/codec.h"

static const struct {
	int kind, elem, cols;
} shapes[8] = {
	{VT_KIND_VECTORS, VT_ELEM_F32, 0},
	{VT_KIND_VECTORS, VT_ELEM_F32, VT_COL_IDS},
	{VT_KIND_POINTS, VT_ELEM_F32, VT_COL_WEIGHT | VT_COL_LOSS},
	{VT_KIND_POINTS, VT_ELEM_F32, VT_COL_ALL},
	{VT_KIND_CENTROIDS, VT_ELEM_F32, VT_COL_WEIGHT | VT_COL_LOSS},
	{VT_KIND_PQ, VT_ELEM_F32, 0},
	{VT_KIND_SQ, VT_ELEM_F64, 0},
	{VT_KIND_ACCUM, VT_ELEM_F64, VT_COL_WEIGHT | VT_COL_LOSS},
};

static volatile unsigned char sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	int s = data[0] & 7, codec = data[0] & 8 ? VT_CODEC_LZ4_SHUFFLE : VT_CODEC_LZ4;
	vt_header h;
	vt_header_init(&h, shapes[s].kind, shapes[s].elem, shapes[s].cols,
	               vt_le16(data + 1) % 1024 + 1);
	size_t rb = vt_row_bytes(&h), rows = vt_le16(data + 3) % 4096 + 1;
	if (rows * rb > (1u << 20))
		rows = (1u << 20) / rb ? (1u << 20) / rb : 1;
	size_t raw_len = rows * rb, stored = size - 5;
	if (stored > vt_codec_bound(raw_len))
		stored = vt_codec_bound(raw_len);
	const uint8_t *payload = data + 5;

	unsigned char *hdr = NULL;
	size_t hl = 0;
	if (vt_header_encode(&h, &hdr, &hl) < 0)
		abort();
	size_t n = hl + VT_FRAME_HEADER + stored + VT_END_MARKER;
	uint8_t *st = malloc(n);
	memcpy(st, hdr, hl);
	free(hdr);
	uint8_t *fh = st + hl;
	memset(fh, 0, VT_FRAME_HEADER);
	memcpy(fh, VT_FRAME_TAG, 4);
	fh[4] = (uint8_t)codec;
	vt_put32(fh + 8, (uint32_t)rows);
	vt_put32(fh + 12, (uint32_t)raw_len);
	vt_put32(fh + 16, (uint32_t)stored);
	vt_put32(fh + 20, (uint32_t)vt_hash64(fh, 20, 0));
	uint64_t ck = vt_hash64(payload, stored, 0);
	vt_put64(fh + 24, ck);
	memcpy(fh + VT_FRAME_HEADER, payload, stored);
	uint8_t *m = fh + VT_FRAME_HEADER + stored, c8[8];
	memset(m, 0, VT_END_MARKER);
	memcpy(m, VT_END_TAG, 4);
	vt_put64(m + 8, 1);
	vt_put64(m + 16, rows);
	vt_put64(c8, ck);
	vt_put64(m + 24, vt_hash64(c8, 8, 0));
	vt_put64(m + 32, vt_hash64(m, 32, 0));

	/* Through the reader, as the tools read it. */
	const char *paths[] = {fz_file(st, n)};
	char err[1024];
	vt_input_opts o = {.from = VT_FMT_VT};
	vt_input *in = NULL;
	if (vt_input_open(&in, paths, 1, &o, err, sizeof err) == 0) {
		vt_block b;
		while (vt_input_next(in, &b, err, sizeof err) > 0) {
			sink ^= ((const unsigned char *)b.data)[0];
			sink ^= ((const unsigned char *)b.data)[b.rows * h.dim * vt_elem_size(h.elem) - 1];
		}
		vt_input_free(in);
	}
	free(st);

	/* Directly, into exact-size buffers, and the round trip. */
	unsigned char *raw = malloc(raw_len), *tmp = malloc(raw_len);
	if (vt_codec_decode(codec, &h, rows, payload, stored, raw, raw_len, tmp) == 0) {
		unsigned char *enc = malloc(vt_codec_bound(raw_len)), *back = malloc(raw_len);
		int used;
		long el = vt_codec_encode(codec, &h, rows, raw, raw_len, enc, tmp, &used);
		if (el <= 0 || vt_codec_decode(used, &h, rows, enc, (size_t)el, back, raw_len, tmp) != 0 ||
		    memcmp(raw, back, raw_len) != 0) {
			fprintf(stderr, "fuzz_lz4: the round trip does not give the same bytes\n");
			abort();
		}
		free(enc);
		free(back);
	}
	free(raw);
	free(tmp);
	vt_header_free(&h);
	return 0;
}
