#define _POSIX_C_SOURCE 200809L
#include "train/kmeans.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "train/cindex.h"
#include "train/kernel.h"
#include "train/pool.h"
#include "train/rng.h"

#define HIER_AUTO_K 256
/* automatic narrowing: the global refinement of a hierarchical run assigns
 * through a centroid index (cindex.h) from this k on, probing this many
 * groups */
#define NARROW_AUTO_K 8192
#define NARROW_AUTO_P 8
#define SPLIT_EPS (1.0 / 1024.0)
#define ROWS VT_KERNEL_ROWS
#define BROWS (8 * ROWS) /* rows per task of a bounded pass */
/* rng streams: seeding of the flat run / of sub-split number s */
#define STREAM_FLAT 0
#define STREAM_FALLBACK 1
#define STREAM_SPLIT 16

struct vt_kmeans {
	size_t k, d;
	int iters, hier_iters, refine_iters, threads, init, mode, allow_dup;
	int probe;             /* -1 automatic, 0 exact, > 0 groups probed */
	size_t bounds_bytes;   /* budget of the per-point lower bounds */
	size_t hier_k;
	double tol, balance;
	uint64_t seed;
	vt_kmeans_cb cb;
	void *cb_user;
	float *initial;    /* k x initial_d or NULL */
	size_t initial_d;
	/* results */
	float *c;
	double *cw, *closs;
	double loss;
	int iters_done, was_hier, probe_used;
	double work_rows, pass_rows;
	/* run state */
	vt_pool *pool;
	double t0;
	int in_main;       /* the flat loop being run reports to the callback */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ */
/* create / destroy / set / get                                        */

int vt_kmeans_new(vt_kmeans **out, size_t k)
{
	*out = NULL;
	if (k < 1 || k >= (size_t)INT32_MAX)
		return VT_EINVAL;
	vt_kmeans *km = calloc(1, sizeof *km);
	if (!km)
		return VT_ENOMEM;
	km->k = k;
	km->iters = 25;
	km->hier_iters = 20;
	km->refine_iters = 5;
	km->hier_k = 16;
	km->tol = 1e-4;
	km->init = VT_KMEANS_INIT_PP;
	km->mode = VT_KMEANS_AUTO;
	km->bounds_bytes = (size_t)64 << 20;
	km->probe = -1;
	*out = km;
	return 0;
}

void vt_kmeans_free(vt_kmeans *km)
{
	if (!km)
		return;
	free(km->initial);
	free(km->c);
	free(km->cw);
	free(km->closs);
	free(km);
}

const float *vt_kmeans_centroids(const vt_kmeans *km) { return km->c; }
const double *vt_kmeans_weights(const vt_kmeans *km) { return km->c ? km->cw : NULL; }
const double *vt_kmeans_losses(const vt_kmeans *km) { return km->c ? km->closs : NULL; }
double vt_kmeans_loss(const vt_kmeans *km) { return km->loss; }
int vt_kmeans_iterations(const vt_kmeans *km) { return km->iters_done; }
int vt_kmeans_was_hierarchical(const vt_kmeans *km) { return km->was_hier; }
size_t vt_kmeans_k(const vt_kmeans *km) { return km->k; }
size_t vt_kmeans_dim(const vt_kmeans *km) { return km->d; }

double vt_kmeans_work_fraction(const vt_kmeans *km)
{
	return km->pass_rows > 0 ? km->work_rows / km->pass_rows : 0.0;
}

int vt_kmeans_set_iters(vt_kmeans *km, int iters)
{
	if (iters < 0)
		return VT_EINVAL;
	km->iters = iters;
	return 0;
}

int vt_kmeans_set_tol(vt_kmeans *km, double tol)
{
	if (!(tol >= 0) || !isfinite(tol))
		return VT_EINVAL;
	km->tol = tol;
	return 0;
}

void vt_kmeans_set_seed(vt_kmeans *km, uint64_t seed) { km->seed = seed; }

int vt_kmeans_set_threads(vt_kmeans *km, int threads)
{
	if (threads > 1024)
		return VT_EINVAL;
	km->threads = threads;
	return 0;
}

int vt_kmeans_set_init(vt_kmeans *km, int method)
{
	if (method != VT_KMEANS_INIT_PP && method != VT_KMEANS_INIT_RANDOM)
		return VT_EINVAL;
	km->init = method;
	return 0;
}

int vt_kmeans_set_initial(vt_kmeans *km, const float *c, size_t d)
{
	free(km->initial);
	km->initial = NULL;
	km->initial_d = 0;
	if (!c)
		return 0;
	if (d == 0 || km->k > SIZE_MAX / sizeof(float) / d)
		return VT_EINVAL;
	for (size_t i = 0; i < km->k * d; i++)
		if (!isfinite(c[i]))
			return VT_EINVAL;
	km->initial = malloc(km->k * d * sizeof *km->initial);
	if (!km->initial)
		return VT_ENOMEM;
	memcpy(km->initial, c, km->k * d * sizeof *km->initial);
	km->initial_d = d;
	return 0;
}

int vt_kmeans_set_mode(vt_kmeans *km, int mode)
{
	if (mode != VT_KMEANS_AUTO && mode != VT_KMEANS_FLAT && mode != VT_KMEANS_HIER)
		return VT_EINVAL;
	km->mode = mode;
	return 0;
}

int vt_kmeans_set_hier_k(vt_kmeans *km, size_t hier_k)
{
	if (hier_k < 2 || hier_k >= (size_t)INT32_MAX)
		return VT_EINVAL;
	km->hier_k = hier_k;
	return 0;
}

int vt_kmeans_set_hier_iters(vt_kmeans *km, int iters)
{
	if (iters < 1)
		return VT_EINVAL;
	km->hier_iters = iters;
	return 0;
}

int vt_kmeans_set_refine_iters(vt_kmeans *km, int iters)
{
	if (iters < 0)
		return VT_EINVAL;
	km->refine_iters = iters;
	return 0;
}

int vt_kmeans_set_balance(vt_kmeans *km, double lambda)
{
	if (!(lambda >= 0) || !isfinite(lambda))
		return VT_EINVAL;
	km->balance = lambda;
	return 0;
}

void vt_kmeans_set_allow_duplicates(vt_kmeans *km, int allow) { km->allow_dup = allow != 0; }

int vt_kmeans_set_probe(vt_kmeans *km, int nprobe)
{
	if (nprobe < -1 || nprobe > VT_CINDEX_MAX_PROBE)
		return VT_EINVAL;
	km->probe = nprobe;
	return 0;
}

int vt_kmeans_probe_used(const vt_kmeans *km) { return km->probe_used; }

int vt_kmeans_set_bounds_bytes(vt_kmeans *km, size_t bytes)
{
	if (bytes < 1024)
		return VT_EINVAL;
	km->bounds_bytes = bytes;
	return 0;
}

void vt_kmeans_set_callback(vt_kmeans *km, vt_kmeans_cb cb, void *user)
{
	km->cb = cb;
	km->cb_user = user;
}

/* ------------------------------------------------------------------ */
/* input checks                                                        */

struct check_ctx {
	const float *x;
	const double *w, *l;
	size_t n, d;
	int *bad;   /* one flag per task */
};

#define CHECK_ROWS 4096

static void check_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct check_ctx *a = arg;
	size_t r0 = t * CHECK_ROWS, r1 = r0 + CHECK_ROWS < a->n ? r0 + CHECK_ROWS : a->n;
	int bad = 0;
	for (size_t i = r0 * a->d; i < r1 * a->d; i++)
		bad |= !isfinite(a->x[i]);
	for (size_t i = r0; i < r1; i++) {
		if (a->w)
			bad |= !isfinite(a->w[i]) || a->w[i] < 0;
		if (a->l)
			bad |= !isfinite(a->l[i]) || a->l[i] < 0;
	}
	a->bad[t] = bad;
}

