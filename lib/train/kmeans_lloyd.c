/* vtrain: the Lloyd loop of k-means (see kmeans.h): assignments that skip
 * the points their Elkan or Yinyang bounds keep in place, sums kept up to
 * date by the points that moved, the update with its splitting of empty
 * clusters, and the balance penalty.  A narrowed loop assigns through
 * kmeans_narrow.c instead.
 *
 * Every assignment gives each point the nearest centroid by the exact
 * distance dd of nearest.h, ties to the lower index, whatever the BLAS
 * kernel (issue 18).  Two things make it so.
 *
 * 1. Near-ties decided on dd.  A recomputed point takes the float argmin a
 *    of the sgemm scores, with D_j = (fl(-2 x.c_j) + ||c_j||^2_f) + ||x||^2_f
 *    and the margin e_j = vt_nearest_margin(d, ||x||, ||c_j||) (norms
 *    rounded up; in the scan, the largest norm of c_j's group), for which
 *    D_j - e_j <= dd_j <= D_j + e_j.  A centroid j with D_j - e_j >
 *    D_a + e_a (tested in float with the rounding covered, lower_bounds)
 *    is then provably farther than a by dd.  When none but a is that near
 *    (the common case) a is the exact label; else dd decides among those
 *    that are (the group minima of the scan name them: one per group of
 *    centroids, unless a group holds two, when the point goes to the
 *    reference vt_nearest_brute_serial).  Rows of squared norm above
 *    VT_NEAREST_BIG_NORM, and every row while a centroid is that large,
 *    go to the reference too.  With a balance penalty b_j the label is
 *    argmin dd_j + b_j, certified the same way (bias_assign).
 *
 * 2. Bounds that are proven, not approximate.  u is an upper bound on the
 *    true distance ||x - c_a||, lb[g] a lower bound on the true distance to
 *    every centroid of group g but c_a, s[a] a lower bound on half the true
 *    distance from c_a to its nearest other centroid, drift an upper bound
 *    on how far each centroid moved.  Each is made from the float values
 *    with the margin e and rounded the safe way: a float result r of one
 *    operation is within 2^-24 |r|, so with u = 2^-24
 *        upper:  fl(fl(v) (1 + 2^-22)) >= v,   lower:  fl(fl(v) (1 - 2^-22)) <= v
 *    (for v >= 0; the square roots add a factor (1 +- u)^(3/2), still
 *    covered).  A point is skipped only when fl(u (1 + 2^-20)) <
 *    max(s[a], min_g lb[g]): then every other centroid j has
 *    ||x - c_j||^2 > ||x - c_a||^2 (1 + 2^-20), and since dd is within
 *    (d + 2) 2^-53 < 2^-23 of the true distance (relatively), dd_j > dd_a:
 *    a is the unique exact label, the same one a recomputation gives.  So
 *    whether a kernel's bounds skip a point only changes the speed.
 *
 * The sums, the losses and the update depend only on the labels and are
 * made in a fixed order. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <float.h>
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
#define MAXCAND 16       /* candidates of a near-tie picked here; more: the reference */

/* Directed float bounds (see the top): UP and DOWN times a float value v
 * >= 0 of one rounding give a bound above or below the exact v. */
static const float UP = 1.0f + 0x1p-22f, DOWN = 1.0f - 0x1p-22f;
/* the skip test's margin: fl(u SKIP) < z proves dd_j > dd_a */
static const float SKIP = 1.0f + 0x1p-20f;

#define up_f vt_km_up_f

/* The largest float <= v. */
static inline float down_f(double v)
{
	float f = (float)v;
	return (double)f > v ? nextafterf(f, -INFINITY) : f;
}

/* An upper bound on the true distance of a point whose dd is dd: the true
 * squared distance is at most dd (1 + 2^-22). */
