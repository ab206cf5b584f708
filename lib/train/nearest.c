/* vtrain: exact nearest-centroid search for large k (see nearest.h): the
 * exact distance and its rounding bound, the scans of float distances into
 * candidate lists and their certification, brute force (the reference)
 * and the agreement check.  The index is built in nearest_build.c and
 * queried in nearest_query.c; nearest_impl.h holds what the parts share.
 *
 * The rounding bound.  Let u = 2^-24 (float), gamma_m = m u / (1 - m u),
 * nx = ||x||, nc = ||c||, T = ||x - c||^2 (true).  The float distance of the
 * kernel is D = fl(fl(-2 ip + cn) + xn) with
 *   ip: sgemm's x.c.  In any summation order, with or without FMA,
 *       |ip - x.c| <= gamma_d sum_t |x_t c_t| <= gamma_d nx nc
 *       (Cauchy-Schwarz); the factor -2 is exact.
 *   cn, xn: the squared norms summed in double and rounded to float,
 *       |xn - nx^2| <= (u + d 2^-53) nx^2, the same for cn.
 *   two float additions, each off by at most u times its (computed)
 *       operands' magnitude, <= u (1 + gamma_d) (nx + nc)^2.
 * Summing, with 2 nx nc + nx^2 + nc^2 = (nx + nc)^2:
 *   |D - T| <= (gamma_d + 3u + d 2^-53)(1 + gamma_d)^2 (nx + nc)^2
 *          <= 2 gamma_{d+4} (nx + nc)^2            (while d u <= 0.29).
 * dd (double, nearest.h) has |dd - T| <= gamma^(53)_{d+2} T, and the
 * differences x_t - c_t are exact or off by 2^-53 relatively; our own double
 * arithmetic on D (D -/+ e, the sums below) adds a few 2^-53 (nx + nc)^2.
 * All of it is below (d + 4) 2^-50 (nx + nc)^2.  Hence
 *   E(d) = 2 gamma_{d+4} + (d + 4) 2^-50,   e = E(d) (nx + nc)^2 + A(d),
 * with A(d) = (d + 4) 2^-146 for products that fall into float's subnormals
 * (each is off by at most 2^-150).  nx and nc are taken from the float
 * norms and rounded up by a factor 1 + 2^-22 (> 1 + 2u + d 2^-53 for
 * d < 2^30).  Rows with ||x||^2 > 1e36 and centroids with ||c||^2 > 1e36 are
 * kept out of float (no sgemm product or sum can then overflow).
 *
 * Every float distance D_j thus gives an interval [lo, hi] = [D_j - e_j,
 * D_j + e_j] that holds dd_j.  A row keeps a list of the L = N + 3 smallest
 * lo seen, and `ev`, a value below the lo of everything it dropped.  With U
 * the N-th smallest hi in the list, any centroid whose lo exceeds U has N
 * others strictly nearer by dd, so the top N by (dd, index) are among the
 * listed entries with lo <= U: dd is computed for those and decides.  If
 * ev < U the list may have dropped a candidate: the row goes to brute force
 * (and there, with the list overflowing again, to dd over all k).
 */
#define _POSIX_C_SOURCE 200809L
#include "train/nearest.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/kernel.h"
#include "train/nearest_impl.h"

double vt_nearest_sqdist(const float *x, const float *c, size_t d)
{
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t t = 0;
	for (; t + 4 <= d; t += 4) {
		double a = (double)x[t] - c[t], b = (double)x[t + 1] - c[t + 1];
		double e = (double)x[t + 2] - c[t + 2], f = (double)x[t + 3] - c[t + 3];
		s0 += a * a;
		s1 += b * b;
		s2 += e * e;
		s3 += f * f;
	}
	for (; t < d; t++) {
		double a = (double)x[t] - c[t];
		s0 += a * a;
	}
	return (s0 + s1) + (s2 + s3);
}