static uint64_t row_hash(const float *r, size_t d)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ d;
	for (size_t t = 0; t < d; t++) {
		float v = r[t] == 0.0f ? 0.0f : r[t]; /* -0 and +0 are one point */
		uint32_t u;
		memcpy(&u, &v, sizeof u);
		h = (h ^ u) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h ^ (h >> 32);
}

static int rows_equal(const float *a, const float *b, size_t d)
{
	for (size_t t = 0; t < d; t++)
		if (a[t] != b[t])
			return 0;
	return 1;
}

/* Number of distinct rows with non-zero weight, counting no further than
 * limit.  Returns the count, or a negative VT_ENOMEM. */
static long long count_distinct(const float *x, size_t n, size_t d, const double *w,
                                size_t limit)
{
	size_t cap = 16;
	while (cap < 2 * limit)
		cap <<= 1;
	size_t *tab = malloc(cap * sizeof *tab);
	if (!tab)
		return VT_ENOMEM;
	for (size_t i = 0; i < cap; i++)
		tab[i] = SIZE_MAX;
	size_t cnt = 0;
	for (size_t i = 0; i < n && cnt < limit; i++) {
		if (w && !(w[i] > 0))
			continue;
		const float *r = x + i * d;
		size_t h = (size_t)row_hash(r, d) & (cap - 1);
		for (;;) {
			if (tab[h] == SIZE_MAX) {
				tab[h] = i;
				cnt++;
				break;
			}
			if (rows_equal(x + tab[h] * d, r, d))
				break;
			h = (h + 1) & (cap - 1);
		}
	}
	free(tab);
	return (long long)cnt;
}

/* ------------------------------------------------------------------ */
/* one flat problem                                                    */

struct prob {
	const float *x;
	const double *w;      /* NULL: all 1 */
	size_t n, d;
	float *xn;            /* ||x_i||^2 as float, for the kernel */
	double *xq;           /* w_i ||x_i||^2 in double */
};

static int prob_init(struct prob *p, vt_pool *pool, const float *x, const double *w,
                     size_t n, size_t d);

static void prob_release(struct prob *p)
{
	free(p->xn);
	free(p->xq);
	p->xn = NULL;
	p->xq = NULL;
}

struct norm_ctx {
	struct prob *p;
};

static void norm_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct prob *p = ((struct norm_ctx *)arg)->p;
	size_t r0 = t * CHECK_ROWS, r1 = r0 + CHECK_ROWS < p->n ? r0 + CHECK_ROWS : p->n;
	for (size_t i = r0; i < r1; i++) {
		const float *r = p->x + i * p->d;
		double s = 0;
		for (size_t j = 0; j < p->d; j++)
			s += (double)r[j] * r[j];
		p->xn[i] = (float)s;
		p->xq[i] = (p->w ? p->w[i] : 1.0) * s;
	}
}

static int prob_init(struct prob *p, vt_pool *pool, const float *x, const double *w,
                     size_t n, size_t d)
{
	p->x = x;
	p->w = w;
	p->n = n;
	p->d = d;
	p->xn = malloc(n * sizeof *p->xn);
	p->xq = malloc(n * sizeof *p->xq);
	if (!p->xn || !p->xq) {
		prob_release(p);
		return VT_ENOMEM;
	}
	struct norm_ctx nc = {p};
	vt_pool_run(pool, (n + CHECK_ROWS - 1) / CHECK_ROWS, norm_task, &nc);
	return 0;
}

static inline double wt(const struct prob *p, size_t i)
{
	return p->w ? p->w[i] : 1.0;
}

/* ---- seeding ---- */

/* Uniform sample of m distinct indices out of n, sorted (partial
 * Fisher-Yates). */
static int sample_indices(vt_rng *r, size_t n, size_t m, size_t *out)
{
	size_t *perm = malloc(n * sizeof *perm);
	if (!perm)
		return VT_ENOMEM;
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = 0; i < m; i++) {
		size_t j = i + (size_t)vt_rng_below(r, n - i);
		size_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	/* sort the m chosen ones (counting via a mark array keeps it O(n)) */
	unsigned char *mark = calloc(n, 1);
	if (!mark) {
		free(perm);
		return VT_ENOMEM;
	}
	for (size_t i = 0; i < m; i++)
		mark[perm[i]] = 1;
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (mark[i])
			out[c++] = i;
	free(mark);
	free(perm);
	return 0;
}

