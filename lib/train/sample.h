/* vtrain: the deterministic fixed-index sample.
 *
 * A vt_sampler names m distinct rows of [0, n), chosen uniformly at random
 * from (n, m, seed) alone, and lists them in increasing order from any
 * starting row.  It never holds the m indices: memory is constant (about
 * 12 KiB), whatever n and m.  So a shard holding rows [A, B) of the data
 * set enumerates exactly the sampled rows in its range, and the shards'
 * samples put end to end are the whole sample.
 *
 * The construction is a binary tree over the rows.  The root is [0, n)
 * holding all m chosen rows.  A node [lo, hi) of N = hi - lo rows holding
 * c chosen rows splits at mid = lo + N/2 into a left child of L = mid - lo
 * rows and a right child; the number x that falls to the left is a draw of
 * the hypergeometric law
 *
 *     P(x) = C(L, x) C(N - L, c - x) / C(N, c),
 *     max(0, c - (N - L)) <= x <= min(c, L),
 *
 * made with a generator seeded from (seed, node), where the node is
 * numbered as in a heap (root 1, children 2i and 2i + 1).  With t =
 * min(c, N - c) (by symmetry the split of the unchosen rows gives that of
 * the chosen ones), the draw is exact when t <= VT_SAMPLE_EXACT: t draws
 * without replacement, one integer each.  Above, it is the normal
 * approximation
 *
 *     x = clamp(floor(mu + sigma z + 1/2)),   mu = c L / N,
 *     sigma^2 = c (L/N) (1 - L/N) (N - c) / (N - 1),
 *
 * where z is the sum of 12 uniform deviates minus 6 (Irwin-Hall: mean 0,
 * variance 1), clamped to the valid range above.  Its error is far below
 * the sampling noise at t > 1024, and it uses only +, -, *, / and sqrt,
 * which IEEE 754 rounds exactly, so every host computes the same split.
 * A node of at most VT_SAMPLE_LEAF rows is a leaf: its c rows are a
 * uniform c-subset drawn by Floyd's algorithm (of its N - c unchosen rows
 * when c > N/2) into a bitmap, read in order.
 *
 * The whole is an exactly uniform m-subset when every split is exact, and
 * a very close approximation otherwise.  Listing rows from A costs one
 * descent through the nodes that overlap [A, n), so each shard does work
 * in proportion to its own rows, plus a path of about log2(n / 65536)
 * splits.
 */
#ifndef VT_SAMPLE_H
#define VT_SAMPLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Rows of a leaf of the tree. */
#define VT_SAMPLE_LEAF 65536u
/* Largest min(c, N - c) of a split drawn exactly. */
#define VT_SAMPLE_EXACT 1024u
/* Largest n. */
#define VT_SAMPLE_MAX_N (1ULL << 62)

typedef struct vt_sampler vt_sampler;

/* ---- create / destroy ---- */

/* A sampler of m of the n rows [0, n) with the given seed, positioned at
 * row 0.  *out is NULL on failure.  Returns 0, VT_EINVAL (m > n, or n >
 * VT_SAMPLE_MAX_N) or VT_ENOMEM. */
int vt_sampler_new(vt_sampler **out, uint64_t n, uint64_t m, uint64_t seed);

/* Free the sampler.  NULL-safe. */
void vt_sampler_free(vt_sampler *s);

/* ---- process ---- */

/* Position the sampler so that vt_sampler_next returns the chosen rows at
 * or after row first (any first; past n there are none). */
void vt_sampler_seek(vt_sampler *s, uint64_t first);

/* The next chosen row, in increasing order, into *idx.  Returns 1, or 0
 * when there are no more (*idx is then untouched). */
int vt_sampler_next(vt_sampler *s, uint64_t *idx);

/* ---- get ---- */

/* How many chosen rows lie in [a, b).  Does not move the position. */
uint64_t vt_sampler_count(const vt_sampler *s, uint64_t a, uint64_t b);

/* The n, m and seed the sampler was made with. */
uint64_t vt_sampler_n(const vt_sampler *s);
uint64_t vt_sampler_m(const vt_sampler *s);
uint64_t vt_sampler_seed(const vt_sampler *s);

#ifdef __cplusplus
}
#endif
#endif
