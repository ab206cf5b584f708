/* vtrain: the query of train/nearest (see nearest.h): the centre step
 * (each row against the G group centres, its nearest group and the bound
 * U0), the survivors of round 2, the visits of (row, group) pairs gathered
 * group by group, brute force for the rows the cost model or an overflow
 * sends there, and vt_nearest_query, which runs them chunk by chunk and
 * keeps the cost model.  The index is built in nearest_build.c; the
 * candidate lists, scans and brute force are in nearest.c. */
#define _POSIX_C_SOURCE 200809L
#include "train/nearest.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/kernel.h"
#include "train/nearest_impl.h"

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
	int sup;         /* this chunk's centre step goes through the supers */
	float *gsc;      /* per thread G: a row's group scores (super level) */
	int32_t *gid;    /* per thread G: their groups */
	unsigned char *keep; /* per thread G: the supers a row keeps */
	double *wst;     /* per thread 8: evaluations, rows, wide rows */
	int nthreads;
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
/* The float terms of that bound for one row, rounded up. */
typedef struct {
	float q, Ef, Af, nx;
} fbound;

static fbound bound_of(const vt_nearest *ix, double nxu, double U, double E, double A)
{
	double w = nxu + ix->cmaxu, qd = sqrt(U + E * w * w + A) * (1 + 0x1p-50);
	fbound b = {(float)qd, (float)E, (float)A, (float)nxu};
	if ((double)b.q < qd)
		b.q = nextafterf(b.q, INFINITY);
	if ((double)b.Ef < E)
		b.Ef = nextafterf(b.Ef, INFINITY);
	if ((double)b.nx < nxu)
		b.nx = nextafterf(b.nx, INFINITY);
	b.Af = b.Af > 0 ? b.Af : FLT_TRUE_MIN;
	return b;
}

/* Whether a ball (centre of full float score sg and norm up to mnu, radius
 * up to rho) holds no centroid that could beat the row's bound. */
static inline int ball_out(const fbound *b, float sg, float rho, float mnu)
{
	float t = rho + b->q, v = b->nx + mnu;
	return sg > (t * t + (b->Ef * v * v + b->Af)) * (1 + 0x1p-20f);
}

static size_t survivors(const vt_nearest *ix, const float *s, const int32_t *gl, size_t ng,
                        float xn, double nxu, double U, double E, double A, int32_t prim,
                        double budget, size_t cap, int32_t *surv, float *sv, double *cols)
{
	fbound b = bound_of(ix, nxu, U, E, A);
	size_t ns = 0;
	double cl = 0;
	const float *mn = ix->mn, *rho = ix->rhof, *mnu = ix->mnuf;
	if (!gl)
		ng = ix->G;
	for (size_t i = 0; i < ng; i++) {
		size_t g = gl ? (size_t)gl[i] : i;
		float sc = s[i];
		float sg = gl ? sc : (sc + mn[g]) + xn;
		if (ball_out(&b, sg, rho[g], mnu[g]) || (int32_t)g == prim)
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

/* U0 >= the N-th distance of a row whose nearest group by its float centre
 * score sp is p: N members of p lie within ||x - m_p|| + rho_p, and
 * ||x - m_p||^2 <= sp + e_m.  INFINITY when p has fewer than N members. */
static double upper0(const struct chunk *a, size_t r, int32_t p, float sp)
{
	const vt_nearest *ix = a->ix;
	if (ix->gstart[p + 1] - ix->gstart[p] < a->N)
		return INFINITY;
	double w = a->nxu[r] + ix->mnu[p], dc = (double)sp + a->E * w * w + a->A;
	double du = (dc > 0 ? sqrt(dc) : 0) * (1 + 0x1p-50) + ix->rho[p];
	double v = a->nxu[r] + ix->gmax[p];
	return du * du * (1 + 0x1p-50) + a->E * v * v + a->A;
}

/* Append the full float centre scores of the groups of super s (one sgemv
 * of the row against their contiguous centres) to sc/gl from position ng;
 * returns the new count. */
static size_t super_groups(const vt_nearest *ix, const float *xr, float xn, size_t s, float *sc,
                           int32_t *gl, size_t ng)
{
	uint32_t g0 = ix->sstart[s], g1 = ix->sstart[s + 1];
	size_t d = ix->d;
	cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)(g1 - g0), (int)d, -2.0f, ix->m + g0 * d,
	            (int)d, xr, 1, 0.0f, sc + ng, 1);
	for (uint32_t g = g0; g < g1; g++, ng++) {
		sc[ng] = (sc[ng] + ix->mn[g]) + xn;
		gl[ng] = (int32_t)g;
	}
	return ng;
}