/* Index i with prefix[i-1] <= u < prefix[i] (prefix is non-decreasing). */
static size_t pick_prefix(const double *prefix, size_t m, double u)
{
	size_t lo = 0, hi = m - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (prefix[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

#define PP_ROWS 1024
#define PP_MAXTRIALS 16
/* seeding sample: PP_SAMPLE rows per centroid (measured on Fashion-MNIST,
 * k = 256: 8 costs 0.7% of loss after 25 iterations, 32 matches seeding on
 * all rows) */
#define PP_SAMPLE 32

struct pp_ctx {
	const float *xs;       /* m x d sample */
	const double *ws;      /* m weights */
	const float *xns;      /* m norms */
	const double *D;       /* m current w * min dist */
	size_t m, d, L;
	const float *cand;     /* L x d */
	float cnc[PP_MAXTRIALS];
	float *dist;           /* m x L */
	double *pot;           /* ntasks x L */
};

static void pp_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct pp_ctx *a = arg;
	size_t r0 = t * PP_ROWS, mm = a->m - r0 < PP_ROWS ? a->m - r0 : PP_ROWS;
	float *dd = a->dist + r0 * a->L;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mm, (int)a->L, (int)a->d,
	            -2.0f, a->xs + r0 * a->d, (int)a->d, a->cand, (int)a->d, 0.0f, dd,
	            (int)a->L);
	double pot[PP_MAXTRIALS] = {0};
	for (size_t i = 0; i < mm; i++) {
		double wi = a->ws ? a->ws[r0 + i] : 1.0, Di = a->D[r0 + i];
		for (size_t c = 0; c < a->L; c++) {
			float v = dd[i * a->L + c] + a->xns[r0 + i] + a->cnc[c];
			v = v > 0 ? v : 0.0f;
			dd[i * a->L + c] = v;
			double e = wi * v;
			pot[c] += e < Di ? e : Di;
		}
	}
	memcpy(a->pot + t * a->L, pot, a->L * sizeof *pot);
}

/* Weighted greedy k-means++ (Arthur & Vassilvitskii, with L = 2 + ln k
 * trials per step as scikit-learn does) on a uniform sample of at most
 * max(PP_SAMPLE k, 1024) rows: each step draws L candidates with probability
 * proportional to w_i D(x_i)^2 and keeps the one that lowers the sampled
 * potential most.  When the potential is 0 (all sampled points are
 * centroids already), the remaining centroids are rows drawn at random.
 * C receives k x d. */
static int seed_pp(vt_pool *pool, const struct prob *p, size_t k, vt_rng *r, float *C)
{
	const size_t n = p->n, d = p->d;
	size_t m = PP_SAMPLE * k > 1024 ? PP_SAMPLE * k : 1024;
	if (m > n)
		m = n;
	size_t L = 2 + (size_t)log((double)k);
	if (k > HIER_AUTO_K)
		L = 1; /* flat seeding of a large k: plain k-means++ */
	if (L > PP_MAXTRIALS)
		L = PP_MAXTRIALS;
	int rc = VT_ENOMEM;
	size_t *idx = NULL;
	float *xs = NULL, *xns = NULL, *dist = NULL, *cand = NULL;
	double *ws = NULL, *D = NULL, *prefix = NULL, *pot = NULL;
	size_t ntasks = (m + PP_ROWS - 1) / PP_ROWS;
	const float *X = p->x;
	const double *W = p->w;
	const float *XN = p->xn;
	if (m < n) {
		idx = malloc(m * sizeof *idx);
		xs = malloc(m * d * sizeof *xs);
		xns = malloc(m * sizeof *xns);
		if (p->w)
			ws = malloc(m * sizeof *ws);
		if (!idx || !xs || !xns || (p->w && !ws))
			goto out;
		if ((rc = sample_indices(r, n, m, idx)))
			goto out;
		rc = VT_ENOMEM;
		for (size_t i = 0; i < m; i++) {
			memcpy(xs + i * d, p->x + idx[i] * d, d * sizeof *xs);
			xns[i] = p->xn[idx[i]];
			if (ws)
				ws[i] = p->w[idx[i]];
		}
		X = xs;
		W = ws;
		XN = xns;
	}
	D = malloc(m * sizeof *D);
	prefix = malloc(m * sizeof *prefix);
	dist = malloc(m * L * sizeof *dist);
	cand = malloc(L * d * sizeof *cand);
	pot = malloc(ntasks * L * sizeof *pot);
	if (!D || !prefix || !dist || !cand || !pot)
		goto out;

	/* first centroid: a row drawn with probability w_i */
	double tot = 0;
	for (size_t i = 0; i < m; i++)
		prefix[i] = (tot += W ? W[i] : 1.0);
	size_t first = pick_prefix(prefix, m, vt_rng_uniform(r) * tot);
	memcpy(C, X + first * d, d * sizeof *C);
	{
		struct pp_ctx a = {X, W, XN, NULL, m, d, 1, C, {0}, dist, pot};
		vt_sqnorms(C, 1, d, a.cnc);
		for (size_t i = 0; i < m; i++)
			D[i] = INFINITY;
		a.D = D;
		vt_pool_run(pool, ntasks, pp_task, &a);
		for (size_t i = 0; i < m; i++)
			D[i] = (W ? W[i] : 1.0) * dist[i];
	}
	for (size_t c = 1; c < k; c++) {
		tot = 0;
		for (size_t i = 0; i < m; i++)
			prefix[i] = (tot += D[i]);
		if (!(tot > 0)) {
			/* every sampled point is a centroid: fall back to random rows */
			vt_rng fr;
			vt_rng_init(&fr, vt_rng_u64(r), STREAM_FALLBACK);
			for (size_t j = c; j < k; j++) {
				size_t i = (size_t)vt_rng_below(&fr, n);
				memcpy(C + j * d, p->x + i * d, d * sizeof *C);
			}
			break;
		}
		for (size_t t = 0; t < L; t++) {
			size_t i = pick_prefix(prefix, m, vt_rng_uniform(r) * tot);
			memcpy(cand + t * d, X + i * d, d * sizeof *cand);
		}
		struct pp_ctx a = {X, W, XN, D, m, d, L, cand, {0}, dist, pot};
		vt_sqnorms(cand, L, d, a.cnc);
		vt_pool_run(pool, ntasks, pp_task, &a);
		size_t best = 0;
		double bestpot = INFINITY;
		for (size_t t = 0; t < L; t++) {
			double s = 0;
			for (size_t b = 0; b < ntasks; b++)
				s += pot[b * L + t];
			if (s < bestpot) {
				bestpot = s;
				best = t;
			}
		}
		memcpy(C + c * d, cand + best * d, d * sizeof *C);
		for (size_t i = 0; i < m; i++) {
			double e = (W ? W[i] : 1.0) * dist[i * L + best];
			if (e < D[i])
				D[i] = e;
		}
	}
	rc = 0;
out:
	free(idx);
	free(xs);
	free(xns);
	free(ws);
	free(D);
	free(prefix);
	free(dist);
	free(cand);
	free(pot);
	return rc;
}

/* k rows chosen uniformly among the rows with non-zero weight, distinct
 * rows indices where possible. */
static int seed_random(const struct prob *p, size_t k, vt_rng *r, float *C)
{
	size_t n = p->n, d = p->d, cnt = 0;
	size_t *perm = malloc(n * sizeof *perm);
	if (!perm)
		return VT_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!p->w || p->w[i] > 0)
			perm[cnt++] = i;
	for (size_t j = 0; j < k; j++) {
		size_t i;
		if (j < cnt) {
			size_t s = j + (size_t)vt_rng_below(r, cnt - j);
			size_t t = perm[j];
			perm[j] = perm[s];
			perm[s] = t;
			i = perm[j];
		} else {
			i = perm[vt_rng_below(r, cnt)];
		}
		memcpy(C + j * d, p->x + i * d, d * sizeof *C);
	}
	free(perm);
	return 0;
}

/* ---- Lloyd with bounds ---- */

struct lloyd {
	vt_kmeans *km;
	vt_pool *pool;
	const struct prob *p;
	size_t k;
	float *C;          /* k x d, current centroids */
	float *cn;         /* k */
	float *bias;       /* k or NULL */
	int32_t *a;        /* n labels */
	float *u;          /* n upper bounds (euclidean) */
	float *lb;         /* n x G lower bounds: per group of centroids, to the
	                    * nearest centroid of the group other than a(i) */
	size_t G, gs, cb;  /* groups, group size, centroids per sgemm block */
	float *gdrift;     /* G: largest drift in each group */
	float *drift;      /* k */
	float *s;          /* k: half the distance to the nearest other centroid */
	int bounds_ok;
	int sums_ok;       /* S, W, Q hold the sums of the labels in ap */
	int32_t *ap;       /* n labels the sums were made from */
	/* sums */
	size_t *order, *start;
	double *S, *W, *Q, *closs;
	/* per-worker scratch */
	float *scratch;
	size_t stride;
	size_t *nwork;     /* per task */
	vt_cindex *ix;     /* narrowed passes: the index over C */
};

static size_t worker_stride(size_t k, size_t d, size_t G, size_t cb)
{
	/* gathered rows, ip block, norms, biased norms, per-row best value and
	 * index, per-row group minima (two arrays), kernel scratch for the
	 * balance path, row index list */
	return ROWS * d + ROWS * cb + ROWS + cb + 2 * (size_t)ROWS + 2 * ROWS * G +
	       vt_assign_scratch_floats(k) + 2 * (size_t)ROWS +
	       (sizeof(size_t) / sizeof(float)) * ROWS + 32;
}

/* Group-bound assignment of m contiguous rows xb against all centroids:
 * one sgemm per block of cb centroids (whole groups), then per row and
 * group the smallest and second smallest ||c||^2 - 2 x.c.  Writes, for row
 * f, the label a[out(f)], the upper bound u = d(x, c_a) and the G lower
 * bounds (to the nearest centroid of each group other than c_a), where
 * out(f) = idx ? idx[f] : r0 + f. */
