/* vtrain: exact nearest-centroid search for large k (see nearest.h).
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
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "train/kernel.h"
#include "train/rng.h"

#define NR_ROWS 256    /* rows of one sgemm block */
#define NR_COLS 512    /* centroids of one sgemm block */
#define SLACK 3        /* list entries beyond the N asked for */
#define BIG_NORM 1e36  /* squared norms beyond this stay out of float */
#define NORM_UP (1.0 + 0x1p-22)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

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

static double abs_err(size_t d)
{
	return ((double)d + 4) * 0x1p-146;
}

/* ---- candidate lists ---- */

typedef struct {
	double lo, hi;
	int32_t j;
} cand;

/* Insert (lo, hi, j) into the list c (cnt entries, at most L, sorted by
 * lo).  *ev is a strict bound on what the list lost: every dropped value
 * has lo > *ev.  An entry dropped here with lo = v has lo > below(v), the
 * next double down. */
static inline double below(double v)
{
	return nextafter(v, -INFINITY);
}

static void cl_push(cand *c, int *cnt, int L, double *ev, double lo, double hi, int32_t j)
{
	int n = *cnt;
	if (n == L) {
		if (!(lo < c[L - 1].lo)) {
			if (below(lo) < *ev)
				*ev = below(lo);
			return;
		}
		if (below(c[L - 1].lo) < *ev)
			*ev = below(c[L - 1].lo);
		n = L - 1;
	}
	int i = n;
	while (i > 0 && c[i - 1].lo > lo) {
		c[i] = c[i - 1];
		i--;
	}
	c[i] = (cand){lo, hi, j};
	*cnt = n + 1;
}

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

