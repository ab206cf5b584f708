/* vtrain: synthetic Gaussian-mixture vectors.
 *
 * M means are drawn once: mean_j ~ N(0, spread^2 I_d).  Multi-scale (top =
 * T > 0): T top means top_t ~ N(0, spread^2 I_d) are drawn first, and mean_j
 * = top_{j mod T} + N(0, sub_spread^2 I_d): clusters of clusters.  Row i picks a mean j
 * (uniformly, or with Zipf weights 1/(j+1)^skew) and is mean_j + N(0,
 * sigma^2 I_d).  Row i depends only on (seed, i): any block of rows can be
 * made alone, in any order, by any number of threads, with the same bytes.
 * Memory: M x d floats for the means (plus M doubles with skew).
 */
#ifndef VT_GEN_H
#define VT_GEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	uint64_t seed;
	uint32_t dim;
	uint32_t means;    /* >= 1 */
	double spread;     /* standard deviation of the means' coordinates */
	double sigma;      /* standard deviation around a mean */
	double skew;       /* Zipf exponent of cluster sizes; 0 = uniform */
	uint32_t top;      /* multi-scale: number of top means; 0 = off */
	double sub_spread; /* multi-scale: std of a mean around its top mean */
} vt_gen_params;

typedef struct vt_gen vt_gen;

/* Create a generator (draws the means).  Returns 0, VT_EINVAL or VT_ENOMEM. */
int vt_gen_new(vt_gen **out, const vt_gen_params *p);

/* NULL-safe. */
void vt_gen_free(vt_gen *g);

/* Rows [first, first + n) into out (n x dim floats); the planted mean of
 * each row into labels if not NULL.  threads >= 1 splits the rows. */
int vt_gen_rows(const vt_gen *g, uint64_t first, size_t n, float *out,
                uint32_t *labels, int threads);

/* The means (means x dim).  Borrowed.  With top > 0, the sub-means. */
const float *vt_gen_means(const vt_gen *g);

#ifdef __cplusplus
}
#endif
#endif