static void group_assign(struct lloyd *L, const float *xb, size_t m, const size_t *idx,
                         size_t r0, float *ws)
{
	const size_t d = L->p->d, k = L->k, G = L->G, gs = L->gs, cb = L->cb;
	float *ip = ws, *xn = ip + ROWS * cb, *cnb = xn + ROWS;
	float *bv = cnb + cb;
	int32_t *bi = (int32_t *)(void *)(bv + ROWS);
	float *g1 = (float *)(bi + ROWS), *g2 = g1 + ROWS * G;
	vt_sqnorms(xb, m, d, xn);
	for (size_t f = 0; f < m; f++) {
		bv[f] = INFINITY;
		bi[f] = 0;
	}
	for (size_t j0 = 0; j0 < k; j0 += cb) {
		size_t nb = k - j0 < cb ? k - j0 : cb;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)nb, (int)d,
		            -2.0f, xb, (int)d, L->C + j0 * d, (int)d, 0.0f, ip, (int)nb);
		const float *cn = L->cn + j0;
		size_t g0 = j0 / gs;
		for (size_t f = 0; f < m; f++) {
			float *v = ip + f * nb;
			float best = bv[f];
			int32_t barg = bi[f];
			float *G1 = g1 + f * G, *G2 = g2 + f * G;
			if (gs == 1) {
				for (size_t j = 0; j < nb; j++) {
					float x = v[j] + cn[j];
					G1[g0 + j] = x;
					if (x < best) {
						best = x;
						barg = (int32_t)(j0 + j);
					}
				}
			} else {
				/* per group: the nearest and second nearest (vt_min2 is the
				 * vectorised scan of the kernel) */
				for (size_t q = 0; q * gs < nb; q++) {
					size_t e = (q + 1) * gs < nb ? (q + 1) * gs : nb;
					float m1, m2;
					int32_t a1;
					vt_min2(v + q * gs, cn + q * gs, e - q * gs, &m1, &a1, &m2);
					G1[g0 + q] = m1;
					G2[g0 + q] = m2;
					if (m1 < best) {
						best = m1;
						barg = (int32_t)(j0 + q * gs + (size_t)a1);
					}
				}
			}
			bv[f] = best;
			bi[f] = barg;
		}
	}
	for (size_t f = 0; f < m; f++) {
		size_t i = idx ? idx[f] : r0 + f;
		int32_t a = bi[f];
		float x2 = xn[f];
		float du = x2 + bv[f];
		L->a[i] = a;
		L->u[i] = sqrtf(du > 0 ? du : 0.0f);
		float *lbr = L->lb + i * G;
		const float *G1 = g1 + f * G, *G2 = g2 + f * G;
		size_t ga = (size_t)a / gs;
		for (size_t g = 0; g < G; g++) {
			float val = g == ga ? (gs == 1 ? INFINITY : G2[g]) : G1[g];
			float dl = x2 + val;
			lbr[g] = sqrtf(dl > 0 ? dl : 0.0f);
		}
	}
}

static float dist_exact_f(const float *x, const float *c, size_t d)
{
	float acc[8] = {0};
	size_t t = 0;
	for (; t + 8 <= d; t += 8)
		for (int q = 0; q < 8; q++) {
			float e = x[t + q] - c[t + q];
			acc[q] += e * e;
		}
	float s = 0;
	for (; t < d; t++) {
		float e = x[t] - c[t];
		s += e * e;
	}
	for (int q = 0; q < 8; q++)
		s += acc[q];
	return s;
}

static void assign_task(void *arg, size_t t, int worker)
{
	struct lloyd *L = arg;
	const struct prob *p = L->p;
	const size_t d = p->d, k = L->k, G = L->G;
	size_t r0 = t * ROWS, m = p->n - r0 < ROWS ? p->n - r0 : ROWS;
	float *ws = L->scratch + (size_t)worker * L->stride;
	float *xg = ws;
	float *gws = xg + ROWS * d;
	float *ks = gws + ROWS * L->cb + ROWS + L->cb + 2 * (size_t)ROWS + 2 * ROWS * G;
	float *d1 = ks + vt_assign_scratch_floats(k);
	int32_t *l1 = (int32_t *)(void *)(d1 + ROWS);

	if (L->bias) {
		/* balance: a plain assignment with the penalty, no bounds */
		vt_assign_serial(p->x + r0 * d, m, d, L->C, k, L->cn, L->bias, l1, d1, NULL,
		                 NULL, ks);
		for (size_t i = 0; i < m; i++) {
			L->a[r0 + i] = l1[i];
			L->u[r0 + i] = sqrtf(d1[i]);
		}
		L->nwork[t] = m;
		return;
	}
	if (!L->bounds_ok) {
		group_assign(L, p->x + r0 * d, m, NULL, r0, gws);
		L->nwork[t] = m;
		return;
	}
	L->nwork[t] = 0;
}

/* smallest of lb[g] - gd[g], writing the shrunk bounds back */
static float shrink_min(float *lb, const float *gd, size_t G)
{
	size_t g = 0;
	float lo = INFINITY;
#ifdef __SSE2__
	__m128 vlo = _mm_set1_ps(INFINITY);
	for (; g + 4 <= G; g += 4) {
		__m128 v = _mm_sub_ps(_mm_loadu_ps(lb + g), _mm_loadu_ps(gd + g));
		_mm_storeu_ps(lb + g, v);
		vlo = _mm_min_ps(vlo, v);
	}
	float t[4];
	_mm_storeu_ps(t, vlo);
	for (int q = 0; q < 4; q++)
		lo = t[q] < lo ? t[q] : lo;
#endif
	for (; g < G; g++) {
		float v = lb[g] - gd[g];
		lb[g] = v;
		lo = v < lo ? v : lo;
	}
	return lo;
}

/* The bounded pass over BROWS rows: filter by the bounds, then recompute
 * the failing rows in gathered batches of up to ROWS rows (so each sgemm
 * has enough rows to pay for packing the centroids). */
static void bounded_task(void *arg, size_t t, int worker)
{
	struct lloyd *L = arg;
	const struct prob *p = L->p;
	const size_t d = p->d, k = L->k, G = L->G;
	size_t r0 = t * BROWS, r1 = r0 + BROWS < p->n ? r0 + BROWS : p->n;
	float *ws = L->scratch + (size_t)worker * L->stride;
	float *xg = ws;
	float *gws = xg + ROWS * d;
	float *ks = gws + ROWS * L->cb + ROWS + L->cb + 2 * (size_t)ROWS + 2 * ROWS * G;
	float *d1 = ks + vt_assign_scratch_floats(k);
	int32_t *l1 = (int32_t *)(void *)(d1 + ROWS);
	size_t *rows = (size_t *)(void *)(((uintptr_t)(l1 + ROWS) + 7) & ~(uintptr_t)7);
	size_t nf = 0, work = 0;
	for (size_t i = r0; i < r1; i++) {
		int32_t ai = L->a[i];
		float u = L->u[i] + L->drift[ai];
		float lo = shrink_min(L->lb + i * G, L->gdrift, G);
		float z = L->s[ai] > lo ? L->s[ai] : lo;
		if (u > z) {
			u = sqrtf(dist_exact_f(p->x + i * d, L->C + (size_t)ai * d, d));
			if (u > z) {
				memcpy(xg + nf * d, p->x + i * d, d * sizeof *xg);
				rows[nf++] = i;
			}
		}
		L->u[i] = u;
		if (nf == ROWS || (i + 1 == r1 && nf)) {
			group_assign(L, xg, nf, rows, 0, gws);
			work += nf;
			nf = 0;
		}
	}
	L->nwork[t] = work;
}

/* one assignment pass; returns the number of full-row evaluations */
static size_t assign_pass(struct lloyd *L)
{
	size_t ntasks;
	if (L->bounds_ok && !L->bias) {
		ntasks = (L->p->n + BROWS - 1) / BROWS;
		vt_pool_run(L->pool, ntasks, bounded_task, L);
	} else {
		ntasks = (L->p->n + ROWS - 1) / ROWS;
		vt_pool_run(L->pool, ntasks, assign_task, L);
	}
	size_t w = 0;
	for (size_t t = 0; t < ntasks; t++)
		w += L->nwork[t];
	return w;
}

#define SUM_CLUSTERS 4

