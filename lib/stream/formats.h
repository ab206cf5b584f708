/* vtrain: foreign vector file formats (everything that is not a vtrain
 * stream): reading them as float32 rows, and writing float32 rows as them.
 *
 * Readers work on a vt_rd (so they stream, and work on pipes) and hold at
 * most one caller-sized block.  Supported for reading:
 *   .fvecs .bvecs .ivecs   per-record int32 dim then dim x (f32|u8|i32)
 *   .fbin .u8bin .i8bin    u32 rows, u32 dim, then rows x dim (f32|u8|i8)
 *   .npy                   versions 1, 2, 3; dtypes f2 f4 f8 u1 i1 u2 i2
 *                          u4 i4 u8 i8 in either byte order ('<' '>', '|'
 *                          for one byte); C order (or Fortran order with at
 *                          most one axis longer than 1); shape (n,) is n
 *                          rows of dimension 1, (n, a, b, ...) n rows of
 *                          dimension a*b*...
 *   idx (MNIST)            magic 00 00 08 0N: ubyte images, n x (d1*d2...)
 *   raw                    headerless little-endian float32, dim given
 *   .hdf5 .h5              one 2-D dataset (rows x dim) of an HDF5 file,
 *                          through libhdf5 (vt_vecreader_open_hdf5: a named
 *                          file, not a vt_rd, since HDF5 needs random access)
 * and for writing: npy, fvecs, fbin, raw, text.
 *
 * Every size read is checked against limits before anything is allocated
 * (VT_FMT_MAX_DIM); malformed input returns VT_EFORMAT / VT_ETRUNC /
 * VT_EUNSUP / VT_ELIMIT with a message in the caller's err buffer that
 * names what is wrong (e.g. "record 12: dimension 64, expected 128").
 */
#ifndef VT_FORMATS_H
#define VT_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#include "stream/fdio.h"
#include "stream/output.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VT_FMT_MAX_DIM (1u << 20)

typedef enum {
	VT_FMT_AUTO = 0,
	VT_FMT_VT,     /* a vtrain stream (handled by stream/reader.h) */
	VT_FMT_NPY,
	VT_FMT_FVECS,
	VT_FMT_BVECS,
	VT_FMT_IVECS,
	VT_FMT_FBIN,
	VT_FMT_U8BIN,
	VT_FMT_I8BIN,
	VT_FMT_IDX,
	VT_FMT_RAW,
	VT_FMT_TEXT,
	VT_FMT_HDF5,   /* read only, from a named file (vt_vecreader_open_hdf5) */
} vt_format;

/* Name of a format as the command line spells it ("npy", "fvecs", ...). */
const char *vt_format_name(vt_format f);

/* Parse a --from/--to name.  Returns 0 or VT_EINVAL. */
int vt_format_parse(const char *name, vt_format *out);

/* Tell a format from the first bytes of a file (magic number: vtrain,
 * "\x93NUMPY", HDF5's "\x89HDF\r\n\x1a\n"), else from the path's extension
 * (.fvecs .bvecs .ivecs .fbin .u8bin .i8bin .npy .raw .f32 .idx .hdf5 .h5,
 * and MNIST's idxN-ubyte names; a trailing .gz is not recognised), else
 * from idx's weak magic.  Returns 0 and sets *out, or VT_EMAGIC when it
 * cannot tell. */
int vt_format_detect(const unsigned char *head, size_t n, const char *path,
                     vt_format *out);

typedef struct vt_vecreader vt_vecreader;

/* Open a reader of format fmt (not VT_FMT_AUTO / VT_FMT_VT / VT_FMT_TEXT) on
 * rd, which stays owned by the caller and must outlive the reader.  raw_dim
 * is the dimension for VT_FMT_RAW (ignored otherwise).  Parses the header
 * (if any) at once.  Returns 0, or a VT_E* code with a message in err. */
int vt_vecreader_open(vt_vecreader **out, vt_rd *rd, vt_format fmt,
                      uint32_t raw_dim, char *err, size_t errlen);

/* The name of the HDF5 dataset read when none is given. */
#define VT_HDF5_DEFAULT_DATASET "train"