static inline float up_sqrt_dd(double dd)
{
	return up_f(sqrt(dd * (1 + 0x1p-22)) * (1 + 0x1p-50));
}

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
	/* exact labels (see the top) */
	double tE, tA;     /* E(d) and A(d) of nearest.h */
	float Ef, Af;      /* the same rounded up to float */
	float E1f;         /* (1 + E(d))(1 + 2^-22), rounded up (tight_u) */
	double Ab;         /* A(d), plus 2^-21 max_j bias_j with a balance penalty */
	double cmaxu;      /* max_j ||c_j||, rounded up */
	float *cnuf;       /* k: ||c_j||, rounded up to float */
	float *gnf;        /* G: max ||c_j|| over each group, rounded up to float */
	int huge;          /* a centroid's squared norm is above VT_NEAREST_BIG_NORM */
	char *tscr;        /* per worker: group argmins, the rows for the reference */
	size_t tstride;
	size_t *nrec, *nnear, *nref; /* per worker: rows recomputed, near a tie, sent to
	                              * the reference */
};

/* Bytes of a worker's tie scratch: G group argmins (when groups hold more
 * than one centroid), ROWS gathered rows, their ids, labels and dd, and
 * the reference's scratch. */
static size_t tie_stride(size_t k, size_t d, size_t G, size_t gs)
{
	return (gs > 1 ? ROWS * G * sizeof(int32_t) : 0) + ROWS * d * sizeof(float) +
	       ROWS * (2 * sizeof(int32_t) + sizeof(double)) + vt_nearest_brute_scratch(d, k) + 64;
}

/* cnuf, gnf, cmaxu and huge from the centroids' float norms L->cn. */
static void set_cmax(struct lloyd *L)
{
	double mx = 0;
	L->huge = 0;
	for (size_t g = 0; g < L->G; g++)
		L->gnf[g] = 0;
	for (size_t j = 0; j < L->k; j++) {
		if (!((double)L->cn[j] <= VT_NEAREST_BIG_NORM))
			L->huge = 1;
		double v = vt_nearest_norm_up(L->cn[j]);
		float vf = up_f(v);
		L->cnuf[j] = vf;
		mx = v > mx ? v : mx;
		if (vf > L->gnf[j / L->gs])
			L->gnf[j / L->gs] = vf;
	}
	L->cmaxu = mx;
	/* A penalty b_j enters the float score through three roundings (of
	 * ||c_j||^2 + b_j, of the sum with -2 x.c_j and of the sum with
	 * ||x||^2), each off by at most 2^-24 b_j more than without it. */
	double bmax = 0;
	if (L->bias)
		for (size_t j = 0; j < L->k; j++)
			bmax = L->bias[j] > bmax ? L->bias[j] : bmax;
	L->Ab = L->tA + 0x1p-21 * bmax;
}

/* The margin of a row of norm nxf against group g, in float from values
 * rounded up: (Ef w w + Af) with w = nxf + gnf[g], four roundings of at
 * most 2^-24 each, covered by the factor 1 + 2^-20 (all terms >= 0).
 * Where the products fall below FLT_MIN they lose at most a few 2^-149
 * more: A(d) = (d + 4) 2^-146 is 16 times the underflow error it covers
 * (nearest.c), which absorbs that. */
#define GMARGIN(nxf, gn, Ef, Af) ((((Ef) * ((nxf) + (gn))) * ((nxf) + (gn)) + (Af)) * SKIP)

/* For the G values val[g] (the group minima of -2 x.c + ||c||^2_f) of a row
 * of float squared norm x2 and norm nxf (rounded up): with the float
 * distance dl = x2 + val[g] and t = dl - margin_g, the lower bound
 * lb[g] = sqrt(max(t, 0)) DOWN (<= the true distance of every centroid the
 * minimum is over), and the number of groups whose t <= H (those whose
 * centroids may be as near as H by dd).  SSE2 where there is one, with
 * the same float operations as the plain loop. */
