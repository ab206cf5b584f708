/* vtrain: text dump of stream blocks (vcat --to text).
 *
 * One line per row: the columns present (id, weight, loss), then the data
 * values, separated by single spaces.  float32 values print with 9
 * significant digits and float64 with 17, so text round-trips exactly.
 * Labels print as vt_labels_dump_text (stream/labels.h).
 */
#ifndef VT_DUMP_H
#define VT_DUMP_H

#include "stream/format.h"
#include "stream/output.h"
#include "stream/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write block b of a stream with header h as text to o.  Returns 0 or a
 * VT_E* code from the output. */
int vt_dump_text(vt_out *o, const vt_header *h, const vt_block *b);

/* Convert n elements of element type elem (VT_ELEM_F32/F64) to float. */
void vt_to_float(const void *src, int elem, size_t n, float *dst);

#ifdef __cplusplus
}
#endif
#endif
