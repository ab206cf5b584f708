#define _POSIX_C_SOURCE 200809L
#include "train/kernel.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VT_HAVE_AVX2_PATH 1
#endif

/* Running best and second best of one row, ordered by (value, index). */
struct top2 {
	float b1, b2;
	int32_t i1, i2;
};

static inline void top2_push(struct top2 *s, float v, int32_t j)
{
	if (v < s->b1 || (v == s->b1 && j < s->i1)) {
		s->b2 = s->b1;
		s->i2 = s->i1;
		s->b1 = v;
		s->i1 = j;
	} else if (v < s->b2 || (v == s->b2 && j < s->i2)) {
		s->b2 = v;
		s->i2 = j;
	}
}

static inline void top1_push(struct top2 *s, float v, int32_t j)
{
	if (v < s->b1 || (v == s->b1 && j < s->i1)) {
		s->b1 = v;
		s->i1 = j;
	}
}

/* Portable scans: v_j = ip[j] + cn[j] for j in [0, cb), index j0 + j. */
static void scan2_plain(const float *ip, const float *cn, size_t cb, int32_t j0,
                        struct top2 *s)
{
	for (size_t j = 0; j < cb; j++)
		top2_push(s, ip[j] + cn[j], j0 + (int32_t)j);
}

static void scan1_plain(const float *ip, const float *cn, size_t cb, int32_t j0,
                        struct top2 *s)
{
	for (size_t j = 0; j < cb; j++)
		top1_push(s, ip[j] + cn[j], j0 + (int32_t)j);
}

#ifdef VT_HAVE_AVX2_PATH
/* The same scans, 8 lanes at a time.  Each lane keeps its own (value,
 * index)-ordered top two (indices grow within a lane, so a strict < keeps the
 * lowest index on ties); the lanes are then merged with top2_push, which
 * gives exactly the result of the scalar scan. */
__attribute__((target("avx2"))) static void
scan2_avx2(const float *ip, const float *cn, size_t cb, int32_t j0, struct top2 *s)
{
	const float inf = INFINITY;
	__m256 vb1 = _mm256_set1_ps(inf), vb2 = vb1;
	__m256 vi1 = _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MAX)), vi2 = vi1;
	__m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	idx = _mm256_add_epi32(idx, _mm256_set1_epi32(j0));
	const __m256i step = _mm256_set1_epi32(8);
	size_t j = 0;
	for (; j + 8 <= cb; j += 8) {
		__m256 v = _mm256_add_ps(_mm256_loadu_ps(ip + j), _mm256_loadu_ps(cn + j));
		__m256 fi = _mm256_castsi256_ps(idx);
		__m256 lt1 = _mm256_cmp_ps(v, vb1, _CMP_LT_OQ);
		__m256 lt2 = _mm256_cmp_ps(v, vb2, _CMP_LT_OQ);
		vb2 = _mm256_blendv_ps(_mm256_blendv_ps(vb2, v, lt2), vb1, lt1);
		vi2 = _mm256_blendv_ps(_mm256_blendv_ps(vi2, fi, lt2), vi1, lt1);
		vb1 = _mm256_blendv_ps(vb1, v, lt1);
		vi1 = _mm256_blendv_ps(vi1, fi, lt1);
		idx = _mm256_add_epi32(idx, step);
	}
	float b1[8], b2[8];
	int32_t i1[8], i2[8];
	_mm256_storeu_ps(b1, vb1);
	_mm256_storeu_ps(b2, vb2);
	_mm256_storeu_si256((__m256i *)i1, _mm256_castps_si256(vi1));
	_mm256_storeu_si256((__m256i *)i2, _mm256_castps_si256(vi2));
	for (int l = 0; l < 8; l++) {
		top2_push(s, b1[l], i1[l]);
		top2_push(s, b2[l], i2[l]);
	}
	for (; j < cb; j++)
		top2_push(s, ip[j] + cn[j], j0 + (int32_t)j);
}