static void scan_row(const float *ip, const float *cn, const int32_t *ids, int32_t j0,
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
static double nth_hi(const cand *c, int cnt, size_t N)
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
static int finalize(const float *x, const float *base, size_t d, const cand *c, int cnt,
                    double ev, size_t N, int32_t *lab, double *dist)
{
	if ((size_t)cnt < N)
		return 1;
	double U = nth_hi(c, cnt, N);
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
static void exact_row(const float *x, const float *c, size_t k, size_t d, size_t N,
                      int32_t *lab, double *dist)
{
	cand t[VT_NEAREST_MAX_TOP];
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
static void special_row(const float *x, const float *c, size_t k, size_t d, size_t N,
                        int32_t *lab, double *dist)
{
	int finite = 1;
	for (size_t t = 0; t < d && finite; t++)
		finite = isfinite(x[t]);
	if (finite) {
		exact_row(x, c, k, d, N, lab, dist);
		return;
	}
	for (size_t i = 0; i < N; i++) {
		if (lab)
			lab[i] = (int32_t)i;
		if (dist)
			dist[i] = vt_nearest_sqdist(x, c + i * d, d);
	}
}

static int row_special(float xn)
{
	return !((double)xn <= BIG_NORM);
}

static float float_up(double v)
{
	float f = (float)v;
	return (double)f < v ? nextafterf(f, INFINITY) : f;
}

static double norm_up(float sq)
{
	return sqrt((double)sq) * NORM_UP;
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

static void brute_task(void *arg, size_t task, int worker)
{
	struct brute_ctx *a = arg;
	size_t r0 = task * NR_ROWS, m = a->n - r0 < NR_ROWS ? a->n - r0 : NR_ROWS;
	size_t d = a->d, k = a->k, N = a->N;
	int L = a->L;
	char *s = a->scr + (size_t)worker * a->stride;
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
			scan_row(ip + i * cb, a->cn + j0, NULL, (int32_t)j0, cb, xn[i], e, INFINITY,
			         cl + i * (size_t)L, &cnt[i], L, &ev[i]);
		}
	}
	for (size_t i = 0; i < m; i++) {
		const float *xr = xb + i * d;
		int32_t *lab = a->lab ? a->lab + (r0 + i) * N : NULL;
		double *dist = a->dist ? a->dist + (r0 + i) * N : NULL;
		if (row_special(xn[i]))
			special_row(xr, a->c, k, d, N, lab, dist);
		else if (finalize(xr, a->c, d, cl + i * (size_t)L, cnt[i], ev[i], N, lab, dist))
			exact_row(xr, a->c, k, d, N, lab, dist);
	}
}

/* Check centroids, compute their float norms and the per-block maxima. */
static int centroid_norms(const float *c, size_t k, size_t d, float *cn, double *bmax)
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

static int brute_run(vt_pool *pool, const float *x, size_t n, size_t d, const float *c,
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
	if (cn && bmax && !(rc = centroid_norms(c, k, d, cn, bmax)))
		rc = brute_run(pool, x, n, d, c, k, cn, bmax, top, labels, dists);
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

/* ---- the index ---- */

struct vt_nearest {
	const float *c;
	size_t k, d, G;
	float *cn;        /* k float norms (the kernel's) */
	double *bmax;     /* per NR_COLS block of centroids: max norm, up */
	int32_t *perm;    /* centroid ids, group by group */
	uint32_t *gstart; /* G + 1 offsets into perm */
	float *m;         /* G x d centres */
	float *mn;        /* G float norms of the centres */
	double *mnu;      /* G centre norms, rounded up */
	double *rho;      /* G radii, rounded up */
	float *rhof, *mnuf; /* the same rounded up to float */
	double cmaxu;     /* max centroid norm, rounded up */
	double *gmax;     /* G max member norms, rounded up */
	size_t gbig;      /* members in the largest group */
	int mode;
	size_t probe;
	/* cost model */
	double tb, nb;    /* brute force: seconds, row-centroid evaluations */
	double tv, nv;    /* visits: seconds, row-centroid evaluations */
	double ts, ns;    /* search chunks: seconds, rows */
	size_t chunks;
	vt_nearest_stats st;
};

size_t vt_nearest_groups(const vt_nearest *ix)
{
	return ix->G;
}

size_t vt_nearest_bytes(const vt_nearest *ix)
{
	return sizeof *ix + ix->k * (sizeof(float) + sizeof(int32_t)) +
	       (ix->k / NR_COLS + 1) * sizeof(double) + (ix->G + 1) * sizeof(uint32_t) +
	       ix->G * (ix->d * sizeof(float) + 3 * sizeof(float) + 3 * sizeof(double));
}

const vt_nearest_stats *vt_nearest_get_stats(const vt_nearest *ix)
{
	return &ix->st;
}

void vt_nearest_reset_stats(vt_nearest *ix)
{
	memset(&ix->st, 0, sizeof ix->st);
}

void vt_nearest_set_mode(vt_nearest *ix, int mode)
{
	ix->mode = mode;
}

void vt_nearest_set_probe(vt_nearest *ix, size_t probe)
{
	if (probe > VT_NEAREST_MAX_TOP)
		probe = VT_NEAREST_MAX_TOP;
	ix->probe = probe > ix->G ? ix->G : probe;
}

void vt_nearest_free(vt_nearest *ix)
{
	if (!ix)
		return;
	free(ix->cn);
	free(ix->bmax);
	free(ix->perm);
	free(ix->gstart);
	free(ix->m);
	free(ix->mn);
	free(ix->mnu);
	free(ix->rho);
	free(ix->rhof);
	free(ix->mnuf);
	free(ix->gmax);
	free(ix);
}

/* Groups of at most `leaf` centroids by recursive k-means splits: a node
 * of n > leaf centroids is cut into min(16, ceil(n / leaf)) children by
 * k-means++ seeding and 6 Lloyd iterations over a seeded sample of at most
 * 64 per child, then every member goes to its nearest child centre
 * (vt_assign, in gathered blocks).  A split that leaves all members in one
 * child (duplicates) cuts the node into runs of `leaf` instead.  Then each
 * leaf of a radius above twice the median radius is split again the same
 * way into leaves of an eighth of its size: such leaves hold stray members
 * of several clusters, and their bound would hold for nearly every row.  grp
 * receives each centroid's group, *ng the number of groups.  Only speed
 * depends on the grouping. */
#define SPLIT_MAX 16
#define SPLIT_BLOCK 4096

struct span {
	size_t a, b, leaf;
};

/* Radius of the centroids ids[0..n) around their mean (dd, double). */
static double span_radius(const float *c, size_t d, const int32_t *id, size_t n, double *mean)
{
	memset(mean, 0, d * sizeof *mean);
	for (size_t p = 0; p < n; p++)
		for (size_t t = 0; t < d; t++)
			mean[t] += c[(size_t)id[p] * d + t];
	double r = 0;
	for (size_t p = 0; p < n; p++) {
		double v = 0;
		for (size_t t = 0; t < d; t++) {
			double e = c[(size_t)id[p] * d + t] - mean[t] / (double)n;
			v += e * e;
		}
		r = v > r ? v : r;
	}
	return sqrt(r);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int make_groups(vt_pool *pool, const float *c, size_t k, size_t d, size_t leaf,
                       uint64_t seed, int32_t *grp, size_t *ng)
{
	size_t smax = 64 * SPLIT_MAX;
	int32_t *ids = malloc(k * sizeof *ids), *tmp = malloc(k * sizeof *tmp);
	int32_t *lab = malloc(k * sizeof *lab);
	struct span *st = malloc((k + SPLIT_MAX) * sizeof *st);
	struct span *lv = malloc((k + 1) * sizeof *lv);
	double *rad = malloc((k + 1) * sizeof *rad), *mean = malloc(d * sizeof *mean);
	float *xs = malloc(smax * d * sizeof *xs), *blk = malloc(SPLIT_BLOCK * d * sizeof *blk);
	float *cen = malloc(SPLIT_MAX * d * sizeof *cen);
	double *sum = malloc(SPLIT_MAX * d * sizeof *sum), *dmin = malloc(smax * sizeof *dmin);
	int32_t *sl = malloc(smax * sizeof *sl);
	int rc = VT_ENOMEM;
	if (!ids || !tmp || !lab || !st || !xs || !blk || !cen || !sum || !dmin || !sl || !lv ||
	    !rad || !mean)
		goto out;
	rc = 0;
	for (size_t i = 0; i < k; i++)
		ids[i] = (int32_t)i;
	size_t top = 0, G = 0, nlv = 0;
	uint64_t node = 0;
	st[top++] = (struct span){0, k, leaf};
	for (int pass = 0; pass < 2; pass++) {
	if (pass == 1) {
		/* leaves of a radius above twice the median mix separate
		 * structures (a few stray members of several clusters): split
		 * them again, into leaves of an eighth of their size */
		for (size_t i = 0; i < nlv; i++)
			rad[i] = span_radius(c, d, ids + lv[i].a, lv[i].b - lv[i].a, mean);
		double *srt = malloc(nlv * sizeof *srt);
		if (!srt) {
			rc = VT_ENOMEM;
			goto out;
		}
		memcpy(srt, rad, nlv * sizeof *srt);
		qsort(srt, nlv, sizeof *srt, cmp_double);
		double med = srt[nlv / 2];
		free(srt);
		for (size_t i = 0; i < nlv; i++)
			if (rad[i] > 2 * med && lv[i].b - lv[i].a > 1) {
				size_t n = lv[i].b - lv[i].a;
				st[top++] = (struct span){lv[i].a, lv[i].b, n / 8 ? n / 8 : 1};
			}
	}
	while (top) {
		struct span sp = st[--top];
		size_t n = sp.b - sp.a;
		int32_t *id = ids + sp.a;
		if (n <= sp.leaf) {
			for (size_t p = 0; p < n; p++)
				grp[id[p]] = (int32_t)G;
			G++;
			if (pass == 0)
				lv[nlv++] = sp;
			continue;
		}
		size_t nb = (n + sp.leaf - 1) / sp.leaf;
		nb = nb > SPLIT_MAX ? SPLIT_MAX : nb;
		size_t S = n < 64 * nb ? n : 64 * nb;
		vt_rng r;
		vt_rng_init(&r, seed, node++);
		for (size_t i = 0; i < S; i++) {
			size_t j = i + (size_t)vt_rng_below(&r, n - i);
			int32_t t = id[i];
			id[i] = id[j];
			id[j] = t;
			memcpy(xs + i * d, c + (size_t)id[i] * d, d * sizeof *xs);
		}
		/* k-means++ seeding over the sample */
		memcpy(cen, xs, d * sizeof *cen);
		for (size_t i = 0; i < S; i++)
			dmin[i] = vt_nearest_sqdist(xs + i * d, cen, d);
		for (size_t q = 1; q < nb; q++) {
			double tot = 0;
			for (size_t i = 0; i < S; i++)
				tot += dmin[i];
			size_t pick = 0;
			if (tot > 0) {
				double u = vt_rng_uniform(&r) * tot, acc = 0;
				for (pick = 0; pick + 1 < S; pick++)
					if ((acc += dmin[pick]) > u)
						break;
			} else {
				pick = (size_t)vt_rng_below(&r, S);
			}
			memcpy(cen + q * d, xs + pick * d, d * sizeof *cen);
			for (size_t i = 0; i < S; i++) {
				double v = vt_nearest_sqdist(xs + i * d, cen + q * d, d);
				dmin[i] = v < dmin[i] ? v : dmin[i];
			}
		}
		for (int it = 0; it < 6; it++) {
			if ((rc = vt_assign(pool, xs, S, d, cen, nb, NULL, NULL, sl, NULL, NULL, NULL)))
				goto out;
			size_t cnt[SPLIT_MAX] = {0};
			memset(sum, 0, nb * d * sizeof *sum);
			for (size_t i = 0; i < S; i++) {
				cnt[sl[i]]++;
				for (size_t t = 0; t < d; t++)
					sum[(size_t)sl[i] * d + t] += xs[i * d + t];
			}
			for (size_t g = 0; g < nb; g++)
				if (cnt[g])
					for (size_t t = 0; t < d; t++)
						cen[g * d + t] = (float)(sum[g * d + t] / (double)cnt[g]);
		}
		for (size_t b0 = 0; b0 < n; b0 += SPLIT_BLOCK) {
			size_t m = n - b0 < SPLIT_BLOCK ? n - b0 : SPLIT_BLOCK;
			for (size_t i = 0; i < m; i++)
				memcpy(blk + i * d, c + (size_t)id[b0 + i] * d, d * sizeof *blk);
			if ((rc = vt_assign(pool, blk, m, d, cen, nb, NULL, NULL, lab + b0, NULL, NULL,
			                    NULL)))
				goto out;
		}
		size_t cnt[SPLIT_MAX + 1] = {0};
		for (size_t i = 0; i < n; i++)
			cnt[lab[i] + 1]++;
		int degenerate = 0;
		for (size_t g = 0; g < nb; g++)
			degenerate |= cnt[g + 1] == n;
		if (degenerate) {
			for (size_t p = 0; p < n; p += sp.leaf) {
				for (size_t q = p; q < n && q < p + sp.leaf; q++)
					grp[id[q]] = (int32_t)G;
				G++;
			}
			continue;
		}
		for (size_t g = 0; g < nb; g++)
			cnt[g + 1] += cnt[g];
		size_t pos[SPLIT_MAX];
		memcpy(pos, cnt, sizeof pos);
		for (size_t i = 0; i < n; i++)
			tmp[pos[lab[i]]++] = id[i];
		memcpy(id, tmp, n * sizeof *id);
		for (size_t g = nb; g-- > 0;)
			if (cnt[g + 1] > cnt[g])
				st[top++] = (struct span){sp.a + cnt[g], sp.a + cnt[g + 1], sp.leaf};
	}
	}
	*ng = G;
out:
	free(ids);
	free(tmp);
	free(lab);
	free(st);
	free(xs);
	free(blk);
	free(cen);
	free(sum);
	free(dmin);
	free(sl);
	free(lv);
	free(rad);
	free(mean);
	return rc;
}

int vt_nearest_new(vt_nearest **out, vt_pool *pool, const float *c, size_t k, size_t d,
                   const int32_t *group, size_t groups, uint64_t seed)
{
	*out = NULL;
	if (k == 0 || d == 0 || k >= (size_t)INT32_MAX || d > (size_t)INT32_MAX / NR_COLS ||
	    groups > VT_NEAREST_MAX_GROUPS || (group && groups == 0))
		return VT_EINVAL;
	if (group)
		for (size_t j = 0; j < k; j++)
			if (group[j] < 0 || (size_t)group[j] >= groups)
				return VT_EINVAL;
	vt_nearest *ix = calloc(1, sizeof *ix);
	if (!ix)
		return VT_ENOMEM;
	ix->c = c;
	ix->k = k;
	ix->d = d;
	int rc = VT_ENOMEM;
	int32_t *grp = NULL, *newid = NULL;
	size_t *cnt = NULL;
	double *sum = NULL;
	ix->cn = malloc(k * sizeof *ix->cn);
	ix->bmax = malloc((k / NR_COLS + 1) * sizeof *ix->bmax);
	if (!ix->cn || !ix->bmax)
		goto fail;
	if ((rc = centroid_norms(c, k, d, ix->cn, ix->bmax)))
		goto fail;
	rc = VT_ENOMEM;
	size_t G0 = groups;
	grp = malloc(k * sizeof *grp);
	if (!grp)
		goto fail;
	if (group) {
		memcpy(grp, group, k * sizeof *grp);
	} else {
		size_t want = groups ? groups : (k + VT_NEAREST_LEAF - 1) / VT_NEAREST_LEAF;
		size_t leaf = (k + want - 1) / (want ? want : 1);
		if ((rc = make_groups(pool, c, k, d, leaf ? leaf : 1, seed, grp, &G0)))
			goto fail;
	}
	rc = VT_ENOMEM;
	cnt = calloc(G0, sizeof *cnt);
	newid = malloc(G0 * sizeof *newid);
	if (!cnt || !newid)
		goto fail;
	for (size_t j = 0; j < k; j++)
		cnt[grp[j]]++;
	size_t G = 0;
	for (size_t g = 0; g < G0; g++)
		newid[g] = cnt[g] ? (int32_t)G++ : -1;
	ix->G = G;
	ix->perm = malloc(k * sizeof *ix->perm);
	ix->gstart = calloc(G + 1, sizeof *ix->gstart);
	ix->m = malloc(G * d * sizeof *ix->m);
	ix->mn = malloc(G * sizeof *ix->mn);
	ix->mnu = malloc(G * sizeof *ix->mnu);
	ix->rho = malloc(G * sizeof *ix->rho);
	ix->gmax = malloc(G * sizeof *ix->gmax);
	sum = calloc(d, sizeof *sum);
	if (!ix->perm || !ix->gstart || !ix->m || !ix->mn || !ix->mnu || !ix->rho || !ix->gmax ||
	    !sum)
		goto fail;
	for (size_t g = 0; g < G0; g++)
		if (newid[g] >= 0)
			ix->gstart[newid[g] + 1] = (uint32_t)cnt[g];
	for (size_t g = 0; g < G; g++)
		ix->gstart[g + 1] += ix->gstart[g];
	{
		uint32_t *pos = (uint32_t *)cnt; /* reuse: G0 >= G slots */
		for (size_t g = 0; g < G; g++)
			pos[g] = ix->gstart[g];
		for (size_t j = 0; j < k; j++)
			ix->perm[pos[newid[grp[j]]]++] = (int32_t)j;
	}
	for (size_t g = 0; g < G; g++) {
		uint32_t a = ix->gstart[g], b = ix->gstart[g + 1];
		memset(sum, 0, d * sizeof *sum);
		double gm = 0;
		for (uint32_t p = a; p < b; p++) {
			const float *cr = c + (size_t)ix->perm[p] * d;
			for (size_t t = 0; t < d; t++)
				sum[t] += cr[t];
			double v = norm_up(ix->cn[ix->perm[p]]);
			gm = v > gm ? v : gm;
		}
		float *mg = ix->m + g * d;
		for (size_t t = 0; t < d; t++)
			mg[t] = (float)(sum[t] / (double)(b - a));
		double r = 0;
		for (uint32_t p = a; p < b; p++) {
			double v = vt_nearest_sqdist(c + (size_t)ix->perm[p] * d, mg, d);
			r = v > r ? v : r;
		}
		/* dd is within (d + 4) 2^-50 relatively of the true value */
		ix->rho[g] = sqrt(r * (1 + ((double)d + 4) * 0x1p-50)) * (1 + 0x1p-50);
		ix->gmax[g] = gm;
		if (b - a > ix->gbig)
			ix->gbig = b - a;
	}
	vt_sqnorms(ix->m, G, d, ix->mn);
	ix->rhof = malloc(G * sizeof *ix->rhof);
	ix->mnuf = malloc(G * sizeof *ix->mnuf);
	if (!ix->rhof || !ix->mnuf)
		goto fail;
	for (size_t g = 0; g < G; g++) {
		ix->mnu[g] = norm_up(ix->mn[g]);
		ix->rhof[g] = float_up(ix->rho[g]);
		ix->mnuf[g] = float_up(ix->mnu[g]);
		ix->cmaxu = ix->gmax[g] > ix->cmaxu ? ix->gmax[g] : ix->cmaxu;
	}
	free(grp);
	free(cnt);
	free(newid);
	free(sum);
	*out = ix;
	return 0;
fail:
	free(grp);
	free(cnt);
	free(newid);
	free(sum);
	vt_nearest_free(ix);
	return rc;
}

/* ---- the query ---- */

#define BRUTE_ROWS 1024 /* rows gathered per brute-force call inside a search */
#define SCAP 64         /* groups kept per row from the centre step */
#define CHUNK 32768     /* rows of a chunk */

typedef struct {
	uint32_t g, p0, p1;
} slice;

struct chunk {
	vt_nearest *ix;
	const float *x;  /* the chunk's rows */
	size_t n, N, P, cap_rows;
	int L;
	double E, A;
	float *xn;
	double *nxu;
	unsigned char *spec;
	int32_t *prim;   /* n x max(P, 1): nearest group(s) */
	int32_t *sid;    /* n x SCAP: groups kept by the bound U0 (exact mode) */
	float *sval;     /* n x SCAP: their full centre scores */
	int *sn;         /* n: how many (SCAP + 1: too many, recomputed later) */
	float *cscr;     /* per thread NR_ROWS x G centre scores */
	cand *rl;        /* n x L row lists */
	int *rcnt;
	double *rev, *U;
	/* pairs (row, group) to visit */
	size_t np, pcap;
	int32_t *prow, *pg, *srow;
	size_t *gcnt;    /* G + 1 */
	slice *sl;
	size_t nsl;
	cand *pl;        /* pcap x L pair lists */
	int *pcnt;
	double *pev;
	char *scr;
	size_t stride;
};

static size_t visit_scratch(size_t d)
{
	return ((size_t)NR_COLS * d + NR_COLS + (size_t)NR_ROWS * d + (size_t)NR_ROWS * NR_COLS) *
	               sizeof(float) + NR_COLS * sizeof(int32_t) + 64;
}

/* The survivors of round 2.  A member c of group g (centre m_g, radius
 * rho_g) can only beat the row's bound U if
 *     dd(x, c) >= ||x - c||^2 - eta,   eta <= E (nx + max_j ||c_j||)^2 + A,
 *     ||x - c||  >= ||x - m_g|| - rho_g,
 *     ||x - m_g||^2 >= s_g - (E (nx + ||m_g||)^2 + A)
 * (s_g the float centre score (-2 x.m_g + ||m_g||^2_f) + ||x||^2_f).  So with
 * q = sqrt(U + eta), the group is out when
 *     s_g > (rho_g + q)^2 + E (nx + ||m_g||)^2 + A.
 * The right side is computed in float from values rounded up (q, rho_g,
 * ||m_g||), all terms positive: five roundings of at most u each, covered
 * by the factor 1 + 2^-20.  The scores are s[0..G) (-2 x.m_g, from the
 * sgemm) when gl is NULL, else the full scores s[i] of the groups gl[i],
 * i < ng.  surv (and sv, when not NULL, their full scores) receives the
 * groups kept (the row's primary excluded), the return value their number
 * (cap + 1 when more than cap), *cols their members, stopping early once
 * above budget. */
static size_t survivors(const vt_nearest *ix, const float *s, const int32_t *gl, size_t ng,
                        float xn, double nxu, double U, double E, double A, int32_t prim,
                        double budget, size_t cap, int32_t *surv, float *sv, double *cols)
{
	double w = nxu + ix->cmaxu, qd = sqrt(U + E * w * w + A) * (1 + 0x1p-50);
	float q = (float)qd, Ef = (float)E, Af = (float)A, nx = (float)nxu, up = 1 + 0x1p-20f;
	if ((double)q < qd)
		q = nextafterf(q, INFINITY);
	if ((double)Ef < E)
		Ef = nextafterf(Ef, INFINITY);
	if ((double)nx < nxu)
		nx = nextafterf(nx, INFINITY);
	Af = Af > 0 ? Af : FLT_TRUE_MIN;
	size_t ns = 0;
	double cl = 0;
	const float *mn = ix->mn, *rho = ix->rhof, *mnu = ix->mnuf;
	if (!gl)
		ng = ix->G;
	for (size_t i = 0; i < ng; i++) {
		size_t g = gl ? (size_t)gl[i] : i;
		float sc = s[i];
		float sg = gl ? sc : (sc + mn[g]) + xn;
		float t = rho[g] + q, v = nx + mnu[g];
		float thr = (t * t + (Ef * v * v + Af)) * up;
		if (sg > thr || (int32_t)g == prim)
			continue;
		if (ns == cap) {
			ns++;
			break;
		}
		if (sv)
			sv[ns] = sg;
		surv[ns++] = (int32_t)g;
		cl += ix->gstart[g + 1] - ix->gstart[g];
		if (cl > budget)
			break;
	}
	*cols = cl;
	return ns;
}

static void centre_task(void *arg, size_t task, int worker)
{
	struct chunk *a = arg;
	const vt_nearest *ix = a->ix;
	size_t r0 = task * NR_ROWS, m = a->n - r0 < NR_ROWS ? a->n - r0 : NR_ROWS;
	size_t G = ix->G, d = ix->d;
	float *ipc = a->cscr + (size_t)worker * NR_ROWS * G;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)G, (int)d, -2.0f,
	            a->x + r0 * d, (int)d, ix->m, (int)d, 0.0f, ipc, (int)G);
	for (size_t i = 0; i < m; i++) {
		size_t r = r0 + i;
		if (a->spec[r])
			continue;
		if (!a->P) {
			float m1, m2;
			int32_t p;
			vt_min2(ipc + i * G, ix->mn, G, &m1, &p, &m2);
			a->prim[r] = p;
			/* U0 >= the N-th distance: N members of the primary group lie
			 * within ||x - m_p|| + rho_p, and ||x - m_p||^2 <= s_p + e_m */
			double U0 = INFINITY;
			if (ix->gstart[p + 1] - ix->gstart[p] >= a->N) {
				float sp = (ipc[i * G + p] + ix->mn[p]) + a->xn[r];
				double w = a->nxu[r] + ix->mnu[p], dc = (double)sp + a->E * w * w + a->A;
				double du = (dc > 0 ? sqrt(dc) : 0) * (1 + 0x1p-50) + ix->rho[p];
				double v = a->nxu[r] + ix->gmax[p];
				U0 = du * du * (1 + 0x1p-50) + a->E * v * v + a->A;
			}
			double cols;
			a->sn[r] = (int)survivors(ix, ipc + i * G, NULL, 0, a->xn[r], a->nxu[r], U0, a->E,
			                          a->A, p, INFINITY, SCAP, a->sid + r * SCAP,
			                          a->sval + r * SCAP, &cols);
			continue;
		}
		/* the exact P nearest centres, by the same rule as the rows */
		cand cl[VT_NEAREST_MAX_TOP + SLACK];
		int cnt = 0, L = (int)a->P + SLACK;
		double ev = INFINITY;
		const float *xr = a->x + r * d;
		for (size_t g = 0; g < G; g++) {
			float s = (ipc[i * G + g] + ix->mn[g]) + a->xn[r];
			double w = a->nxu[r] + ix->mnu[g], e = a->E * w * w + a->A;
			cl_push(cl, &cnt, L, &ev, (double)s - e, (double)s + e, (int32_t)g);
		}
		int32_t *pr = a->prim + r * a->P;
		if (finalize(xr, ix->m, d, cl, cnt, ev, a->P, pr, NULL))
			exact_row(xr, ix->m, G, d, a->P, pr, NULL);
	}
}

static void visit_task(void *arg, size_t task, int worker)
{
	struct chunk *a = arg;
	const vt_nearest *ix = a->ix;
	size_t d = ix->d;
	int L = a->L;
	slice s = a->sl[task];
	size_t m = s.p1 - s.p0;
	char *b = a->scr + (size_t)worker * a->stride;
	b += (64 - (uintptr_t)b % 64) % 64;
	float *ip = (float *)(void *)b;
	float *cm = ip + (size_t)NR_ROWS * NR_COLS;
	float *xr = cm + (size_t)NR_COLS * d;
	float *cnb = xr + (size_t)NR_ROWS * d;
	int32_t *ids = (int32_t *)(cnb + NR_COLS);
	for (size_t q = 0; q < m; q++) {
		size_t p = s.p0 + q;
		memcpy(xr + q * d, a->x + (size_t)a->srow[p] * d, d * sizeof *xr);
		a->pcnt[p] = 0;
		a->pev[p] = INFINITY;
	}
	uint32_t g0 = ix->gstart[s.g], g1 = ix->gstart[s.g + 1];
	for (uint32_t j0 = g0; j0 < g1; j0 += NR_COLS) {
		size_t cb = g1 - j0 < NR_COLS ? g1 - j0 : NR_COLS;
		for (size_t j = 0; j < cb; j++) {
			int32_t id = ix->perm[j0 + j];
			ids[j] = id;
			cnb[j] = ix->cn[id];
			memcpy(cm + j * d, ix->c + (size_t)id * d, d * sizeof *cm);
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)cb, (int)d, -2.0f,
		            xr, (int)d, cm, (int)d, 0.0f, ip, (int)cb);
		for (size_t q = 0; q < m; q++) {
			size_t p = s.p0 + q, r = (size_t)a->srow[p];
			double w = a->nxu[r] + ix->gmax[s.g], e = a->E * w * w + a->A;
			scan_row(ip + q * cb, cnb, ids, 0, cb, a->xn[r], e, a->U[r], a->pl + p * L,
			         &a->pcnt[p], L, &a->pev[p]);
		}
	}
}

/* Visit the pending pairs: sort them by group, one task per group slice of
 * at most NR_ROWS rows, then merge each pair's list into its row's. */
static void flush(struct chunk *a, vt_pool *pool)
{
	vt_nearest *ix = a->ix;
	size_t G = ix->G;
	if (!a->np)
		return;
	double t0 = now();
	memset(a->gcnt, 0, (G + 1) * sizeof *a->gcnt);
	for (size_t p = 0; p < a->np; p++)
		a->gcnt[a->pg[p] + 1]++;
	for (size_t g = 0; g < G; g++)
		a->gcnt[g + 1] += a->gcnt[g];
	a->nsl = 0;
	double evals = 0;
	for (size_t g = 0; g < G; g++) {
		size_t p0 = a->gcnt[g], p1 = a->gcnt[g + 1];
		evals += (double)(p1 - p0) * (ix->gstart[g + 1] - ix->gstart[g]);
		for (size_t p = p0; p < p1; p += NR_ROWS)
			a->sl[a->nsl++] = (slice){(uint32_t)g, (uint32_t)p,
			                          (uint32_t)(p1 - p < NR_ROWS ? p1 : p + NR_ROWS)};
	}
	for (size_t p = 0; p < a->np; p++)
		a->srow[a->gcnt[a->pg[p]]++] = a->prow[p];
	vt_pool_run(pool, a->nsl, visit_task, a);
	for (size_t sidx = 0; sidx < a->nsl; sidx++) {
		for (size_t p = a->sl[sidx].p0; p < a->sl[sidx].p1; p++) {
			size_t r = (size_t)a->srow[p];
			const cand *c = a->pl + p * a->L;
			for (int i = 0; i < a->pcnt[p]; i++)
				cl_push(a->rl + r * a->L, &a->rcnt[r], a->L, &a->rev[r], c[i].lo, c[i].hi,
				        c[i].j);
			if (a->pev[p] < a->rev[r])
				a->rev[r] = a->pev[p];
		}
	}
	a->np = 0;
	double t = now() - t0;
	ix->tv += t;
	ix->nv += evals;
	ix->st.t_visit += t;
	ix->st.evals += evals;
}

static void add_pair(struct chunk *a, vt_pool *pool, size_t r, int32_t g)
{
	if (a->np == a->pcap)
		flush(a, pool);
	a->prow[a->np] = (int32_t)r;
	a->pg[a->np++] = g;
}

/* Brute force for rows rows[0..cnt) of the chunk (gathered), results into
 * the output. */
static int brute_rows(struct chunk *a, vt_pool *pool, const uint32_t *rows, size_t cnt,
                      float *gb, int32_t *tl, double *td, int32_t *labels, double *dists)
{
	vt_nearest *ix = a->ix;
	size_t d = ix->d, N = a->N;
	for (size_t b0 = 0; b0 < cnt; b0 += BRUTE_ROWS) {
		size_t m = cnt - b0 < BRUTE_ROWS ? cnt - b0 : BRUTE_ROWS;
		for (size_t i = 0; i < m; i++)
			memcpy(gb + i * d, a->x + (size_t)rows[b0 + i] * d, d * sizeof *gb);
		double t0 = now();
		int rc = brute_run(pool, gb, m, d, ix->c, ix->k, ix->cn, ix->bmax, N, tl, td);
		if (rc)
			return rc;
		double t = now() - t0;
		ix->tb += t;
		ix->nb += (double)m * ix->k;
		ix->st.t_brute += t;
		ix->st.evals += (double)m * ix->k;
		for (size_t i = 0; i < m; i++) {
			size_t r = rows[b0 + i];
			if (labels)
				memcpy(labels + r * N, tl + i * N, N * sizeof *labels);
			if (dists)
				memcpy(dists + r * N, td + i * N, N * sizeof *dists);
		}
	}
	return 0;
}

/* The dense rows of round 2 are listed in the upper half of todo. */
#define C_DENSE(a) ((a)->cap_rows)

/* One chunk by search.  labels/dists point at the chunk's outputs. */
static int search_chunk(struct chunk *a, vt_pool *pool, uint32_t *todo, int32_t *surv,
                        float *gb, int32_t *tl, double *td, int32_t *labels, double *dists)
{
	vt_nearest *ix = a->ix;
	size_t n = a->n, d = ix->d, G = ix->G, N = a->N;
	int L = a->L;
	double t0 = now();
	vt_sqnorms(a->x, n, d, a->xn);
	size_t nspec = 0;
	for (size_t r = 0; r < n; r++) {
		a->spec[r] = (unsigned char)row_special(a->xn[r]);
		a->nxu[r] = norm_up(a->xn[r]);
		a->rcnt[r] = 0;
		a->rev[r] = INFINITY;
		a->U[r] = INFINITY;
		if (a->spec[r]) {
			special_row(a->x + r * d, ix->c, ix->k, d, N, labels ? labels + r * N : NULL,
			            dists ? dists + r * N : NULL);
			nspec++;
		}
	}
	vt_pool_run(pool, (n + NR_ROWS - 1) / NR_ROWS, centre_task, a);
	double t1 = now();
	ix->st.t_centres += t1 - t0;
	ix->st.evals += (double)(n - nspec) * G;
	ix->st.rows_special += (double)nspec;
	size_t P = a->P ? a->P : 1;
	for (size_t r = 0; r < n; r++)
		if (!a->spec[r])
			for (size_t p = 0; p < P; p++)
				add_pair(a, pool, r, a->prim[r * P + p]);
	flush(a, pool);
	size_t ntodo = 0;
	double t2 = now();
	if (!a->P) {
		/* round 2: every other group whose bound does not exclude it */
		double f = ix->nv > 0 && ix->nb > 0 ? (ix->tb / ix->nb) / (ix->tv / ix->nv) : 0.5;
		ix->st.col_ratio = f;
		double budget = f * (double)ix->k;
		size_t ndense = 0;
		for (size_t pass = 0; pass < 2; pass++)
		for (size_t ri = 0; ri < (pass ? ndense : n); ri++) {
			size_t r = pass ? todo[C_DENSE(a) + ri] : ri;
			if (!pass && a->spec[r])
				continue;
			if (!pass && (size_t)a->rcnt[r] >= N)
				a->U[r] = nth_hi(a->rl + r * L, a->rcnt[r], N);
			double cols;
			size_t ns;
			if (!pass && a->sn[r] > SCAP) {
				/* too many groups for the stored list: the centre scores
				 * again, below, by blocks */
				todo[C_DENSE(a) + ndense++] = (uint32_t)r;
				continue;
			}
			if (!pass) {
				ns = survivors(ix, a->sval + r * SCAP, a->sid + r * SCAP, (size_t)a->sn[r],
				               a->xn[r], a->nxu[r], a->U[r], a->E, a->A, a->prim[r], budget,
				               G, surv, NULL, &cols);
			} else {
				if (ri % NR_ROWS == 0) {
					size_t m = ndense - ri < NR_ROWS ? ndense - ri : NR_ROWS;
					for (size_t q = 0; q < m; q++)
						memcpy(gb + q * d, a->x + (size_t)todo[C_DENSE(a) + ri + q] * d,
						       d * sizeof *gb);
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)G,
					            (int)d, -2.0f, gb, (int)d, ix->m, (int)d, 0.0f, a->cscr,
					            (int)G);
					ix->st.evals += (double)m * G;
				}
				ns = survivors(ix, a->cscr + (ri % NR_ROWS) * G, NULL, 0, a->xn[r], a->nxu[r],
				               a->U[r], a->E, a->A, a->prim[r], budget, G, surv, NULL, &cols);
			}
			if (cols > budget) {
				a->spec[r] = 2;
				todo[ntodo++] = (uint32_t)r;
				ix->st.rows_costly++;
				continue;
			}
			if (!ns) {
				ix->st.rows_round1++;
				continue;
			}
			a->spec[r] = 3;
			ix->st.rows_round2++;
			for (size_t q = 0; q < ns; q++)
				add_pair(a, pool, r, surv[q]);
		}
		ix->st.t_other += now() - t2;
		flush(a, pool);
	}
	double t3 = now();
	size_t over = 0;
	for (size_t r = 0; r < n; r++) {
		if (a->spec[r] == 1 || a->spec[r] == 2)
			continue;
		if (finalize(a->x + r * d, ix->c, d, a->rl + r * L, a->rcnt[r], a->rev[r], N,
		             labels ? labels + r * N : NULL, dists ? dists + r * N : NULL)) {
			todo[ntodo++] = (uint32_t)r;
			ix->st.rows_overflow++;
			over++;
			if (a->spec[r] == 3)
				ix->st.rows_round2--;
			else if (!a->P)
				ix->st.rows_round1--;
		}
	}
	if (a->P)
		ix->st.rows_round1 += (double)(n - nspec - over);
	ix->st.t_other += now() - t3;
	return brute_rows(a, pool, todo, ntodo, gb, tl, td, labels, dists);
}

