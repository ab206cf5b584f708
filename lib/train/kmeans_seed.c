/* vtrain: k-means seeding: weighted k-means++ on a sample, or random rows
 * (see kmeans.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/kernel.h"
#include "train/kmeans_impl.h"

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
#define PP_COLS 256
#define PP_MAXTRIALS 16
/* seeding sample: PP_SAMPLE rows per centroid (measured on Fashion-MNIST,
 * k = 256: 8 costs 0.7% of loss after 25 iterations, 32 matches seeding on
 * all rows) */
#define PP_SAMPLE 32

/* What k-means++ computes, and how it avoids most of it.
 *
 * Each step draws L candidates c and needs, for every sampled row i,
 *     nd_i(c) = min(D_i, fl(w_i dd(x_i, c)))
 * with D_i = fl(w_i dd(x_i, a_i)), a_i the centroid that set D_i and dd the
 * exact distance of nearest.h (issue 18: the sampling that these values
 * drive depends on no BLAS).  nd_i(c) differs from D_i only if
 * dd(x_i, c) < dd(x_i, a_i) =: dda_i (rounding is monotone), and two proofs
 * that it does not are cheap:
 *
 *   the triangle inequality: ||x - c|| >= ||c - a|| - ||x - a||, so
 *   ||c - a||^2 >= 4 K dda_i gives dd(x_i, c) >= dda_i, with K = 1 + 8 theta
 *   + 2^-50 covering dd's relative error theta = (d + 8) 2^-52 (the
 *   difference, the square and the d-term sum in double) and the product
 *   4 K dda_i; ||c - a||^2 from below is vt_sqdist_f_lower of the float
 *   distance, computed once per step for the L candidates and the centroids
 *   so far, not per row;
 *
 *   a float distance: vt_sqdist_f_lower(f) (1 - 2 theta) >= dda_i, checked
 *   as the partial sums grow (vt_sqdist_f_reaches), so that a far
 *   candidate costs a part of d.
 *
 * Every other row gets dd.  The result is therefore the plain algorithm's,
 * bit for bit, whatever the CPU: the float values only decide what is
 * proven.  A row of weight 0 contributes 0; a row whose dda is not finite
 * (the first step, NaN) is never skipped. */
struct pp_ctx {
	const float *xs;       /* m x d sample */
	const double *ws;      /* m weights */
	double *D;             /* m current w * min dd */
	double *dda;           /* m: dd to the centroid that set D */
	int32_t *asg;          /* m: that centroid */
	size_t m, d, L;
	const float *cand;     /* L x d */
	const float *C;        /* the centroids so far, nc x d */
	size_t nc;
	double *lb;            /* L x nc: ||cand - C_j||^2 from below, squared */
	double *nd;            /* m x L: min(D_i, w_i dd(x_i, candidate)) */
	double *ndd;           /* m x L: dd where it lowered D_i, else -1 */
	double *pot;           /* ntasks x L */
	double theta, K;
};

static void pp_lb_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct pp_ctx *a = arg;
	size_t j0 = t * PP_COLS, nj = a->nc - j0 < PP_COLS ? a->nc - j0 : PP_COLS;
	float f[PP_COLS];
	for (size_t c = 0; c < a->L; c++) {
		vt_sqdists_f(a->cand + c * a->d, a->C + j0 * a->d, a->d, nj, f);
		double *lb = a->lb + c * a->nc + j0;
		for (size_t j = 0; j < nj; j++)
			lb[j] = vt_sqdist_f_lower(f[j], a->d);
	}
}

