/* vtrain: SQ statistics and bounds as streams (kind sq, docs/FORMAT.md).
 *
 * The glue between train/sq.h and the stream wing, shared by vsqbounds and
 * vmerge: write a statistic as its partial form or as final bounds, and
 * read back every partial form that an input holds (several may be
 * concatenated in one stream).
 */
#ifndef VT_SQIO_H
#define VT_SQIO_H

#include <stddef.h>

#include "stream/format.h"
#include "stream/input.h"
#include "stream/output.h"
#include "train/sq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The metadata "sketch" of quantile statistics: their form (an earlier
 * vsqbounds wrote a KLL sketch, with "sketch_k" instead). */
#define VT_SQ_SKETCH_NAME "subsampled-tails"

/* Initialise h as the header of an SQ stream for s: kind sq, f64, no
 * columns, dim d, and the metadata mode, form ("bounds" when final or for
 * the minmax modes, else "partial") and, for quantile statistics, sketch
 * (VT_SQ_SKETCH_NAME), tail, sketch_quantile and seed.  The caller adds
 * made_by and the rest, then frees h.  Returns 0 or a VT_E* code. */
int vt_sq_header(vt_header *h, const vt_sq *s, int final);

/* Write s to o as one stream of header h: the partial form, or when final
 * the bounds (2 rows: vmin, vmax) with param r or q (vt_sq_bounds).
 * Returns 0 or a VT_E* code (VT_EDATA: no values to bound). */
int vt_sq_write(vt_out *o, const vt_header *h, const vt_sq *s, int final, double param);

/* Read every row of in (an SQ input of a mergeable form: the minmax modes,
 * or form=partial; quantile statistics of sketch VT_SQ_SKETCH_NAME only)
 * and parse the partial forms it holds one after another;
 * append them to the array *parts (*nparts of them, realloc'd; the caller
 * frees each with vt_sq_free and the array with free).  At most max_bytes
 * of rows are held.  Returns 0, or VT_EKIND / VT_EFORMAT / VT_ELIMIT /
 * VT_ENOMEM or the input's own error, with a message naming the input. */
int vt_sq_read_parts(vt_input *in, vt_sq ***parts, size_t *nparts, size_t max_bytes,
                     char *err, size_t errlen);

/* Read the partial forms of every input ins[0..nin) (vt_sq_read_parts)
 * and merge them all at once into *out (caller frees with vt_sq_free):
 * the result does not depend on the order of the inputs, nor on how the
 * partial forms are spread over them.  Returns 0 or a VT_E* code with a
 * message naming the input (VT_EFORMAT for quantile statistics of another
 * tail, design quantile or seed than the first). */
int vt_sq_read_merged(vt_input *const *ins, size_t nin, vt_sq **out, char *err,
                      size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
