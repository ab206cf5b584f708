/* vtrain: product quantization (PQ) codebooks.
 *
 * A PQ with M sub-spaces and nbits bits cuts each row r (d floats, d a
 * multiple of M) into M sub-vectors r^(m) of ds = d / M consecutive
 * coordinates, and quantizes each sub-vector to the nearest of the K =
 * 2^nbits centroids of its sub-space:
 *
 *     q(r) = ( C_m[ argmin_c ||r^(m) - C_m[c]||^2 ] )_{m = 0..M-1}
 *
 * Training is one flat weighted k-means per sub-space (kmeans.h: k-means++
 * seeding, a fixed number of Lloyd iterations, tol 0, duplicates allowed),
 * on the contiguous n x ds block of that sub-space's columns, with the
 * seed vt_pq_subspace_seed(seed, m).  A last mean update without the
 * k-means' split of empty clusters follows (so that a sub-space of at most
 * 2^nbits distinct sub-vectors is represented exactly), then one nearest-
 * centroid assignment (exact: dd, ties to the lower index).  Because the sub-spaces are independent and the
 * squared distance splits over them,
 *
 *     mse = (1/n) sum_i ||r_i - q(r_i)||^2 = (1/n) sum_m loss_m
 *
 * where loss_m is sub-space m's loss under that assignment, exact in double.
 *
 * A codebook is M x K x ds floats: row m K + c (ds floats) is centroid c of
 * sub-space m (docs/FORMAT.md, kind pq), as FAISS's ProductQuantizer
 * centroids for any nbits.  Codes are n x M bytes, so the encoders take
 * nbits 1 .. 8 (training takes 1 .. 16).
 *
 * The result depends only on the rows, the options and the seed, never on
 * the number of threads.
 */
#ifndef VT_PQ_H
#define VT_PQ_H

#include <stddef.h>
#include <stdint.h>

#include "train/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bits per code a codebook may have (FAISS trains up to 16: PQ16x12,
 * PQ32x10), and that the encoders here write (one byte per code). */
#define VT_PQ_MAX_NBITS 16
#define VT_PQ_MAX_CODE_NBITS 8
/* Default Lloyd iterations per sub-space (FAISS's ProductQuantizer). */
#define VT_PQ_ITERS 25

typedef struct {
	size_t m;          /* sub-spaces M, >= 1, dividing d */
	int nbits;         /* 1 .. VT_PQ_MAX_NBITS: K = 2^nbits centroids each */
	int iters;         /* Lloyd iterations per sub-space, >= 0 */
	uint64_t seed;
	int threads;       /* <= 0: all online CPUs */
	/* Called (or NULL) each time a sub-space is done, with the number done
	 * so far and M; one call at a time, from the worker threads. */
	void (*progress)(void *ctx, size_t done, size_t total);
	void *progress_ctx;
} vt_pq_opts;

/* What training measured in one sub-space. */
typedef struct {
	double loss;       /* sum_i ||r_i^(m) - q(r_i^(m))||^2, exact in double */
	int iters;         /* Lloyd updates done */
	double seconds;    /* wall time of its k-means */
} vt_pq_sub;

/* Defaults: m, nbits 8, VT_PQ_ITERS iterations, seed 0, all cores. */
void vt_pq_opts_init(vt_pq_opts *o, size_t m);

/* The k-means seed of sub-space m: splitmix64 of seed and m, so that the
 * sub-spaces draw unrelated sequences and each depends only on (seed, m). */
uint64_t vt_pq_subspace_seed(uint64_t seed, size_t m);

/* Train a codebook on x (n x d rows, only read).
 *
 * Sub-spaces run in parallel, min(threads, M) at a time, each k-means with
 * max(1, threads / M) threads of its own; each holds its n x ds block and
 * its k-means state (kmeans.h) while it runs.
 *
 *   codebook  M x 2^nbits x (d / M) floats (caller allocated).
 *   sub       M entries (or NULL): each sub-space's loss, iterations, time.
 *   mse       (or NULL): the reconstruction error above.
 * Returns 0, or
 *   VT_EDIM    M == 0 or d not a multiple of M
 *   VT_EINVAL  d == 0, nbits not in 1..16, iters < 0, or fewer than 2^nbits
 *              rows (n < 2^nbits: k-means cannot place the centroids)
 *   VT_EDATA   NaN or Inf in x
 *   VT_ENOMEM  out of memory. */
int vt_pq_train(const vt_pq_opts *o, const float *x, size_t n, size_t d, float *codebook,
                vt_pq_sub *sub, double *mse);

/* Encode rows: codes[i M + m] = the index of the centroid of sub-space m
 * nearest to r_i^(m) by dd, ties to the lowest index (vt_nearest_brute:
 * float sgemm blocks, dd wherever they leave a doubt), the same codes as
 * vt_pq_encode_exact, whatever the BLAS.  pool may be NULL.  Returns 0,
 * VT_EDIM, VT_EINVAL (nbits not in 1..8), VT_EDATA (a codeword not finite
 * or of squared norm above 1e36) or VT_ENOMEM. */
int vt_pq_encode(vt_pool *pool, const float *codebook, size_t m, int nbits,
                 const float *x, size_t n, size_t d, uint8_t *codes);

/* Encode rows exactly, as FAISS's ProductQuantizer::compute_codes means
 * to: codes[i M + m] = argmin_c dd(r_i^(m), C_m[c]), ties to the lowest
 * index, where dd is the exact double distance of nearest.h
 * (vt_nearest_sqdist), computed in double for every codeword (no float
 * filter), so the result depends on neither the pool nor the BLAS.  FAISS
 * computes the same argmin in float, so the two agree except where two
 * codewords are within float rounding of each other.  Memory: 8 d 2^nbits
 * bytes (the codebook transposed, in double).  pool may be NULL.  Returns 0, VT_EDIM, VT_EINVAL (nbits not in 1..8) or
 * VT_ENOMEM. */
int vt_pq_encode_exact(vt_pool *pool, const float *codebook, size_t m, int nbits,
                       const float *x, size_t n, size_t d, uint8_t *codes);

/* Reconstruct rows: out (n x d) = the centroids that codes (n x M) name.
 * Returns 0, VT_EDIM, or VT_EINVAL (nbits not in 1..8, or a code >= 2^nbits). */
int vt_pq_decode(const float *codebook, size_t m, int nbits, size_t d,
                 const uint8_t *codes, size_t n, float *out);

/* The reconstruction error of a codebook on rows x, in double:
 *     *mse = (1/n) sum_i ||x_i - q(x_i)||^2
 * (0 when n == 0), with q by vt_pq_encode.  Summed in a fixed order, so the
 * result does not depend on the pool.  Returns as vt_pq_encode. */
int vt_pq_mse(vt_pool *pool, const float *codebook, size_t m, int nbits,
              const float *x, size_t n, size_t d, double *mse);

#ifdef __cplusplus
}
#endif
#endif
