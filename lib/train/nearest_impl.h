/* vtrain: the private part of train/nearest, shared by nearest.c (the exact
 * distance, candidate lists, scans, brute force), nearest_build.c (the
 * index) and nearest_query.c (the query); no other file includes it.  It
 * holds the index's structure, the candidate-list type and the helpers the
 * three parts share: the small ones here as static inline, the others
 * defined in nearest.c with the vt_nn_ prefix.  See nearest.h for the
 * method and nearest.c for the rounding bound. */
#ifndef VT_NEAREST_IMPL_H
#define VT_NEAREST_IMPL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "train/nearest.h"
#include "train/pool.h"

#define NR_ROWS 256    /* rows of one sgemm block */
#define NR_COLS 512    /* centroids of one sgemm block */
#define SLACK 3        /* list entries beyond the N asked for */
#define BIG_NORM 1e36  /* squared norms beyond this stay out of float */

static inline double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A(d): the absolute rounding bound for underflow (nearest.h). */
static inline double abs_err(size_t d)
{
	return ((double)d + 4) * 0x1p-146;
}

static inline int row_special(float xn)
{
	return !((double)xn <= BIG_NORM);
}

static inline float float_up(double v)
{
	float f = (float)v;
	return (double)f < v ? nextafterf(f, INFINITY) : f;
}

static inline double norm_up(float sq)
{
	return vt_nearest_norm_up(sq);
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

static inline void cl_push(cand *c, int *cnt, int L, double *ev, double lo, double hi,
                           int32_t j)
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

/* ---- shared by the parts, defined in nearest.c ---- */

/* One row against a block of cb centroids (the kernel's float distances
 * (ip + cn) + xn, ids or j0 + j), into the list c; U bounds the N-th
 * distance (INFINITY: none). */
void vt_nn_scan_row(const float *ip, const float *cn, const int32_t *ids, int32_t j0,
                    size_t cb, float xn, double e, double U, cand *c, int *cnt, int L,
                    double *ev);

/* The N-th smallest hi of the list (N <= cnt). */
double vt_nn_nth_hi(const cand *c, int cnt, size_t N);

/* Certify a list and write the top N by (dd, index); base holds the
 * vectors the ids refer to.  Returns 0, or 1 when the list cannot certify
 * (the caller then falls back). */
int vt_nn_finalize(const float *x, const float *base, size_t d, const cand *c, int cnt,
                   double ev, size_t N, int32_t *lab, double *dist);

/* dd to every one of the k vectors: the definition itself. */
void vt_nn_exact_row(const float *x, const float *c, size_t k, size_t d, size_t N,
                     int32_t *lab, double *dist);

/* A row whose float norm is not finite or too large. */
void vt_nn_special_row(const float *x, const float *c, size_t k, size_t d, size_t N,
                       int32_t *lab, double *dist);

/* Check centroids, compute their float norms cn (k) and the per-block
 * maxima bmax (k / NR_COLS + 1).  Returns 0 or VT_EDATA. */
int vt_nn_centroid_norms(const float *c, size_t k, size_t d, float *cn, double *bmax);

/* Brute force over n rows with the centroids' norms and block maxima
 * already computed.  Returns 0 or VT_ENOMEM. */
int vt_nn_brute_run(vt_pool *pool, const float *x, size_t n, size_t d, const float *c,
                    size_t k, const float *cn, const double *bmax, size_t N, int32_t *lab,
                    double *dist);

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
	/* the super level (T > 0 for large G): groups numbered super by super */
	size_t T;
	uint32_t *sstart; /* T + 1 offsets into the groups */
	float *sm;        /* T x d super centres */
	float *smn;       /* T float norms of the super centres */
	float *smnuf;     /* T super centre norms, rounded up to float */
	float *srhof;     /* T radii over the supers' centroids, rounded up */
	int mode;
	size_t probe;
	/* cost model */
	double tb, nb;    /* brute force: seconds, row-centroid evaluations */
	double tv, nv;    /* visits: seconds, row-centroid evaluations */
	double ts, ns;    /* search chunks: seconds, rows */
	double tbc, nbc;  /* whole chunks by brute force: seconds, rows */
	double tsup[2], nsup[2]; /* search chunks without / with the super level */
	size_t schunks;   /* search chunks run */
	size_t chunks;
	vt_nearest_stats st;
};

#endif