double vt_nearest_eps(size_t d)
{
	const double u = 0x1p-24, m = (double)d + 4;
	return 2 * (m * u / (1 - m * u)) + m * 0x1p-50;
}

double vt_nearest_margin(size_t d, double nxu, double ncu)
{
	double w = nxu + ncu;
	return vt_nearest_eps(d) * w * w + abs_err(d);
}

#ifdef __SSE2__
#include <emmintrin.h>
/* dd of x to four vectors at once: each lane pair holds one vector's
 * partial sums s0, s1 (or s2, s3) and adds in vt_nearest_sqdist's order
 * (_mm_mul_pd then _mm_add_pd round as its scalar code does), so the values
 * are the same; the four independent chains hide the adds' latency. */
static void sqdist4(const float *x, const float *const *c, size_t d, double *out)
{
	__m128d s01[4], s23[4];
	for (int q = 0; q < 4; q++)
		s01[q] = s23[q] = _mm_setzero_pd();
	size_t t = 0;
	for (; t + 4 <= d; t += 4) {
		__m128 xv = _mm_loadu_ps(x + t);
		__m128d x01 = _mm_cvtps_pd(xv), x23 = _mm_cvtps_pd(_mm_movehl_ps(xv, xv));
		for (int q = 0; q < 4; q++) {
			__m128 cv = _mm_loadu_ps(c[q] + t);
			__m128d c01 = _mm_cvtps_pd(cv), c23 = _mm_cvtps_pd(_mm_movehl_ps(cv, cv));
			__m128d a = _mm_sub_pd(x01, c01), b = _mm_sub_pd(x23, c23);
			s01[q] = _mm_add_pd(s01[q], _mm_mul_pd(a, a));
			s23[q] = _mm_add_pd(s23[q], _mm_mul_pd(b, b));
		}
	}
	for (int q = 0; q < 4; q++) {
		double p01[2], p23[2];
		_mm_storeu_pd(p01, s01[q]);
		_mm_storeu_pd(p23, s23[q]);
		for (size_t u = t; u < d; u++) {
			double a = (double)x[u] - c[q][u];
			p01[0] += a * a;
		}
		out[q] = (p01[0] + p01[1]) + (p23[0] + p23[1]);
	}
}
#endif

void vt_nearest_sqdists(const float *x, const float *c, size_t d, const int32_t *ids, size_t m,
                        double *out)
{
	size_t q = 0;
#ifdef __SSE2__
	/* (two or three left: padded with the last, its repeats thrown away;
	 * the chains run side by side, so that costs about one) */
	for (; q + 2 <= m; q += 4) {
		const float *cs[4];
		double o[4];
		for (int u = 0; u < 4; u++)
			cs[u] = c + (size_t)ids[q + (size_t)u < m ? q + (size_t)u : m - 1] * d;
		sqdist4(x, cs, d, o);
		for (size_t u = 0; u < 4 && q + u < m; u++)
			out[q + u] = o[u];
	}
#endif
	for (; q < m; q++)
		out[q] = vt_nearest_sqdist(x, c + (size_t)ids[q] * d, d);
}

int32_t vt_nearest_pick(const float *x, const float *c, size_t d, const int32_t *ids,
                        size_t m, double *dist)
{
	double v[16];
	int32_t b = ids[0];
	double bd = INFINITY;
	for (size_t q0 = 0; q0 < m; q0 += 16) {
		size_t mm = m - q0 < 16 ? m - q0 : 16;
		vt_nearest_sqdists(x, c, d, ids + q0, mm, v);
		for (size_t q = 0; q < mm; q++)
			if ((q0 == 0 && q == 0) || v[q] < bd || (v[q] == bd && ids[q0 + q] < b)) {
				bd = v[q];
				b = ids[q0 + q];
			}
	}
	if (dist)
		*dist = bd;
	return b;
}

/* ---- candidate lists (the list itself: nearest_impl.h) ---- */

