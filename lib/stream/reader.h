/* vtrain: the stream reader.
 *
 * Reads one vtrain stream (or several concatenated ones of the same kind,
 * element type, columns and dimension) from a vt_rd, one frame at a time:
 * memory is the largest frame, bounded by VT_MAX_FRAME_RAW.  Every header,
 * frame and end marker is verified; a stream that stops without an end
 * marker is VT_ETRUNC.  Error messages name the frame ("frame 12: ...");
 * the caller adds the file name.
 */
#ifndef VT_READER_H
#define VT_READER_H

#include <stddef.h>
#include <stdint.h>

#include "stream/fdio.h"
#include "stream/format.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One block of rows, borrowed from the reader until its next call.
 * Column pointers are NULL when the stream has no such column. */
typedef struct {
	size_t rows;
	uint64_t first_row;     /* index of the first row in the whole input */
	const uint64_t *ids;
	const double *weight;
	const double *loss;
	const void *data;       /* rows x dim elements (float or double) */
} vt_block;

/* Counters for inspection (vcat --info). */
typedef struct {
	uint64_t segments;      /* concatenated streams read so far */
	uint64_t frames;
	uint64_t rows;
	uint64_t stored_bytes;  /* frame payload bytes as stored */
	uint64_t raw_bytes;     /* frame payload bytes decoded */
	uint64_t codec_frames[3];
} vt_reader_stats;

typedef struct vt_reader vt_reader;

/* Read and verify a stream header from rd (which the caller owns and keeps
 * open).  Returns 0, or VT_EMAGIC / VT_EVERSION / VT_EKIND / VT_ECHECKSUM /
 * VT_ELIMIT / VT_ETRUNC / VT_EFORMAT / VT_EIO / VT_ENOMEM with err set. */
int vt_reader_open(vt_reader **out, vt_rd *rd, char *err, size_t errlen);

/* The first segment's header.  Borrowed. */
const vt_header *vt_reader_header(const vt_reader *r);

/* Next block (one frame).  Returns rows (> 0), 0 after the last end marker
 * at end of input, or a negative VT_E* code with err set. */
long vt_reader_next(vt_reader *r, vt_block *b, char *err, size_t errlen);

/* Like vt_reader_next, but does not decode the payload: the frame's stored
 * bytes (verified) are returned for copying into a writer of the same
 * header (see vt_writer_put_frame), or for vt_reader_decode_stored.  The
 * pointers are borrowed until the next call.  Block row numbering
 * (first_row) counts only frames that were decoded or read by
 * vt_reader_next; callers that mix the two number rows themselves. */
long vt_reader_next_stored(vt_reader *r, int *codec, const unsigned char **stored,
                           size_t *stored_len, size_t *raw_len, uint64_t *check,
                           char *err, size_t errlen);

/* Decode the frame just returned by vt_reader_next_stored into b (once).
 * Returns its rows, or a negative code (VT_EINVAL if there is none). */
long vt_reader_decode_stored(vt_reader *r, vt_block *b, char *err, size_t errlen);

/* Counters so far.  Borrowed. */
const vt_reader_stats *vt_reader_stats_get(const vt_reader *r);

/* The rows of the vtrain stream in the regular file `path`, counted from
 * its end markers without reading a payload: the header, every frame
 * header and every end marker are verified (checksums, sizes, frame and
 * row counts), the payloads are skipped.  Returns 0 with *rows set, or a
 * VT_E* code with a message naming path (a truncated or damaged stream,
 * or VT_EIO). */
int vt_stream_count_rows(const char *path, uint64_t *rows, char *err, size_t errlen);

/* NULL-safe.  Does not close rd. */
void vt_reader_free(vt_reader *r);

/* Read a stream header from rd into h (allocating metadata).  Shared by the
 * reader and by concatenation.  Returns as vt_reader_open. */
int vt_header_read(vt_rd *rd, vt_header *h, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
