/* vtrain: the Lloyd loop of k-means (see kmeans.h): assignments that skip
 * the points their Elkan or Yinyang bounds keep in place, sums kept up to
 * date by the points that moved, the update with its splitting of empty
 * clusters, and the balance penalty.  A narrowed loop assigns through
 * kmeans_narrow.c instead. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "train/kmeans_impl.h"

#define SPLIT_EPS (1.0 / 1024.0)
#define ROWS VT_KERNEL_ROWS
#define BROWS (8 * ROWS) /* rows per task of a bounded pass */

static inline double wt(const struct vt_km_prob *p, size_t i)
{
	return p->w ? p->w[i] : 1.0;
}

struct lloyd {
	const struct vt_km_lloyd_opts *o;
	vt_pool *pool;
	const struct vt_km_prob *p;
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
	const struct vt_km_prob *p = L->p;
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
	const struct vt_km_prob *p = L->p;
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
	const struct vt_km_prob *p = L->p;
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
	const struct vt_km_prob *p = L->p;
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

static void lloyd_release(struct lloyd *L)
{
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

struct vt_km_lloyd_opts vt_km_lloyd_opts_of(const vt_kmeans *km, int iters)
{
	struct vt_km_lloyd_opts o = {.iters = iters,
	                             .tol = km->tol,
	                             .balance = km->balance,
	                             .bounds_bytes = km->bounds_bytes,
	                             .group_seed = km->seed,
	                             .nearest_mode = km->nearest_mode};
	return o;
}

/* The final labels a (n) and their dd (dex, n) by the exact search of
 * train/nearest over the centroids C, in o->nearest_mode; what it did goes
 * to o->report.  Returns 0, VT_EDATA (centroids too large for float: the
 * caller keeps the kernel's labels) or VT_ENOMEM. */
static int final_exact(vt_pool *pool, const struct vt_km_prob *p, const float *C, size_t k,
                       const struct vt_km_lloyd_opts *o, int32_t *a, double *dex)
{
	const size_t n = p->n, d = p->d;
	vt_kmeans *km = o->report;
	double t0 = vt_km_now(), build = 0;
	vt_nearest_stats st;
	memset(&st, 0, sizeof st);
	size_t groups = 0, bytes = 0;
	int rc;
	if (o->nearest_mode == VT_NEAREST_BRUTE) {
		rc = vt_nearest_brute(pool, p->x, n, d, C, k, 1, a, dex);
		st.rows = st.rows_brute = (double)n;
		st.evals = (double)n * (double)k;
		st.t_brute = vt_km_now() - t0;
	} else {
		vt_nearest *ix = NULL;
		rc = vt_nearest_new(&ix, pool, C, k, d, NULL, 0, o->group_seed);
		build = vt_km_now() - t0;
		if (rc == 0) {
			vt_nearest_set_mode(ix, o->nearest_mode);
			rc = vt_nearest_query(ix, pool, p->x, n, 1, a, dex);
			st = *vt_nearest_get_stats(ix);
			groups = vt_nearest_groups(ix);
			bytes = vt_nearest_bytes(ix);
		}
		vt_nearest_free(ix);
	}
	if (rc == 0 && km) {
		km->nearest_used = 1;
		km->nearest_st = st;
		km->nearest_build = build;
		km->nearest_groups = groups;
		km->nearest_bytes = bytes;
		km->work_rows += st.evals / (double)k;
		km->pass_rows += (double)n;
	}
	return rc;
}

/* One assignment of every row against C: narrowed, or exact with the
 * bounds where they hold.  *work receives the full-row evaluations. */
static int assign_all(struct lloyd *L, int *have_labels, double *work)
{
	const struct vt_km_prob *p = L->p;
	int rc;
	if (L->o->narrow) {
		if ((rc = vt_km_narrow_assign(L->pool, p->x, p->n, p->d, L->C, L->k, L->o->narrow,
		                              *have_labels, L->o->group_seed, L->a, work)))
			return rc;
		*have_labels = 1;
		return 0;
	}
	if (L->bounds_ok && (rc = centroid_gaps(L)))
		return rc;
	*work = (double)assign_pass(L);
	return 0;
}

int vt_km_lloyd(vt_pool *pool, const struct vt_km_prob *p, const double *lloss, size_t k,
                float *C, const struct vt_km_lloyd_opts *o, int32_t *labels_out, double *cw,
                double *closs_out, double *loss_out, int *iters_done)
{
	const size_t n = p->n, d = p->d;
	struct lloyd L;
	memset(&L, 0, sizeof L);
	L.o = o;
	L.pool = pool;
	L.p = p;
	L.k = k;
	L.C = C;
	size_t ntasks = (n + ROWS - 1) / ROWS;
	/* Elkan's bounds (one per centroid) while n x k floats fit in the
	 * bounds budget (64 MiB by default), else groups of centroids (Yinyang) */
	vt_kmeans *report = o->report;
	size_t G = k, budget = o->bounds_bytes / sizeof(float);
	if (o->narrow)
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
	if (o->balance > 0)
		L.bias = calloc(k, sizeof *L.bias);
	double *dex = NULL;
	if (!L.cn || !L.a || !L.ap || !L.u || !L.lb || !L.gdrift || !L.drift || !L.s || !L.order || !L.start ||
	    !L.S || !L.W || !L.Q || !L.closs || !L.scratch || !L.nwork ||
	    (o->balance > 0 && !L.bias))
		goto out;
	double lsum = 0;
	if (lloss)
		for (size_t i = 0; i < n; i++)
			lsum += lloss[i];

	int have_labels = 0;
	if (o->narrow && o->a0) {
		memcpy(L.a, o->a0, n * sizeof *L.a);
		have_labels = 1;
	}

	double prev = INFINITY;
	int it = 0;
	for (it = 0; it < o->iters; it++) {
		vt_sqnorms(C, k, d, L.cn);
		double w;
		if ((rc = assign_all(&L, &have_labels, &w)))
			goto out;
		if (!o->narrow)
			L.bounds_ok = !L.bias; /* the bounds now hold for C */
		if (report) {
			report->work_rows += w;
			report->pass_rows += (double)n;
		}
		double loss = (L.sums_ok ? sum_moved(&L) : sum_pass(&L)) + lsum;
		if (report && report->cb &&
		    report->cb(report->cb_user, it + 1, loss, vt_km_now() - report->t0)) {
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
			double scale = wsum > 0 ? o->balance * unit * (double)k / wsum : 0;
			for (size_t j = 0; j < k; j++) {
				double target = scale * L.W[j];
				L.bias[j] = it == 0 ? (float)target : (float)(0.5 * L.bias[j] + 0.5 * target);
			}
		}
		if (fabs(prev - loss) < o->tol * loss) {
			it++;
			break;
		}
		prev = loss;
	}
	/* final assignment against the final centroids: exact (the argmin of
	 * dd, nearest.h) when asked, unless a penalty is part of it */
	vt_sqnorms(C, k, d, L.cn);
	int exact = o->exact_final && !L.bias;
	if (exact) {
		if (!(dex = malloc(n * sizeof *dex))) {
			rc = VT_ENOMEM;
			goto out;
		}
		rc = final_exact(pool, p, C, k, o, L.a, dex);
		if (rc == VT_EDATA)
			exact = 0; /* centroids too large for float: the kernel's labels */
		else if (rc)
			goto out;
	}
	if (!exact) {
		double w;
		if ((rc = assign_all(&L, &have_labels, &w)))
			goto out;
		if (report) {
			report->work_rows += w;
			report->pass_rows += (double)n;
		}
	}
	if (!cw && !closs_out && !loss_out)
		goto done; /* only the labels are wanted */
	if (!dex && !(dex = malloc(n * sizeof *dex))) {
		rc = VT_ENOMEM;
		goto out;
	}
	if (!exact && (rc = vt_sqdist_labels(pool, p->x, n, d, C, k, L.a, dex, NULL)))
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
done:
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