/* The threshold t of a scan: a value whose lo exceeds t is of no use, being
 * above the list's last lo (when full) or above the bound U on the N-th
 * distance.  The cut is t + e rounded up to float: a float distance s > cut
 * has s - e > t. */
static double thresh(const cand *c, int cnt, int L, double U)
{
	return cnt == L && c[L - 1].lo < U ? c[L - 1].lo : U;
}

static float cut_of(double t, double e)
{
	if (!(t < INFINITY))
		return INFINITY;
	double v = t + e;
	float f = (float)v;
	return (double)f < v ? nextafterf(f, INFINITY) : f;
}

/* One row against a block of cb centroids: ip holds -2 x.c_j (sgemm), cn
 * the float norms, ids the centroid ids (or NULL: j0 + j).  The distance is
 * the kernel's (ip + cn) + xn; e bounds its error for every j of the block.
 * Values above the cut are dropped unseen: their lo exceeds the threshold
 * at that moment, which only decreases, so after the block *ev is lowered
 * to the final threshold when anything was dropped. */
static void scan_plain(const float *ip, const float *cn, const int32_t *ids, int32_t j0,
                       size_t cb, float xn, double e, double U, cand *c, int *cnt, int L,
                       double *ev)
{
	double t = thresh(c, *cnt, L, U);
	float cut = cut_of(t, e);
	int rej = 0;
	for (size_t j = 0; j < cb; j++) {
		float s = (ip[j] + cn[j]) + xn;
		if (s > cut) {
			rej = 1;
			continue;
		}
		cl_push(c, cnt, L, ev, (double)s - e, (double)s + e, ids ? ids[j] : j0 + (int32_t)j);
		t = thresh(c, *cnt, L, U);
		cut = cut_of(t, e);
	}
	if (rej && t < *ev)
		*ev = t;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* The same, 8 lanes at a time: lanes all above the cut are dropped in one
 * compare, the others go through the plain scan (same float sums). */
__attribute__((target("avx2"))) static void
scan_avx2(const float *ip, const float *cn, const int32_t *ids, int32_t j0, size_t cb, float xn,
          double e, double U, cand *c, int *cnt, int L, double *ev)
{
	double t = thresh(c, *cnt, L, U);
	float cut = cut_of(t, e);
	int rej = 0;
	const __m256 vx = _mm256_set1_ps(xn);
	size_t j = 0;
	for (; j + 8 <= cb; j += 8) {
		__m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(ip + j), _mm256_loadu_ps(cn + j)),
		                         vx);
		int le = _mm256_movemask_ps(_mm256_cmp_ps(s, _mm256_set1_ps(cut), _CMP_LE_OQ));
		if (le != 0xff)
			rej = 1;
		if (!le)
			continue;
		scan_plain(ip + j, cn + j, ids ? ids + j : NULL, j0 + (int32_t)j, 8, xn, e, U, c, cnt,
		           L, ev);
		t = thresh(c, *cnt, L, U);
		cut = cut_of(t, e);
	}
	if (rej && t < *ev)
		*ev = t;
	if (j < cb)
		scan_plain(ip + j, cn + j, ids ? ids + j : NULL, j0 + (int32_t)j, cb - j, xn, e, U, c,
		           cnt, L, ev);
}
#define VT_NEAREST_AVX2 1
#endif

void vt_nn_scan_row(const float *ip, const float *cn, const int32_t *ids, int32_t j0,
                    size_t cb, float xn, double e, double U, cand *c, int *cnt, int L,
                    double *ev)
{
#ifdef VT_NEAREST_AVX2
	static int avx2 = -1;
	if (avx2 < 0) {
		__builtin_cpu_init();
		avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
	}
	if (avx2) {
		scan_avx2(ip, cn, ids, j0, cb, xn, e, U, c, cnt, L, ev);
		return;
	}
#endif
	scan_plain(ip, cn, ids, j0, cb, xn, e, U, c, cnt, L, ev);
}

