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

/* Byte-shuffle and unshuffle.
 *
 * Shuffled, byte b of element i is at b*n + i.  Elements of 4 and 8 bytes
 * (float and double planes, u64 ids) take an SSE2 path (SSE2 is part of
 * x86-64) over blocks of 16 elements; the rest, and other sizes, take the
 * scalar loops, which define the result.
 *
 * The SSE2 path is a network of byte unpacks.  Number a byte of a block by
 * its vector (register) and its lane (0..15).  unpacklo/hi_epi8 of the two
 * vectors j and j|m (m a power of two) moves a byte from lane l of vector v
 * to lane ((l & 7) << 1 | (v & m ? 1 : 0)) of vector (v & ~m) | (l & 8 ? m : 0):
 * it rotates the 4 lane bits left, taking the vector bit m in at the bottom
 * and putting the top lane bit out into bit m of the vector.  So
 *   shuffle, 4-byte elements: the block is 4 vectors, address (e3 e2 | e1 e0
 *     b1 b0) for byte b of element e; steps on m = 2, 1, 2, 1 give
 *     (b1 b0 | e3 e2 e1 e0): vector b holds byte b of the 16 elements.
 *   shuffle, 8-byte elements: 8 vectors, (e3 e2 e1 | e0 b2 b1 b0); steps on
 *     m = 4, 2, 1, 4 give (b0 b2 b1 | e3 e2 e1 e0).
 *   unshuffle, 4: (b1 b0 | e3 e2 e1 e0); steps on m = 2, 1 give
 *     (e3 e2 | e1 e0 b1 b0).
 *   unshuffle, 8: (b2 b1 b0 | e3 e2 e1 e0); steps on m = 4, 2, 1 give
 *     (e3 e2 e1 | e0 b2 b1 b0). */

static void shuffle_scalar(const unsigned char *src, unsigned char *dst, size_t n,
                           size_t size, size_t from)
{
	if (size == 4) {
		unsigned char *d0 = dst, *d1 = dst + n, *d2 = dst + 2 * n, *d3 = dst + 3 * n;
		for (size_t i = from; i < n; i++) {
			d0[i] = src[4 * i];
			d1[i] = src[4 * i + 1];
			d2[i] = src[4 * i + 2];
			d3[i] = src[4 * i + 3];
		}
		return;
	}
	for (size_t b = 0; b < size; b++) {
		unsigned char *d = dst + b * n;
		for (size_t i = from; i < n; i++)
			d[i] = src[i * size + b];
	}
}

static void unshuffle_scalar(const unsigned char *src, unsigned char *dst, size_t n,
                             size_t size, size_t from)
{
	if (size == 4) {
		const unsigned char *s0 = src, *s1 = src + n, *s2 = src + 2 * n, *s3 = src + 3 * n;
		for (size_t i = from; i < n; i++) {
			dst[4 * i] = s0[i];
			dst[4 * i + 1] = s1[i];
			dst[4 * i + 2] = s2[i];
			dst[4 * i + 3] = s3[i];
		}
		return;
	}
	for (size_t b = 0; b < size; b++) {
		const unsigned char *s = src + b * n;
		for (size_t i = from; i < n; i++)
			dst[i * size + b] = s[i];
	}
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* One step of the network on the `nv` vectors of v, pairing j with j|m. */
static inline void unpack_step(__m128i *v, int nv, int m)
{
	for (int j = 0; j < nv; j++) {
		if (j & m)
			continue;
		__m128i lo = _mm_unpacklo_epi8(v[j], v[j | m]);
		__m128i hi = _mm_unpackhi_epi8(v[j], v[j | m]);
		v[j] = lo;
		v[j | m] = hi;
	}
}

/* Blocks of 16 elements; returns the number of elements done. */
static size_t shuffle_sse2(const unsigned char *src, unsigned char *dst, size_t n, size_t size)
{
	size_t i = 0;
	__m128i v[8];
	if (size == 4) {
		for (; i + 16 <= n; i += 16) {
			for (int k = 0; k < 4; k++)
				v[k] = _mm_loadu_si128((const __m128i *)(src + 4 * i + 16 * k));
			unpack_step(v, 4, 2);
			unpack_step(v, 4, 1);
			unpack_step(v, 4, 2);
			unpack_step(v, 4, 1);
			for (int b = 0; b < 4; b++)
				_mm_storeu_si128((__m128i *)(dst + b * n + i), v[b]);
		}
	} else if (size == 8) {
		for (; i + 16 <= n; i += 16) {
			for (int k = 0; k < 8; k++)
				v[k] = _mm_loadu_si128((const __m128i *)(src + 8 * i + 16 * k));
			unpack_step(v, 8, 4);
			unpack_step(v, 8, 2);
			unpack_step(v, 8, 1);
			unpack_step(v, 8, 4);
			for (int b = 0; b < 8; b++)
				_mm_storeu_si128((__m128i *)(dst + b * n + i), v[(b & 1) << 2 | b >> 1]);
		}
	}
	return i;
}

static size_t unshuffle_sse2(const unsigned char *src, unsigned char *dst, size_t n, size_t size)
{
	size_t i = 0;
	__m128i v[8];
	if (size == 4) {
		for (; i + 16 <= n; i += 16) {
			for (int b = 0; b < 4; b++)
				v[b] = _mm_loadu_si128((const __m128i *)(src + b * n + i));
			unpack_step(v, 4, 2);
			unpack_step(v, 4, 1);
			for (int k = 0; k < 4; k++)
				_mm_storeu_si128((__m128i *)(dst + 4 * i + 16 * k), v[k]);
		}
	} else if (size == 8) {
		for (; i + 16 <= n; i += 16) {
			for (int b = 0; b < 8; b++)
				v[b] = _mm_loadu_si128((const __m128i *)(src + b * n + i));
			unpack_step(v, 8, 4);
			unpack_step(v, 8, 2);
			unpack_step(v, 8, 1);
			for (int k = 0; k < 8; k++)
				_mm_storeu_si128((__m128i *)(dst + 8 * i + 16 * k), v[k]);
		}
	}
	return i;
}
#endif

void vt_shuffle(const unsigned char *src, unsigned char *dst, size_t n, size_t size)
{
	size_t done = 0;
#if defined(__SSE2__)
	done = shuffle_sse2(src, dst, n, size);
#endif
	shuffle_scalar(src, dst, n, size, done);
}

void vt_unshuffle(const unsigned char *src, unsigned char *dst, size_t n, size_t size)
{
	size_t done = 0;
#if defined(__SSE2__)
	done = unshuffle_sse2(src, dst, n, size);
#endif
	unshuffle_scalar(src, dst, n, size, done);
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