static size_t lower_bounds(const float *val, size_t G, float x2, float nxf, const float *gnf,
                           float Ef, float Af, float H, float *lb)
{
	size_t g = 0, cnt = 0;
#ifdef __SSE2__
	const __m128 vx2 = _mm_set1_ps(x2), vnx = _mm_set1_ps(nxf), vE = _mm_set1_ps(Ef);
	const __m128 vA = _mm_set1_ps(Af), vS = _mm_set1_ps(SKIP), vD = _mm_set1_ps(DOWN);
	const __m128 vH = _mm_set1_ps(H), zero = _mm_setzero_ps();
	for (; g + 4 <= G; g += 4) {
		__m128 w = _mm_add_ps(vnx, _mm_loadu_ps(gnf + g));
		__m128 ef = _mm_mul_ps(_mm_add_ps(_mm_mul_ps(_mm_mul_ps(vE, w), w), vA), vS);
		__m128 t = _mm_sub_ps(_mm_add_ps(vx2, _mm_loadu_ps(val + g)), ef);
		_mm_storeu_ps(lb + g, _mm_mul_ps(_mm_sqrt_ps(_mm_max_ps(t, zero)), vD));
		cnt += (size_t)__builtin_popcount((unsigned)_mm_movemask_ps(_mm_cmple_ps(t, vH)));
	}
#endif
	for (; g < G; g++) {
		float t = (x2 + val[g]) - GMARGIN(nxf, gnf[g], Ef, Af);
		lb[g] = t > 0 ? sqrtf(t) * DOWN : 0.0f;
		cnt += t <= H;
	}
	return cnt;
}

static size_t worker_stride(size_t k, size_t d, size_t G, size_t cb, int bias)
{
	/* gathered rows, ip block, norms, biased norms, per-row best value and
	 * index, per-row group minima (two arrays), row index list; with a
	 * penalty, bias_assign's block of scores, biased norms, row norms, two
	 * best values and a label per row, and one row's k scores */
	size_t cbm = k < VT_KERNEL_COLS ? k : VT_KERNEL_COLS;
	return ROWS * d + ROWS * cb + ROWS + cb + 2 * (size_t)ROWS + 2 * ROWS * G +
	       (sizeof(size_t) / sizeof(float)) * ROWS + 32 +
	       (bias ? ROWS * cbm + cbm + 4 * (size_t)ROWS + k + 16 : 0);
}

/* The rows r0 .. r0 + m of a pass with a balance penalty b (L->bias): the
 * exact label argmin_j (dd_j + b_j), ties to the lower index.  The scan
 * of the kernel's penalised scores (sgemm blocks, vt_min2) gives the two
 * best D_j = (-2 x.c_j + (||c_j||^2_f + b_j)) + ||x||^2_f; with e the
 * margin of vt_nearest_margin for the largest centroid norm plus the
 * penalty's share (set_cmax), dd_j + b_j lies within e of D_j, so a second
 * best above (D_a + 2e)(1 + 2^-22) leaves a certain.  Otherwise the row's
 * k scores are computed again (one sgemv: any float scores carry the same
 * margin) and every centroid within that of their best is compared on
 * dd + b.  Rows of too large a norm (or every row while a centroid is)
 * take dd + b over all k. */
