/* vtrain: the labels stream (kind 7): the partition, distance and PQ code
 * of every row, as vassign writes them (docs/FORMAT.md, "Labels").
 *
 * A labels stream has element type w32 (32-bit words), the ids column, and
 * a data plane of dim = 2 N + ceil(M / 4) words per row:
 *
 *     words 0 .. N-1        i32  the N nearest partitions, nearest first
 *     words N .. 2N-1       f32  their squared distances (non-decreasing)
 *     words 2N ..           u8   the M PQ codes, code m at byte m of this
 *                                region; the bytes after the last code are 0
 *
 * N is the metadata `top`, M is `pq_m` (0: no codes), the codes have
 * `pq_nbits` bits (1 .. 8), and the partitions are < `k`.  This module
 * knows the layout only: parse and check it, pack and unpack rows, write
 * them as .npy arrays.  It does no maths and opens no file.
 */
#ifndef VT_LABELS_H
#define VT_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "stream/format.h"
#include "stream/output.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest k (partitions are int32) and top a labels stream may have. */
#define VT_LABELS_MAX_K ((size_t)1 << 31)
#define VT_LABELS_MAX_TOP 4096
/* The largest code width: one byte per code. */
#define VT_LABELS_MAX_NBITS 8

/* What a labels header promises. */
typedef struct {
	size_t k;        /* partitions of the model: labels are in [0, k) */
	size_t top;      /* N: partitions (and distances) per row */
	size_t m;        /* M: PQ codes per row, 0 for none */
	int nbits;       /* bits per code, 1 .. 8; 0 when m is 0 */
	int sq;          /* the codes are SQ codes (metadata codes=sq): m = d, 8 bits */
	size_t words;    /* the header's dim: 2 N + ceil(M / 4) */
} vt_labels_shape;

/* Fill s from k, top, m and nbits (words computed; sq 0).  Returns 0, or
 * VT_EINVAL when they break the limits above (top > k, dim too large). */
int vt_labels_shape_make(vt_labels_shape *s, size_t k, size_t top, size_t m, int nbits);

/* Read the shape of a labels header: metadata `k`, `top`, `pq_m` and
 * `pq_nbits` (decimal integers; pq_nbits 0 or absent when pq_m is 0),
 * within the limits, and dim = 2 top + ceil(pq_m / 4); `codes` absent or
 * `pq`, or `sq` with pq_nbits 8 and pq_m equal to the metadata `d`.  Returns 0, or
 * VT_EFORMAT with a message in err ("labels: ..."). */
int vt_labels_shape_get(const vt_header *h, vt_labels_shape *s, char *err, size_t errlen);

/* Initialise h as a labels header of shape s, with k, top, pq_m and
 * pq_nbits set (and codes=sq when s->sq) (the caller adds metric, centroids_id, pq_id, made_by).
 * Returns 0 or a code of vt_header_set. */
int vt_labels_header_init(vt_header *h, const vt_labels_shape *s);

/* Check rows of data (rows x words 32-bit words, as in a frame): every
 * partition in [0, k), every distance finite, >= 0 and not below the one
 * before it, every code < 2^nbits, and the padding bytes 0.  Returns the
 * first bad row (its reason in why), or rows when all are good. */
size_t vt_labels_first_bad(const vt_labels_shape *s, const void *data, size_t rows, char *why,
                           size_t whylen);

/* The metadata of labels sorted by (partition 0, id) (vassign --sort):
 * order=partition. */
#define VT_LABELS_ORDER_KEY "order"
#define VT_LABELS_ORDER_PARTITION "partition"

/* 1 when h says its rows are sorted by (partition, id). */
int vt_labels_by_partition(const vt_header *h);

/* Check that rows (their ids, and data as in a frame) follow each other in
 * (partition 0, id) order, after the row *part, *id when have_prev; then
 * set *part and *id to the last row's.  Returns the first row out of
 * order (leaving *part, *id at the row before it), or rows. */
size_t vt_labels_first_unordered(const vt_labels_shape *s, size_t rows, const uint64_t *ids,
                                 const void *data, int have_prev, uint32_t *part,
                                 uint64_t *id);

/* Pack rows: part and dist (rows x N each) and codes (rows x M, or NULL
 * when M is 0) into data (rows x words words, little-endian). */
void vt_labels_pack(const vt_labels_shape *s, size_t rows, const int32_t *part,
                    const float *dist, const uint8_t *codes, void *data);

/* Unpack rows of data into part, dist (rows x N) and codes (rows x M); any
 * of them may be NULL to skip it. */
void vt_labels_unpack(const vt_labels_shape *s, const void *data, size_t rows, int32_t *part,
                      float *dist, uint8_t *codes);

/* Write rows (their ids, and data as in a frame) of a labels stream as
 * text to o: per row the id, the N
 * partitions, the N distances ("%.9g") and the M codes, separated by single
 * spaces.  Returns 0 or a VT_E* code of the output. */
int vt_labels_dump_text(vt_out *o, const vt_labels_shape *s, size_t rows, const uint64_t *ids,
                        const void *data);

/* ---- labels as .npy arrays ---- */

/* The arrays of a labels stream, one .npy file each: */
enum {
	VT_LABELS_NPY_IDS = 0,        /* int64 (n,) */
	VT_LABELS_NPY_PARTITIONS = 1, /* int32 (n, N) */
	VT_LABELS_NPY_DISTANCES = 2,  /* float32 (n, N) */
	VT_LABELS_NPY_CODES = 3,      /* uint8 (n, M), only when M > 0 */
	VT_LABELS_NPY_ARRAYS = 4,
};

/* The name of array a as it appears in file names ("ids", "partitions",
 * "distances", "codes"). */
const char *vt_labels_npy_name(int a);

typedef struct vt_labels_npy vt_labels_npy;

/* Start the arrays on outs[a] (owned by the caller, seekable: the row
 * count is patched into each header at the end; outs[CODES] NULL when M
 * is 0).  Writes the headers.  Returns 0, VT_EUNSUP (an output is not
 * seekable), VT_ENOMEM or an output's error. */
int vt_labels_npy_open(vt_labels_npy **out, vt_out *const outs[VT_LABELS_NPY_ARRAYS],
                       const vt_labels_shape *s);

/* Append rows: their ids and data (rows x words words, as in a frame). */
int vt_labels_npy_write(vt_labels_npy *w, size_t rows, const uint64_t *ids, const void *data);

/* Patch the row counts into the headers.  The outputs are committed by the
 * caller. */
int vt_labels_npy_finish(vt_labels_npy *w);

/* NULL-safe. */
void vt_labels_npy_free(vt_labels_npy *w);

/* Write to o the .npy int64 array (k + 1,) of the offsets of partitions
 * sorted in order: offsets[p] = counts[0] + ... + counts[p - 1], the row
 * where partition p starts; offsets[k] = n.  Returns 0 or o's error. */
int vt_labels_offsets_npy(vt_out *o, const uint64_t *counts, size_t k);

#ifdef __cplusplus
}
#endif
#endif