/* The N-th smallest hi of the list (N <= cnt). */
double vt_nn_nth_hi(const cand *c, int cnt, size_t N)
{
	double h[VT_NEAREST_MAX_TOP + SLACK] = {0};
	for (int i = 0; i < cnt; i++) {
		double v = c[i].hi;
		int p = i;
		while (p > 0 && h[p - 1] > v) {
			h[p] = h[p - 1];
			p--;
		}
		h[p] = v;
	}
	return h[N - 1];
}

static int by_dd(const cand *a, const cand *b)
{
	return a->lo < b->lo || (a->lo == b->lo && a->j < b->j);
}

/* Certify a list and write the top N by (dd, index); base holds the
 * vectors the ids refer to.  Returns 0, or 1 when the list cannot certify
 * (the caller then falls back). */
int vt_nn_finalize(const float *x, const float *base, size_t d, const cand *c, int cnt,
                   double ev, size_t N, int32_t *lab, double *dist)
{
	if ((size_t)cnt < N)
		return 1;
	double U = vt_nn_nth_hi(c, cnt, N);
	if (!(ev >= U)) /* everything dropped has lo > ev >= U */
		return 1;
	cand t[VT_NEAREST_MAX_TOP + SLACK];
	int m = 0;
	for (; m < cnt && c[m].lo <= U; m++) {
		cand v = {vt_nearest_sqdist(x, base + (size_t)c[m].j * d, d), 0, c[m].j};
		int p = m;
		while (p > 0 && by_dd(&v, &t[p - 1])) {
			t[p] = t[p - 1];
			p--;
		}
		t[p] = v;
	}
	for (size_t i = 0; i < N; i++) {
		if (lab)
			lab[i] = t[i].j;
		if (dist)
			dist[i] = t[i].lo;
	}
	return 0;
}

/* dd to every one of the k vectors: the definition itself. */
void vt_nn_exact_row(const float *x, const float *c, size_t k, size_t d, size_t N,
                     int32_t *lab, double *dist)
{
	cand t[VT_NEAREST_MAX_TOP];
	t[0] = (cand){INFINITY, 0, 0}; /* (k >= 1 always replaces it) */
	size_t m = 0;
	for (size_t j = 0; j < k; j++) {
		cand v = {vt_nearest_sqdist(x, c + j * d, d), 0, (int32_t)j};
		if (m == N && !by_dd(&v, &t[N - 1]))
			continue;
		size_t p = m < N ? m++ : N - 1;
		while (p > 0 && by_dd(&v, &t[p - 1])) {
			t[p] = t[p - 1];
			p--;
		}
		t[p] = v;
	}
	for (size_t i = 0; i < N; i++) {
		if (lab)
			lab[i] = t[i].j;
		if (dist)
			dist[i] = t[i].lo;
	}
}

/* A row whose float norm is not finite or too large.  With a NaN or an
 * infinity dd is NaN or +inf for every centroid, all of them tie, and the
 * lowest indices win; a finite row of huge norm gets dd over all k. */
void vt_nn_special_row(const float *x, const float *c, size_t k, size_t d, size_t N,
                       int32_t *lab, double *dist)
{
	int finite = 1;
	for (size_t t = 0; t < d && finite; t++)
		finite = isfinite(x[t]);
	if (finite) {
		vt_nn_exact_row(x, c, k, d, N, lab, dist);
		return;
	}
	for (size_t i = 0; i < N; i++) {
		if (lab)
			lab[i] = (int32_t)i;
		if (dist)
			dist[i] = vt_nearest_sqdist(x, c + i * d, d);
	}
}

/* ---- brute force (the reference) ---- */

struct brute_ctx {
	const float *x, *c, *cn;
	const double *bmax; /* per block of NR_COLS centroids: max norm, rounded up */
	size_t n, d, k, N;
	int L;
	double E, A;
	int32_t *lab;
	double *dist;
	char *scr;
	size_t stride;
};