/* Open a reader of the 2-D dataset `dataset` (NULL or "": "train", the
 * ann-benchmarks layout's base vectors) of the HDF5 file at path, through
 * libhdf5.  Element types: IEEE float 16, 32 and 64 bits, and integers of
 * 8, 16, 32 and 64 bits, signed or not, in either byte order, converted to
 * float32 as the same types of .npy are; any storage layout libhdf5 reads
 * (contiguous, chunked, compact, with its built-in filters).  Rows are read
 * by hyperslabs of the caller's block size, so memory stays bounded (plus
 * libhdf5's chunk cache: the chunks that one row of chunks spans, at most
 * 256 MiB).  libhdf5's own printing of its error stack is turned off for
 * the process (H5Eset_auto2); a failure is one message in err, with the
 * innermost reason that libhdf5 gives.  Returns 0, or VT_EMAGIC (not an
 * HDF5 file), VT_EINVAL (no such dataset), VT_EUNSUP (not 2-D, an element
 * type not read), VT_ELIMIT, VT_EFORMAT (a damaged file), VT_EIO. */
int vt_vecreader_open_hdf5(vt_vecreader **out, const char *path, const char *dataset,
                           char *err, size_t errlen);

/* Where the dataset name of an HDF5 input argument starts: arg is FILE or
 * FILE:NAME.  A ':' splits arg when what comes before it is a file that
 * exists (and arg as a whole is not), or ends in .hdf5 or .h5; the first
 * such ':' counts.  Returns the length of FILE (strlen(arg) when there is
 * no :NAME). */
size_t vt_hdf5_split(const char *arg);

/* Dimension of the rows. */
uint32_t vt_vecreader_dim(const vt_vecreader *r);

/* Total rows if the header says (npy, fbin, idx, hdf5), else -1. */
int64_t vt_vecreader_rows(const vt_vecreader *r);

/* Read up to max_rows rows as float32 into dst (max_rows x dim).  Returns
 * the rows read (> 0), 0 at a clean end, or a negative VT_E* code with a
 * message in err (a partial final record is VT_ETRUNC; a file with fewer
 * rows than its header says is VT_ETRUNC too). */
int64_t vt_vecreader_read(vt_vecreader *r, float *dst, size_t max_rows,
                          char *err, size_t errlen);

/* NULL-safe. */
void vt_vecreader_free(vt_vecreader *r);

typedef struct vt_vecwriter vt_vecwriter;

/* Open a writer of format fmt (NPY, FVECS, FBIN, RAW, TEXT) on out, which
 * stays owned by the caller.  rows_hint is the total row count if known,
 * else -1: npy and fbin need the count in their header, so with an unknown
 * count they write a placeholder and patch it in vt_vecwriter_finish on a
 * seekable output; on any other output (a pipe) they hold the data in
 * memory, up to 256 MiB (VT_FMT_PIPE_MAX; more is VT_ELIMIT with a message
 * that says to name a file), and write header and data at the finish. */
int vt_vecwriter_open(vt_vecwriter **out, vt_out *o, vt_format fmt,
                      uint32_t dim, int64_t rows_hint, char *err,
                      size_t errlen);

/* The same, for npy only, with the rows grouped: shape (rows / group,
 * group, dim), as a PQ codebook's (M, 2^nbits, d/M).  group 1 is
 * vt_vecwriter_open; a row count that is not a multiple of group is
 * VT_EINVAL (at open when rows_hint tells, else at finish). */
int vt_vecwriter_open_grouped(vt_vecwriter **out, vt_out *o, vt_format fmt,
                              uint32_t group, uint32_t dim, int64_t rows_hint,
                              char *err, size_t errlen);

/* Write rows (rows x dim float32). */
int vt_vecwriter_write(vt_vecwriter *w, const float *x, size_t rows,
                       char *err, size_t errlen);

/* Finish the file (patch counts; check that a given rows_hint was met). */
int vt_vecwriter_finish(vt_vecwriter *w, char *err, size_t errlen);

/* NULL-safe. */
void vt_vecwriter_free(vt_vecwriter *w);

#ifdef __cplusplus
}
#endif
#endif
