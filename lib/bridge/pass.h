/* vtrain: one streaming assignment pass of an input against centroids.
 *
 * The glue that vloss and vrefine share between the stream wing and the
 * maths wing: read an input (vectors or weighted points) in batches of
 * bounded size, refuse rows holding a NaN or an infinity, optionally
 * normalise the rows (cosine), find each row's nearest centroid and its
 * exact double distance dd (bridge/assign: the argmin of dd, ties to the
 * lower index, by the certified search of train/nearest, whose index is
 * built once per pass or given by the caller), and add the batch to Lloyd
 * accumulators; the loss is that of dd.
 *
 * Two ways of accumulating:
 *
 *  - plain: vt_accum_add, double sums in row order.  Deterministic for a
 *    given input, but the sums of shards added together differ from the
 *    sum of the whole in the last bits.
 *
 *  - exact: every addend is rounded to a fixed binary grid that depends on
 *    the centroids alone, and summed in 128-bit integers, so that the sum
 *    of any split of the rows, added in any order, is the same number.
 *    For centroid j with M_j = max_t |c_jt| and M = max_j M_j,
 *        sum grid     g_j = 2^(e_j - 28),  2^(e_j - 1) <= max(M_j, M/1024) < 2^e_j
 *        weight grid  g_w = 2^-20
 *        loss grid    g_L = 2^(E - 45),    2^(E - 1) <= T < 2^E
 *    where T is the loss scale given by the caller (the total loss of the
 *    centroids when known), and each row adds
 *        round(w x_t / g_j) g_j,  round(w / g_w) g_w,  round((l + w d2) / g_L) g_L
 *    (round half to even).  The final sums are written to the accumulator
 *    as doubles; each is exact when it has at most 53 significant bits,
 *    and then doubles of shards added in any grouping give the same bytes
 *    as long as the partial sums stay within 2^53 grid steps.  A row with
 *    an addend of 2^100 grid steps or more (data about 2^70 times the
 *    scale of its centroid) is added in plain double instead.
 *    vt_pass_stats.inexact counts the stored values that are not exact
 *    (did not fit 53 bits, or received such a row).
 *
 * The library does not print or exit; errors come back as a VT_E* code
 * with a message naming the input.
 */
#ifndef VT_PASS_H
#define VT_PASS_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/assign.h"
#include "stream/input.h"
#include "train/accum.h"
#include "train/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options of a pass; zero-initialise, then set what differs. */
typedef struct {
	size_t batch_rows;   /* rows assigned at once; 0: about 16 MiB of rows,
	                        a multiple of 256 */
	int cosine;          /* normalise each row to unit norm first */
	int exact;           /* grid accumulation (see above) instead of plain */
	double loss_scale;   /* exact only: T of the loss grid; <= 0 or not
	                        finite: 2^20 d max(M, 1)^2 */
	vt_assigner *assigner; /* the nearest-centroid search over the same
	                        centroids (borrowed), or NULL: the pass makes
	                        one, in nearest_mode */
	int nearest_mode;    /* VT_NEAREST_AUTO (0, the default), _SEARCH or
	                        _BRUTE: only the speed changes */
	/* Called after every batch with the rows read so far; NULL for none.
	 * A non-zero return stops the pass with VT_EINTR. */
	int (*progress)(void *ctx, uint64_t rows);
	void *progress_ctx;
} vt_pass_opts;

/* What a pass saw. */
typedef struct {
	uint64_t rows;       /* rows read */
	size_t zero_norm;    /* cosine: rows of norm 0 left as they are */
	size_t inexact;      /* exact: sums, weights or losses that could not be
	                        stored exactly in a double */
	vt_assign_report nearest; /* what the nearest-centroid search did (with
	                        a caller's assigner: its totals so far) */
} vt_pass_stats;

/* Assign every row of in (a vectors or weighted points input of dimension
 * d) to its nearest of the k x d centroids c, and add it to acc (k x d,
 * usually fresh from vt_accum_new; in exact mode its contents are replaced
 * by the pass's sums, otherwise the rows are added to what it holds).
 *
 *   pool   threads for the kernel and the exact sums (NULL: serial).
 *   opts   NULL for the defaults.
 *   stats  receives the counts (may be NULL).
 *
 * Memory: batch x (4d + 28) bytes, the assigner's (bridge/assign.h: the
 * index, 8 k + G (4 d + 52) + k / 64 bytes with G about k / 64, and a
 * query's scratch, at most about 30 MiB + 660 min(batch, 32768)), and in
 * exact mode k x d x 16 + k x 48 bytes for the integer sums (and k x (d + 2)
 * x 8 more if a row falls off the grid) and batch bytes, besides acc.
 * Returns 0, or VT_EKIND / VT_EDIM (input of another kind or dimension),
 * VT_EDATA (a NaN or infinite value: "PATH: row N has a NaN or infinite
 * value", N counted from 0 over the whole input), VT_ENOMEM, VT_EINTR (the progress callback asked to stop), or the
 * input's own error (truncated, checksum, ...); with a message in err.
 * (Integer sums cannot overflow before 2^26 rows of the largest addends.) */
int vt_pass_input(vt_input *in, vt_pool *pool, const float *c, size_t k, size_t d,
                  const vt_pass_opts *opts, vt_accum *acc, vt_pass_stats *stats,
                  char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