static size_t brute_scratch(size_t d, size_t L)
{
	(void)d;
	return (size_t)NR_ROWS * NR_COLS * sizeof(float) + NR_ROWS * (sizeof(float) + sizeof(int) +
	       sizeof(double) + sizeof(double) + L * sizeof(cand)) + 64;
}

/* Rows r0 .. r0 + NR_ROWS (at most) of a brute-force pass, in the scratch
 * s (brute_scratch bytes). */
static void brute_block(const struct brute_ctx *a, size_t r0, char *s)
{
	size_t m = a->n - r0 < NR_ROWS ? a->n - r0 : NR_ROWS;
	size_t d = a->d, k = a->k, N = a->N;
	int L = a->L;
	s += (64 - (uintptr_t)s % 64) % 64;
	cand *cl = (cand *)(void *)s;
	double *ev = (double *)(cl + NR_ROWS * (size_t)L);
	double *nxu = ev + NR_ROWS;
	float *ip = (float *)(nxu + NR_ROWS);
	float *xn = ip + (size_t)NR_ROWS * NR_COLS;
	int *cnt = (int *)(xn + NR_ROWS);
	const float *xb = a->x + r0 * d;
	vt_sqnorms(xb, m, d, xn);
	for (size_t i = 0; i < m; i++) {
		cnt[i] = 0;
		ev[i] = INFINITY;
		nxu[i] = norm_up(xn[i]);
	}
	for (size_t j0 = 0; j0 < k; j0 += NR_COLS) {
		size_t cb = k - j0 < NR_COLS ? k - j0 : NR_COLS;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)cb, (int)d, -2.0f,
		            xb, (int)d, a->c + j0 * d, (int)d, 0.0f, ip, (int)cb);
		double bm = a->bmax[j0 / NR_COLS];
		for (size_t i = 0; i < m; i++) {
			if (row_special(xn[i]))
				continue;
			double w = nxu[i] + bm, e = a->E * w * w + a->A;
			vt_nn_scan_row(ip + i * cb, a->cn + j0, NULL, (int32_t)j0, cb, xn[i], e, INFINITY,
			               cl + i * (size_t)L, &cnt[i], L, &ev[i]);
		}
	}
	for (size_t i = 0; i < m; i++) {
		const float *xr = xb + i * d;
		int32_t *lab = a->lab ? a->lab + (r0 + i) * N : NULL;
		double *dist = a->dist ? a->dist + (r0 + i) * N : NULL;
		if (row_special(xn[i]))
			vt_nn_special_row(xr, a->c, k, d, N, lab, dist);
		else if (vt_nn_finalize(xr, a->c, d, cl + i * (size_t)L, cnt[i], ev[i], N, lab, dist))
			vt_nn_exact_row(xr, a->c, k, d, N, lab, dist);
	}
}

static void brute_task(void *arg, size_t task, int worker)
{
	struct brute_ctx *a = arg;
	brute_block(a, task * NR_ROWS, a->scr + (size_t)worker * a->stride);
}

/* vt_nearest_brute_serial's scratch: the kernel's (vt_assign_serial), per
 * block of NR_ROWS rows the two best labels and distances and the norms,
 * the rows near a tie gathered (rows, ids, labels, dd), the block maxima
 * of the centroid norms and brute force's own. */
size_t vt_nearest_brute_scratch(size_t d, size_t k)
{
	return vt_assign_scratch_floats(k) * sizeof(float) +
	       NR_ROWS * (5 * sizeof(float) + 4 * sizeof(int32_t) + sizeof(double)) +
	       (size_t)NR_ROWS * d * sizeof(float) + (k / NR_COLS + 1) * sizeof(double) +
	       brute_scratch(d, 1 + SLACK) + 64;
}

/* The kernel's scan with its two best (vt_assign_serial) certifies most
 * rows: with e = E(d) (||x|| + max ||c||)^2 + A(d), every centroid but the
 * best has a float distance D_2 >= the second best, so D_2 > (D_1 + 2e)
 * (1 + 2^-22) puts them all provably farther by dd (the kernel's distances
 * are clamped at 0, which only moves them towards dd >= 0).  The other rows
 * (and rows of too large a norm) go through brute force's candidate lists. */
