/* vtrain: the k-means object, its settings and results, the input checks,
 * and the driver that seeds or builds the hierarchy and runs the Lloyd loop
 * (see kmeans.h; the parts are in kmeans_seed.c, kmeans_lloyd.c,
 * kmeans_narrow.c and kmeans_hier.c). */
#define _POSIX_C_SOURCE 200809L
#include "train/kmeans.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "train/cindex.h"
#include "train/kmeans_impl.h"
#include "train/nearest.h"
#include "train/vecops.h"

/* automatic narrowing: the global refinement of a hierarchical run assigns
 * through a centroid index (cindex.h) from this k on, probing this many
 * groups */
#define NARROW_AUTO_K 8192
#define NARROW_AUTO_P 8

double vt_km_now(void)
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
	km->split_iters = 20;
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

void vt_kmeans_ties(const vt_kmeans *km, double *rows, double *near, double *ref)
{
	if (rows)
		*rows = km->ties[0];
	if (near)
		*near = km->ties[1];
	if (ref)
		*ref = km->ties[2];
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

const char *vt_kmeans_init_name(int method)
{
	return method == VT_KMEANS_INIT_PP ? "k-means++" : method == VT_KMEANS_INIT_RANDOM ? "random" : NULL;
}

int vt_kmeans_init_parse(const char *name)
{
	if (strcmp(name, "k-means++") == 0 || strcmp(name, "kmeans++") == 0)
		return VT_KMEANS_INIT_PP;
	return strcmp(name, "random") == 0 ? VT_KMEANS_INIT_RANDOM : -1;
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

int vt_kmeans_set_split_iters(vt_kmeans *km, int iters)
{
	if (iters < 1)
		return VT_EINVAL;
	km->split_iters = iters;
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

void vt_kmeans_set_spherical(vt_kmeans *km, int on) { km->spherical = on != 0; }
int vt_kmeans_spherical(const vt_kmeans *km) { return km->spherical; }

int vt_kmeans_set_probe(vt_kmeans *km, int nprobe)
{
	if (nprobe < -1 || nprobe > VT_CINDEX_MAX_PROBE)
		return VT_EINVAL;
	km->probe = nprobe;
	return 0;
}

int vt_kmeans_probe_used(const vt_kmeans *km) { return km->probe_used; }

int vt_kmeans_set_nearest(vt_kmeans *km, int mode)
{
	if (mode != VT_NEAREST_AUTO && mode != VT_NEAREST_SEARCH && mode != VT_NEAREST_BRUTE)
		return VT_EINVAL;
	km->nearest_mode = mode;
	return 0;
}

const vt_nearest_stats *vt_kmeans_nearest_stats(const vt_kmeans *km, double *build,
                                                size_t *groups, size_t *bytes)
{
	if (!km->nearest_used)
		return NULL;
	if (build)
		*build = km->nearest_build;
	if (groups)
		*groups = km->nearest_groups;
	if (bytes)
		*bytes = km->nearest_bytes;
	return &km->nearest_st;
}

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

static void check_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct check_ctx *a = arg;
	size_t r0 = t * VT_KM_CHECK_ROWS, r1 = r0 + VT_KM_CHECK_ROWS < a->n ? r0 + VT_KM_CHECK_ROWS : a->n;
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

long long vt_km_count_distinct(const float *x, size_t n, size_t d, const double *w,
                               size_t limit)
{
	size_t cap = 16, most = limit < n ? limit : n;   /* no more distinct rows than rows */
	while (cap < 2 * most)
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

void vt_km_prob_release(struct vt_km_prob *p)
{
	free(p->xn);
	free(p->xq);
	p->xn = NULL;
	p->xq = NULL;
}

struct norm_ctx {
	struct vt_km_prob *p;
};

static void norm_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct vt_km_prob *p = ((struct norm_ctx *)arg)->p;
	size_t r0 = t * VT_KM_CHECK_ROWS, r1 = r0 + VT_KM_CHECK_ROWS < p->n ? r0 + VT_KM_CHECK_ROWS : p->n;
	for (size_t i = r0; i < r1; i++) {
		const float *r = p->x + i * p->d;
		double s = 0;
		for (size_t j = 0; j < p->d; j++)
			s += (double)r[j] * r[j];
		p->xn[i] = (float)s;
		p->xq[i] = (p->w ? p->w[i] : 1.0) * s;
	}
}

int vt_km_prob_init(struct vt_km_prob *p, vt_pool *pool, const float *x, const double *w,
                    size_t n, size_t d)
{
	p->x = x;
	p->w = w;
	p->n = n;
	p->d = d;
	p->xn = malloc(n * sizeof *p->xn);
	p->xq = malloc(n * sizeof *p->xq);
	if (!p->xn || !p->xq) {
		vt_km_prob_release(p);
		return VT_ENOMEM;
	}
	struct norm_ctx nc = {p};
	vt_pool_run(pool, (n + VT_KM_CHECK_ROWS - 1) / VT_KM_CHECK_ROWS, norm_task, &nc);
	return 0;
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
	km->ties[0] = km->ties[1] = km->ties[2] = 0;
	km->nearest_used = 0;
	km->d = d;
	const size_t k = km->k;
	if (n == 0 || d == 0 || d > (size_t)INT32_MAX || n > SIZE_MAX / sizeof(float) / d)
		return VT_EINVAL;
	if (km->initial && km->initial_d != d)
		return VT_EDIM;
	km->t0 = vt_km_now();
	vt_pool *pool = NULL;
	int rc = vt_pool_new(&pool, km->threads);
	if (rc)
		return rc;
	struct vt_km_prob p;
	memset(&p, 0, sizeof p);
	float *C = NULL;
	int32_t *a0 = NULL;   /* the hierarchy's labels, for a narrowed refinement */
	size_t nchk = (n + VT_KM_CHECK_ROWS - 1) / VT_KM_CHECK_ROWS;
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
		long long dc = vt_km_count_distinct(x, n, d, w, k);
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
	if ((rc = vt_km_prob_init(&p, pool, x, w, n, d)))
		goto out;
	int hier = !km->initial && (km->mode == VT_KMEANS_HIER ||
	                            (km->mode == VT_KMEANS_AUTO && k > VT_KM_HIER_AUTO_K));
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
		if ((rc = vt_km_hier_build(km, pool, x, w, n, d, C, a0)))
			goto out;
		iters = km->refine_iters;
	} else if (km->initial) {
		memcpy(C, km->initial, k * d * sizeof *C);
	} else {
		vt_rng r;
		vt_rng_init(&r, km->seed, VT_KM_RNG_FLAT);
		rc = km->init == VT_KMEANS_INIT_RANDOM ? vt_km_seed_random(&p, k, &r, C)
		                                        : vt_km_seed_pp(pool, &p, k, &r, C);
		if (rc)
			goto out;
	}
	km->probe_used = (int)narrow;
	struct vt_km_lloyd_opts o = vt_km_lloyd_opts_of(km, iters);
	o.narrow = narrow;
	o.a0 = a0;
	o.exact_final = 1;
	o.report = km;
	o.ties = km->ties;
	if ((rc = vt_km_lloyd(pool, &p, lloss, k, C, &o, labels, km->cw, km->closs, &km->loss,
	                      &km->iters_done)))
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
	vt_km_prob_release(&p);
	vt_pool_free(pool);
	return rc;
}

/* rows per block of vt_kmeans_normalize's assignment */
#define NORMALIZE_ROWS 65536

int vt_kmeans_normalize(vt_kmeans *km, const float *x, size_t n, size_t d, const double *w,
                        const double *l)
{
	if (!km->c || d != km->d || n == 0)
		return VT_EINVAL;
	const size_t k = km->k, blk = n < NORMALIZE_ROWS ? n : NORMALIZE_ROWS;
	float *C = malloc(k * d * sizeof *C);
	double *cw = calloc(k, sizeof *cw), *cl = calloc(k, sizeof *cl);
	int32_t *lab = malloc(blk * sizeof *lab);
	double *dd = malloc(blk * sizeof *dd);
	vt_pool *pool = NULL;
	int rc = VT_ENOMEM;
	if (!C || !cw || !cl || !lab || !dd)
		goto out;
	if ((rc = vt_pool_new(&pool, km->threads)))
		goto out;
	memcpy(C, km->c, k * d * sizeof *C);
	vt_normalize_rows(C, k, d);
	double tot = 0;
	for (size_t i0 = 0; i0 < n; i0 += blk) {
		size_t b = n - i0 < blk ? n - i0 : blk;
		if ((rc = vt_nearest_brute(pool, x + i0 * d, b, d, C, k, 1, lab, dd)))
			goto out;
		for (size_t r = 0; r < b; r++) {
			size_t i = i0 + r;
			double wi = w ? w[i] : 1.0, e = (l ? l[i] : 0.0) + wi * dd[r];
			cw[lab[r]] += wi;
			cl[lab[r]] += e;
			tot += e;
		}
	}
	memcpy(km->c, C, k * d * sizeof *C);
	memcpy(km->cw, cw, k * sizeof *cw);
	memcpy(km->closs, cl, k * sizeof *cl);
	km->loss = tot;
	rc = 0;
out:
	vt_pool_free(pool);
	free(C);
	free(cw);
	free(cl);
	free(lab);
	free(dd);
	return rc;
}
