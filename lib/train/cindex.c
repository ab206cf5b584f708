#define _POSIX_C_SOURCE 200809L
#include "train/cindex.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/kernel.h"
#include "train/nearest.h"

#define ROWS VT_KERNEL_ROWS
/* rows per batch: the unit whose probe lists are inverted into per-group
 * row lists, so that every group's rows go through sgemm together */
#define BATCH 65536

struct vt_cindex {
	size_t k, d, G, maxg;
	float *gc, *gcn;    /* G x d group centres, their squared norms */
	size_t *start;      /* G + 1: group g holds sorted members start[g].. */
	int32_t *member;    /* k centroid ids, by group, ascending within one */
	int32_t *grp;       /* k: the group of each centroid */
	int32_t *pos;       /* k: the place of each centroid in member order */
	float *cs, *csn;    /* k x d centroids in member order, their norms */
	double gmaxu;       /* the largest centre norm, rounded up */
	double cmaxu;       /* the largest centroid norm, rounded up */
	int big;            /* a centre or centroid of squared norm above
	                     * VT_NEAREST_BIG_NORM: no float margin holds */
};

void vt_cindex_free(vt_cindex *ix)
{
	if (!ix)
		return;
	free(ix->gc);
	free(ix->gcn);
	free(ix->start);
	free(ix->member);
	free(ix->grp);
	free(ix->pos);
	free(ix->cs);
	free(ix->csn);
	free(ix);
}

size_t vt_cindex_groups(const vt_cindex *ix) { return ix->G; }
size_t vt_cindex_largest(const vt_cindex *ix) { return ix->maxg; }

/* Members by group from the labels grp (a counting sort, so ids stay
 * ascending within a group), and the largest group. */
static int regroup(vt_cindex *ix)
{
	const size_t k = ix->k, G = ix->G;
	size_t *cur = malloc(G * sizeof *cur);
	if (!cur)
		return VT_ENOMEM;
	memset(ix->start, 0, (G + 1) * sizeof *ix->start);
	for (size_t j = 0; j < k; j++)
		ix->start[ix->grp[j] + 1]++;
	for (size_t g = 0; g < G; g++)
		ix->start[g + 1] += ix->start[g];
	memcpy(cur, ix->start, G * sizeof *cur);
	for (size_t j = 0; j < k; j++) {
		ix->pos[j] = (int32_t)cur[ix->grp[j]];
		ix->member[cur[ix->grp[j]]++] = (int32_t)j;
	}
	free(cur);
	ix->maxg = 0;
	for (size_t g = 0; g < G; g++)
		if (ix->start[g + 1] - ix->start[g] > ix->maxg)
			ix->maxg = ix->start[g + 1] - ix->start[g];
	return 0;
}

/* The centroids c in member order, their norms, and each group's centre,
 * the mean of its members in double (an empty group keeps its centre). */
static int place(vt_cindex *ix, const float *c)
{
	const size_t k = ix->k, d = ix->d, G = ix->G;
	double *mean = malloc(d * sizeof *mean);
	if (!mean)
		return VT_ENOMEM;
	for (size_t q = 0; q < k; q++)
		memcpy(ix->cs + q * d, c + (size_t)ix->member[q] * d, d * sizeof *ix->cs);
	vt_sqnorms(ix->cs, k, d, ix->csn);
	for (size_t g = 0; g < G; g++) {
		size_t lo = ix->start[g], hi = ix->start[g + 1];
		if (hi == lo)
			continue;
		memset(mean, 0, d * sizeof *mean);
		for (size_t q = lo; q < hi; q++)
			for (size_t e = 0; e < d; e++)
				mean[e] += ix->cs[q * d + e];
		for (size_t e = 0; e < d; e++)
			ix->gc[g * d + e] = (float)(mean[e] / (double)(hi - lo));
	}
	vt_sqnorms(ix->gc, G, d, ix->gcn);
	free(mean);
	/* the margins of issue 18's rule (vt_cindex_assign) */
	ix->gmaxu = ix->cmaxu = 0;
	ix->big = 0;
	for (size_t g = 0; g < G; g++) {
		ix->big |= !((double)ix->gcn[g] <= VT_NEAREST_BIG_NORM);
		double v = vt_nearest_norm_up(ix->gcn[g]);
		ix->gmaxu = v > ix->gmaxu ? v : ix->gmaxu;
	}
	for (size_t q = 0; q < k; q++) {
		ix->big |= !((double)ix->csn[q] <= VT_NEAREST_BIG_NORM);
		double v = vt_nearest_norm_up(ix->csn[q]);
		ix->cmaxu = v > ix->cmaxu ? v : ix->cmaxu;
	}
	return 0;
}