int vt_nearest_query(vt_nearest *ix, vt_pool *pool, const float *x, size_t n, size_t top,
                     int32_t *labels, double *dists)
{
	if (top < 1 || top > VT_NEAREST_MAX_TOP || top > ix->k)
		return VT_EINVAL;
	if (n == 0)
		return 0;
	size_t d = ix->d, G = ix->G, N = top;
	int T = vt_pool_size(pool);
	size_t C = n < CHUNK ? n : CHUNK;
	int L = (int)(N + SLACK);
	size_t P = ix->probe;
	size_t pcap = ((size_t)1 << 20) / (size_t)L;
	if (pcap < NR_ROWS)
		pcap = NR_ROWS;
	struct chunk a = {.ix = ix, .N = N, .P = P, .L = L, .E = vt_nearest_eps(d),
	                  .A = abs_err(d), .pcap = pcap};
	a.xn = malloc(C * sizeof *a.xn);
	a.nxu = malloc(C * sizeof *a.nxu);
	a.spec = malloc(C);
	a.cap_rows = C;
	a.sid = malloc(C * SCAP * sizeof *a.sid);
	a.sval = malloc(C * SCAP * sizeof *a.sval);
	a.sn = malloc(C * sizeof *a.sn);
	a.cscr = malloc((size_t)T * NR_ROWS * G * sizeof *a.cscr);
	a.prim = malloc(C * (P ? P : 1) * sizeof *a.prim);
	a.rl = malloc(C * (size_t)L * sizeof *a.rl);
	a.rcnt = malloc(C * sizeof *a.rcnt);
	a.rev = malloc(C * sizeof *a.rev);
	a.U = malloc(C * sizeof *a.U);
	a.prow = malloc(pcap * sizeof *a.prow);
	a.pg = malloc(pcap * sizeof *a.pg);
	a.srow = malloc(pcap * sizeof *a.srow);
	a.gcnt = malloc((G + 1) * sizeof *a.gcnt);
	a.sl = malloc((pcap / NR_ROWS + G + 1) * sizeof *a.sl);
	a.pl = malloc(pcap * (size_t)L * sizeof *a.pl);
	a.pcnt = malloc(pcap * sizeof *a.pcnt);
	a.pev = malloc(pcap * sizeof *a.pev);
	a.stride = visit_scratch(d);
	a.scr = malloc((size_t)T * a.stride);
	uint32_t *todo = malloc(2 * C * sizeof *todo);
	int32_t *surv = malloc(G * sizeof *surv);
	float *gb = malloc((size_t)BRUTE_ROWS * d * sizeof *gb);
	int32_t *tl = malloc((size_t)BRUTE_ROWS * N * sizeof *tl);
	double *td = malloc((size_t)BRUTE_ROWS * N * sizeof *td);
	int rc = VT_ENOMEM;
	if (!a.xn || !a.nxu || !a.spec || !a.sid || !a.sval || !a.sn || !a.cscr || !a.prim || !a.rl || !a.rcnt || !a.rev ||
	    !a.U || !a.prow || !a.pg || !a.srow || !a.gcnt || !a.sl || !a.pl || !a.pcnt ||
	    !a.pev || !a.scr || !todo || !surv || !gb || !tl || !td)
		goto out;
	rc = 0;
	size_t pos = 0;
	if (ix->mode == VT_NEAREST_AUTO && ix->nb == 0 && !P) {
		/* start the cost model: one block of rows by brute force, timed */
		size_t m = n < NR_ROWS ? n : NR_ROWS;
		double t0 = now();
		if ((rc = brute_run(pool, x, m, d, ix->c, ix->k, ix->cn, ix->bmax, N, labels,
		                    dists)))
			goto out;
		double t = now() - t0;
		ix->tb += t;
		ix->nb += (double)m * ix->k;
		ix->st.t_brute += t;
		ix->st.evals += (double)m * ix->k;
		ix->st.rows_brute += (double)m;
		ix->st.rows += (double)m;
		pos = m;
	}
	while (pos < n) {
		size_t m = n - pos < C ? n - pos : C;
		int32_t *lab = labels ? labels + pos * N : NULL;
		double *dst = dists ? dists + pos * N : NULL;
		int brute = ix->mode == VT_NEAREST_BRUTE;
		/* the search's measured time per row against brute force's
		 * (its measured time per row-centroid evaluation, times k) */
		if (ix->mode == VT_NEAREST_AUTO && !P && ix->ns > 0 && ix->nb > 0 &&
		    ix->chunks % 8 != 0)
			brute = ix->ts / ix->ns > ix->tb / ix->nb * (double)ix->k;
		double t0 = now();
		if (brute) {
			rc = brute_run(pool, x + pos * d, m, d, ix->c, ix->k, ix->cn, ix->bmax, N, lab,
			               dst);
			double t = now() - t0;
			ix->tb += t;
			ix->nb += (double)m * ix->k;
			ix->st.t_brute += t;
			ix->st.evals += (double)m * ix->k;
			ix->st.rows_brute += (double)m;
		} else {
			a.x = x + pos * d;
			a.n = m;
			rc = search_chunk(&a, pool, todo, surv, gb, tl, td, lab, dst);
			ix->ts += now() - t0;
			ix->ns += (double)m;
		}
		if (rc)
			goto out;
		ix->st.rows += (double)m;
		ix->chunks++;
		pos += m;
	}
out:
	free(a.xn);
	free(a.nxu);
	free(a.spec);
	free(a.sid);
	free(a.sval);
	free(a.sn);
	free(a.cscr);
	free(a.prim);
	free(a.rl);
	free(a.rcnt);
	free(a.rev);
	free(a.U);
	free(a.prow);
	free(a.pg);
	free(a.srow);
	free(a.gcnt);
	free(a.sl);
	free(a.pl);
	free(a.pcnt);
	free(a.pev);
	free(a.scr);
	free(todo);
	free(surv);
	free(gb);
	free(tl);
	free(td);
	return rc;
}
