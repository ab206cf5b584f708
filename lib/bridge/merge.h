/* vtrain: the k-way merge of id-sorted streams into one in id order.
 *
 * vmerge's union of vectors or weighted points: every input carries ids
 * and is sorted by them (as vsample and vcoreset write them).  The merged
 * rows come out in id order; rows of equal id in the order of their
 * bytes (weight, loss, data), then of their input's header hash, so that
 * the result does not depend on the order in which the inputs are given.
 * Each input is read a batch at a time and checked as it goes: sorted ids,
 * finite values.  Labels (kind 7) merge the same way, their rows of words
 * taken as bytes, except that an id may appear only once over all inputs.
 * Labels sorted by partition (metadata order=partition, vassign --sort)
 * merge in (partition, id) order instead, and keep it; there an id seen
 * twice is refused only when its two rows meet (the same partition).
 */
#ifndef VT_MERGE_H
#define VT_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "stream/input.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_merge vt_merge;

/* Start merging the nin inputs ins (all of one kind, vectors, weighted
 * points or labels, of one dimension, with ids; the caller has checked that with
 * vt_header_compatible), named paths[i] in messages.  Reads the first
 * batch of each.  The inputs and paths must outlive the merge.
 * Memory: nin x batch x (4d + 24) bytes, batch = vt_merge_batch.
 * Returns 0 or a VT_E* code with a message in err: VT_ENOMEM, VT_EDATA
 * ("PATH: row N has a NaN or infinite value"), VT_EFORMAT ("PATH: not
 * sorted by id ..."), or the input's own error. */
int vt_merge_open(vt_merge **out, vt_input *const *ins, const char *const *paths, size_t nin,
                  char *err, size_t errlen);

/* The header of the input that comes first: the one holding the smallest
 * row in merge order, or when all are empty the smallest header hash.
 * Its metadata is the output's.  Borrowed. */
const vt_header *vt_merge_first_header(const vt_merge *m);

/* The rows each input reads at once: about 1 MiB of rows, 16 to 65536.
 * A good batch for the caller's reads too. */
size_t vt_merge_batch(const vt_merge *m);

/* Up to max merged rows into x (max x d; for labels, the rows' words),
 * ids (max) and, for weighted
 * points, w and l (max each; NULL for vectors).  Returns the rows written
 * (fewer than max only at the end), 0 at the end, or a negative code with
 * a message in err (as vt_merge_open; for labels also VT_EFORMAT, "PATH:
 * id N appears twice (also in OTHER)"). */
long vt_merge_read(vt_merge *m, size_t max, float *x, uint64_t *ids, double *w, double *l,
                   char *err, size_t errlen);

/* NULL-safe.  The inputs are not freed. */
void vt_merge_free(vt_merge *m);

#ifdef __cplusplus
}
#endif
#endif