int vt_cindex_new(vt_cindex **out, const float *c, size_t k, size_t d, const int32_t *group,
                  size_t groups)
{
	*out = NULL;
	if (k == 0 || d == 0 || k >= (size_t)INT32_MAX || d > (size_t)INT32_MAX || !group)
		return VT_EINVAL;
	if (groups == 0 || groups > VT_CINDEX_MAX_GROUPS)
		return VT_EINVAL;
	for (size_t j = 0; j < k; j++)
		if (group[j] < 0 || (size_t)group[j] >= groups)
			return VT_EINVAL;
	for (size_t i = 0; i < k * d; i++)
		if (!isfinite(c[i]))
			return VT_EDATA;
	const size_t G = groups;
	vt_cindex *ix = calloc(1, sizeof *ix);
	if (!ix)
		return VT_ENOMEM;
	ix->k = k;
	ix->d = d;
	ix->G = G;
	int rc = VT_ENOMEM;
	ix->gc = calloc(G * d, sizeof *ix->gc);
	ix->gcn = malloc(G * sizeof *ix->gcn);
	ix->start = calloc(G + 1, sizeof *ix->start);
	ix->member = malloc(k * sizeof *ix->member);
	ix->grp = malloc(k * sizeof *ix->grp);
	ix->pos = malloc(k * sizeof *ix->pos);
	ix->cs = malloc(k * d * sizeof *ix->cs);
	ix->csn = malloc(k * sizeof *ix->csn);
	if (!ix->gc || !ix->gcn || !ix->start || !ix->member || !ix->grp || !ix->pos || !ix->cs ||
	    !ix->csn)
		goto fail;
	memcpy(ix->grp, group, k * sizeof *ix->grp);
	if ((rc = regroup(ix)) || (rc = place(ix, c)))
		goto fail;
	*out = ix;
	return 0;
fail:
	vt_cindex_free(ix);
	return rc;
}

size_t vt_cindex_groups_for(size_t k, size_t nprobe)
{
	size_t G = 1;
	while (G * G < nprobe * k)
		G++;
	return G < k ? G : k;
}

/* ---- assignment ----
 *
 * Issue 18's rule (nearest.h): both steps decide on the exact distance dd,
 * so the labels depend on no BLAS kernel.  With D the kernel's float
 * distance and e = vt_nearest_margin(d, ||x||, the largest norm), dd lies
 * within e of D.  The coarse step takes the P smallest float distances to
 * the centres; when no other centre is within 2e of the P-th (the common
 * case) they are the P nearest by dd, else dd to the centres within it
 * decides (ties to the lower group).  The fine step takes each probed
 * group's two best float distances; when no centroid but the best is
 * within 2e of it, it is the label, else dd decides among the groups'
 * best, or, when a group holds two within 2e, over every member probed
 * (ties to the lower index).  Rows or centroids of squared norm above
 * VT_NEAREST_BIG_NORM (or not finite) take dd throughout. */

struct job {
	const vt_cindex *ix;
	const float *x;
	size_t b0, nb;          /* this batch: rows b0 .. b0 + nb - 1 */
	size_t P, S;            /* probes, slots per row (P + keep) */
	int keep;
	int32_t *labels;
	float *dists;
	int32_t *probe;         /* nb x S group ids, -1 for an unused slot */
	uint32_t *list;         /* slots by group, rows ascending in a group */
	size_t *lstart;         /* G + 1 */
	size_t *tg, *to, ntask; /* phase 3 tasks: group, offset in its list */
	float *rd, *rd2;        /* nb x S: best and second best distance in each slot */
	int32_t *rl;            /* nb x S: the best's centroid */
	float *xn;              /* nb: the rows' float squared norms */
	double E, A;            /* E(d) and A(d) of nearest.h */
	double *ev;             /* per phase-1 task: distances computed */
	float *scratch;
	size_t stride;
};

/* 1 when no float margin holds for row r of the batch. */
static int special(const struct job *J, size_t r)
{
	return J->ix->big || !((double)J->xn[r] <= VT_NEAREST_BIG_NORM);
}

/* The P groups of the row x (norm^2 x2) nearest by (dd to the centre,
 * group), among the non-empty ones whose float distance is at most thr
 * (all of them when thr is +inf), into pr; dd goes to v (G doubles of
 * scratch).  Returns how many (fewer than P when there are fewer). */
