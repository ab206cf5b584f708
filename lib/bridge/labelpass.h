/* vtrain: the labels of a stream (vassign): every row's nearest partitions
 * of IVF centroids, their distances, and the PQ code of its residual.
 *
 * For each row x of the input (after normalisation under cosine):
 *
 *   partitions  the top N centroids by (dd(x, c), index), dd the exact
 *               double distance of train/nearest.h: the argmin with ties to
 *               the lower index, whatever the batch, threads or BLAS;
 *   distances   those dd, rounded to float32;
 *   codes       with a PQ codebook, vt_pq_encode_exact of the residual
 *               r = x - c_p (float subtraction, p the nearest partition),
 *               as FAISS's IndexIVFPQ::add computes it; with SQ bounds
 *               instead, vt_sq8_encode of the same residual, as FAISS's
 *               IndexIVFScalarQuantizer (QT_8bit, by_residual) stores it.
 *
 * The input streams by in batches: memory does not grow with the rows.
 * Rows keep their order and their ids (an input without ids gets
 * offset + its row number).  The library does not print or exit.
 */
#ifndef VT_LABELPASS_H
#define VT_LABELPASS_H

#include <stddef.h>
#include <stdint.h>

#include "stream/input.h"
#include "stream/labels.h"
#include "stream/writer.h"
#include "train/nearest.h"
#include "train/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the rows of a pass go instead of the writer (bridge/shuffle.c):
 * rows() sees each batch's input rows as read (ids set, before any
 * normalisation), then labels() the same rows' packed labels (rows x
 * words words, as in a frame).  A negative return stops the pass with
 * that code (rows: the input's error; labels: write_failed is set). */
typedef struct {
	int (*rows)(void *ctx, size_t n, const uint64_t *ids, const float *x);
	int (*labels)(void *ctx, size_t n, const uint64_t *ids, const void *words);
	void *ctx;
} vt_assign_sink;

/* Options of a labelling pass; zero-initialise, then set what applies. */
typedef struct {
	size_t top;            /* N, 1 .. min(k, VT_NEAREST_MAX_TOP); 0 means 1 */
	int cosine;            /* normalise each row to unit norm first */
	uint64_t offset;       /* id of row 0 of an input without ids */
	size_t batch_rows;     /* rows at once; 0: about 16 MiB of rows */
	const float *codebook; /* PQ codebook (M x 2^nbits x d/M), or NULL */
	size_t pq_m;
	int pq_nbits;          /* 1 .. 8 */
	/* SQ codes instead (codebook NULL): FAISS's trained array of
	 * train/sqcode.h, d floats each; NULL for none. */
	const float *sq_vmin, *sq_vdiff;
	/* Called after every batch with the rows read so far; NULL for none.
	 * A non-zero return stops the pass with VT_EINTR. */
	int (*progress)(void *ctx, uint64_t rows);
	void *progress_ctx;
	/* The rows go here instead of to w (which may then be NULL); NULL for w. */
	const vt_assign_sink *sink;
} vt_assign_opts;

/* What a pass did. */
typedef struct {
	uint64_t rows;           /* rows labelled */
	size_t zero_norm;        /* cosine: rows of norm 0, left as they are */
	double t_nearest, t_pq;  /* seconds in the search and the encoding (PQ or SQ) */
	vt_nearest_stats nearest; /* the search's own counters */
	size_t index_bytes;      /* memory of the search index */
	int write_failed;        /* the error came from the writer (the output) */
} vt_assign_stats;

/* The labels header of a run: shape s, with metadata made_by, metric,
 * d, centroids_id (of the k x d centroids c) and, with a codebook,
 * pq_id (of its M 2^nbits rows of d/M, as centroids_id); with SQ codes
 * (s->sq), sq_id of sq_bounds (2 x d floats: the minima, then the maxima,
 * as vcat exports them), as centroids_id.  Returns 0 or a code of
 * vt_header_set; h is then freed. */
int vt_assign_header(vt_header *h, const vt_labels_shape *s, const float *c, size_t d,
                     const float *codebook, const float *sq_bounds, const char *metric,
                     const char *made_by);

/* Label every row of in (vectors of dimension d) against the k x d
 * centroids c (finite), and write the rows to w (a writer of the labels
 * header of vt_assign_header).  pool may be NULL.
 * Memory: batch x (4 d + 8 + 16 N + 4 words + M) bytes, the search index
 * (nearest.h) and its query buffers, plus the PQ encoder's 8 d 2^nbits
 * (the codebook in double).  Returns 0, or VT_EKIND / VT_EDIM (an input of another kind
 * or dimension), VT_EDATA ("PATH: row N has a NaN or infinite value", N
 * counted from 0 over the input), VT_EINVAL (top or the codebook's shape),
 * VT_ENOMEM, VT_EINTR, the input's or the writer's error; with a message
 * in err. */
int vt_assign_input(vt_input *in, vt_pool *pool, const float *c, size_t k, size_t d,
                    const vt_assign_opts *opts, vt_writer *w, vt_assign_stats *stats,
                    char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