static void sum_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct lloyd *L = arg;
	const struct prob *p = L->p;
	const size_t d = p->d;
	size_t j0 = t * SUM_CLUSTERS, j1 = j0 + SUM_CLUSTERS < L->k ? j0 + SUM_CLUSTERS : L->k;
	for (size_t j = j0; j < j1; j++) {
		double *S = L->S + j * d, Wj = 0, Qj = 0;
		memset(S, 0, d * sizeof *S);
		for (size_t q = L->start[j]; q < L->start[j + 1]; q++) {
			size_t i = L->order[q];
			const float *xr = p->x + i * d;
			if (p->w) {
				double wi = p->w[i];
				for (size_t e = 0; e < d; e++)
					S[e] += wi * xr[e];
				Wj += wi;
			} else {
				for (size_t e = 0; e < d; e++)
					S[e] += xr[e];
				Wj += 1.0;
			}
			Qj += p->xq[i];
		}
		/* loss of this cluster against the centroid that was assigned:
		 * sum w ||x||^2 - 2 c.S + W ||c||^2 */
		const float *c = L->C + j * d;
		double cs = 0, cc = 0;
		for (size_t e = 0; e < d; e++) {
			cs += c[e] * S[e];
			cc += (double)c[e] * c[e];
		}
		double lj = Qj - 2 * cs + Wj * cc;
		L->W[j] = Wj;
		L->Q[j] = Qj;
		L->closs[j] = lj > 0 ? lj : 0;
	}
}

/* labels -> clusters (counting sort, stable), then sums; returns the loss of
 * the current assignment (without local losses) */
static double sum_pass(struct lloyd *L)
{
	const size_t n = L->p->n, k = L->k;
	memset(L->start, 0, (k + 1) * sizeof *L->start);
	for (size_t i = 0; i < n; i++)
		L->start[L->a[i] + 1]++;
	for (size_t j = 0; j < k; j++)
		L->start[j + 1] += L->start[j];
	/* use the tail of start as a cursor: fill order by a second counting */
	for (size_t i = 0; i < n; i++)
		L->order[L->start[L->a[i]]++] = i;
	for (size_t j = k; j > 0; j--)
		L->start[j] = L->start[j - 1];
	L->start[0] = 0;
	vt_pool_run(L->pool, (k + SUM_CLUSTERS - 1) / SUM_CLUSTERS, sum_task, L);
	memcpy(L->ap, L->a, n * sizeof *L->a);
	L->sums_ok = !L->p->w; /* incremental updates only for unit weights, where
	                        * the counts stay exact integers */
	double loss = 0;
	for (size_t j = 0; j < k; j++)
		loss += L->closs[j];
	return loss;
}

/* The same from the previous sums: move the points whose label changed (in
 * row order, so the result does not depend on threads).  Unit weights. */
static double sum_moved(struct lloyd *L)
{
	const struct prob *p = L->p;
	const size_t n = p->n, k = L->k, d = p->d;
	for (size_t i = 0; i < n; i++) {
		int32_t jn = L->a[i], jo = L->ap[i];
		if (jn == jo)
			continue;
		const float *xr = p->x + i * d;
		double *So = L->S + (size_t)jo * d, *Sn = L->S + (size_t)jn * d;
		for (size_t e = 0; e < d; e++) {
			So[e] -= xr[e];
			Sn[e] += xr[e];
		}
		L->W[jo] -= 1.0;
		L->W[jn] += 1.0;
		L->Q[jo] -= p->xq[i];
		L->Q[jn] += p->xq[i];
		L->ap[i] = jn;
	}
	double loss = 0;
	for (size_t j = 0; j < k; j++) {
		const float *c = L->C + j * d;
		const double *S = L->S + j * d;
		double cs = 0, cc = 0;
		for (size_t e = 0; e < d; e++) {
			cs += c[e] * S[e];
			cc += (double)c[e] * c[e];
		}
		double lj = L->W[j] > 0 ? L->Q[j] - 2 * cs + L->W[j] * cc : 0;
		L->closs[j] = lj > 0 ? lj : 0;
		loss += L->closs[j];
	}
	return loss;
}

/* New centroids from the sums; empty clusters split the heaviest.  Sets the
 * drift of every centroid.  Returns the number of splits. */
static size_t update(struct lloyd *L)
{
	const size_t k = L->k, d = L->p->d;
	size_t splits = 0;
	float *C = L->C;
	/* keep the old centroids in drift computation: compute new into place,
	 * remembering the drift as we go */
	for (size_t j = 0; j < k; j++) {
		if (!(L->W[j] > 0)) {
			L->drift[j] = 0;
			continue;
		}
		double inv = 1.0 / L->W[j], dr = 0;
		for (size_t e = 0; e < d; e++) {
			float v = (float)(L->S[j * d + e] * inv);
			double df = (double)v - C[j * d + e];
			dr += df * df;
			C[j * d + e] = v;
		}
		L->drift[j] = (float)sqrt(dr);
	}
	for (size_t j = 0; j < k; j++) {
		if (L->W[j] > 0)
			continue;
		size_t big = 0;
		for (size_t q = 1; q < k; q++)
			if (L->W[q] > L->W[big])
				big = q;
		if (!(L->W[big] > 0))
			break;
		float *cj = C + j * d, *cb = C + big * d;
		for (size_t e = 0; e < d; e++) {
			float v = cb[e];
			float step = v != 0 ? (float)(fabsf(v) * SPLIT_EPS) : (float)SPLIT_EPS;
			if (e % 2 == 0) {
				cj[e] = v + step;
				cb[e] = v - step;
			} else {
				cj[e] = v - step;
				cb[e] = v + step;
			}
		}
		L->W[big] *= 0.5;
		L->W[j] = L->W[big];
		splits++;
	}
	if (splits)
		L->bounds_ok = L->sums_ok = 0;
	for (size_t g = 0; g < L->G; g++)
		L->gdrift[g] = 0;
	for (size_t j = 0; j < k; j++) {
		size_t g = j / L->gs;
		if (L->drift[j] > L->gdrift[g])
			L->gdrift[g] = L->drift[j];
	}
	return splits;
}

/* half the distance from each centroid to its nearest other centroid, with
 * a small relative slack for the float rounding of the kernel */
static int centroid_gaps(struct lloyd *L)
{
	const size_t k = L->k, d = L->p->d;
	if (k < 2) {
		for (size_t j = 0; j < k; j++)
			L->s[j] = 0;
		return 0;
	}
	int32_t *l1 = malloc(2 * k * sizeof *l1);
	float *d12 = malloc(2 * k * sizeof *d12);
	if (!l1 || !d12) {
		free(l1);
		free(d12);
		return VT_ENOMEM;
	}
	int rc = vt_assign(L->pool, L->C, k, d, L->C, k, L->cn, NULL, l1, d12, l1 + k, d12 + k);
	if (!rc)
		for (size_t j = 0; j < k; j++) {
			float g = (size_t)l1[j] == j ? d12[k + j] : d12[j];
			L->s[j] = 0.5f * sqrtf(g) * (1.0f - 1e-4f);
		}
	free(l1);
	free(d12);
	return rc;
}

/* One assignment through a centroid index over the current centroids,
 * probing P of its ceil(sqrt(P k)) groups (the G that makes the G + P k / G
 * distances per row least), and each row's current group once it has a
 * label.  The index is built anew for every pass: keeping its groups and
 * moving their centres (one Lloyd step of the grouping) cost 3.6 % of loss
 * in tests/unit/test_cindex.c, against 0.7 %.  *work receives the full-row
 * equivalents of the distances computed. */
static int narrow_pass(struct lloyd *L, size_t P, int keep, double *work)
{
	const size_t n = L->p->n, k = L->k, d = L->p->d;
	size_t G = 1;
	while (G * G < P * k)
		G++;
	vt_cindex_free(L->ix);
	L->ix = NULL;
	int rc = vt_cindex_new(&L->ix, L->pool, L->C, k, d, G, L->km->seed);
	if (rc)
		return rc;
	if (P > vt_cindex_groups(L->ix))
		P = vt_cindex_groups(L->ix);
	double ev = 0;
	rc = vt_cindex_assign(L->ix, L->pool, L->p->x, n, P, keep, L->a, NULL, &ev);
	*work = ev / (double)k;
	return rc;
}

