/* vtrain: small operations on blocks of rows. */
#ifndef VT_VECOPS_H
#define VT_VECOPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Index of the first row of x (n x d) holding a NaN or an infinity, or n
 * when all values are finite. */
size_t vt_first_nonfinite_row(const float *x, size_t n, size_t d);

/* Drop the rows of x (n x d) that hold a NaN or an infinity: the others
 * move up, in order, and so do their ids, weights and losses (n each; any
 * of the three may be NULL).  *first (may be NULL) receives the index of
 * the first dropped row, or n when none is.  Returns the rows kept. */
size_t vt_drop_nonfinite_rows(float *x, size_t n, size_t d, uint64_t *ids, double *w,
                              double *l, size_t *first);

/* Scale each row of x (n x d) to unit L2 norm (norm summed in double), for
 * the cosine metric.  Rows of norm 0 are left as they are and counted.
 * Returns the number of zero rows. */
size_t vt_normalize_rows(float *x, size_t n, size_t d);

#ifdef __cplusplus
}
#endif
#endif
