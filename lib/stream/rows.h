/* vtrain: rows held whole in memory, and the reading of a whole input.
 *
 * A vt_rows is a growable table of float32 rows of one dimension with
 * the optional columns ids, weight and loss: what a program that needs
 * all of its input at once (vkmeans, vmerge --budget) keeps.
 */
#ifndef VT_ROWS_H
#define VT_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "stream/input.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	size_t n, cap;      /* rows held, rows allocated */
	uint32_t dim;
	unsigned cols;      /* VT_COL_* kept besides the data */
	float *x;           /* n x dim */
	uint64_t *ids;      /* n, or NULL when VT_COL_IDS is not kept */
	double *weight;     /* n, or NULL */
	double *loss;       /* n, or NULL */
} vt_rows;

/* An empty table of rows of dim floats keeping the columns cols
 * (VT_COL_IDS | VT_COL_WEIGHT | VT_COL_LOSS, any combination). */
void vt_rows_init(vt_rows *r, uint32_t dim, unsigned cols);

/* Release the arrays; r is then empty (and may be used again). */
void vt_rows_free(vt_rows *r);

/* Make room for cap rows in all (r->cap >= cap afterwards).  Returns 0 or
 * VT_ENOMEM (r unchanged but for the arrays already grown). */
int vt_rows_reserve(vt_rows *r, size_t cap);

/* Append one row: x (dim floats) and, for each kept column, *id, *w, *l
 * (those not kept may be NULL).  Grows by doubling from 4096 rows.
 * Returns 0 or VT_ENOMEM. */
int vt_rows_push(vt_rows *r, const float *x, const uint64_t *id, const double *w,
                 const double *l);

/* Read the whole of in (vectors or weighted points of float32 rows, of
 * the table's dimension) and append it to r, a new row at a time through
 * vt_input_read, so that a column the input lacks but r keeps gets its
 * default.  Room is made first for the rows the input announces
 * (vt_input_rows_hint) or 65536, then doubled.  At most max_rows rows in
 * all (SIZE_MAX: no limit).  Returns 0, or VT_ENOMEM ("PATH: N rows do not
 * fit in memory"), VT_ELIMIT ("PATH: more than MAX rows"), VT_EKIND (not
 * float32 rows) or the input's own error, with a message in err. */
int vt_rows_read_all(vt_rows *r, vt_input *in, size_t max_rows, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
