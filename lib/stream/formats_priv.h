/* vtrain: what the modules of the foreign formats share (private to
 * lib/stream/formats.c, npy.c, vecs.c, elem.c, numfmt.c and hdf5.c; not
 * installed, not for the tools).
 *
 *   formats.c   names, detection, the reader and writer objects, the
 *               fixed-size row body (npy, *bin, idx, raw) and its scratch
 *   npy.c       the npy header: parse it (reading), make it (writing)
 *   vecs.c      .fvecs/.bvecs/.ivecs records, .fbin/.u8bin/.i8bin and idx
 *               headers
 *   elem.c      element types: byte order and conversion to float
 *   numfmt.c    "%.9g" without snprintf
 *   hdf5.c      HDF5 datasets through libhdf5 (the only file that sees it)
 */
#ifndef VT_FORMATS_PRIV_H
#define VT_FORMATS_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "stream/fdio.h"
#include "stream/formats.h"
#include "stream/output.h"

/* Bytes of the scratch block used for conversions (at least one record). */
#define VT_FMT_SCRATCH (1u << 20)
/* Page size assumed for read alignment (see formats.c, bad_alias). */
#define VT_FMT_ALIAS_PAGE 4096u
/* Bytes of a writer's staging buffer (at least one row). */
#define VT_FMT_WBUF (1u << 20)

/* ---- elements (elem.c) ---- */

typedef enum {
	VT_EL_F32, VT_EL_F16, VT_EL_F64, VT_EL_U8, VT_EL_I8, VT_EL_U16, VT_EL_I16,
	VT_EL_U32, VT_EL_I32, VT_EL_U64, VT_EL_I64,
} vt_el_type;

/* Bytes of one element. */
static inline size_t vt_el_size(vt_el_type t)
{
	switch (t) {
	case VT_EL_U8: case VT_EL_I8: return 1;
	case VT_EL_F16: case VT_EL_U16: case VT_EL_I16: return 2;
	case VT_EL_F64: case VT_EL_U64: case VT_EL_I64: return 8;
	default: return 4;
	}
}

/* 1 on a little-endian host. */
static inline int vt_host_le(void)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
	return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
#else
	const uint16_t one = 1;
	unsigned char c;
	memcpy(&c, &one, 1);
	return c == 1;
#endif
}

/* Reverse the bytes of n elements of size es (2, 4 or 8) in place. */
void vt_el_swap(unsigned char *p, size_t n, size_t es);

/* Convert n little-endian (or, with swap, big-endian) elements of type t at
 * src to float at dst.  src may be byte-swapped in place.  src and dst do
 * not overlap, except for VT_EL_F32 / VT_EL_I32 where src == dst is
 * allowed.  Every value converts exactly except f64, u32, i32, u64, i64
 * (rounded to nearest; every 64-bit integer is within float32's range) and
 * f16 NaN payloads (kept); an f64 beyond float32's range becomes an
 * infinity of its sign, which the programs refuse or drop as any
 * non-finite value. */
void vt_el_convert(vt_el_type t, int swap, unsigned char *src, float *dst, size_t n);

/* ---- number formatting (numfmt.c) ---- */

/* Append the d values of row as "%.9g" separated by single spaces (no
 * newline) at p, which has room for d x 24 bytes; returns the new end.
 * Byte for byte what printf("%.9g") writes. */
char *vt_fmt_g9_row(char *p, const float *row, size_t d);

/* ---- the reader and the writer (formats.c) ---- */

struct vt_vecreader {
	vt_format fmt;
	vt_rd *rd;
	uint32_t dim;
	vt_el_type el;
	int swap;            /* data is big-endian */
	int records;         /* *vecs: each row has its own int32 dim */
	int64_t rows;        /* from the header, or -1 */
	uint64_t done;       /* rows read so far */
	int ended;           /* 0 returned (or trailing data checked) */
	unsigned char *scratch;
	size_t scratch_cap;
	struct vt_h5 *h5;    /* hdf5: its handles (rd is NULL) */
};

struct vt_vecwriter {
	vt_format fmt;
	vt_out *o;
	uint32_t dim;
	uint32_t group;       /* npy: rows grouped as (rows / group, group, dim) */
	int64_t hint;
	uint64_t rows;
	uint64_t hdr_off;     /* where our header starts in o */
	size_t hdr_len;
	unsigned char *buf;   /* fvecs/text staging, or byte swapping */
	size_t buf_cap, buf_len;
	/* npy/fbin of an unknown count to an output that cannot be patched:
	 * the data is held here (at most VT_FMT_PIPE_MAX bytes) and written
	 * after its header at the end */
	int held;
	unsigned char *mem;
	size_t mem_len, mem_cap;
};