static void bias_assign(struct lloyd *L, size_t r0, size_t m, float *ws, int worker)
{
	const size_t d = L->p->d, k = L->k, cbm = k < VT_KERNEL_COLS ? k : VT_KERNEL_COLS;
	const float *xb = L->p->x + r0 * d;
	float *ip = ws, *cnb = ip + ROWS * cbm, *xn = cnb + cbm, *b1 = xn + ROWS, *b2 = b1 + ROWS;
	float *sc = b2 + ROWS;
	int32_t *a1 = (int32_t *)(void *)(sc + k);
	size_t nnear = 0, nref = 0;
	vt_sqnorms(xb, m, d, xn);
	for (size_t f = 0; f < m; f++) {
		b1[f] = b2[f] = INFINITY;
		a1[f] = 0;
	}
	for (size_t j0 = 0; j0 < k; j0 += cbm) {
		size_t cb = k - j0 < cbm ? k - j0 : cbm;
		for (size_t j = 0; j < cb; j++)
			cnb[j] = L->cn[j0 + j] + L->bias[j0 + j];
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)cb, (int)d, -2.0f,
		            xb, (int)d, L->C + j0 * d, (int)d, 0.0f, ip, (int)cb);
		for (size_t f = 0; f < m; f++) {
			float m1, m2;
			int32_t q;
			vt_min2(ip + f * cb, cnb, cb, &m1, &q, &m2);
			if (m1 < b1[f]) { /* (earlier blocks hold the lower indices) */
				b2[f] = b1[f] < m2 ? b1[f] : m2;
				b1[f] = m1;
				a1[f] = (int32_t)j0 + q;
			} else if (m1 < b2[f]) {
				b2[f] = m1;
			}
		}
	}
	for (size_t f = 0; f < m; f++) {
		const float *x = xb + f * d;
		float x2 = xn[f];
		int32_t a = a1[f];
		double bd = 0, bw = INFINITY;
		if (!L->huge && (double)x2 <= VT_NEAREST_BIG_NORM) {
			double w = vt_nearest_norm_up(x2) + L->cmaxu, e = L->tE * w * w + L->Ab;
			float D1 = b1[f] + x2, D2 = b2[f] + x2;
			if (!((double)D2 <= ((double)D1 + 2 * e) * (1 + 0x1p-22))) {
				L->a[r0 + f] = a;
				L->u[r0 + f] = INFINITY; /* (no bounds are kept with a penalty) */
				continue;
			}
			nnear++;
			cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)k, (int)d, -2.0f, L->C, (int)d, x,
			            1, 0.0f, sc, 1);
			float best = INFINITY;
			for (size_t j = 0; j < k; j++) {
				sc[j] = (sc[j] + (L->cn[j] + L->bias[j])) + x2;
				best = sc[j] < best ? sc[j] : best;
			}
			double thr = ((double)best + 2 * e) * (1 + 0x1p-22);
			a = -1;
			for (size_t j = 0; j < k; j++) {
				if (!((double)sc[j] <= thr))
					continue;
				double v = vt_nearest_sqdist(x, L->C + j * d, d), t = v + (double)L->bias[j];
				if (a < 0 || t < bw) {
					bw = t;
					bd = v;
					a = (int32_t)j;
				}
			}
		} else {
			nref++;
			for (size_t j = 0; j < k; j++) {
				double v = vt_nearest_sqdist(x, L->C + j * d, d), t = v + (double)L->bias[j];
				if (j == 0 || t < bw) {
					bw = t;
					bd = v;
					a = (int32_t)j;
				}
			}
		}
		L->a[r0 + f] = a;
		L->u[r0 + f] = up_sqrt_dd(bd);
	}
	L->nrec[worker] += m;
	L->nnear[worker] += nnear;
	L->nref[worker] += nref;
}

/* Group-bound assignment of m contiguous rows xb against all centroids:
 * one sgemm per block of cb centroids (whole groups), then per row and
 * group the smallest and second smallest ||c||^2 - 2 x.c.  Writes, for row
 * f, the exact label a[out(f)] (the top), the upper bound u >= ||x - c_a||
 * and the G lower bounds (to every centroid of each group but c_a), where
 * out(f) = idx ? idx[f] : r0 + f. */