static void lloyd_release(struct lloyd *L)
{
	vt_cindex_free(L->ix);
	free(L->cn);
	free(L->bias);
	free(L->a);
	free(L->ap);
	free(L->u);
	free(L->lb);
	free(L->gdrift);
	free(L->drift);
	free(L->s);
	free(L->order);
	free(L->start);
	free(L->S);
	free(L->W);
	free(L->Q);
	free(L->closs);
	free(L->scratch);
	free(L->nwork);
}

/* The flat Lloyd loop from the centroids in C (k x d, updated in place).
 * Outputs (all optional except labels_out when asked): the final labels,
 * per-centroid weight and exact loss (with local losses), the exact total.
 * report: call the callback and count the work (the user's main loop). */
static int lloyd_run(vt_kmeans *km, vt_pool *pool, const struct prob *p,
                     const double *lloss, size_t k, float *C, int iters, int report,
                     int32_t *labels_out, double *cw, double *closs_out,
                     double *loss_out, int *iters_done, size_t narrow, const int32_t *a0)
{
	const size_t n = p->n, d = p->d;
	struct lloyd L;
	memset(&L, 0, sizeof L);
	L.km = km;
	L.pool = pool;
	L.p = p;
	L.k = k;
	L.C = C;
	size_t ntasks = (n + ROWS - 1) / ROWS;
	/* Elkan's bounds (one per centroid) while n x k floats fit in the
	 * bounds budget (64 MiB by default), else groups of centroids (Yinyang) */
	size_t G = k, budget = km->bounds_bytes / sizeof(float);
	if (narrow)
		G = 1; /* no bounds: every pass goes through the index */
	else if (n * k > budget) {
		G = budget / n;
		G = G < 1 ? 1 : G;
	}
	L.gs = (k + G - 1) / G;
	L.G = (k + L.gs - 1) / L.gs;
	L.cb = VT_KERNEL_COLS / L.gs * L.gs;
	if (L.cb == 0)
		L.cb = L.gs;
	if (L.cb > k)
		L.cb = k;
	L.stride = worker_stride(k, d, L.G, L.cb);
	int rc = VT_ENOMEM;
	L.cn = malloc(k * sizeof *L.cn);
	L.a = malloc(n * sizeof *L.a);
	L.ap = malloc(n * sizeof *L.ap);
	L.u = malloc(n * sizeof *L.u);
	L.lb = malloc(n * L.G * sizeof *L.lb);
	L.gdrift = malloc(L.G * sizeof *L.gdrift);
	L.drift = malloc(k * sizeof *L.drift);
	L.s = malloc(k * sizeof *L.s);
	L.order = malloc(n * sizeof *L.order);
	L.start = malloc((k + 1) * sizeof *L.start);
	L.S = malloc(k * d * sizeof *L.S);
	L.W = malloc(k * sizeof *L.W);
	L.Q = malloc(k * sizeof *L.Q);
	L.closs = malloc(k * sizeof *L.closs);
	L.scratch = malloc((size_t)vt_pool_size(pool) * L.stride * sizeof *L.scratch);
	L.nwork = malloc(ntasks * sizeof *L.nwork);
	if (km->balance > 0)
		L.bias = calloc(k, sizeof *L.bias);
	double *dex = NULL;
	if (!L.cn || !L.a || !L.ap || !L.u || !L.lb || !L.gdrift || !L.drift || !L.s || !L.order || !L.start ||
	    !L.S || !L.W || !L.Q || !L.closs || !L.scratch || !L.nwork ||
	    (km->balance > 0 && !L.bias))
		goto out;
	double lsum = 0;
	if (lloss)
		for (size_t i = 0; i < n; i++)
			lsum += lloss[i];

	int have_labels = 0;
	if (narrow && a0) {
		memcpy(L.a, a0, n * sizeof *L.a);
		have_labels = 1;
	}

	double prev = INFINITY;
	int it = 0;
	for (it = 0; it < iters; it++) {
		vt_sqnorms(C, k, d, L.cn);
		double w;
		if (narrow) {
			if ((rc = narrow_pass(&L, narrow, have_labels, &w)))
				goto out;
			have_labels = 1;
		} else {
			if (L.bounds_ok && (rc = centroid_gaps(&L)))
				goto out;
			w = (double)assign_pass(&L);
			L.bounds_ok = !L.bias; /* the bounds now hold for C */
		}
		if (report) {
			km->work_rows += w;
			km->pass_rows += (double)n;
		}
		double loss = (L.sums_ok ? sum_moved(&L) : sum_pass(&L)) + lsum;
		if (report && km->cb &&
		    km->cb(km->cb_user, it + 1, loss, now() - km->t0)) {
			rc = VT_EINTR;
			goto out;
		}
		update(&L); /* moves C; a split clears bounds_ok */
		if (L.bias) {
			/* Scale-free penalty: lambda x (mean loss per unit weight) x
			 * (cluster weight / mean cluster weight), smoothed by halves
			 * over iterations so that sizes settle instead of swinging. */
			double wsum = 0;
			for (size_t j = 0; j < k; j++)
				wsum += L.W[j];
			double unit = wsum > 0 ? (loss - lsum) / wsum : 0;
			double scale = wsum > 0 ? km->balance * unit * (double)k / wsum : 0;
			for (size_t j = 0; j < k; j++) {
				double target = scale * L.W[j];
				L.bias[j] = it == 0 ? (float)target : (float)(0.5 * L.bias[j] + 0.5 * target);
			}
		}
		if (fabs(prev - loss) < km->tol * loss) {
			it++;
			break;
		}
		prev = loss;
	}
	/* final assignment against the final centroids */
	vt_sqnorms(C, k, d, L.cn);
	{
		double w;
		if (narrow) {
			if ((rc = narrow_pass(&L, narrow, have_labels, &w)))
				goto out;
		} else {
			if (L.bounds_ok && (rc = centroid_gaps(&L)))
				goto out;
			w = (double)assign_pass(&L);
		}
		if (report) {
			km->work_rows += w;
			km->pass_rows += (double)n;
		}
	}
	dex = malloc(n * sizeof *dex);
	if (!dex)
		goto out;
	if ((rc = vt_sqdist_labels(pool, p->x, n, d, C, k, L.a, dex, NULL)))
		goto out;
	{
		double tot = 0;
		for (size_t j = 0; j < k; j++) {
			if (cw)
				cw[j] = 0;
			if (closs_out)
				closs_out[j] = 0;
		}
		for (size_t i = 0; i < n; i++) {
			double wi = wt(p, i);
			double e = (lloss ? lloss[i] : 0.0) + wi * dex[i];
			if (cw)
				cw[L.a[i]] += wi;
			if (closs_out)
				closs_out[L.a[i]] += e;
			tot += e;
		}
		if (loss_out)
			*loss_out = tot;
	}
	if (labels_out)
		memcpy(labels_out, L.a, n * sizeof *labels_out);
	if (iters_done)
		*iters_done = it;
	rc = 0;
out:
	free(dex);
	lloyd_release(&L);
	return rc;
}

/* ------------------------------------------------------------------ */
/* hierarchical build                                                  */

struct leaf {
	size_t lo, hi;     /* range of perm */
	size_t quota;      /* centroids this leaf must still become */
	double loss, weight;
	int dead;          /* cannot be split (one distinct point) */
};

struct hier {
	vt_kmeans *km;
	vt_pool *pool;
	const float *x;
	const double *w;
	size_t n, d, k;
	size_t *perm, *perm2;
	struct leaf *leaves;
	float *LC;         /* k x d leaf centroids */
	size_t nleaves;
	size_t *heap, nheap;
	float *buf, *cC;
	double *wbuf, *cw, *cl;
	int32_t *lab;
	size_t *cnt, *remap;
	uint64_t nsplit;
};

