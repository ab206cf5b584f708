/* vtrain: a seeded reservoir sample of a stream of rows.
 *
 * A vt_reservoir keeps a uniform sample of at most cap rows of dimension
 * d out of a stream whose length is not known in advance, in memory
 * bounded by the sample (cap x (4d + 8) bytes), by Vitter's Algorithm R:
 * rows 0 .. cap-1 fill the reservoir, and row i >= cap replaces slot j =
 * vt_rng_below(r, i + 1) when j < cap (else it is dropped), with one
 * generator seeded from (seed, VT_RESERVOIR_STREAM) drawing one integer
 * per row from row cap on.  Every cap-subset of the rows seen is equally
 * likely.  The draws are integer arithmetic only, so every host keeps the
 * same rows.
 *
 * The sample depends only on the rows in input order and the seed, never
 * on how the stream is cut into calls.  vt_reservoir_finish puts the kept
 * rows back into input order, so a stream of at most cap rows comes out
 * whole and unchanged.
 *
 * Unlike the fixed-index sampler of sample.h, this one needs no row count
 * up front (a pipe, a concatenation of files), but it must see every row
 * of the stream, so it does not shard.
 */
#ifndef VT_RESERVOIR_H
#define VT_RESERVOIR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The rng stream the reservoir draws from (see rng.h). */
#define VT_RESERVOIR_STREAM 0x726573657276ULL

typedef struct vt_reservoir vt_reservoir;

/* ---- create / destroy ---- */

/* An empty reservoir of at most cap rows of d floats.  The row buffer grows
 * by doubling as rows arrive, up to cap rows.  *out is NULL on failure.
 * Returns 0, VT_EINVAL (cap or d is 0, or cap x d x 4 overflows) or
 * VT_ENOMEM. */
int vt_reservoir_new(vt_reservoir **out, size_t cap, size_t d, uint64_t seed);

/* Free the reservoir and its rows.  NULL-safe. */
void vt_reservoir_free(vt_reservoir *r);

/* ---- process ---- */

/* Offer the next n rows x (n x d, row-major) of the stream; x is only read.
 * Returns 0, VT_ENOMEM (the reservoir is then unchanged by the rows not
 * yet stored, and should be freed) or VT_EINVAL (after finish). */
int vt_reservoir_add(vt_reservoir *r, const float *x, size_t n);

/* The same, with a tag per row (an id) that is kept with the row: tags
 * NULL is vt_reservoir_add.  Tag every add of a reservoir, or none. */
int vt_reservoir_add_tagged(vt_reservoir *r, const float *x, const uint64_t *tags, size_t n);

/* End the stream: sort the kept rows into input order.  Further adds are
 * refused.  Returns 0 or VT_ENOMEM. */
int vt_reservoir_finish(vt_reservoir *r);

/* ---- get (borrowed pointers, valid until the next add or free) ---- */

/* The kept rows (vt_reservoir_count x d), in input order after finish. */
float *vt_reservoir_rows(const vt_reservoir *r);
/* The input index (from 0) of each kept row. */
const uint64_t *vt_reservoir_index(const vt_reservoir *r);
/* The tag of each kept row, or NULL when the rows were added untagged. */
const uint64_t *vt_reservoir_tags(const vt_reservoir *r);
/* Rows kept: min(cap, rows seen). */
size_t vt_reservoir_count(const vt_reservoir *r);
/* Rows offered so far. */
uint64_t vt_reservoir_seen(const vt_reservoir *r);
size_t vt_reservoir_cap(const vt_reservoir *r);

#ifdef __cplusplus
}
#endif
#endif
