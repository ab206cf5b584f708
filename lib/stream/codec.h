/* vtrain: frame payload codecs: byte-shuffle of planes and LZ4.
 *
 * A frame's raw payload is a sequence of planes (ids, weights, losses,
 * data), each an array of equal-size elements.  lz4-shuffle transposes the
 * bytes of each plane (all first bytes, then all second bytes, ...) before
 * LZ4, which groups the slowly-varying exponent bytes of floats.
 */
#ifndef VT_CODEC_H
#define VT_CODEC_H

#include <stddef.h>

#include "stream/format.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The planes of a frame of `rows` rows under header h.  Fills up to 4
 * (offset, count, size) triples; returns the number of planes. */
int vt_frame_planes(const vt_header *h, size_t rows, size_t off[4],
                    size_t count[4], size_t size[4]);

/* Byte-shuffle n elements of `size` bytes from src to dst (no overlap). */
void vt_shuffle(const unsigned char *src, unsigned char *dst, size_t n, size_t size);

/* Inverse of vt_shuffle. */
void vt_unshuffle(const unsigned char *src, unsigned char *dst, size_t n, size_t size);

/* Largest stored size that a frame of raw_len bytes may have. */
size_t vt_codec_bound(size_t raw_len);

/* Encode raw (raw_len bytes, planes of header h, `rows` rows) with codec
 * into dst (capacity vt_codec_bound(raw_len)), using tmp (raw_len bytes) as
 * scratch for the shuffle.  If compression does not shrink the frame,
 * the frame is stored raw and *codec_used is VT_CODEC_NONE.  Returns the
 * stored length (> 0), or a negative VT_E* code. */
long vt_codec_encode(int codec, const vt_header *h, size_t rows,
                     const unsigned char *raw, size_t raw_len,
                     unsigned char *dst, unsigned char *tmp, int *codec_used);

/* Decode stored bytes into raw (exactly raw_len bytes), using tmp (raw_len
 * bytes) as scratch for the unshuffle.  Returns 0, VT_EFORMAT (corrupt LZ4
 * data or a wrong length) or VT_EFORMAT for an unknown codec. */
int vt_codec_decode(int codec, const vt_header *h, size_t rows,
                    const unsigned char *src, size_t stored_len,
                    unsigned char *raw, size_t raw_len, unsigned char *tmp);

#ifdef __cplusplus
}
#endif
#endif
