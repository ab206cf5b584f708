/* vtrain: one input interface over every file a program may read.
 *
 * A vt_input reads a list of paths ("-" is stdin) as one concatenated
 * input.  Each path may be a vtrain stream (itself possibly several
 * concatenated streams) or any foreign vector file of stream/formats.h,
 * told by magic number, else by extension (or forced with opts.from).
 * Foreign files read as a vectors stream of float32 rows without ids.
 * All inputs must agree in kind and dimension.  Error messages name the
 * path (and the frame or record).
 */
#ifndef VT_INPUT_H
#define VT_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "stream/formats.h"
#include "stream/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	vt_format from;        /* VT_FMT_AUTO: detect */
	uint32_t raw_dim;      /* dimension for raw float32 input */
	size_t block_rows;     /* rows per block of a foreign file (0: about 1 MiB) */
} vt_input_opts;

typedef struct vt_input vt_input;

/* Open the first path and read its header.  paths/npaths may be empty
 * (stdin).  opts may be NULL.  The paths must outlive the input.  Returns
 * 0 or a VT_E* code with a message in err (naming the path). */
int vt_input_open(vt_input **out, const char *const *paths, size_t npaths,
                  const vt_input_opts *opts, char *err, size_t errlen);

/* Header of the input: the first stream's, or a synthesized vectors header
 * for a foreign file (metadata "source" = its format).  Borrowed. */
const vt_header *vt_input_header(const vt_input *in);

/* Next block of rows; the same contract as vt_reader_next, across all
 * paths.  Returns rows (> 0), 0 at the end, or a negative code with err. */
long vt_input_next(vt_input *in, vt_block *b, char *err, size_t errlen);

/* For a vtrain stream source: the next frame as stored (see
 * vt_reader_next_stored).  Returns VT_EUNSUP (and reads nothing) when the
 * current source is a foreign file; the caller then uses vt_input_next. */
long vt_input_next_stored(vt_input *in, int *codec, const unsigned char **stored,
                          size_t *stored_len, size_t *raw_len, uint64_t *check,
                          char *err, size_t errlen);

/* Decode the frame just returned by vt_input_next_stored into b. */
long vt_input_decode_stored(vt_input *in, vt_block *b, char *err, size_t errlen);

/* Read up to max rows into caller arrays, across frame and file
 * boundaries: data (max x dim elements of the input's element type), and
 * ids / weight / loss (max each), any of which may be NULL to skip it; a
 * column the input lacks is filled with its default (ids: the row's index
 * in the input, weight: 1, loss: 0).  Returns rows read (< max only at the
 * end), 0 at the end, or a negative code with err.  Do not mix with
 * vt_input_next_stored. */
long vt_input_read(vt_input *in, size_t max, void *data, uint64_t *ids, double *weight,
                   double *loss, char *err, size_t errlen);

/* Total rows if every path tells it up front (foreign headers), else -1. */
int64_t vt_input_rows_hint(const vt_input *in);

/* The total rows of the input when it can be known before reading it: a
 * foreign header (vt_input_rows_hint), or one regular vtrain file whose end
 * markers are read first (vt_stream_count_rows).  *rows is -1 when it
 * cannot be known (a pipe, several files, a headerless format).  Returns 0,
 * or the error of a damaged file, with a message in err. */
int vt_input_count_rows(const vt_input *in, int64_t *rows, char *err, size_t errlen);

/* Path being read now (for messages). */
const char *vt_input_path(const vt_input *in);

/* Format of the path being read now. */
vt_format vt_input_format(const vt_input *in);

/* Rows delivered so far. */
uint64_t vt_input_rows(const vt_input *in);

/* NULL-safe. */
void vt_input_free(vt_input *in);

#ifdef __cplusplus
}
#endif
#endif
