/* vtrain: Lloyd accumulators as streams (kind accum, docs/FORMAT.md).
 *
 * The glue between train/accum.h (the sums) and the stream wing: write an
 * accumulator with the identifier of the centroids it was computed against,
 * and read one back from an input that may hold several concatenated
 * accumulator streams (shards), summing them.  The input layer has already
 * refused segments with another centroids_id.
 */
#ifndef VT_ACCUMIO_H
#define VT_ACCUMIO_H

#include <stddef.h>
#include <stdint.h>

#include "stream/input.h"
#include "stream/output.h"
#include "train/accum.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The centroids_id metadata value of k x d centroids: 16 lower-case hex
 * digits of vt_centroids_id, into buf (at least 17 bytes). */
void vt_centroids_id_hex(const float *c, size_t k, size_t d, char buf[17]);

/* Write a as one accumulator stream to o.  centroids_id is the hex id of
 * the centroids; metric is "l2", "cosine" or "dot"; made_by names the program.
 * Returns 0 or a VT_E* code. */
int vt_accum_write(vt_out *o, const vt_accum *a, const char *centroids_id,
                   const char *metric, const char *made_by);

/* Read every accumulator row of in (whose header must be of kind accum)
 * and sum the segments into a new accumulator (*out, caller frees with
 * vt_accum_free).  id (17 bytes) receives the centroids_id.  Returns 0 or a
 * VT_E* code with a message naming the input in err. */
int vt_accum_read(vt_input *in, vt_accum **out, char id[17], char *err, size_t errlen);

/* vt_accum_read, and check that the accumulators were computed against
 * the k x d centroids c (given with -c): the same centroids_id (else
 * VT_EFORMAT: "PATH: accumulators were computed against other centroids
 * (centroids_id ID, -c has MINE)"), k and d (else VT_EDIM).  Returns 0 or a
 * VT_E* code with a message in err. */
int vt_accum_read_against(vt_input *in, const float *c, size_t k, size_t d, vt_accum **out,
                          char *err, size_t errlen);

/* Read the accumulators of every input ins[0..nin) (vt_accum_read, named
 * paths[i] in messages) and sum them into *out (caller frees with
 * vt_accum_free), in the order of their contents (a hash of each input's
 * sums, weights and losses), so that the sum does not depend on the order
 * of the inputs.  All must have been computed against the same centroids
 * (id receives their centroids_id) and have the same k.  *first receives
 * the index of the input whose sum came first (the output takes its
 * metadata).  Memory: every input's sums at once (k x d x 8 + k x 16
 * bytes each).  Returns 0 or a VT_E* code with a message in err (VT_EFORMAT
 * for other centroids or another k, naming both inputs). */
int vt_accum_read_merged(vt_input *const *ins, const char *const *paths, size_t nin,
                         vt_accum **out, char id[17], size_t *first, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