/* The centre step through the super level (exact mode): each row against
 * the T super centres (one sgemm per block), then the groups of its
 * nearest super (its primary is the nearest of those), then the groups of
 * every other super that the bound U0 does not exclude as a whole.  A row
 * for which more than a quarter of the groups would be scored this way is
 * left to round 2's dense path (all G scores), like a row with more than
 * SCAP survivors. */
static void centre_super(struct chunk *a, size_t task, int worker)
{
	const vt_nearest *ix = a->ix;
	size_t r0 = task * NR_ROWS, m = a->n - r0 < NR_ROWS ? a->n - r0 : NR_ROWS;
	size_t G = ix->G, T = ix->T, d = ix->d, wide = G / 4;
	float *ips = a->cscr + (size_t)worker * NR_ROWS * G;
	float *gs = a->gsc + (size_t)worker * G;
	int32_t *gl = a->gid + (size_t)worker * G;
	double *ws = a->wst + (size_t)worker * 8;
	unsigned char *keep = a->keep + (size_t)worker * G;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)T, (int)d, -2.0f,
	            a->x + r0 * d, (int)d, ix->sm, (int)d, 0.0f, ips, (int)T);
	for (size_t i = 0; i < m; i++) {
		size_t r = r0 + i;
		if (a->spec[r])
			continue;
		const float *xr = a->x + r * d, *sr = ips + i * T;
		float xn = a->xn[r], m1, m2;
		int32_t s0;
		vt_min2(sr, ix->smn, T, &m1, &s0, &m2);
		size_t ng = super_groups(ix, xr, xn, (size_t)s0, gs, gl, 0);
		size_t best = 0;
		for (size_t q = 1; q < ng; q++)
			if (gs[q] < gs[best])
				best = q;
		int32_t p = gl[best];
		a->prim[r] = p;
		double U0 = upper0(a, r, p, gs[best]);
		fbound b = bound_of(ix, a->nxu[r], U0, a->E, a->A);
		for (size_t t = 0; t < T; t++) /* ball_out, in a loop that vectorizes */
		{
			float sg = (sr[t] + ix->smn[t]) + xn, u = ix->srhof[t] + b.q, v = b.nx + ix->smnuf[t];
			keep[t] = !(sg > (u * u + (b.Ef * v * v + b.Af)) * (1 + 0x1p-20f));
		}
		int dense = 0;
		for (size_t t = 0; t < T && !dense; t++) {
			if (!keep[t] || (int32_t)t == s0)
				continue;
			if (ng + (ix->sstart[t + 1] - ix->sstart[t]) > wide)
				dense = 1;
			else
				ng = super_groups(ix, xr, xn, t, gs, gl, ng);
		}
		ws[0] += (double)(T + ng);
		ws[1] += 1;
		if (dense) {
			ws[2] += 1;
			a->sn[r] = SCAP + 1;
			continue;
		}
		double cols;
		a->sn[r] = (int)survivors(ix, gs, gl, ng, xn, a->nxu[r], U0, a->E, a->A, p, INFINITY,
		                          SCAP, a->sid + r * SCAP, a->sval + r * SCAP, &cols);
	}
}