__attribute__((target("avx2"))) static void
scan1_avx2(const float *ip, const float *cn, size_t cb, int32_t j0, struct top2 *s)
{
	__m256 vb1 = _mm256_set1_ps(INFINITY);
	__m256 vi1 = _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MAX));
	__m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	idx = _mm256_add_epi32(idx, _mm256_set1_epi32(j0));
	const __m256i step = _mm256_set1_epi32(8);
	size_t j = 0;
	for (; j + 8 <= cb; j += 8) {
		__m256 v = _mm256_add_ps(_mm256_loadu_ps(ip + j), _mm256_loadu_ps(cn + j));
		__m256 lt1 = _mm256_cmp_ps(v, vb1, _CMP_LT_OQ);
		vb1 = _mm256_blendv_ps(vb1, v, lt1);
		vi1 = _mm256_blendv_ps(vi1, _mm256_castsi256_ps(idx), lt1);
		idx = _mm256_add_epi32(idx, step);
	}
	float b1[8];
	int32_t i1[8];
	_mm256_storeu_ps(b1, vb1);
	_mm256_storeu_si256((__m256i *)i1, _mm256_castps_si256(vi1));
	for (int l = 0; l < 8; l++)
		top1_push(s, b1[l], i1[l]);
	for (; j < cb; j++)
		top1_push(s, ip[j] + cn[j], j0 + (int32_t)j);
}
#endif

typedef void (*scan_fn)(const float *, const float *, size_t, int32_t, struct top2 *);

static int use_avx2(void)
{
#ifdef VT_HAVE_AVX2_PATH
	static int cached = -1;
	if (cached < 0) {
		__builtin_cpu_init();
		cached = __builtin_cpu_supports("avx2") ? 1 : 0;
	}
	return cached;
#else
	return 0;
#endif
}

static int use_fma(void)
{
#ifdef VT_HAVE_AVX2_PATH
	static int cached = -1;
	if (cached < 0)
		cached = use_avx2() && __builtin_cpu_supports("fma");
	return cached;
#else
	return 0;
#endif
}

static scan_fn pick_scan(int second)
{
#ifdef VT_HAVE_AVX2_PATH
	if (use_avx2())
		return second ? scan2_avx2 : scan1_avx2;
#endif
	return second ? scan2_plain : scan1_plain;
}