static void pp_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct pp_ctx *a = arg;
	const size_t d = a->d, L = a->L;
	size_t r0 = t * PP_ROWS, mm = a->m - r0 < PP_ROWS ? a->m - r0 : PP_ROWS;
	double pot[PP_MAXTRIALS] = {0};
	const double K4 = 4 * a->K, low = 1 - 2 * a->theta;
	for (size_t i = 0; i < mm; i++) {
		size_t r = r0 + i;
		double wi = a->ws ? a->ws[r] : 1.0, Di = a->D[r], dda = a->dda[r];
		const float *xr = a->xs + r * d;
		double *ndr = a->nd + r * L, *nddr = a->ndd + r * L;
		for (size_t c = 0; c < L; c++) {
			double v = Di, nv = -1;
			if (wi == 0) {
				v = 0;
			} else if (!(a->nc && a->lb[c * a->nc + (size_t)a->asg[r]] >= K4 * dda)) {
				if (!vt_sqdist_f_reaches(xr, a->cand + c * d, d,
				                         vt_sqdist_f_threshold(dda / low, d))) {
					double dd = vt_nearest_sqdist(xr, a->cand + c * d, d);
					double wd = wi * dd;
					if (wd < Di) {
						v = wd;
						nv = dd;
					}
				}
			}
			ndr[c] = v;
			nddr[c] = nv;
			pot[c] += v;
		}
	}
	memcpy(a->pot + t * L, pot, L * sizeof *pot);
}

/* Plain k-means++ (L = 1) needs no potential per candidate: a step only
 * lowers D_i where the new centroid is nearer.  The rows are kept in one
 * list per centroid a_i, with R_j >= the largest dda_i of list j; a list
 * whose ||c - C_j||^2 lower bound reaches 4 K R_j cannot hold a row that
 * changes (the triangle test above, for all its rows at once), so a step
 * visits only the other lists.  Rows whose D_i is not finite (NaN rows, an
 * overflowing weight) stay on list k, visited every step; rows of weight 0
 * are on no list (D_i = 0 for good).  The values are those of pp_task. */
#define PP_NIL SIZE_MAX

struct pp_lists {
	size_t *head, *next, *prev; /* head: k + 1 lists; next, prev: m rows */
	double *R;                  /* k + 1 */
	size_t *vis, nvis;          /* the lists to visit this step */
	double *nwd, *ndd;          /* m: a visited row's new D and dd, ndd -1 if none */
};

static void pp_list_push(struct pp_lists *s, size_t j, size_t i)
{
	s->prev[i] = PP_NIL;
	s->next[i] = s->head[j];
	if (s->head[j] != PP_NIL)
		s->prev[s->head[j]] = i;
	s->head[j] = i;
}

static void pp_list_unlink(struct pp_lists *s, size_t j, size_t i)
{
	if (s->prev[i] != PP_NIL)
		s->next[s->prev[i]] = s->next[i];
	else
		s->head[j] = s->next[i];
	if (s->next[i] != PP_NIL)
		s->prev[s->next[i]] = s->prev[i];
}

struct pp_one_ctx {
	struct pp_ctx *a;
	struct pp_lists *s;
	size_t per; /* visited lists per task */
};

static void pp_one_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct pp_one_ctx *o = arg;
	struct pp_ctx *a = o->a;
	struct pp_lists *s = o->s;
	const size_t d = a->d;
	const double K4 = 4 * a->K, low = 1 - 2 * a->theta;
	size_t q1 = (t + 1) * o->per < s->nvis ? (t + 1) * o->per : s->nvis;
	for (size_t q = t * o->per; q < q1; q++) {
		size_t j = s->vis[q];
		double lbj = j < a->nc ? a->lb[j] : -1;
		for (size_t i = s->head[j]; i != PP_NIL; i = s->next[i]) {
			double dda = a->dda[i];
			if (lbj >= K4 * dda)
				continue;
			const float *xr = a->xs + i * d;
			if (vt_sqdist_f_reaches(xr, a->cand, d, vt_sqdist_f_threshold(dda / low, d)))
				continue;
			double dd = vt_nearest_sqdist(xr, a->cand, d);
			double wd = (a->ws ? a->ws[i] : 1.0) * dd;
			if (wd < a->D[i]) {
				s->nwd[i] = wd;
				s->ndd[i] = dd;
			}
		}
	}
}

/* One step of plain k-means++ with candidate a->cand as centroid c = a->nc:
 * D, dda and the lists updated in place. */