static size_t exact_groups(const vt_cindex *ix, const float *x, const float *D, float thr,
                           size_t P, int32_t *pr, double *v)
{
	size_t np = 0;
	for (size_t g = 0; g < ix->G; g++) {
		if (ix->start[g + 1] == ix->start[g] || !(D == NULL || D[g] <= thr))
			continue;
		double w = vt_nearest_sqdist(x, ix->gc + g * ix->d, ix->d);
		if (np == P && !(w < v[pr[P - 1]]))
			continue;
		size_t q = np < P ? np++ : P - 1;
		while (q > 0 && w < v[pr[q - 1]]) {
			pr[q] = pr[q - 1];
			q--;
		}
		v[g] = w;
		pr[q] = (int32_t)g;
	}
	return np;
}

/* Phase 1: the nearest groups of ROWS rows. */
static void coarse_task(void *arg, size_t t, int worker)
{
	struct job *J = arg;
	const vt_cindex *ix = J->ix;
	const size_t d = ix->d, G = ix->G, P = J->P, S = J->S;
	size_t r0 = t * ROWS, m = J->nb - r0 < ROWS ? J->nb - r0 : ROWS;
	float *ip = J->scratch + (size_t)worker * J->stride;
	double *dv = (double *)(void *)(ip + ROWS * G + ((uintptr_t)(ip + ROWS * G) % 8 ? 1 : 0));
	const float *xb = J->x + (J->b0 + r0) * d;
	vt_sqnorms(xb, m, d, J->xn + r0);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)G, (int)d, -2.0f, xb,
	            (int)d, ix->gc, (int)d, 0.0f, ip, (int)G);
	float bv[VT_CINDEX_MAX_PROBE];
	double ev = 0;
	for (size_t f = 0; f < m; f++) {
		float *v = ip + f * G;
		int32_t *pr = J->probe + (r0 + f) * S;
		const float x2 = J->xn[r0 + f];
		size_t np = 0, ne = 0;
		if (special(J, r0 + f)) {
			np = exact_groups(ix, xb + f * d, NULL, INFINITY, P, pr, dv);
		} else {
			/* the P smallest float distances D, ascending (ties: lower g) */
			for (size_t g = 0; g < G; g++) {
				if (ix->start[g + 1] == ix->start[g])
					continue; /* an empty group has nothing to offer */
				ne++;
				float val = (v[g] + ix->gcn[g]) + x2;
				v[g] = val;
				if (np == P && !(val < bv[P - 1]))
					continue;
				size_t q = np < P ? np++ : P - 1;
				while (q > 0 && val < bv[q - 1]) {
					bv[q] = bv[q - 1];
					pr[q] = pr[q - 1];
					q--;
				}
				bv[q] = val;
				pr[q] = (int32_t)g;
			}
			if (np == P && ne > P) {
				/* certain unless another centre is within 2e of the P-th */
				double w = vt_nearest_norm_up(x2) + ix->gmaxu, e = J->E * w * w + J->A;
				float thr = (float)(((double)bv[P - 1] + 2 * e) * (1 + 0x1p-22));
				thr = (double)thr < ((double)bv[P - 1] + 2 * e) * (1 + 0x1p-22)
				              ? nextafterf(thr, INFINITY)
				              : thr;
				size_t cnt = 0;
				for (size_t g = 0; g < G; g++)
					cnt += ix->start[g + 1] > ix->start[g] && v[g] <= thr;
				if (cnt > P)
					np = exact_groups(ix, xb + f * d, v, thr, P, pr, dv);
			}
		}
		if (np == 0) /* no centre compared (a NaN row): the first group */
			for (size_t g = 0; g < G && np == 0; g++)
				if (ix->start[g + 1] > ix->start[g])
					pr[np++] = (int32_t)g;
		for (size_t s = np; s < S; s++)
			pr[s] = -1;
		if (J->keep) {
			int32_t g = ix->grp[J->labels[J->b0 + r0 + f]], in = 0;
			for (size_t s = 0; s < np; s++)
				in |= pr[s] == g;
			if (!in)
				pr[np] = g;
		}
		ev += (double)G;
		for (size_t s = 0; s < S; s++)
			if (pr[s] >= 0)
				ev += (double)(ix->start[pr[s] + 1] - ix->start[pr[s]]);
	}
	J->ev[t] = ev;
}

