/* vtrain: small artefacts held whole in memory (centroids, codebooks,
 * bounds, accumulators): load one from any input, save one as a stream.
 *
 * Unlike data, a model is small (k x d), so it is read whole; the caller
 * gives the largest row count it accepts, which is checked before the rows
 * are stored.
 */
#ifndef VT_MODEL_H
#define VT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "stream/format.h"
#include "stream/output.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	vt_header h;      /* the header as read (kind, elem, cols, dim, metadata) */
	size_t rows;
	uint32_t dim;
	float *x;         /* rows x dim, for f32 kinds (NULL for f64 kinds) */
	double *xd;       /* rows x dim, for f64 kinds (NULL for f32 kinds) */
	double *weight;   /* rows, or NULL if the stream has no weight column */
	double *loss;     /* rows, or NULL */
	uint64_t *ids;    /* rows, or NULL */
} vt_model;

/* Bit masks of kinds for vt_model_load. */
#define VT_KINDMASK(kind) (1u << (kind))

/* Load the whole of path ("-" is stdin), which must be of one of the kinds
 * in kinds (a VT_KINDMASK combination; a foreign vector file counts as
 * vectors), with at most max_rows rows.  Returns 0, or a VT_E* code with a
 * message naming the path in err. */
int vt_model_load(vt_model *m, const char *path, unsigned kinds, size_t max_rows,
                  char *err, size_t errlen);

/* Release.  The struct may then be loaded again. */
void vt_model_free(vt_model *m);

/* Write a whole model as one stream of header h (whose kind, elem, cols,
 * dim describe the arrays given) to o.  Arrays not in h's columns are
 * ignored.  Returns 0 or a VT_E* code. */
int vt_model_write(vt_out *o, const vt_header *h, size_t rows, const void *data,
                   const uint64_t *ids, const double *weight, const double *loss);

/* The identifier of a set of centroids: H(k x d float32 bytes, seed = d), as
 * written in accumulators' centroids_id metadata (docs/FORMAT.md). */
uint64_t vt_centroids_id(const float *c, size_t k, size_t d);

#ifdef __cplusplus
}
#endif
#endif