static int leaf_before(const struct hier *H, size_t a, size_t b)
{
	const struct leaf *A = &H->leaves[a], *B = &H->leaves[b];
	if (A->loss != B->loss)
		return A->loss > B->loss;
	return a < b;
}

static void heap_push(struct hier *H, size_t v)
{
	size_t i = H->nheap++;
	H->heap[i] = v;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!leaf_before(H, H->heap[i], H->heap[up]))
			break;
		size_t t = H->heap[i];
		H->heap[i] = H->heap[up];
		H->heap[up] = t;
		i = up;
	}
}

static size_t heap_pop(struct hier *H)
{
	size_t top = H->heap[0];
	H->heap[0] = H->heap[--H->nheap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, b = i;
		if (l < H->nheap && leaf_before(H, H->heap[l], H->heap[b]))
			b = l;
		if (r < H->nheap && leaf_before(H, H->heap[r], H->heap[b]))
			b = r;
		if (b == i)
			break;
		size_t t = H->heap[i];
		H->heap[i] = H->heap[b];
		H->heap[b] = t;
		i = b;
	}
	return top;
}

/* Split leaf li into at most kk children by a flat sub-k-means.  The first
 * child replaces the leaf, the others are appended.  *made receives the
 * number of children (1: the leaf could not be split).  Children get quota
 * 1; the caller shares out quotas. */
static int split_leaf(struct hier *H, size_t li, size_t kk, size_t *first_new, size_t *made)
{
	vt_kmeans *km = H->km;
	const size_t d = H->d;
	struct leaf *lf = &H->leaves[li];
	size_t lo = lf->lo, nl = lf->hi - lf->lo;
	*made = 1;
	*first_new = H->nleaves;
	for (size_t q = 0; q < nl; q++) {
		size_t i = H->perm[lo + q];
		memcpy(H->buf + q * d, H->x + i * d, d * sizeof *H->buf);
		if (H->w)
			H->wbuf[q] = H->w[i];
	}
	const double *wb = H->w ? H->wbuf : NULL;
	long long dc = count_distinct(H->buf, nl, d, wb, kk);
	if (dc < 0)
		return (int)dc;
	if ((size_t)dc < kk)
		kk = (size_t)dc;
	if (kk < 2) {
		lf->dead = 1;
		return 0;
	}
	struct prob sp;
	int rc = prob_init(&sp, H->pool, H->buf, wb, nl, d);
	if (rc)
		return rc;
	vt_rng r;
	vt_rng_init(&r, km->seed, STREAM_SPLIT + H->nsplit++);
	rc = seed_pp(H->pool, &sp, kk, &r, H->cC);
	if (!rc)
		rc = lloyd_run(km, H->pool, &sp, NULL, kk, H->cC, km->hier_iters, 0, H->lab,
		               H->cw, H->cl, NULL, NULL, 0, NULL);
	prob_release(&sp);
	if (rc)
		return rc;
	/* drop empty children, keep the order */
	memset(H->cnt, 0, kk * sizeof *H->cnt);
	for (size_t q = 0; q < nl; q++)
		H->cnt[H->lab[q]]++;
	size_t c = 0;
	for (size_t j = 0; j < kk; j++)
		H->remap[j] = H->cnt[j] ? c++ : SIZE_MAX;
	if (c < 2) {
		lf->dead = 1;
		return 0;
	}
	/* stable reorder of the leaf's range by child */
	size_t *off = H->remap + kk; /* c + 1 offsets */
	memset(off, 0, (c + 1) * sizeof *off);
	for (size_t j = 0; j < kk; j++)
		if (H->remap[j] != SIZE_MAX)
			off[H->remap[j] + 1] = H->cnt[j];
	for (size_t j = 0; j < c; j++)
		off[j + 1] += off[j];
	size_t *cur = H->cnt; /* reuse as cursors */
	for (size_t j = 0; j < c; j++)
		cur[j] = off[j];
	for (size_t q = 0; q < nl; q++)
		H->perm2[lo + cur[H->remap[H->lab[q]]]++] = H->perm[lo + q];
	memcpy(H->perm + lo, H->perm2 + lo, nl * sizeof *H->perm);
	size_t cj = 0;
	for (size_t j = 0; j < kk; j++) {
		if (H->remap[j] == SIZE_MAX)
			continue;
		size_t dst = cj == 0 ? li : H->nleaves++;
		struct leaf *nlf = &H->leaves[dst];
		nlf->lo = lo + off[cj];
		nlf->hi = lo + off[cj + 1];
		nlf->quota = 1;
		nlf->loss = H->cl[j];
		nlf->weight = H->cw[j];
		nlf->dead = 0;
		memcpy(H->LC + dst * d, H->cC + j * d, d * sizeof *H->LC);
		cj++;
	}
	*made = c;
	return 0;
}

/* Share q centroids among the children (leaf ids ids[0..c-1]) in
 * proportion to weight: 1 each, then the rest by largest remainder; a
 * child never gets more than its number of points (the excess is returned
 * as spare). */
static size_t share_quota(struct hier *H, const size_t *ids, size_t c, size_t q)
{
	double W = 0;
	for (size_t j = 0; j < c; j++)
		W += H->leaves[ids[j]].weight;
	size_t R = q - c, given = 0, spare = 0;
	double *frac = (double *)H->cl; /* scratch of >= hier_k doubles */
	for (size_t j = 0; j < c; j++) {
		double ideal = W > 0 ? (double)R * H->leaves[ids[j]].weight / W : 0;
		size_t f = (size_t)floor(ideal);
		H->leaves[ids[j]].quota = 1 + f;
		frac[j] = ideal - (double)f;
		given += f;
	}
	while (given < R) {
		size_t b = 0;
		for (size_t j = 1; j < c; j++)
			if (frac[j] > frac[b])
				b = j;
		H->leaves[ids[b]].quota++;
		frac[b] = -1;
		given++;
	}
	for (size_t j = 0; j < c; j++) {
		struct leaf *lf = &H->leaves[ids[j]];
		size_t np = lf->hi - lf->lo;
		if (lf->quota > np) {
			spare += lf->quota - np;
			lf->quota = np;
		}
	}
	return spare;
}