/* Phase 3: up to ROWS rows of one group's list against its members. */
static void fine_task(void *arg, size_t t, int worker)
{
	struct job *J = arg;
	const vt_cindex *ix = J->ix;
	const size_t d = ix->d, g = J->tg[t];
	const size_t lo = J->lstart[g] + J->to[t];
	const size_t hi = lo + ROWS < J->lstart[g + 1] ? lo + ROWS : J->lstart[g + 1];
	const size_t m = hi - lo, c0 = ix->start[g], ng = ix->start[g + 1] - c0;
	float *xg = J->scratch + (size_t)worker * J->stride;
	float *dd = xg + ROWS * d, *dd2 = dd + ROWS;
	int32_t *ll = (int32_t *)(void *)(dd2 + ROWS), *ll2 = ll + ROWS;
	float *ks = (float *)(ll2 + ROWS);
	for (size_t f = 0; f < m; f++)
		memcpy(xg + f * d, J->x + (J->b0 + J->list[lo + f] / J->S) * d, d * sizeof *xg);
	vt_assign_serial(xg, m, d, ix->cs + c0 * d, ng, ix->csn + c0, NULL, ll, dd, ll2, dd2, ks);
	for (size_t f = 0; f < m; f++) {
		uint32_t slot = J->list[lo + f];
		/* a row with a NaN compares with nothing: the kernel leaves its
		 * label out of range */
		int ok = ll[f] >= 0 && (size_t)ll[f] < ng;
		J->rd[slot] = ok ? dd[f] : INFINITY;
		J->rd2[slot] = ok ? dd2[f] : INFINITY;
		J->rl[slot] = ix->member[c0 + (ok ? (size_t)ll[f] : 0)];
	}
}

/* The member of least (dd, id) over every group probed for row r. */
static int32_t exact_members(const struct job *J, size_t r, double *dist)
{
	const vt_cindex *ix = J->ix;
	const size_t d = ix->d, S = J->S;
	const float *x = J->x + (J->b0 + r) * d;
	int32_t b = -1;
	double bd = INFINITY;
	for (size_t s = 0; s < S; s++) {
		int32_t g = J->probe[r * S + s];
		if (g < 0)
			continue;
		for (size_t q = ix->start[g]; q < ix->start[g + 1]; q++) {
			double v = vt_nearest_sqdist(x, ix->cs + q * d, d);
			if (b < 0 || v < bd || (v == bd && ix->member[q] < b)) {
				bd = v;
				b = ix->member[q];
			}
		}
	}
	*dist = bd;
	return b;
}

/* Phase 4: each row takes its best slot by (distance, centroid id), and dd
 * decides where the float distances leave a doubt. */
static void pick_task(void *arg, size_t t, int worker)
{
	(void)worker;
	struct job *J = arg;
	const vt_cindex *ix = J->ix;
	const size_t S = J->S, d = ix->d;
	size_t r0 = t * ROWS, r1 = r0 + ROWS < J->nb ? r0 + ROWS : J->nb;
	for (size_t r = r0; r < r1; r++) {
		float best = INFINITY;
		int32_t bl = INT32_MAX;
		for (size_t s = 0; s < S; s++) {
			if (J->probe[r * S + s] < 0)
				continue;
			float v = J->rd[r * S + s];
			int32_t l = J->rl[r * S + s];
			if (bl == INT32_MAX || v < best || (v == best && l < bl)) {
				best = v;
				bl = l;
			}
		}
		double dd;
		if (special(J, r) || !(best < INFINITY)) {
			bl = exact_members(J, r, &dd);
			best = (float)dd;
		} else {
			double w = vt_nearest_norm_up(J->xn[r]) + ix->cmaxu, e = J->E * w * w + J->A;
			double thr = ((double)best + 2 * e) * (1 + 0x1p-22);
			int32_t cand[VT_CINDEX_MAX_PROBE + 1];
			size_t nc = 0;
			int all = 0;
			for (size_t s = 0; s < S && !all; s++) {
				if (J->probe[r * S + s] < 0 || !((double)J->rd[r * S + s] <= thr))
					continue;
				if ((double)J->rd2[r * S + s] <= thr)
					all = 1; /* two of one group within the margin */
				else
					cand[nc++] = J->rl[r * S + s];
			}
			if (all) {
				bl = exact_members(J, r, &dd);
				best = (float)dd;
			} else if (nc > 1) {
				/* dd of the groups' best: the ids name rows of ix->cs by pos */
				const float *x = J->x + (J->b0 + r) * d;
				double bd = INFINITY;
				bl = -1;
				for (size_t q = 0; q < nc; q++) {
					double v = vt_nearest_sqdist(x, ix->cs + (size_t)ix->pos[cand[q]] * d, d);
					if (bl < 0 || v < bd || (v == bd && cand[q] < bl)) {
						bd = v;
						bl = cand[q];
					}
				}
				best = (float)bd;
			}
		}
		J->labels[J->b0 + r] = bl;
		if (J->dists)
			J->dists[J->b0 + r] = best;
	}
}

