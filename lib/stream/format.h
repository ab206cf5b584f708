/* vtrain: the stream format, version 1 (docs/FORMAT.md is the byte-level
 * specification; this header holds its constants and the in-memory header).
 *
 * A stream is a header, frames, and an end marker.  Several streams of one
 * kind, element type, columns and dimension, written one after another,
 * read as one.
 */
#ifndef VT_FORMAT_H
#define VT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VT_MAGIC "VTS\x1a"
#define VT_FRAME_TAG "VTFR"
#define VT_END_TAG "VTEN"
#define VT_VERSION 1

#define VT_HEADER_FIXED 24      /* bytes before the metadata */
#define VT_FRAME_HEADER 32
#define VT_END_MARKER 40

/* Limits a reader enforces before allocating anything. */
#define VT_MAX_DIM (1u << 20)
#define VT_MAX_META_COUNT 256
#define VT_MAX_META_BYTES 65536
#define VT_MAX_KEY 64
#define VT_MAX_VALUE 4096
#define VT_MAX_FRAME_RAW (64u << 20)   /* raw payload bytes of one frame */
#define VT_DEFAULT_FRAME_RAW (1u << 20)

/* Stream kinds. */
enum {
	VT_KIND_VECTORS = 1,   /* f32 rows, optional ids */
	VT_KIND_POINTS = 2,    /* weighted points: f32 rows, weight, loss, optional ids */
	VT_KIND_CENTROIDS = 3, /* f32 rows, weight (count), loss */
	VT_KIND_PQ = 4,        /* f32 rows: M x 2^nbits sub-centroids of dim d/M */
	VT_KIND_SQ = 5,        /* f64 rows: bounds or their mergeable statistics */
	VT_KIND_ACCUM = 6,     /* f64 rows: per-centroid sums, weight (count), loss */
	VT_KIND_LABELS = 7,    /* w32 rows: per-row partitions, distances, PQ codes; ids */
};

/* Element types of the data plane. */
enum {
	VT_ELEM_F32 = 1,
	VT_ELEM_F64 = 2,
	VT_ELEM_W32 = 3,   /* 32-bit words whose type the kind gives (labels) */
};

/* Column flags: which planes precede the data plane, in this order. */
enum {
	VT_COL_IDS = 1,     /* u64 global row id */
	VT_COL_WEIGHT = 2,  /* f64 weight / member count */
	VT_COL_LOSS = 4,    /* f64 local loss */
};
#define VT_COL_ALL (VT_COL_IDS | VT_COL_WEIGHT | VT_COL_LOSS)

/* Frame codecs. */
enum {
	VT_CODEC_NONE = 0,
	VT_CODEC_LZ4 = 1,
	VT_CODEC_LZ4_SHUFFLE = 2,
};

typedef struct {
	char key[VT_MAX_KEY + 1];
	char *value;
} vt_meta_entry;

/* The in-memory header.  Owns its metadata values. */
typedef struct {
	uint16_t version;
	uint16_t kind;
	uint8_t elem;
	uint8_t cols;
	uint32_t dim;
	size_t nmeta;
	vt_meta_entry *meta;
} vt_header;

/* Initialise h for writing (version 1) with the given shape. */
void vt_header_init(vt_header *h, int kind, int elem, int cols, uint32_t dim);

/* Release the metadata.  h may then be initialised again. */
void vt_header_free(vt_header *h);

/* Copy src into dst (dst is overwritten, not freed). Returns 0 or VT_ENOMEM. */
int vt_header_copy(vt_header *dst, const vt_header *src);

/* Set key to value, replacing an existing entry.  Keys are 1..64 of
 * [A-Za-z0-9_.-]; values up to 4096 bytes of valid UTF-8 without NUL or
 * newline.
 * Returns 0, VT_EINVAL or VT_ELIMIT / VT_ENOMEM. */
int vt_header_set(vt_header *h, const char *key, const char *value);

/* Printf-style vt_header_set. */
int vt_header_setf(vt_header *h, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A vt_header_setf in a run of sets checked once at its end: does nothing
 * when *rc is already negative, else sets key and stores the result (0 or
 * the error) in *rc.
 *     int rc = 0;
 *     vt_header_put(&h, &rc, "made_by", "%s", name);
 *     vt_header_put(&h, &rc, "k", "%zu", k);
 *     if (rc < 0) ...   (the first error) */
void vt_header_put(vt_header *h, int *rc, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* 1 if the n bytes at s are valid UTF-8 (shortest forms, no UTF-16
 * surrogates, at most U+10FFFF), else 0. */
int vt_utf8_valid(const char *s, size_t n);

/* Value of key, or NULL. Borrowed. */
const char *vt_header_get(const vt_header *h, const char *key);

/* Remove key from h (nothing if absent); the order of the others stays. */
void vt_header_unset(vt_header *h, const char *key);

/* The row count that a segment's header announces (metadata "rows", set by
 * a writer that knows it before the first row: vgen, vcat from one counted
 * file): >= 0, -1 when absent, or VT_EFORMAT when the value is not a whole
 * number below 2^63.  A reader checks it against the segment's end marker. */
int64_t vt_header_rows(const vt_header *h);

/* Bytes of one element of the data plane (4 or 8), 0 if unknown. */
size_t vt_elem_size(int elem);

/* Name of an element type ("f32", "f64", "w32"), or "unknown". */
const char *vt_elem_name(int elem);

/* Bytes of one row: the column planes plus dim elements. */
size_t vt_row_bytes(const vt_header *h);

/* Name of a kind ("vectors", "points", ...), or "unknown". */
const char *vt_kind_name(int kind);

/* Parse a kind name.  Returns the kind or 0. */
int vt_kind_parse(const char *name);

/* Name of a codec ("none", "lz4", "lz4-shuffle"), or "unknown". */
const char *vt_codec_name(int codec);

/* Parse a codec name.  Returns the codec, or -1. */
int vt_codec_parse(const char *name);

/* Check the fixed fields of a header (version, kind, element type, columns,
 * dimension) for consistency.  Returns 0, VT_EVERSION, VT_EKIND, VT_ELIMIT
 * or VT_EFORMAT, with a message in err. */
int vt_header_validate(const vt_header *h, char *err, size_t errlen);

/* Whether a stream of header b may follow (be concatenated or merged with)
 * one of header a: same kind, element type, columns and dimension, and for
 * accumulators the same centroids_id.  Returns 0, VT_EKIND, VT_EDIM or
 * VT_EFORMAT with a message in err. */
int vt_header_compatible(const vt_header *a, const vt_header *b, char *err, size_t errlen);

/* Serialise h into a malloc'd buffer (*out, *len).  Returns 0 or error. */
int vt_header_encode(const vt_header *h, unsigned char **out, size_t *len);

/* 64-bit content hash (XXH3) used for all checksums of the format. */
uint64_t vt_hash64(const void *p, size_t n, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