static int hier_build(vt_kmeans *km, vt_pool *pool, const float *x, const double *w,
                      size_t n, size_t d, float *C, int32_t *labels)
{
	const size_t k = km->k, hk = km->hier_k < k ? km->hier_k : k;
	struct hier H;
	memset(&H, 0, sizeof H);
	H.km = km;
	H.pool = pool;
	H.x = x;
	H.w = w;
	H.n = n;
	H.d = d;
	H.k = k;
	int rc = VT_ENOMEM;
	H.perm = malloc(n * sizeof *H.perm);
	H.perm2 = malloc(n * sizeof *H.perm2);
	H.leaves = calloc(k, sizeof *H.leaves);
	H.LC = malloc(k * d * sizeof *H.LC);
	H.heap = malloc(k * sizeof *H.heap);
	H.buf = malloc(n * d * sizeof *H.buf);
	H.wbuf = w ? malloc(n * sizeof *H.wbuf) : NULL;
	H.cC = malloc(hk * d * sizeof *H.cC);
	H.cw = malloc(hk * sizeof *H.cw);
	H.cl = malloc(hk * sizeof *H.cl);
	H.lab = malloc(n * sizeof *H.lab);
	H.cnt = malloc(hk * sizeof *H.cnt);
	H.remap = malloc((2 * hk + 1) * sizeof *H.remap);
	size_t *ids = malloc(hk * sizeof *ids);
	if (!H.perm || !H.perm2 || !H.leaves || !H.LC || !H.heap || !H.buf ||
	    (w && !H.wbuf) || !H.cC || !H.cw || !H.cl || !H.lab || !H.cnt || !H.remap || !ids)
		goto out;
	for (size_t i = 0; i < n; i++)
		H.perm[i] = i;
	/* the root: all points, the weighted mean */
	{
		double *mean = calloc(d, sizeof *mean), W = 0;
		if (!mean)
			goto out;
		for (size_t i = 0; i < n; i++) {
			double wi = w ? w[i] : 1.0;
			for (size_t e = 0; e < d; e++)
				mean[e] += wi * x[i * d + e];
			W += wi;
		}
		for (size_t e = 0; e < d; e++)
			H.LC[e] = (float)(mean[e] / W);
		free(mean);
		H.leaves[0] = (struct leaf){0, n, k, INFINITY, W, 0};
		H.nleaves = 1;
	}
	size_t spare = 0;
	if (k > 1)
		heap_push(&H, 0);
	while (H.nheap) {
		size_t li = heap_pop(&H);
		size_t q = H.leaves[li].quota, first, made;
		if ((rc = split_leaf(&H, li, q < hk ? q : hk, &first, &made)))
			goto out;
		if (made < 2) {
			spare += q - 1;
			continue;
		}
		ids[0] = li;
		for (size_t j = 1; j < made; j++)
			ids[j] = first + j - 1;
		spare += share_quota(&H, ids, made, q);
		for (size_t j = 0; j < made; j++)
			if (H.leaves[ids[j]].quota > 1)
				heap_push(&H, ids[j]);
	}
	/* centroids left over (leaves with too few distinct points): split the
	 * leaves with the highest loss further */
	while (spare > 0) {
		size_t b = SIZE_MAX;
		for (size_t j = 0; j < H.nleaves; j++) {
			const struct leaf *lf = &H.leaves[j];
			if (lf->dead || lf->hi - lf->lo < 2 || !(lf->loss > 0))
				continue;
			if (b == SIZE_MAX || lf->loss > H.leaves[b].loss)
				b = j;
		}
		if (b == SIZE_MAX)
			break;
		size_t want = spare + 1 < hk ? spare + 1 : hk, first, made;
		if ((rc = split_leaf(&H, b, want, &first, &made)))
			goto out;
		if (made >= 2)
			spare -= made - 1;
	}
	memcpy(C, H.LC, H.nleaves * d * sizeof *C);
	if (labels)
		for (size_t j = 0; j < H.nleaves; j++)
			for (size_t q = H.leaves[j].lo; q < H.leaves[j].hi; q++)
				labels[H.perm[q]] = (int32_t)j;
	/* still short (only with duplicates allowed): copies of the heaviest
	 * leaf, which the Lloyd loop then splits as empty clusters */
	for (size_t j = H.nleaves; j < k; j++) {
		size_t b = 0;
		for (size_t q = 1; q < H.nleaves; q++)
			if (H.leaves[q].weight > H.leaves[b].weight)
				b = q;
		memcpy(C + j * d, H.LC + b * d, d * sizeof *C);
	}
	rc = 0;
out:
	free(H.perm);
	free(H.perm2);
	free(H.leaves);
	free(H.LC);
	free(H.heap);
	free(H.buf);
	free(H.wbuf);
	free(H.cC);
	free(H.cw);
	free(H.cl);
	free(H.lab);
	free(H.cnt);
	free(H.remap);
	free(ids);
	return rc;
}

/* ------------------------------------------------------------------ */
/* run                                                                 */

int vt_kmeans_run(vt_kmeans *km, const float *x, size_t n, size_t d,
                  const double *w, const double *lloss, int32_t *labels)
{
	free(km->c);
	free(km->cw);
	free(km->closs);
	km->c = NULL;
	km->cw = km->closs = NULL;
	km->loss = 0;
	km->iters_done = 0;
	km->was_hier = 0;
	km->probe_used = 0;
	km->work_rows = km->pass_rows = 0;
	km->d = d;
	const size_t k = km->k;
	if (n == 0 || d == 0 || d > (size_t)INT32_MAX || n > SIZE_MAX / sizeof(float) / d)
		return VT_EINVAL;
	if (km->initial && km->initial_d != d)
		return VT_EDIM;
	km->t0 = now();
	vt_pool *pool = NULL;
	int rc = vt_pool_new(&pool, km->threads);
	if (rc)
		return rc;
	struct prob p;
	memset(&p, 0, sizeof p);
	float *C = NULL;
	int32_t *a0 = NULL;   /* the hierarchy's labels, for a narrowed refinement */
	size_t nchk = (n + CHECK_ROWS - 1) / CHECK_ROWS;
	int *bad = calloc(nchk, sizeof *bad);
	if (!bad) {
		rc = VT_ENOMEM;
		goto out;
	}
	struct check_ctx cc = {x, w, lloss, n, d, bad};
	vt_pool_run(pool, nchk, check_task, &cc);
	for (size_t t = 0; t < nchk; t++)
		if (bad[t]) {
			rc = VT_EDATA;
			goto out;
		}
	if (w) {
		double W = 0;
		for (size_t i = 0; i < n; i++)
			W += w[i];
		if (!(W > 0)) {
			rc = VT_EINVAL;
			goto out;
		}
	}
	if (!km->allow_dup) {
		long long dc = count_distinct(x, n, d, w, k);
		if (dc < 0) {
			rc = (int)dc;
			goto out;
		}
		if ((size_t)dc < k) {
			rc = VT_EINVAL;
			goto out;
		}
	}
	rc = VT_ENOMEM;
	C = malloc(k * d * sizeof *C);
	km->cw = malloc(k * sizeof *km->cw);
	km->closs = malloc(k * sizeof *km->closs);
	if (!C || !km->cw || !km->closs)
		goto out;
	if ((rc = prob_init(&p, pool, x, w, n, d)))
		goto out;
	int hier = !km->initial && (km->mode == VT_KMEANS_HIER ||
	                            (km->mode == VT_KMEANS_AUTO && k > HIER_AUTO_K));
	int iters = km->iters;
	size_t narrow = 0;
	if (hier) {
		km->was_hier = 1;
		/* the index knows no balance penalty: with one, assign exactly */
		if (km->probe > 0 && !(km->balance > 0))
			narrow = (size_t)km->probe;
		else if (km->probe < 0 && k >= NARROW_AUTO_K && !(km->balance > 0))
			narrow = NARROW_AUTO_P;
		if (narrow && !(a0 = malloc(n * sizeof *a0))) {
			rc = VT_ENOMEM;
			goto out;
		}
		if ((rc = hier_build(km, pool, x, w, n, d, C, a0)))
			goto out;
		iters = km->refine_iters;
	} else if (km->initial) {
		memcpy(C, km->initial, k * d * sizeof *C);
	} else {
		vt_rng r;
		vt_rng_init(&r, km->seed, STREAM_FLAT);
		rc = km->init == VT_KMEANS_INIT_RANDOM ? seed_random(&p, k, &r, C)
		                                        : seed_pp(pool, &p, k, &r, C);
		if (rc)
			goto out;
	}
	km->probe_used = (int)narrow;
	if ((rc = lloyd_run(km, pool, &p, lloss, k, C, iters, 1, labels, km->cw, km->closs,
	                    &km->loss, &km->iters_done, narrow, a0)))
		goto out;
	km->c = C;
	C = NULL;
	rc = 0;
out:
	if (rc) {
		free(km->cw);
		free(km->closs);
		km->cw = km->closs = NULL;
	}
	free(C);
	free(a0);
	free(bad);
	prob_release(&p);
	vt_pool_free(pool);
	return rc;
}