int vt_cindex_assign(const vt_cindex *ix, vt_pool *pool, const float *x, size_t n,
                     size_t nprobe, int keep, int32_t *labels, float *dists,
                     double *evals)
{
	const size_t d = ix->d, G = ix->G;
	if (evals)
		*evals = 0;
	if (n == 0 || nprobe == 0 || nprobe > VT_CINDEX_MAX_PROBE || nprobe > G || !labels)
		return VT_EINVAL;
	if (keep)
		for (size_t i = 0; i < n; i++)
			if (labels[i] < 0 || (size_t)labels[i] >= ix->k)
				return VT_EINVAL;
	const size_t S = nprobe + (keep ? 1 : 0);
	const size_t T = (size_t)vt_pool_size(pool);
	size_t fine = ROWS * d + 4 * (size_t)ROWS + vt_assign_scratch_floats(ix->maxg);
	size_t coarse = ROWS * G + 2 * G + 2;
	struct job J;
	memset(&J, 0, sizeof J);
	J.ix = ix;
	J.x = x;
	J.P = nprobe;
	J.S = S;
	J.keep = keep;
	J.labels = labels;
	J.dists = dists;
	J.stride = (fine > coarse ? fine : coarse) + 16;
	J.E = vt_nearest_eps(d);
	J.A = vt_nearest_margin(d, 0, 0);
	size_t cap = n < BATCH ? n : BATCH;
	int rc = VT_ENOMEM;
	J.probe = malloc(cap * S * sizeof *J.probe);
	J.list = malloc(cap * S * sizeof *J.list);
	J.lstart = malloc((G + 1) * sizeof *J.lstart);
	J.tg = malloc((G + cap * S / ROWS + 1) * sizeof *J.tg);
	J.to = malloc((G + cap * S / ROWS + 1) * sizeof *J.to);
	J.rd = malloc(cap * S * sizeof *J.rd);
	J.rd2 = malloc(cap * S * sizeof *J.rd2);
	J.rl = malloc(cap * S * sizeof *J.rl);
	J.xn = malloc(cap * sizeof *J.xn);
	J.ev = malloc(((cap + ROWS - 1) / ROWS) * sizeof *J.ev);
	J.scratch = malloc(T * J.stride * sizeof *J.scratch);
	size_t *cur = malloc(G * sizeof *cur);
	if (!J.probe || !J.list || !J.lstart || !J.tg || !J.to || !J.rd || !J.rd2 || !J.rl ||
	    !J.xn || !J.ev || !J.scratch || !cur)
		goto out;
	double ev = 0;
	for (size_t b0 = 0; b0 < n; b0 += BATCH) {
		J.b0 = b0;
		J.nb = n - b0 < BATCH ? n - b0 : BATCH;
		size_t nt = (J.nb + ROWS - 1) / ROWS;
		vt_pool_run(pool, nt, coarse_task, &J);
		for (size_t t = 0; t < nt; t++)
			ev += J.ev[t];
		/* invert the probe lists: slots by group, rows ascending */
		memset(J.lstart, 0, (G + 1) * sizeof *J.lstart);
		for (size_t s = 0; s < J.nb * S; s++)
			if (J.probe[s] >= 0)
				J.lstart[J.probe[s] + 1]++;
		for (size_t g = 0; g < G; g++)
			J.lstart[g + 1] += J.lstart[g];
		memcpy(cur, J.lstart, G * sizeof *cur);
		for (size_t s = 0; s < J.nb * S; s++)
			if (J.probe[s] >= 0)
				J.list[cur[J.probe[s]]++] = (uint32_t)s;
		J.ntask = 0;
		for (size_t g = 0; g < G; g++)
			for (size_t o = 0; J.lstart[g] + o < J.lstart[g + 1]; o += ROWS) {
				J.tg[J.ntask] = g;
				J.to[J.ntask++] = o;
			}
		vt_pool_run(pool, J.ntask, fine_task, &J);
		vt_pool_run(pool, nt, pick_task, &J);
	}
	if (evals)
		*evals = ev;
	rc = 0;
out:
	free(J.probe);
	free(J.list);
	free(J.lstart);
	free(J.tg);
	free(J.to);
	free(J.rd);
	free(J.rd2);
	free(J.rl);
	free(J.xn);
	free(J.ev);
	free(J.scratch);
	free(cur);
	return rc;
}