#ifdef VT_HAVE_AVX2_PATH
/* Every lane of the result holds the smallest of v's 8 lanes. */
__attribute__((target("avx2"))) static inline __m256 hmin_ps(__m256 v)
{
	v = _mm256_min_ps(v, _mm256_permute2f128_ps(v, v, 1));
	v = _mm256_min_ps(v, _mm256_shuffle_ps(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
	return _mm256_min_ps(v, _mm256_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
}

__attribute__((target("avx2"))) static inline __m256i hmin_epi32(__m256i v)
{
	v = _mm256_min_epi32(v, _mm256_permute2x128_si256(v, v, 1));
	v = _mm256_min_epi32(v, _mm256_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
	return _mm256_min_epi32(v, _mm256_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
}

/* vt_min2 for n >= 8 (a scan of one short group, as the bounded Lloyd does
 * per group of centroids): the lanes' top two as in scan2_avx2, then the
 * lanes merged in registers instead of by 16 scalar pushes, which cost more
 * than the scan itself for a group of 16.  The result is the scalar scan's:
 * m1 the smallest value of the lanes' bests, a1 the lowest index among the
 * lanes that hold it (-0 and +0 equal, as top2_push compares them), m2 the
 * smallest of the other lanes' bests and the winning lane's second; then the
 * tail pushed as before (its indices are above every lane's). */
__attribute__((target("avx2"))) static void
min2_avx2(const float *ip, const float *cn, size_t n, float *m1, int32_t *a1, float *m2)
{
	__m256 vb1 = _mm256_set1_ps(INFINITY), vb2 = vb1;
	__m256i vi1 = _mm256_set1_epi32(INT32_MAX);
	__m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	const __m256i step = _mm256_set1_epi32(8);
	size_t j = 0;
	for (; j + 8 <= n; j += 8) {
		__m256 v = _mm256_add_ps(_mm256_loadu_ps(ip + j), _mm256_loadu_ps(cn + j));
		__m256 lt1 = _mm256_cmp_ps(v, vb1, _CMP_LT_OQ);
		__m256 lt2 = _mm256_cmp_ps(v, vb2, _CMP_LT_OQ);
		vb2 = _mm256_blendv_ps(_mm256_blendv_ps(vb2, v, lt2), vb1, lt1);
		vb1 = _mm256_blendv_ps(vb1, v, lt1);
		vi1 = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(vi1),
		                                           _mm256_castsi256_ps(idx), lt1));
		idx = _mm256_add_epi32(idx, step);
	}
	__m256 eq = _mm256_cmp_ps(vb1, hmin_ps(vb1), _CMP_EQ_OQ);
	__m256i cand = _mm256_castps_si256(_mm256_blendv_ps(
		_mm256_castsi256_ps(_mm256_set1_epi32(INT32_MAX)), _mm256_castsi256_ps(vi1), eq));
	__m256i win = _mm256_cmpeq_epi32(vi1, hmin_epi32(cand));
	__m256 wm = _mm256_and_ps(_mm256_castsi256_ps(win), eq);
	struct top2 s;
	s.b1 = _mm256_cvtss_f32(hmin_ps(_mm256_blendv_ps(_mm256_set1_ps(INFINITY), vb1, wm)));
	s.i1 = _mm256_cvtsi256_si32(hmin_epi32(cand));
	s.b2 = _mm256_cvtss_f32(hmin_ps(_mm256_blendv_ps(vb1, vb2, wm)));
	s.i2 = -1; /* below every tail index: a tail value equal to b2 stays out */
	for (; j < n; j++)
		top2_push(&s, ip[j] + cn[j], (int32_t)j);
	*m1 = s.b1;
	*a1 = s.i1 == INT32_MAX ? 0 : s.i1;
	*m2 = s.b2;
}
#endif

void vt_min2(const float *v, const float *add, size_t n, float *m1, int32_t *a1, float *m2)
{
#ifdef VT_HAVE_AVX2_PATH
	if (n >= 8 && use_avx2()) {
		min2_avx2(v, add, n, m1, a1, m2);
		return;
	}
#endif
	struct top2 s = {INFINITY, INFINITY, INT32_MAX, INT32_MAX};
	pick_scan(1)(v, add, n, 0, &s);
	*m1 = s.b1;
	*a1 = s.i1 == INT32_MAX ? 0 : s.i1;
	*m2 = s.b2;
}

static void sqdists_f_plain(const float *x, const float *c, size_t d, size_t m, float *out)
{
	for (size_t j = 0; j < m; j++) {
		const float *cj = c + j * d;
		float s = 0;
		for (size_t t = 0; t < d; t++) {
			float u = x[t] - cj[t];
			s += u * u;
		}
		out[j] = s;
	}
}

#ifdef VT_HAVE_AVX2_PATH
__attribute__((target("avx2,fma"))) static inline float hsum8(__m256 a)
{
	__m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
	h = _mm_add_ps(h, _mm_movehl_ps(h, h));
	h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
	return _mm_cvtss_f32(h);
}

/* Eight lanes of fused multiply-adds, the lanes summed, the tail scalar. */
__attribute__((target("avx2,fma"))) static void
sqdists_f_avx2(const float *x, const float *c, size_t d, size_t m, float *out)
{
	for (size_t j = 0; j < m; j++) {
		const float *cj = c + j * d;
		__m256 a0 = _mm256_setzero_ps(), a1 = a0;
		size_t t = 0;
		for (; t + 16 <= d; t += 16) {
			__m256 u0 = _mm256_sub_ps(_mm256_loadu_ps(x + t), _mm256_loadu_ps(cj + t));
			__m256 u1 = _mm256_sub_ps(_mm256_loadu_ps(x + t + 8), _mm256_loadu_ps(cj + t + 8));
			a0 = _mm256_fmadd_ps(u0, u0, a0);
			a1 = _mm256_fmadd_ps(u1, u1, a1);
		}
		for (; t + 8 <= d; t += 8) {
			__m256 u0 = _mm256_sub_ps(_mm256_loadu_ps(x + t), _mm256_loadu_ps(cj + t));
			a0 = _mm256_fmadd_ps(u0, u0, a0);
		}
		float s = hsum8(_mm256_add_ps(a0, a1));
		for (; t < d; t++) {
			float u = x[t] - cj[t];
			s += u * u;
		}
		out[j] = s;
	}
}
#endif

static int sqdist_f_reaches_plain(const float *x, const float *c, size_t d, float thr)
{
	float s = 0;
	for (size_t t = 0; t < d; t++) {
		float u = x[t] - c[t];
		s += u * u;
		if ((t % 32 == 31 || t + 1 == d) && s >= thr)
			return s < INFINITY;
	}
	return 0;
}

#ifdef VT_HAVE_AVX2_PATH
__attribute__((target("avx2,fma"))) static int
sqdist_f_reaches_avx2(const float *x, const float *c, size_t d, float thr)
{
	__m256 a0 = _mm256_setzero_ps(), a1 = a0;
	size_t t = 0;
	for (; t + 32 <= d; t += 32) {
		__m256 u0 = _mm256_sub_ps(_mm256_loadu_ps(x + t), _mm256_loadu_ps(c + t));
		__m256 u1 = _mm256_sub_ps(_mm256_loadu_ps(x + t + 8), _mm256_loadu_ps(c + t + 8));
		__m256 u2 = _mm256_sub_ps(_mm256_loadu_ps(x + t + 16), _mm256_loadu_ps(c + t + 16));
		__m256 u3 = _mm256_sub_ps(_mm256_loadu_ps(x + t + 24), _mm256_loadu_ps(c + t + 24));
		a0 = _mm256_fmadd_ps(u0, u0, a0);
		a1 = _mm256_fmadd_ps(u1, u1, a1);
		a0 = _mm256_fmadd_ps(u2, u2, a0);
		a1 = _mm256_fmadd_ps(u3, u3, a1);
		float h = hsum8(_mm256_add_ps(a0, a1));
		if (h >= thr)
			return h < INFINITY;
	}
	for (; t + 8 <= d; t += 8) {
		__m256 u0 = _mm256_sub_ps(_mm256_loadu_ps(x + t), _mm256_loadu_ps(c + t));
		a0 = _mm256_fmadd_ps(u0, u0, a0);
	}
	float s = hsum8(_mm256_add_ps(a0, a1));
	for (; t < d; t++) {
		float u = x[t] - c[t];
		s += u * u;
	}
	return s >= thr && s < INFINITY;
}
#endif

int vt_sqdist_f_reaches(const float *x, const float *c, size_t d, float thr)
{
	if (!(thr < INFINITY))
		return 0;
#ifdef VT_HAVE_AVX2_PATH
	if (use_fma())
		return sqdist_f_reaches_avx2(x, c, d, thr);
#endif
	return sqdist_f_reaches_plain(x, c, d, thr);
}

void vt_sqdists_f(const float *x, const float *c, size_t d, size_t m, float *out)
{
#ifdef VT_HAVE_AVX2_PATH
	if (use_fma()) {
		sqdists_f_avx2(x, c, d, m, out);
		return;
	}
#endif
	sqdists_f_plain(x, c, d, m, out);
}

void vt_sqnorms(const float *x, size_t n, size_t d, float *out)
{
	for (size_t i = 0; i < n; i++) {
		const float *r = x + i * d;
		double s0 = 0, s1 = 0;
		size_t t = 0;
		for (; t + 2 <= d; t += 2) {
			s0 += (double)r[t] * r[t];
			s1 += (double)r[t + 1] * r[t + 1];
		}
		if (t < d)
			s0 += (double)r[t] * r[t];
		out[i] = (float)(s0 + s1);
	}
}

static size_t col_block(size_t k)
{
	return k < VT_KERNEL_COLS ? k : VT_KERNEL_COLS;
}

size_t vt_assign_scratch_floats(size_t k)
{
	/* ip block, row norms, the top-two state (4 arrays), biased norms,
	 * and slack for aligning ip to 64 bytes */
	return (size_t)VT_KERNEL_ROWS * col_block(k) + 5 * (size_t)VT_KERNEL_ROWS +
	       col_block(k) + 16;
}

int vt_assign_serial(const float *x, size_t n, size_t d, const float *c,
                     size_t k, const float *cnorms, const float *bias,
                     int32_t *labels, float *dists, int32_t *labels2,
                     float *dists2, float *scratch)
{
	if (n == 0 || d == 0 || k == 0 || k >= (size_t)INT32_MAX || !cnorms || !scratch)
		return VT_EINVAL;
	const size_t cbmax = col_block(k);
	size_t mis = ((uintptr_t)scratch / sizeof(float)) % 16;
	float *ip = scratch + (mis ? 16 - mis : 0);
	float *xn = ip + (size_t)VT_KERNEL_ROWS * cbmax;
	struct top2 *st = (struct top2 *)(void *)(xn + VT_KERNEL_ROWS);
	float *cnb = xn + 5 * (size_t)VT_KERNEL_ROWS;
	const int second = labels2 || dists2;
	scan_fn scan = pick_scan(second);

	for (size_t r0 = 0; r0 < n; r0 += VT_KERNEL_ROWS) {
		size_t m = n - r0 < VT_KERNEL_ROWS ? n - r0 : VT_KERNEL_ROWS;
		const float *xb = x + r0 * d;
		vt_sqnorms(xb, m, d, xn);
		for (size_t i = 0; i < m; i++) {
			st[i].b1 = st[i].b2 = INFINITY;
			st[i].i1 = st[i].i2 = INT32_MAX;
		}
		for (size_t j0 = 0; j0 < k; j0 += cbmax) {
			size_t cb = k - j0 < cbmax ? k - j0 : cbmax;
			const float *cn = cnorms + j0;
			if (bias) {
				for (size_t j = 0; j < cb; j++)
					cnb[j] = cnorms[j0 + j] + bias[j0 + j];
				cn = cnb;
			}
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)cb,
			            (int)d, -2.0f, xb, (int)d, c + j0 * d, (int)d, 0.0f, ip,
			            (int)cb);
			for (size_t i = 0; i < m; i++)
				scan(ip + i * cb, cn, cb, (int32_t)j0, &st[i]);
		}
		for (size_t i = 0; i < m; i++) {
			const struct top2 *s = &st[i];
			if (labels)
				labels[r0 + i] = s->i1;
			if (dists) {
				float v = s->b1 - (bias ? bias[s->i1] : 0.0f);
				v += xn[i];
				dists[r0 + i] = v > 0 ? v : 0.0f;
			}
			int has2 = s->i2 != INT32_MAX;
			if (labels2)
				labels2[r0 + i] = has2 ? s->i2 : -1;
			if (dists2) {
				float v = INFINITY;
				if (has2) {
					v = s->b2 - (bias ? bias[s->i2] : 0.0f) + xn[i];
					v = v > 0 ? v : 0.0f;
				}
				dists2[r0 + i] = v;
			}
		}
	}
	return 0;
}

struct assign_ctx {
	const float *x, *c, *cnorms, *bias;
	size_t n, d, k;
	int32_t *labels, *labels2;
	float *dists, *dists2;
	float *scratch;
	size_t scratch_stride;
};

static void assign_task(void *arg, size_t t, int worker)
{
	struct assign_ctx *a = arg;
	size_t r0 = t * VT_KERNEL_ROWS;
	size_t m = a->n - r0 < VT_KERNEL_ROWS ? a->n - r0 : VT_KERNEL_ROWS;
	vt_assign_serial(a->x + r0 * a->d, m, a->d, a->c, a->k, a->cnorms, a->bias,
	                 a->labels ? a->labels + r0 : NULL, a->dists ? a->dists + r0 : NULL,
	                 a->labels2 ? a->labels2 + r0 : NULL,
	                 a->dists2 ? a->dists2 + r0 : NULL,
	                 a->scratch + (size_t)worker * a->scratch_stride);
}

int vt_assign(vt_pool *pool, const float *x, size_t n, size_t d,
              const float *c, size_t k, const float *cnorms, const float *bias,
              int32_t *labels, float *dists, int32_t *labels2, float *dists2)
{
	if (n == 0 || d == 0 || k == 0 || k >= (size_t)INT32_MAX || d > (size_t)INT32_MAX)
		return VT_EINVAL;
	float *own = NULL;
	if (!cnorms) {
		own = malloc(k * sizeof *own);
		if (!own)
			return VT_ENOMEM;
		vt_sqnorms(c, k, d, own);
		cnorms = own;
	}
	int T = vt_pool_size(pool);
	size_t stride = vt_assign_scratch_floats(k);
	float *scratch = malloc((size_t)T * stride * sizeof *scratch);
	if (!scratch) {
		free(own);
		return VT_ENOMEM;
	}
	struct assign_ctx a = {x, c, cnorms, bias, n, d, k, labels, labels2, dists, dists2,
	                       scratch, stride};
	vt_pool_run(pool, (n + VT_KERNEL_ROWS - 1) / VT_KERNEL_ROWS, assign_task, &a);
	free(scratch);
	free(own);
	return 0;
}

#define SQD_ROWS 1024

struct sqd_ctx {
	const float *x, *c;
	size_t n, d;
	const int32_t *labels;
	double *out;
};

static void sqd_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct sqd_ctx *a = arg;
	size_t r0 = t * SQD_ROWS, r1 = r0 + SQD_ROWS < a->n ? r0 + SQD_ROWS : a->n;
	for (size_t i = r0; i < r1; i++) {
		const float *xr = a->x + i * a->d, *cr = a->c + (size_t)a->labels[i] * a->d;
		double s0 = 0, s1 = 0;
		size_t j = 0;
		for (; j + 2 <= a->d; j += 2) {
			double u = (double)xr[j] - cr[j], v = (double)xr[j + 1] - cr[j + 1];
			s0 += u * u;
			s1 += v * v;
		}
		if (j < a->d) {
			double u = (double)xr[j] - cr[j];
			s0 += u * u;
		}
		a->out[i] = s0 + s1;
	}
}