static void group_assign(struct lloyd *L, const float *xb, size_t m, const size_t *idx,
                         size_t r0, float *ws, int worker)
{
	const size_t d = L->p->d, k = L->k, G = L->G, gs = L->gs, cb = L->cb;
	float *ip = ws, *xn = ip + ROWS * cb, *cnb = xn + ROWS;
	float *bv = cnb + cb;
	int32_t *bi = (int32_t *)(void *)(bv + ROWS);
	float *g1 = (float *)(bi + ROWS), *g2 = g1 + ROWS * G;
	char *ts = L->tscr + (size_t)worker * L->tstride;
	ts += (64 - (uintptr_t)ts % 64) % 64;
	int32_t *ga1 = (int32_t *)(void *)ts; /* gs > 1: each group's argmin */
	float *fx = (float *)(void *)(ts + (gs > 1 ? ROWS * G * sizeof(int32_t) : 0));
	double *fdd = (double *)(void *)(fx + ROWS * d);
	int32_t *ff = (int32_t *)(void *)(fdd + ROWS), *flab = ff + ROWS;
	void *bscr = flab + ROWS;
	size_t nf = 0, nnear = 0;
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
				int32_t *A1 = ga1 + f * G;
				for (size_t q = 0; q * gs < nb; q++) {
					size_t e = (q + 1) * gs < nb ? (q + 1) * gs : nb;
					float m1, m2;
					int32_t a1;
					vt_min2(v + q * gs, cn + q * gs, e - q * gs, &m1, &a1, &m2);
					G1[g0 + q] = m1;
					G2[g0 + q] = m2;
					A1[g0 + q] = (int32_t)(j0 + q * gs + (size_t)a1);
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
		float *lbr = L->lb + i * G;
		const float *G1 = g1 + f * G, *G2 = g2 + f * G;
		size_t ga = (size_t)a / gs;
		if (L->huge || !((double)x2 <= VT_NEAREST_BIG_NORM)) {
			/* no float bound holds: the reference, and bounds that never skip */
			for (size_t g = 0; g < G; g++)
				lbr[g] = 0;
			memcpy(fx + nf * d, xb + f * d, d * sizeof *fx);
			ff[nf++] = (int32_t)f;
			continue;
		}
		/* All in float, each bound rounded the safe way (this runs per
		 * row): nxf >= ||x|| (as vt_nearest_norm_up: sqrtf adds one more
		 * rounding of 2^-24, the factor 2^-22 still covers it), the margin
		 * e_a of c_a (GMARGIN), and H = fl(fl(D_a + e_a) UP) >= (D_a +
		 * e_a)(1 + 2^-23).  A centroid j of group g whose t = fl(D_j -
		 * margin_g) exceeds H has D_j - e_j > D_a + e_a (for t > 0, fl(t)
		 * is at most 2^-24 above it; t <= 0 is never above H >= 0), so
		 * dd_j > dd_a: it is not the label. */
		float nxf = sqrtf(x2) * UP, Da = x2 + bv[f];
		float eaf = GMARGIN(nxf, L->cnuf[a], L->Ef, L->Af);
		float H = (Da + eaf) * UP;
		/* every group, the group of c_a with its minimum c_a counted too
		 * (its t is at most D_a <= H) */
		size_t cnt = G == 1 ? 1 : lower_bounds(G1, G, x2, nxf, L->gnf, L->Ef, L->Af, H, lbr);
		int near = cnt > 1; /* (G == 1: only the group of c_a, below) */
		if (gs == 1)
			lbr[ga] = INFINITY; /* no other centroid in the group of c_a */
		else {
			float t = (x2 + G2[ga]) - GMARGIN(nxf, L->gnf[ga], L->Ef, L->Af);
			lbr[ga] = t > 0 ? sqrtf(t) * DOWN : 0.0f;
			near |= t <= H;
		}
		if (!near) {
			L->a[i] = a;
			L->u[i] = sqrtf(Da + eaf) * UP;
			continue;
		}
		/* a near-tie: the candidates, one per group, or the reference */
		nnear++;
		int32_t cand[MAXCAND];
		size_t nc = 0;
		int ref = 0;
		cand[nc++] = a;
		const int32_t *A1 = ga1 + f * G;
		for (size_t g = 0; g < G && !ref; g++) {
			float mg = GMARGIN(nxf, L->gnf[g], L->Ef, L->Af);
			if (gs > 1 && (x2 + G2[g]) - mg <= H)
				ref = 1; /* two or more of this group */
			else if (g != ga && (x2 + G1[g]) - mg <= H) {
				if (nc == MAXCAND)
					ref = 1;
				else
					cand[nc++] = gs == 1 ? (int32_t)g : A1[g];
			}
		}
		if (ref) {
			memcpy(fx + nf * d, xb + f * d, d * sizeof *fx);
			ff[nf++] = (int32_t)f;
			continue;
		}
		/* dd decides (ties to the lower index); with one centroid a group,
		 * each candidate's dd also bounds it tighter than its float distance
		 * did (the true squared distance is at least dd (1 - 2^-22)) */
		double cd[MAXCAND], dd = INFINITY;
		int32_t b = -1;
		vt_nearest_sqdists(xb + f * d, L->C, d, cand, nc, cd);
		for (size_t q = 0; q < nc; q++) {
			if (b < 0 || cd[q] < dd || (cd[q] == dd && cand[q] < b)) {
				dd = cd[q];
				b = cand[q];
			}
		}
		L->a[i] = b;
		L->u[i] = up_sqrt_dd(dd);
		if (b != a) { /* c_a is now one of the others of its group */
			float t = (x2 + G1[ga]) - GMARGIN(nxf, L->gnf[ga], L->Ef, L->Af);
			lbr[ga] = t > 0 ? sqrtf(t) * DOWN : 0.0f;
		}
		if (gs == 1) /* (Elkan: a group is one centroid) */
			for (size_t q = 0; q < nc; q++)
				lbr[cand[q]] = cand[q] == b ? INFINITY
				                            : down_f(sqrt(cd[q] * (1 - 0x1p-22)) * (1 - 0x1p-50));
	}
	if (nf) {
		vt_nearest_brute_serial(fx, nf, d, L->C, k, L->cn, flab, fdd, bscr);
		for (size_t q = 0; q < nf; q++) {
			size_t f = (size_t)ff[q], i = idx ? idx[f] : r0 + f;
			int32_t a = bi[f], b = flab[q];
			L->a[i] = b;
			L->u[i] = up_sqrt_dd(fdd[q]);
			float x2 = xn[f];
			if (b != a && !L->huge && (double)x2 <= VT_NEAREST_BIG_NORM) {
				size_t ga = (size_t)a / gs;
				float nxf = sqrtf(x2) * UP;
				float t = (x2 + g1[f * G + ga]) - GMARGIN(nxf, L->gnf[ga], L->Ef, L->Af);
				L->lb[i * G + ga] = t > 0 ? sqrtf(t) * DOWN : 0.0f;
			}
		}
	}
	L->nrec[worker] += m;
	L->nnear[worker] += nnear;
	L->nref[worker] += nf;
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

/* An upper bound on the true ||x - c||, from the float sum of squares
 * s = dist_exact_f(x, c): each difference, square and sum is off by at
 * most 2^-24 relatively, so s >= ||x - c||^2 (1 - gamma_{d+3}) - d 2^-149
 * (products underflowing), hence ||x - c||^2 <= (s + A(d)) (1 + E(d)) with
 * E(d) >= 2 gamma_{d+4} and A(d) of nearest.h.  In float: Af >= A(d) and
 * E1f >= (1 + E(d))(1 + 2^-22) cover the sum's and the product's
 * roundings, UP the square root's.  An overflow gives +inf (the point is
 * then recomputed). */
static float tight_u(const float *x, const float *c, size_t d, float Af, float E1f)
{
	return sqrtf((dist_exact_f(x, c, d) + Af) * E1f) * UP;
}

static void assign_task(void *arg, size_t t, int worker)
{
	struct lloyd *L = arg;
	const struct vt_km_prob *p = L->p;
	const size_t d = p->d;
	size_t r0 = t * ROWS, m = p->n - r0 < ROWS ? p->n - r0 : ROWS;
	float *gws = L->scratch + (size_t)worker * L->stride + ROWS * d;
	if (L->bias) {
		/* a balance penalty: every row, no bounds */
		float *bws = gws + ROWS * L->cb + ROWS + L->cb + 2 * (size_t)ROWS + 2 * ROWS * L->G +
		             (sizeof(size_t) / sizeof(float)) * ROWS + 16;
		bias_assign(L, r0, m, bws, worker);
		L->nwork[t] = m;
		return;
	}
	if (!L->bounds_ok) {
		group_assign(L, p->x + r0 * d, m, NULL, r0, gws, worker);
		L->nwork[t] = m;
		return;
	}
	L->nwork[t] = 0;
}

/* smallest of lb[g] - gd[g], writing the shrunk bounds back, each rounded
 * down: fl(fl(lb - gd) DOWN) <= lb - gd when lb - gd >= 0, and <= 0 (a
 * lower bound of any distance) otherwise.  gd is finite (update() clamps
 * it), so no NaN arises. */
static float shrink_min(float *lb, const float *gd, size_t G)
{
	size_t g = 0;
	float lo = INFINITY;
#ifdef __SSE2__
	__m128 vlo = _mm_set1_ps(INFINITY);
	const __m128 down = _mm_set1_ps(DOWN);
	for (; g + 4 <= G; g += 4) {
		__m128 v = _mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(lb + g), _mm_loadu_ps(gd + g)), down);
		_mm_storeu_ps(lb + g, v);
		vlo = _mm_min_ps(vlo, v);
	}
	float t[4];
	_mm_storeu_ps(t, vlo);
	for (int q = 0; q < 4; q++)
		lo = t[q] < lo ? t[q] : lo;