/* The most bytes of npy or fbin data held for an output that cannot be
 * patched, when the row count is not known in advance. */
#define VT_FMT_PIPE_MAX ((size_t)256 << 20)

/* Write a message into err (when given) and return code. */
int vt_fmt_err(char *err, size_t errlen, int code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	;

/* A dimension d in 1..VT_FMT_MAX_DIM, else VT_ELIMIT naming what. */
int vt_fmt_check_dim(uint64_t d, const char *what, char *err, size_t errlen);

/* rows x dim x es must fit in a signed 64-bit byte count (VT_ELIMIT). */
int vt_fmt_check_total(uint64_t rows, uint32_t dim, size_t es, char *err, size_t errlen);

/* Read exactly n header bytes of format what (VT_ETRUNC when short). */
int vt_fmt_read_header(vt_rd *rd, void *dst, size_t n, const char *what, char *err,
                       size_t errlen);

/* The scratch block of r, allocated on first use with at least need bytes
 * (and VT_FMT_SCRATCH); scratch_base is where the next read lands in it. */
int vt_fmt_get_scratch(vt_vecreader *r, size_t need, char *err, size_t errlen);
unsigned char *vt_fmt_scratch_base(vt_vecreader *r);

/* Read up to n bytes into dst, like vt_rd_read, steered away from 4K
 * aliasing of source and destination. */
ssize_t vt_fmt_read_into(vt_vecreader *r, void *dst, size_t n, char *err, size_t errlen);

/* VT_ETRUNC: row (or record) cut after partial of rowbytes bytes. */
int64_t vt_fmt_trunc_err(vt_vecreader *r, uint64_t row, size_t partial, size_t rowbytes,
                         char *err, size_t errlen);

/* Write the staged bytes of w. */
int vt_fmt_flush(vt_vecwriter *w, char *err, size_t errlen);

/* ---- npy (npy.c) ---- */

/* Parse the npy header at the start of r->rd: sets el, swap, dim, rows. */
int vt_npy_open(vt_vecreader *r, char *err, size_t errlen);

/* Digits reserved for an unknown row count in a written npy header. */
#define VT_NPY_COUNT_WIDTH 20

/* The npy header for rows x dim '<f4', or (rows / group) x group x dim
 * when group > 1, into h (cap >= 256 bytes).  With fixed, the first extent
 * takes VT_NPY_COUNT_WIDTH characters (padded with spaces) so that it can
 * be rewritten in place.  Returns the length (a multiple of 64). */
size_t vt_npy_header(char *h, size_t cap, uint64_t rows, uint32_t group, uint32_t dim,
                     int fixed);

/* The same for any dtype descr ("<i4", "|u1", "<i8", ...); dim 0 gives the
 * one-dimensional shape (rows,). */
size_t vt_npy_header_descr(char *h, size_t cap, const char *descr, uint64_t rows,
                           uint32_t group, uint32_t dim, int fixed);

/* ---- hdf5 (hdf5.c) ---- */

/* Up to max_rows rows of r's dataset as float rows; as vt_vecreader_read. */
int64_t vt_h5_read(vt_vecreader *r, float *dst, size_t max_rows, char *err, size_t errlen);

/* Close r's HDF5 handles and free them (NULL-safe). */
void vt_h5_close(struct vt_h5 *h);

/* ---- vecs, bin, idx (vecs.c) ---- */

/* Header of .fbin/.u8bin/.i8bin (r->el set by the caller). */
int vt_bin_open(vt_vecreader *r, char *err, size_t errlen);

/* Header of an idx file (unsigned bytes only). */
int vt_idx_open(vt_vecreader *r, char *err, size_t errlen);

/* First record's dimension of .fvecs/.bvecs/.ivecs (r->el set by the
 * caller), peeked, not consumed. */
int vt_vecs_open(vt_vecreader *r, char *err, size_t errlen);

/* Up to max_rows records as float rows; as vt_vecreader_read. */
int64_t vt_vecs_read(vt_vecreader *r, float *dst, size_t max_rows, char *err,
                     size_t errlen);

/* Rows (rows x w->dim) as .fvecs records into w's staging buffer. */
int vt_fvecs_write(vt_vecwriter *w, const float *x, size_t rows, char *err, size_t errlen);

#endif
