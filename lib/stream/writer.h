/* vtrain: the stream writer.
 *
 * Buffers rows into frames of about VT_DEFAULT_FRAME_RAW raw bytes (at
 * least one row), encodes each with the chosen codec, and ends the stream
 * with an end marker in vt_writer_finish.  Memory: about three frames.
 */
#ifndef VT_WRITER_H
#define VT_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "stream/format.h"
#include "stream/output.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_writer vt_writer;

/* Validate h, write it to o (owned by the caller), and prepare frames.
 * frame_bytes is the target raw payload of a frame (0 = default).  Returns
 * 0, or a VT_E* code (VT_EINVAL for a bad header or codec). */
int vt_writer_open(vt_writer **out, vt_out *o, const vt_header *h, int codec,
                   size_t frame_bytes);

/* Append rows.  ids / weight / loss must be given exactly when the header
 * has that column (else VT_EINVAL).  data is rows x dim elements of the
 * header's element type.  Returns 0 or a VT_E* code from the output. */
int vt_writer_put(vt_writer *w, size_t rows, const uint64_t *ids,
                  const double *weight, const double *loss, const void *data);

/* Append one already-encoded frame (as read by vt_reader_next_stored from a
 * stream with the same kind, element type, columns and dimension).  Rows
 * buffered by vt_writer_put are flushed first. */
int vt_writer_put_frame(vt_writer *w, int codec, size_t rows, const unsigned char *stored,
                        size_t stored_len, size_t raw_len, uint64_t check);

/* Flush and write the end marker.  The output itself is committed by the
 * caller.  Returns 0 or a VT_E* code (VT_EFORMAT when the header announces
 * a row count, metadata "rows", other than the rows written: no end
 * marker is written, so no reader takes the stream as whole). */
int vt_writer_finish(vt_writer *w);

/* Rows written so far. */
uint64_t vt_writer_rows(const vt_writer *w);

/* NULL-safe.  Does not close the output. */
void vt_writer_free(vt_writer *w);

#ifdef __cplusplus
}
#endif
#endif