void vt_nearest_brute_serial(const float *x, size_t n, size_t d, const float *c, size_t k,
                             const float *cn, int32_t *labels, double *dists, void *scratch)
{
	if (n == 0)
		return;
	char *s = scratch;
	s += (64 - (uintptr_t)s % 64) % 64;
	double *bmax = (double *)(void *)s;
	double *fd = bmax + k / NR_COLS + 1;
	float *ks = (float *)(fd + NR_ROWS);
	float *d1 = ks + vt_assign_scratch_floats(k), *d2 = d1 + NR_ROWS, *xn = d2 + NR_ROWS;
	float *fx = xn + NR_ROWS;
	int32_t *l1 = (int32_t *)(void *)(fx + (size_t)NR_ROWS * d), *l2 = l1 + NR_ROWS;
	int32_t *ff = l2 + NR_ROWS, *fl = ff + NR_ROWS;
	char *bscr = (char *)(fl + NR_ROWS);
	int huge = 0;
	double cmax = 0;
	for (size_t j0 = 0; j0 < k; j0 += NR_COLS) {
		size_t cb = k - j0 < NR_COLS ? k - j0 : NR_COLS;
		double mx = 0;
		for (size_t j = 0; j < cb; j++) {
			if (!((double)cn[j0 + j] <= BIG_NORM))
				huge = 1;
			double v = norm_up(cn[j0 + j]);
			mx = v > mx ? v : mx;
		}
		bmax[j0 / NR_COLS] = mx;
		cmax = mx > cmax ? mx : cmax;
	}
	if (huge) { /* no float bound holds: the definition, row by row */
		for (size_t i = 0; i < n; i++)
			vt_nn_exact_row(x + i * d, c, k, d, 1, labels ? labels + i : NULL,
			                dists ? dists + i : NULL);
		return;
	}
	const double E = vt_nearest_eps(d), A = abs_err(d);
	struct brute_ctx a = {fx, c, cn, bmax, 0, d, k, 1, 1 + SLACK, E, A, fl, fd, bscr, 0};
	for (size_t r0 = 0; r0 < n; r0 += NR_ROWS) {
		size_t m = n - r0 < NR_ROWS ? n - r0 : NR_ROWS, nf = 0;
		const float *xb = x + r0 * d;
		vt_assign_serial(xb, m, d, c, k, cn, NULL, l1, d1, l2, d2, ks);
		vt_sqnorms(xb, m, d, xn);
		for (size_t f = 0; f < m; f++) {
			int near = 1;
			if (!row_special(xn[f])) {
				double w = norm_up(xn[f]) + cmax, e = E * w * w + A;
				near = l2[f] >= 0 && (double)d2[f] <= ((double)d1[f] + 2 * e) * (1 + 0x1p-22);
			}
			if (near) {
				memcpy(fx + nf * d, xb + f * d, d * sizeof *fx);
				ff[nf++] = (int32_t)f;
				continue;
			}
			if (labels)
				labels[r0 + f] = l1[f];
			if (dists)
				dists[r0 + f] = vt_nearest_sqdist(xb + f * d, c + (size_t)l1[f] * d, d);
		}
		if (!nf)
			continue;
		a.n = nf;
		brute_block(&a, 0, a.scr);
		for (size_t q = 0; q < nf; q++) {
			if (labels)
				labels[r0 + (size_t)ff[q]] = fl[q];
			if (dists)
				dists[r0 + (size_t)ff[q]] = fd[q];
		}
	}
}

