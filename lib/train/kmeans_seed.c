/* vtrain: k-means seeding: weighted k-means++ on a sample, or random rows
 * (see kmeans.h). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
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

/* times a float value v >= 0 of one rounding: above the exact v */
static const float UP = 1.0f + 0x1p-22f;

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
	const double *nxu;     /* m norms, rounded up (vt_nearest_norm_up) */
	const double *D;       /* m current w * min dd */
	size_t m, d, L;
	const float *cand;     /* L x d */
	float cnc[PP_MAXTRIALS];
	double ncu[PP_MAXTRIALS]; /* the candidates' norms, rounded up */
	float *ip;             /* m x L: the sgemm's -2 x.c */
	double *nd;            /* m x L: min(D_i, w_i dd(x_i, candidate)) */
	double *pot;           /* ntasks x L */
};

/* The potential of each candidate over PP_ROWS rows, and each row's new
 * D_i = min(D_i, w_i dd(x_i, c)) with c the candidate: exact (issue 18),
 * so that the sampling that these values drive depends on no BLAS.  The
 * float distance D only skips dd where it cannot matter: with the margin e
 * of vt_nearest_margin (for the largest norm among the candidates, one per
 * row), dd >= D - e, so D - e > D_i / w_i proves w_i dd > D_i, hence
 * fl(w_i dd) >= D_i (rounding is monotone) and the minimum is D_i.  A row
 * of weight 0 contributes 0.  Rows or candidates of squared norm above
 * VT_NEAREST_BIG_NORM always get dd. */
static void pp_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct pp_ctx *a = arg;
	const size_t d = a->d, L = a->L;
	size_t r0 = t * PP_ROWS, mm = a->m - r0 < PP_ROWS ? a->m - r0 : PP_ROWS;
	float *ip = a->ip + r0 * L;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mm, (int)L, (int)d, -2.0f,
	            a->xs + r0 * d, (int)d, a->cand, (int)d, 0.0f, ip, (int)L);
	double pot[PP_MAXTRIALS] = {0};
	const double E = vt_nearest_eps(d), A = vt_nearest_margin(d, 0, 0);
	int cbig = 0;
	double cmax = 0; /* one margin per row, for the largest candidate norm */
	float cnc[PP_MAXTRIALS];
	double *nd = a->nd;
	const float *cand = a->cand;
	memcpy(cnc, a->cnc, L * sizeof *cnc);
	for (size_t c = 0; c < L; c++) {
		cbig |= !((double)a->cnc[c] <= VT_NEAREST_BIG_NORM);
		cmax = a->ncu[c] > cmax ? a->ncu[c] : cmax;
	}
	for (size_t i = 0; i < mm; i++) {
		size_t r = r0 + i;
		double wi = a->ws ? a->ws[r] : 1.0, Di = a->D[r];
		float x2 = a->xns[r];
		int big = cbig || !((double)x2 <= VT_NEAREST_BIG_NORM);
		double w = a->nxu[r] + cmax;
		/* D > thr means D - e > D_i / w_i (real numbers): then w_i dd >
		 * D_i, so fl(w_i dd) >= D_i and the minimum is D_i either way.
		 * thr in float, each rounding covered by a factor UP (all terms
		 * are >= 0; D_i / w_i in double, its rounding by 2^-50; below
		 * FLT_MIN the slack of A(d), as in kmeans_lloyd.c's GMARGIN). */
		double q = a->ws ? Di / wi * (1 + 0x1p-50) : Di;
		float ef = (float)(E * w * w + A) * UP;
		float thr = big || wi == 0 ? INFINITY : ((float)q * UP + ef) * UP;
		const float *xr = a->xs + r * d, *ipr = ip + i * L;
		double *ndr = nd + r * L; /* (locals: the stores cannot alias a) */
		for (size_t c = 0; c < L; c++) {
			double v;
			if (wi == 0) {
				v = 0;
			} else {
				float D = (ipr[c] + cnc[c]) + x2;
				if (D > thr) {
					v = Di;
				} else {
					double wd = wi * vt_nearest_sqdist(xr, cand + c * d, d);
					v = wd < Di ? wd : Di;
				}
			}
			ndr[c] = v;
			pot[c] += v;
		}
	}
	memcpy(a->pot + t * L, pot, L * sizeof *pot);
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
	float *xs = NULL, *xns = NULL, *ip = NULL, *cand = NULL;
	double *ws = NULL, *D = NULL, *prefix = NULL, *pot = NULL, *nd = NULL, *nxu = NULL;
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
	nxu = malloc(m * sizeof *nxu);
	ip = malloc(m * L * sizeof *ip);
	nd = malloc(m * L * sizeof *nd);
	cand = malloc(L * d * sizeof *cand);
	pot = malloc(ntasks * L * sizeof *pot);
	if (!D || !prefix || !nxu || !ip || !nd || !cand || !pot)
		goto out;
	for (size_t i = 0; i < m; i++)
		nxu[i] = vt_nearest_norm_up(XN[i]);

	/* first centroid: a row drawn with probability w_i */
	double tot = 0;
	for (size_t i = 0; i < m; i++)
		prefix[i] = (tot += W ? W[i] : 1.0);
	size_t first = pick_prefix(prefix, m, vt_rng_uniform(r) * tot);
	memcpy(C, X + first * d, d * sizeof *C);
	{
		struct pp_ctx a = {X, W, XN, nxu, NULL, m, d, 1, C, {0}, {0}, ip, nd, pot};
		vt_sqnorms(C, 1, d, a.cnc);
		a.ncu[0] = vt_nearest_norm_up(a.cnc[0]);
		for (size_t i = 0; i < m; i++)
			D[i] = INFINITY;
		a.D = D;
		vt_pool_run(pool, ntasks, pp_task, &a);
		memcpy(D, nd, m * sizeof *D);
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
		struct pp_ctx a = {X, W, XN, nxu, D, m, d, L, cand, {0}, {0}, ip, nd, pot};
		vt_sqnorms(cand, L, d, a.cnc);
		for (size_t t = 0; t < L; t++)
			a.ncu[t] = vt_nearest_norm_up(a.cnc[t]);
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
		for (size_t i = 0; i < m; i++)
			D[i] = nd[i * L + best];
	}
	rc = 0;
out:
	free(idx);
	free(xs);
	free(xns);
	free(ws);
	free(D);
	free(prefix);
	free(ip);
	free(nd);
	free(nxu);
	free(cand);
	free(pot);
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
