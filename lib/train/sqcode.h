/* vtrain: 8-bit scalar-quantizer codes, as FAISS's ScalarQuantizer QT_8bit
 * computes them.
 *
 * Bounds [vmin_j, vmax_j] per dimension (vsqbounds, as doubles) become
 * FAISS's trained array of float32: vmin_j = (float)vmin_j and
 * vdiff_j = (float)vmax_j - vmin_j (a float subtraction, as numpy's
 * S[1] - S[0] on the exported float32 bounds).  A value x of dimension j
 * then has the code
 *
 *     t = (x - vmin_j) / vdiff_j      (float; t = 0 when vdiff_j is 0)
 *     t = min(max(t, 0), 1)
 *     code = (int)(255 * t)           (float product, truncated)
 *
 * which equals QT_8bit's encode_vector (and QT_8bit_uniform's, when every
 * column holds the same bounds) bit for bit: each step is one correctly
 * rounded float operation, and none can be contracted.  Lance rounds
 * instead of truncating (docs/INTEROP.md).
 */
#ifndef VT_SQCODE_H
#define VT_SQCODE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* FAISS's trained array from bounds (2 x d doubles: the minima, then the
 * maxima): vmin (d floats) and vdiff (d floats), as above. */
void vt_sq8_trained(const double *bounds, size_t d, float *vmin, float *vdiff);

/* The codes (n x d bytes) of the n x d rows x. */
void vt_sq8_encode(const float *vmin, const float *vdiff, size_t d, const float *x, size_t n,
                   uint8_t *codes);

#ifdef __cplusplus
}
#endif
#endif