static void pp_one_step(vt_pool *pool, struct pp_ctx *a, struct pp_lists *s, size_t k)
{
	const size_t c = a->nc;
	const double K4 = 4 * a->K;
	double *D = a->D, *dda = a->dda;
	int32_t *asg = a->asg;
	s->nvis = 0;
	for (size_t j = 0; j < c; j++)
		if (s->head[j] != PP_NIL && !(a->lb[j] >= K4 * s->R[j]))
			s->vis[s->nvis++] = j;
	if (s->head[k] != PP_NIL)
		s->vis[s->nvis++] = k;
	s->head[c] = PP_NIL;
	s->R[c] = 0;
	if (s->nvis == 0)
		return;
	size_t ntasks = s->nvis < 64 ? s->nvis : 64;
	struct pp_one_ctx o = {a, s, (s->nvis + ntasks - 1) / ntasks};
	vt_pool_run(pool, (s->nvis + o.per - 1) / o.per, pp_one_task, &o);
	for (size_t q = 0; q < s->nvis; q++) {
		size_t j = s->vis[q], nx;
		double R = j == k ? INFINITY : 0;
		for (size_t i = s->head[j]; i != PP_NIL; i = nx) {
			nx = s->next[i];
			if (s->ndd[i] >= 0) {
				D[i] = s->nwd[i];
				dda[i] = s->ndd[i];
				asg[i] = (int32_t)c;
				s->ndd[i] = -1;
				pp_list_unlink(s, j, i);
				pp_list_push(s, c, i);
				s->R[c] = dda[i] > s->R[c] ? dda[i] : s->R[c];
			} else if (dda[i] > R) {
				R = dda[i];
			}
		}
		s->R[j] = R;
	}
}

/* Weighted k-means++ (Arthur & Vassilvitskii) on a uniform sample of at
 * most max(PP_SAMPLE k, 1024) rows.  Each step draws L candidates with
 * probability proportional to w_i D(x_i)^2 (D the exact dd to the nearest
 * centroid so far, summed in row order) and keeps the one that lowers
 * the sampled potential most (by exact sums, ties to the first drawn): greedy with L = 2 + ln k trials (as
 * scikit-learn does) for k <= VT_KM_HIER_AUTO_K, plain (L = 1) for a larger
 * k.  When the potential is 0 (all sampled points are centroids already),
 * the remaining centroids are rows drawn uniformly from all n rows with a
 * generator of stream VT_KM_RNG_FALLBACK seeded from r.  C receives k x d. */