static void centre_task(void *arg, size_t task, int worker)
{
	struct chunk *a = arg;
	if (a->sup) {
		centre_super(a, task, worker);
		return;
	}
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
			double U0 = upper0(a, r, p, (ipc[i * G + p] + ix->mn[p]) + a->xn[r]);
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
		if (vt_nn_finalize(xr, ix->m, d, cl, cnt, ev, a->P, pr, NULL))
			vt_nn_exact_row(xr, ix->m, G, d, a->P, pr, NULL);
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
			vt_nn_scan_row(ip + q * cb, cnb, ids, 0, cb, a->xn[r], e, a->U[r], a->pl + p * L,
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
		int rc = vt_nn_brute_run(pool, gb, m, d, ix->c, ix->k, ix->cn, ix->bmax, N, tl, td);
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
			vt_nn_special_row(a->x + r * d, ix->c, ix->k, d, N, labels ? labels + r * N : NULL,
			                  dists ? dists + r * N : NULL);
			nspec++;
		}
	}
	memset(a->wst, 0, (size_t)a->nthreads * 8 * sizeof *a->wst);
	vt_pool_run(pool, (n + NR_ROWS - 1) / NR_ROWS, centre_task, a);
	double t1 = now();
	ix->st.t_centres += t1 - t0;
	if (a->sup) {
		for (int w = 0; w < a->nthreads; w++) {
			ix->st.evals += a->wst[w * 8];
			ix->st.rows_super += a->wst[w * 8 + 1];
			ix->st.rows_wide += a->wst[w * 8 + 2];
		}
	} else {
		ix->st.evals += (double)(n - nspec) * G;
	}
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
				a->U[r] = vt_nn_nth_hi(a->rl + r * L, a->rcnt[r], N);
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
		if (vt_nn_finalize(a->x + r * d, ix->c, d, a->rl + r * L, a->rcnt[r], a->rev[r], N,
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

/* Whether the next search chunk's centre step goes through the super
 * level: measured, as the choice of brute force.  The first search chunk
 * uses it, the second does not, and then the faster per row of the two
 * wins, the other being measured again every 64th chunk.  Exact mode
 * only; the results are the same either way. */
static int use_supers(const vt_nearest *ix)
{
	if (!ix->T || ix->probe)
		return 0;
	if (ix->nsup[1] == 0)
		return 1;
	if (ix->nsup[0] == 0)
		return 0;
	int faster = ix->tsup[1] / ix->nsup[1] <= ix->tsup[0] / ix->nsup[0];
	return ix->schunks % 64 == 63 ? !faster : faster;
}

int vt_nearest_query(vt_nearest *ix, vt_pool *pool, const float *x, size_t n, size_t top,
                     int32_t *labels, double *dists)
{
	if (top < 1 || top > VT_NEAREST_MAX_TOP || top > ix->k)
		return VT_EINVAL;
	if (n == 0)
		return 0;
	ix->st.supers = (double)ix->T;
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
	a.nthreads = T;
	a.gsc = malloc((size_t)T * G * sizeof *a.gsc);
	a.gid = malloc((size_t)T * G * sizeof *a.gid);
	a.keep = malloc((size_t)T * G);
	a.wst = malloc((size_t)T * 8 * sizeof *a.wst);
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
	if (!a.xn || !a.nxu || !a.spec || !a.sid || !a.sval || !a.sn || !a.cscr || !a.gsc || !a.gid || !a.keep || !a.wst || !a.prim || !a.rl || !a.rcnt || !a.rev ||
	    !a.U || !a.prow || !a.pg || !a.srow || !a.gcnt || !a.sl || !a.pl || !a.pcnt ||
	    !a.pev || !a.scr || !todo || !surv || !gb || !tl || !td)
		goto out;
	rc = 0;
	size_t pos = 0;
	if (ix->mode == VT_NEAREST_AUTO && ix->nb == 0 && !P) {
		/* start the cost model: one block of rows by brute force, timed */
		size_t m = n < NR_ROWS ? n : NR_ROWS;
		double t0 = now();
		if ((rc = vt_nn_brute_run(pool, x, m, d, ix->c, ix->k, ix->cn, ix->bmax, N, labels,
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
		/* the search's measured time per row against brute force's:
		 * measured on whole chunks once there is one, until then
		 * estimated from its smaller blocks (time per row-centroid
		 * evaluation, times k).  Small blocks cost more per row than a
		 * whole chunk, so while the search is not clearly faster than
		 * that estimate (within 2x), one chunk goes to brute force to
		 * measure it. */
		if (ix->mode == VT_NEAREST_AUTO && !P && ix->ns > 0 && (ix->nbc > 0 || ix->nb > 0) &&
		    ix->chunks % 8 != 0) {
			double s = ix->ts / ix->ns;
			double b = ix->nbc > 0 ? ix->tbc / ix->nbc : ix->tb / ix->nb * (double)ix->k;
			brute = ix->nbc == 0 && s > 0.5 * b ? 1 : s > b;
		}
		double t0 = now();
		if (brute) {
			rc = vt_nn_brute_run(pool, x + pos * d, m, d, ix->c, ix->k, ix->cn, ix->bmax, N, lab,
			                     dst);
			double t = now() - t0;
			ix->tb += t;
			ix->nb += (double)m * ix->k;
			ix->st.t_brute += t;
			ix->st.evals += (double)m * ix->k;
			ix->st.rows_brute += (double)m;
			ix->tbc += t;
			ix->nbc += (double)m;
		} else {
			a.x = x + pos * d;
			a.n = m;
			a.sup = use_supers(ix);
			rc = search_chunk(&a, pool, todo, surv, gb, tl, td, lab, dst);
			double t = now() - t0;
			ix->ts += t;
			ix->ns += (double)m;
			ix->tsup[a.sup] += t;
			ix->nsup[a.sup] += (double)m;
			ix->schunks++;
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
	free(a.gsc);
	free(a.gid);
	free(a.keep);
	free(a.wst);
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