#endif
	for (; g < G; g++) {
		float v = (lb[g] - gd[g]) * DOWN;
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
	const size_t d = p->d, G = L->G;
	size_t r0 = t * BROWS, r1 = r0 + BROWS < p->n ? r0 + BROWS : p->n;
	float *ws = L->scratch + (size_t)worker * L->stride;
	float *xg = ws;
	float *gws = xg + ROWS * d;
	float *gend = gws + ROWS * L->cb + ROWS + L->cb + 2 * (size_t)ROWS + 2 * ROWS * G;
	size_t *rows = (size_t *)(void *)(((uintptr_t)gend + 7) & ~(uintptr_t)7);
	size_t nf = 0, work = 0;
	for (size_t i = r0; i < r1; i++) {
		int32_t ai = L->a[i];
		float u = (L->u[i] + L->drift[ai]) * UP;
		float lo = shrink_min(L->lb + i * G, L->gdrift, G);
		float z = L->s[ai] > lo ? L->s[ai] : lo;
		if (!(u * SKIP < z)) {
			u = tight_u(p->x + i * d, L->C + (size_t)ai * d, d, L->Af, L->E1f);
			if (!(u * SKIP < z)) {
				memcpy(xg + nf * d, p->x + i * d, d * sizeof *xg);
				rows[nf++] = i;
			}
		}
		L->u[i] = u;
		if (nf == ROWS || (i + 1 == r1 && nf)) {
			group_assign(L, xg, nf, rows, 0, gws, worker);
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

/* Scale the centroid c (d) of index j to unit norm, the norm summed in
 * double (spherical k-means).  A centroid of norm 0 has no direction: it
 * becomes the unit vector of coordinate j mod d. */
static void sphere_row(float *c, size_t d, size_t j)
{
	double s = 0;
	for (size_t e = 0; e < d; e++)
		s += (double)c[e] * c[e];
	if (s > 0) {
		double inv = 1.0 / sqrt(s);
		for (size_t e = 0; e < d; e++)
			c[e] = (float)(c[e] * inv);
		return;
	}
	c[j % d] = 1.0f;
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
		if (L->o->spherical) {
			/* the mean's direction: S_j / ||S_j||, in double (W_j > 0
			 * scales it away); a sum of 0 has none, and keeps c_j */
			double s2 = 0;
			for (size_t e = 0; e < d; e++)
				s2 += L->S[j * d + e] * L->S[j * d + e];
			if (!(s2 > 0)) {
				L->drift[j] = 0;
				continue;
			}
			inv = 1.0 / sqrt(s2);
		}
		for (size_t e = 0; e < d; e++) {
			float v = (float)(L->S[j * d + e] * inv);
			double df = (double)v - C[j * d + e];
			dr += df * df;
			C[j * d + e] = v;
		}
		/* rounded up: dr is within (d + 2) 2^-53 of the true squared drift */
		L->drift[j] = up_f(sqrt(dr * (1 + 0x1p-22)) * (1 + 0x1p-50));
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
		if (L->o->spherical) {
			sphere_row(cj, d, j);
			sphere_row(cb, d, big);
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
	/* A group drift beyond FLT_MAX (an overflow to +inf) is clamped there:
	 * every finite lower bound is at most FLT_MAX, so lb - FLT_MAX <= 0 is
	 * still a lower bound, and +inf (a group of c_a alone) stays +inf. */
	for (size_t g = 0; g < L->G; g++)
		if (L->gdrift[g] > FLT_MAX)
			L->gdrift[g] = FLT_MAX;
	return splits;
}

/* s[j]: a lower bound on half the true distance from each centroid to its
 * nearest other centroid, from the exact top two of each centroid among
 * all (vt_nearest_brute: itself at dd 0 and its nearest other, or two at
 * dd 0 for a duplicate), the true squared distance being at least
 * dd (1 - 2^-22).  (Float distances less a margin would do too, but the
 * margin grows with the norms while these gaps can be small.)  Centroids
 * too large for float get 0. */
static int centroid_gaps(struct lloyd *L)
{
	const size_t k = L->k, d = L->p->d;
	if (k < 2 || L->huge) {
		for (size_t j = 0; j < k; j++)
			L->s[j] = 0;
		return 0;
	}
	int32_t *l2 = malloc(2 * k * sizeof *l2);
	double *d2 = malloc(2 * k * sizeof *d2);
	if (!l2 || !d2) {
		free(l2);
		free(d2);
		return VT_ENOMEM;
	}
	int rc = vt_nearest_brute(L->pool, L->C, k, d, L->C, k, 2, l2, d2);
	if (rc == VT_EDATA) { /* (a centroid not finite: no gap is known) */
		memset(d2, 0, 2 * k * sizeof *d2);
		rc = 0;
	}
	if (!rc)
		for (size_t j = 0; j < k; j++) {
			double g = (size_t)l2[2 * j] == j ? d2[2 * j + 1] : d2[2 * j];
			L->s[j] = down_f(0.5 * sqrt(g * (1 - 0x1p-22)) * (1 - 0x1p-50));
		}
	free(l2);
	free(d2);
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
	free(L->tscr);
	free(L->nrec);
	free(L->cnuf);
	free(L->gnf);
	free(L->nnear);
	free(L->nref);
}

struct vt_km_lloyd_opts vt_km_lloyd_opts_of(const vt_kmeans *km, int iters)
{
	struct vt_km_lloyd_opts o = {.iters = iters,
	                             .tol = km->tol,
	                             .balance = km->balance,
	                             .spherical = km->spherical,
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
	L.stride = worker_stride(k, d, L.G, L.cb, o->balance > 0);
	L.tstride = tie_stride(k, d, L.G, L.gs);
	L.tE = vt_nearest_eps(d);
	L.tA = vt_nearest_margin(d, 0, 0);
	L.Ef = up_f(L.tE);
	L.Af = up_f(L.tA);
	L.E1f = up_f((1 + L.tE) * (1 + 0x1p-22) * (1 + 0x1p-50));
	int rc = VT_ENOMEM;
	size_t nworkers = (size_t)vt_pool_size(pool);
	L.tscr = malloc(nworkers * L.tstride);
	L.nrec = calloc(nworkers, sizeof *L.nrec);
	L.cnuf = malloc(k * sizeof *L.cnuf);
	L.gnf = malloc(L.G * sizeof *L.gnf);
	L.nnear = calloc(nworkers, sizeof *L.nnear);
	L.nref = calloc(nworkers, sizeof *L.nref);
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
	    !L.S || !L.W || !L.Q || !L.closs || !L.scratch || !L.nwork || !L.tscr || !L.nrec || !L.nnear || !L.cnuf || !L.gnf ||
	    !L.nref ||
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

	if (o->spherical) /* the seeds too: every assignment is to unit centroids */
		for (size_t j = 0; j < k; j++)
			sphere_row(C + j * d, d, j);

	double prev = INFINITY;
	int it = 0;
	for (it = 0; it < o->iters; it++) {
		vt_sqnorms(C, k, d, L.cn);
		set_cmax(&L);
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
	set_cmax(&L);
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
	if (o->ties)
		for (size_t t = 0; t < nworkers; t++) {
			o->ties[0] += (double)L.nrec[t];
			o->ties[1] += (double)L.nnear[t];
			o->ties[2] += (double)L.nref[t];
		}
	rc = 0;
out:
	free(dex);
	lloyd_release(&L);
	return rc;
}
