#include "stream/codec.h"

#include <lz4.h>
#include <string.h>

#include "error.h"

int vt_frame_planes(const vt_header *h, size_t rows, size_t off[4],
                    size_t count[4], size_t size[4])
{
	int n = 0;
	size_t o = 0;
	static const int flags[3] = {VT_COL_IDS, VT_COL_WEIGHT, VT_COL_LOSS};
	for (int i = 0; i < 3; i++) {
		if (h->cols & flags[i]) {
			off[n] = o, count[n] = rows, size[n] = 8;
			o += rows * 8;
			n++;
		}
	}
	off[n] = o;
	count[n] = rows * h->dim;
	size[n] = vt_elem_size(h->elem);
	return n + 1;
}

void vt_shuffle(const unsigned char *src, unsigned char *dst, size_t n, size_t size)
{
	if (size == 4) {
		unsigned char *d0 = dst, *d1 = dst + n, *d2 = dst + 2 * n, *d3 = dst + 3 * n;
		for (size_t i = 0; i < n; i++) {
			d0[i] = src[4 * i];
			d1[i] = src[4 * i + 1];
			d2[i] = src[4 * i + 2];
			d3[i] = src[4 * i + 3];
		}
		return;
	}
	for (size_t b = 0; b < size; b++) {
		unsigned char *d = dst + b * n;
		for (size_t i = 0; i < n; i++)
			d[i] = src[i * size + b];
	}
}

void vt_unshuffle(const unsigned char *src, unsigned char *dst, size_t n, size_t size)
{
	if (size == 4) {
		const unsigned char *s0 = src, *s1 = src + n, *s2 = src + 2 * n, *s3 = src + 3 * n;
		for (size_t i = 0; i < n; i++) {
			dst[4 * i] = s0[i];
			dst[4 * i + 1] = s1[i];
			dst[4 * i + 2] = s2[i];
			dst[4 * i + 3] = s3[i];
		}
		return;
	}
	for (size_t b = 0; b < size; b++) {
		const unsigned char *s = src + b * n;
		for (size_t i = 0; i < n; i++)
			dst[i * size + b] = s[i];
	}
}

size_t vt_codec_bound(size_t raw_len)
{
	return (size_t)LZ4_compressBound((int)raw_len);
}

long vt_codec_encode(int codec, const vt_header *h, size_t rows,
                     const unsigned char *raw, size_t raw_len,
                     unsigned char *dst, unsigned char *tmp, int *codec_used)
{
	const unsigned char *src = raw;
	if (codec == VT_CODEC_LZ4_SHUFFLE) {
		size_t off[4], cnt[4], sz[4];
		int np = vt_frame_planes(h, rows, off, cnt, sz);
		for (int i = 0; i < np; i++)
			vt_shuffle(raw + off[i], tmp + off[i], cnt[i], sz[i]);
		src = tmp;
	}
	if (codec == VT_CODEC_LZ4 || codec == VT_CODEC_LZ4_SHUFFLE) {
		int c = LZ4_compress_default((const char *)src, (char *)dst, (int)raw_len,
		                             (int)vt_codec_bound(raw_len));
		if (c > 0 && (size_t)c < raw_len) {
			*codec_used = codec;
			return c;
		}
	} else if (codec != VT_CODEC_NONE) {
		return VT_EINVAL;
	}
	*codec_used = VT_CODEC_NONE;
	memcpy(dst, raw, raw_len);
	return (long)raw_len;
}

int vt_codec_decode(int codec, const vt_header *h, size_t rows,
                    const unsigned char *src, size_t stored_len,
                    unsigned char *raw, size_t raw_len, unsigned char *tmp)
{
	switch (codec) {
	case VT_CODEC_NONE:
		if (stored_len != raw_len)
			return VT_EFORMAT;
		memcpy(raw, src, raw_len);
		return 0;
	case VT_CODEC_LZ4:
	case VT_CODEC_LZ4_SHUFFLE: {
		unsigned char *out = codec == VT_CODEC_LZ4 ? raw : tmp;
		int d = LZ4_decompress_safe((const char *)src, (char *)out, (int)stored_len,
		                            (int)raw_len);
		if (d < 0 || (size_t)d != raw_len)
			return VT_EFORMAT;
		if (codec == VT_CODEC_LZ4_SHUFFLE) {
			size_t off[4], cnt[4], sz[4];
			int np = vt_frame_planes(h, rows, off, cnt, sz);
			for (int i = 0; i < np; i++)
				vt_unshuffle(tmp + off[i], raw + off[i], cnt[i], sz[i]);
		}
		return 0;
	}
	default:
		return VT_EFORMAT;
	}
}
