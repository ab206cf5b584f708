/* vtrain: the model given with -c, loaded and checked in one place.
 *
 * Every program that takes centroids (vloss, vrefine, vpq, vsqbounds)
 * loads them with vt_centroids_load, so that they all accept the same
 * files and refuse the others with the same messages:
 *
 *   kind       a centroids stream, or vectors in any format;
 *   rows       1 to VT_CENTROIDS_MAX_ROWS;
 *   dimension  that of the input, when the caller gives it;
 *   values     every one finite;
 *   metric     the model's recorded metric is the run's; a --metric
 *              that disagrees is an error naming both (vt_metric_settle);
 *   norm       under dot, always: every centroid has unit norm within
 *              VT_CENTROIDS_DOT_TOL (vt_centroids_check_unit); under
 *              cosine, when asked, within 1e-3.
 */
#ifndef VT_CENTROIDS_H
#define VT_CENTROIDS_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/metric.h"
#include "bridge/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most centroids a model may hold: labels are 32-bit, and 2^28 rows
 * of dimension 1 are already 1 GiB. */
#define VT_CENTROIDS_MAX_ROWS ((size_t)1 << 28)

/* How far from 1 the norm of a dot model's centroid may be: vkmeans and
 * vrefine write them normalised in double and rounded to float, within
 * about 1e-7 of 1. */
#define VT_CENTROIDS_DOT_TOL 1e-4

/* Checks beyond those every load makes (see above). */
enum {
	VT_CENTROIDS_UNIT_NORM = 1 << 1,   /* under cosine, |c| = 1 within 1e-3 */
};

/* How to load; zero-initialise, then set what applies. */
typedef struct {
	uint32_t dim;        /* dimension required (0: any) */
	const char *dim_of;  /* the input that has it, for the message */
	int metric;          /* VT_METRIC_* fixed by metric_from, if any */
	const char *metric_from; /* NULL: take the model's (l2 when it records
	                        none); else what fixed metric, for the message
	                        (see vt_metric_settle) */
	int *metric_out;     /* receives the run's metric (or NULL) */
	unsigned checks;     /* VT_CENTROIDS_* */
} vt_centroids_opts;

/* Load the centroids at path ("-" is stdin) into m (vt_model_free it) and
 * check them as above; opts NULL checks kind, rows and values only.
 * Messages name path as given.  Returns 0, or the load's own error (the
 * kind: VT_EKIND; too many rows: VT_ELIMIT; the input's errors), or
 * VT_EFORMAT (no rows: "PATH: no centroids"), VT_EDIM, VT_EDATA (a value
 * not finite: "PATH: centroid J is not finite", or a norm not 1), VT_EINVAL
 * (another metric given, or one this version does not know), with a
 * message in err; m is then empty.  With opts NULL the metric is not
 * settled. */
int vt_centroids_load(vt_model *m, const char *path, const vt_centroids_opts *opts, char *err,
                      size_t errlen);

/* Check that every centroid of m (loaded from path) has unit L2 norm, as
 * the metric needs: under VT_METRIC_DOT within VT_CENTROIDS_DOT_TOL (the
 * largest inner product is the nearest centroid only for unit centroids),
 * under VT_METRIC_COSINE within 1e-3; under l2 there is nothing to check.
 * The norm is computed in double.  Returns 0, or VT_EDATA with a message
 * in err naming path and the first centroid off:
 *   "PATH: centroid J has norm N; metric=dot needs unit-norm centroids
 *    (vkmeans --metric=dot makes them)" */
int vt_centroids_check_unit(const vt_model *m, const char *path, int metric, char *err,
                            size_t errlen);

/* Check that the centroids m (loaded from path) have dimension dim, that
 * of the input dim_of: "PATH: centroids have dimension D, but DIM_OF has
 * DIM".  For a caller that opens its input after the centroids.  Returns
 * 0 or VT_EDIM with a message in err. */
int vt_centroids_check_dim(const vt_model *m, const char *path, uint32_t dim,
                           const char *dim_of, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