int vt_sqdist_labels(vt_pool *pool, const float *x, size_t n, size_t d,
                     const float *c, size_t k, const int32_t *labels,
                     double *out, double *sum)
{
	if (d == 0 || k == 0)
		return VT_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (labels[i] < 0 || (size_t)labels[i] >= k)
			return VT_EINVAL;
	struct sqd_ctx a = {x, c, n, d, labels, out};
	vt_pool_run(pool, (n + SQD_ROWS - 1) / SQD_ROWS, sqd_task, &a);
	if (sum) {
		double s = 0;
		for (size_t i = 0; i < n; i++)
			s += out[i];
		*sum = s;
	}
	return 0;
}

#define RESID_BLOCK 65536

int vt_subtract_nearest(vt_pool *pool, float *x, size_t n, size_t d, const float *c,
                        size_t k, int32_t *labels)
{
	if (n == 0)
		return 0;
	int32_t *own = labels ? NULL : malloc((n < RESID_BLOCK ? n : RESID_BLOCK) * sizeof *own);
	if (!labels && !own)
		return VT_ENOMEM;
	float *cn = malloc(k * sizeof *cn);
	if (!cn) {
		free(own);
		return VT_ENOMEM;
	}
	vt_sqnorms(c, k, d, cn);
	int rc = 0;
	for (size_t r0 = 0; r0 < n && !rc; r0 += RESID_BLOCK) {
		size_t m = n - r0 < RESID_BLOCK ? n - r0 : RESID_BLOCK;
		int32_t *lab = labels ? labels + r0 : own;
		float *xb = x + r0 * d;
		if ((rc = vt_assign(pool, xb, m, d, c, k, cn, NULL, lab, NULL, NULL, NULL)))
			break;
		for (size_t i = 0; i < m; i++) {
			const float *cr = c + (size_t)lab[i] * d;
			float *xr = xb + i * d;
			for (size_t t = 0; t < d; t++)
				xr[t] -= cr[t];
		}
	}
	free(cn);
	free(own);
	return rc;
}