int vt_km_seed_pp(vt_pool *pool, const struct vt_km_prob *p, size_t k, vt_rng *r, float *C)
{
	const size_t n = p->n, d = p->d;
	size_t m = PP_SAMPLE * k > 1024 ? PP_SAMPLE * k : 1024;
	if (m > n)
		m = n;
	size_t L = 2 + (size_t)log((double)k);
	if (k > VT_KM_HIER_AUTO_K)
		L = 1; /* flat seeding of a large k: plain k-means++ */
	if (L > PP_MAXTRIALS)
		L = PP_MAXTRIALS;
	int rc = VT_ENOMEM;
	size_t *idx = NULL;
	float *xs = NULL;
	int32_t *asg = NULL;
	double *ws = NULL, *D = NULL, *dda = NULL, *prefix = NULL, *pot = NULL, *nd = NULL,
	       *ndd = NULL, *lb = NULL;
	float *cand = NULL;
	struct pp_lists lists = {0};
	size_t ntasks = (m + PP_ROWS - 1) / PP_ROWS;
	const float *X = p->x;
	const double *W = p->w;
	if (m < n) {
		idx = malloc(m * sizeof *idx);
		xs = malloc(m * d * sizeof *xs);
		if (p->w)
			ws = malloc(m * sizeof *ws);
		if (!idx || !xs || (p->w && !ws))
			goto out;
		if ((rc = sample_indices(r, n, m, idx)))
			goto out;
		rc = VT_ENOMEM;
		for (size_t i = 0; i < m; i++) {
			memcpy(xs + i * d, p->x + idx[i] * d, d * sizeof *xs);
			if (ws)
				ws[i] = p->w[idx[i]];
		}
		X = xs;
		W = ws;
	}
	D = malloc(m * sizeof *D);
	dda = malloc(m * sizeof *dda);
	asg = calloc(m, sizeof *asg);
	prefix = malloc(m * sizeof *prefix);
	nd = malloc(m * L * sizeof *nd);
	ndd = malloc(m * L * sizeof *ndd);
	lb = malloc(L * k * sizeof *lb);
	cand = malloc(L * d * sizeof *cand);
	pot = malloc(ntasks * L * sizeof *pot);
	if (!D || !dda || !asg || !prefix || !nd || !ndd || !lb || !cand || !pot)
		goto out;
	if (L == 1) {
		lists.head = malloc((k + 1) * sizeof *lists.head);
		lists.next = malloc(m * sizeof *lists.next);
		lists.prev = malloc(m * sizeof *lists.prev);
		lists.R = malloc((k + 1) * sizeof *lists.R);
		lists.vis = malloc((k + 1) * sizeof *lists.vis);
		lists.nwd = malloc(m * sizeof *lists.nwd);
		lists.ndd = ndd;
		if (!lists.head || !lists.next || !lists.prev || !lists.R || !lists.vis || !lists.nwd)
			goto out;
	}
	const double theta = ((double)d + 8) * 0x1p-52;
	struct pp_ctx a = {X, W, D, dda, asg, m, d, 1, C, C, 0, lb, nd, ndd, pot,
	                   theta, 1 + 8 * theta + 0x1p-50};

	/* first centroid: a row drawn with probability w_i */
	double tot = 0;
	for (size_t i = 0; i < m; i++)
		prefix[i] = (tot += W ? W[i] : 1.0);
	size_t first = pick_prefix(prefix, m, vt_rng_uniform(r) * tot);
	memcpy(C, X + first * d, d * sizeof *C);
	for (size_t i = 0; i < m; i++)
		D[i] = dda[i] = INFINITY;
	vt_pool_run(pool, ntasks, pp_task, &a);
	for (size_t i = 0; i < m; i++) {
		D[i] = nd[i]; /* 0 for a row of weight 0; INFINITY for a NaN dd */
		if (ndd[i] >= 0)
			dda[i] = ndd[i];
	}
	if (L == 1) {
		for (size_t j = 0; j <= k; j++)
			lists.head[j] = PP_NIL;
		lists.R[0] = 0;
		lists.R[k] = INFINITY;
		for (size_t i = m; i-- > 0;) {
			if (W && W[i] == 0)
				continue;
			int fin = dda[i] < INFINITY && D[i] < INFINITY;
			pp_list_push(&lists, fin ? 0 : k, i);
			if (fin && dda[i] > lists.R[0])
				lists.R[0] = dda[i];
			ndd[i] = -1;
		}
	}
	for (size_t c = 1; c < k; c++) {
		tot = 0;
		for (size_t i = 0; i < m; i++)
			prefix[i] = (tot += D[i]);
		if (!(tot > 0)) {
			/* every sampled point is a centroid: fall back to random rows */
			vt_rng fr;
			vt_rng_init(&fr, vt_rng_u64(r), VT_KM_RNG_FALLBACK);
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
		a.L = L;
		a.cand = cand;
		a.nc = c;
		vt_pool_run(pool, (c + PP_COLS - 1) / PP_COLS, pp_lb_task, &a);
		if (L == 1) {
			pp_one_step(pool, &a, &lists, k);
			memcpy(C + c * d, cand, d * sizeof *C);
			continue;
		}
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
			if (ndd[i * L + best] >= 0) {
				D[i] = nd[i * L + best];
				dda[i] = ndd[i * L + best];
				asg[i] = (int32_t)c;
			}
		}
	}
	rc = 0;
out:
	free(idx);
	free(xs);
	free(ws);
	free(D);
	free(dda);
	free(asg);
	free(prefix);
	free(nd);
	free(ndd);
	free(lb);
	free(cand);
	free(pot);
	free(lists.head);
	free(lists.next);
	free(lists.prev);
	free(lists.R);
	free(lists.vis);
	free(lists.nwd);
	return rc;
}

/* k rows chosen uniformly among the rows with non-zero weight, distinct
 * rows indices where possible. */
int vt_km_seed_random(const struct vt_km_prob *p, size_t k, vt_rng *r, float *C)
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
