/* vtrain: explicit-state pseudo random numbers.
 *
 * xoshiro256** seeded through splitmix64.  There is no global state: every
 * caller owns a vt_rng.  vt_rng_init(r, seed, stream) derives independent
 * sequences from one user seed, so that a parallel or sharded computation
 * can give each unit of work (a chunk, a sub-space, a cluster) its own
 * stream and stay deterministic whatever the scheduling.
 */
#ifndef VT_RNG_H
#define VT_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	uint64_t s[4];
} vt_rng;

/* splitmix64 step: a good 64-bit mixer; *x is advanced. */
uint64_t vt_splitmix64(uint64_t *x);

/* Seed r from (seed, stream).  Different streams give unrelated sequences. */
void vt_rng_init(vt_rng *r, uint64_t seed, uint64_t stream);

/* Next 64 random bits. */
uint64_t vt_rng_u64(vt_rng *r);

/* Uniform integer in [0, n); n > 0.  Unbiased (Lemire's method). */
uint64_t vt_rng_below(vt_rng *r, uint64_t n);

/* Uniform double in [0, 1) with 53 random bits. */
double vt_rng_uniform(vt_rng *r);

/* Standard normal deviate (Marsaglia polar method; no cached state, so the
 * sequence depends only on the calls made). */
double vt_rng_normal(vt_rng *r);

#ifdef __cplusplus
}
#endif
#endif