/* Check centroids, compute their float norms and the per-block maxima. */
int vt_nn_centroid_norms(const float *c, size_t k, size_t d, float *cn, double *bmax)
{
	for (size_t i = 0; i < k * d; i++)
		if (!isfinite(c[i]))
			return VT_EDATA;
	vt_sqnorms(c, k, d, cn);
	for (size_t j0 = 0; j0 < k; j0 += NR_COLS) {
		size_t cb = k - j0 < NR_COLS ? k - j0 : NR_COLS;
		double mx = 0;
		for (size_t j = 0; j < cb; j++) {
			if (!((double)cn[j0 + j] <= BIG_NORM))
				return VT_EDATA;
			double v = norm_up(cn[j0 + j]);
			mx = v > mx ? v : mx;
		}
		bmax[j0 / NR_COLS] = mx;
	}
	return 0;
}

int vt_nn_brute_run(vt_pool *pool, const float *x, size_t n, size_t d, const float *c,
                    size_t k, const float *cn, const double *bmax, size_t N, int32_t *lab,
                    double *dist)
{
	if (n == 0)
		return 0;
	int T = vt_pool_size(pool);
	int L = (int)(N + SLACK);
	size_t stride = brute_scratch(d, (size_t)L);
	char *scr = malloc((size_t)T * stride);
	if (!scr)
		return VT_ENOMEM;
	struct brute_ctx a = {x, c, cn, bmax, n, d, k, N, L, vt_nearest_eps(d), abs_err(d),
	                      lab, dist, scr, stride};
	vt_pool_run(pool, (n + NR_ROWS - 1) / NR_ROWS, brute_task, &a);
	free(scr);
	return 0;
}

int vt_nearest_brute(vt_pool *pool, const float *x, size_t n, size_t d, const float *c,
                     size_t k, size_t top, int32_t *labels, double *dists)
{
	if (d == 0 || k == 0 || k >= (size_t)INT32_MAX || d > (size_t)INT32_MAX || top < 1 ||
	    top > VT_NEAREST_MAX_TOP || top > k)
		return VT_EINVAL;
	float *cn = malloc(k * sizeof *cn);
	double *bmax = malloc((k / NR_COLS + 1) * sizeof *bmax);
	int rc = VT_ENOMEM;
	if (cn && bmax && !(rc = vt_nn_centroid_norms(c, k, d, cn, bmax)))
		rc = vt_nn_brute_run(pool, x, n, d, c, k, cn, bmax, top, labels, dists);
	free(cn);
	free(bmax);
	return rc;
}

int vt_nearest_agreement(vt_pool *pool, const float *x, size_t n, size_t d, const float *c,
                         size_t k, const int32_t *labels, size_t step, double *agree,
                         double *ratio)
{
	if (step == 0 || n == 0 || d == 0 || k == 0)
		return VT_EINVAL;
	size_t m = (n + step - 1) / step;
	for (size_t q = 0; q < m; q++)
		if (labels[q * step] < 0 || (size_t)labels[q * step] >= k)
			return VT_EINVAL;
	float *xs = calloc(m * d, sizeof *xs); /* (calloc: gcc cannot see the copy fill it) */
	int32_t *lb = malloc(m * sizeof *lb);
	double *db = malloc(m * sizeof *db);
	int rc = VT_ENOMEM;
	if (!xs || !lb || !db)
		goto out;
	for (size_t q = 0; q < m; q++)
		memcpy(xs + q * d, x + q * step * d, d * sizeof *xs);
	if ((rc = vt_nearest_brute(pool, xs, m, d, c, k, 1, lb, db)))
		goto out;
	double sg = 0, sb = 0;
	size_t same = 0;
	for (size_t q = 0; q < m; q++) {
		int32_t j = labels[q * step];
		double dg = vt_nearest_sqdist(xs + q * d, c + (size_t)j * d, d);
		same += j == lb[q] || dg <= db[q];
		sg += dg;
		sb += db[q];
	}
	*agree = (double)same / (double)m;
	*ratio = sb > 0 ? sg / sb : 1.0;
out:
	free(xs);
	free(lb);
	free(db);
	return rc;
}
