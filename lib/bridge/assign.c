#define _POSIX_C_SOURCE 200809L
#include "bridge/assign.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "train/kernel.h"

#define BIG_NORM 1e36      /* train/nearest refuses centroids beyond this */
#define SCAN_ROWS 64       /* rows of one task of the fallback scan */
#define SUB_BLOCK 65536    /* rows of one block of vt_assigner_subtract */
#define GROUP_SEED 1       /* the index's grouping: changes only the speed */

struct vt_assigner {
	const float *c;
	size_t k, d;
	int mode;
	vt_nearest *ix; /* AUTO and SEARCH; NULL in BRUTE mode and for a scan */
	int scan;
	vt_assign_report r;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int vt_assign_mode_of(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return VT_NEAREST_AUTO;
	if (strcmp(s, "search") == 0)
		return VT_NEAREST_SEARCH;
	if (strcmp(s, "brute") == 0)
		return VT_NEAREST_BRUTE;
	return VT_EINVAL;
}

const char *vt_assign_mode_name(int mode)
{
	return mode == VT_NEAREST_SEARCH ? "search" : mode == VT_NEAREST_BRUTE ? "brute" : "auto";
}

int vt_assigner_new(vt_assigner **out, vt_pool *pool, const float *c, size_t k, size_t d,
                    int mode)
{
	*out = NULL;
	if (k == 0 || d == 0 || k >= (size_t)INT32_MAX || d > (size_t)INT32_MAX / 512 ||
	    (mode != VT_NEAREST_AUTO && mode != VT_NEAREST_SEARCH && mode != VT_NEAREST_BRUTE))
		return VT_EINVAL;
	for (size_t i = 0; i < k * d; i++)
		if (!isfinite(c[i]))
			return VT_EDATA;
	vt_assigner *a = calloc(1, sizeof *a);
	float *cn = malloc(k * sizeof *cn);
	if (!a || !cn) {
		free(a);
		free(cn);
		return VT_ENOMEM;
	}
	a->c = c, a->k = k, a->d = d, a->mode = mode;
	vt_sqnorms(c, k, d, cn); /* the float norms train/nearest checks */
	for (size_t j = 0; j < k && !a->scan; j++)
		a->scan = !((double)cn[j] <= BIG_NORM);
	free(cn);
	if (!a->scan && mode != VT_NEAREST_BRUTE) {
		double t0 = now();
		int rc = vt_nearest_new(&a->ix, pool, c, k, d, NULL, 0, GROUP_SEED);
		if (rc) {
			free(a);
			return rc;
		}
		vt_nearest_set_mode(a->ix, mode);
		a->r.t_build = now() - t0;
		a->r.groups = vt_nearest_groups(a->ix);
		a->r.bytes = vt_nearest_bytes(a->ix);
	}
	a->r.mode = mode;
	a->r.scan = a->scan;
	a->r.k = k, a->r.d = d;
	*out = a;
	return 0;
}

void vt_assigner_free(vt_assigner *a)
{
	if (!a)
		return;
	vt_nearest_free(a->ix);
	free(a);
}

/* The fallback: dd to every centroid, the definition itself. */
struct scan_ctx {
	const float *x, *c;
	size_t n, k, d;
	int32_t *labels;
	double *dists;
};

static void scan_task(void *arg, size_t task, int worker)
{
	(void)worker;
	struct scan_ctx *s = arg;
	size_t r0 = task * SCAN_ROWS, r1 = r0 + SCAN_ROWS < s->n ? r0 + SCAN_ROWS : s->n;
	for (size_t i = r0; i < r1; i++) {
		const float *xr = s->x + i * s->d;
		double best = vt_nearest_sqdist(xr, s->c, s->d);
		int32_t bj = 0;
		for (size_t j = 1; j < s->k; j++) {
			double v = vt_nearest_sqdist(xr, s->c + j * s->d, s->d);
			if (v < best) /* ties, and NaN, stay with the lower index */
				best = v, bj = (int32_t)j;
		}
		if (s->labels)
			s->labels[i] = bj;
		if (s->dists)
			s->dists[i] = best;
	}
}

int vt_assigner_run(vt_assigner *a, vt_pool *pool, const float *x, size_t n, int32_t *labels,
                    double *dists)
{
	if (n == 0)
		return 0;
	if (a->ix) {
		int rc = vt_nearest_query(a->ix, pool, x, n, 1, labels, dists);
		a->r.st = *vt_nearest_get_stats(a->ix);
		return rc;
	}
	double t0 = now();
	int rc = 0;
	if (a->scan) {
		struct scan_ctx s = {x, a->c, n, a->k, a->d, labels, dists};
		vt_pool_run(pool, (n + SCAN_ROWS - 1) / SCAN_ROWS, scan_task, &s);
	} else {
		rc = vt_nearest_brute(pool, x, n, a->d, a->c, a->k, 1, labels, dists);
	}
	double t = now() - t0;
	if (rc == 0) {
		a->r.st.rows += (double)n;
		a->r.st.rows_brute += (double)n;
		a->r.st.evals += (double)n * (double)a->k;
		a->r.st.t_brute += t;
	}
	return rc;
}

int vt_assigner_subtract(vt_assigner *a, vt_pool *pool, float *x, size_t n, int32_t *labels)
{
	if (n == 0)
		return 0;
	size_t m0 = n < SUB_BLOCK ? n : SUB_BLOCK;
	int32_t *own = labels ? NULL : malloc(m0 * sizeof *own);
	if (!labels && !own)
		return VT_ENOMEM;
	const size_t d = a->d;
	int rc = 0;
	for (size_t r0 = 0; r0 < n && !rc; r0 += SUB_BLOCK) {
		size_t m = n - r0 < SUB_BLOCK ? n - r0 : SUB_BLOCK;
		int32_t *lab = labels ? labels + r0 : own;
		float *xb = x + r0 * d;
		if ((rc = vt_assigner_run(a, pool, xb, m, lab, NULL)))
			break;
		for (size_t i = 0; i < m; i++) {
			const float *cr = a->c + (size_t)lab[i] * d;
			float *xr = xb + i * d;
			for (size_t t = 0; t < d; t++)
				xr[t] -= cr[t];
		}
	}
	free(own);
	return rc;
}

void vt_assigner_report(const vt_assigner *a, vt_assign_report *r)
{
	*r = a->r;
}
