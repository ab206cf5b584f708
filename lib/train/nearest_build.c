/* vtrain: the index of train/nearest (see nearest.h): the grouping of the
 * centroids (the caller's, or recursive k-means splits), each group's
 * centre, radius and norms, vt_nearest_new and vt_nearest_free, and the
 * getters and settings.  The structure is in nearest_impl.h; the query
 * that uses it is in nearest_query.c. */
#define _POSIX_C_SOURCE 200809L
#include "train/nearest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/kernel.h"
#include "train/nearest_impl.h"
#include "train/rng.h"

size_t vt_nearest_groups(const vt_nearest *ix)
{
	return ix->G;
}

size_t vt_nearest_bytes(const vt_nearest *ix)
{
	return sizeof *ix + ix->k * (sizeof(float) + sizeof(int32_t)) +
	       (ix->k / NR_COLS + 1) * sizeof(double) + (ix->G + 1) * sizeof(uint32_t) +
	       ix->G * (ix->d * sizeof(float) + 3 * sizeof(float) + 3 * sizeof(double)) +
	       (ix->T ? (ix->T + 1) * sizeof(uint32_t) + ix->T * (ix->d + 3) * sizeof(float) : 0);
}

size_t vt_nearest_supers(const vt_nearest *ix)
{
	return ix->T;
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
	free(ix->sstart);
	free(ix->sm);
	free(ix->smn);
	free(ix->smnuf);
	free(ix->srhof);
	free(ix);
}

/* k-means++'s pick: index i of the n points with probability w[i] / sum w
 * (uniform when the sum is 0), from the rng r. */
static size_t pick_d2(vt_rng *r, const double *w, size_t n)
{
	double tot = 0;
	for (size_t i = 0; i < n; i++)
		tot += w[i];
	if (!(tot > 0))
		return (size_t)vt_rng_below(r, n);
	double u = vt_rng_uniform(r) * tot, acc = 0;
	size_t pick;
	for (pick = 0; pick + 1 < n; pick++)
		if ((acc += w[pick]) > u)
			break;
	return pick;
}

/* One Lloyd update: each of the nb centres cen becomes the mean of the
 * points of x (n x d) labelled with it; an empty one stays.  sum (nb x d)
 * and cnt (nb) are scratch. */
static void lloyd_means(const float *x, size_t n, size_t d, const int32_t *lab, size_t nb,
                        double *sum, size_t *cnt, float *cen)
{
	memset(sum, 0, nb * d * sizeof *sum);
	memset(cnt, 0, nb * sizeof *cnt);
	for (size_t i = 0; i < n; i++) {
		cnt[lab[i]]++;
		for (size_t t = 0; t < d; t++)
			sum[(size_t)lab[i] * d + t] += x[i * d + t];
	}
	for (size_t g = 0; g < nb; g++)
		if (cnt[g])
			for (size_t t = 0; t < d; t++)
				cen[g * d + t] = (float)(sum[g * d + t] / (double)cnt[g]);
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
                       int resplit, uint64_t seed, int32_t *grp, size_t *ng)
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
	for (int pass = 0; pass < 1 + !!resplit; pass++) {
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
			size_t pick = pick_d2(&r, dmin, S);
			memcpy(cen + q * d, xs + pick * d, d * sizeof *cen);
			for (size_t i = 0; i < S; i++) {
				double v = vt_nearest_sqdist(xs + i * d, cen + q * d, d);
				dmin[i] = v < dmin[i] ? v : dmin[i];
			}
		}
		for (int it = 0; it < 6; it++) {
			if ((rc = vt_assign(pool, xs, S, d, cen, nb, NULL, NULL, sl, NULL, NULL, NULL)))
				goto out;
			size_t cnt[SPLIT_MAX];
			lloyd_means(xs, S, d, sl, nb, sum, cnt, cen);
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

/* The super level: the G group centres are grouped again by the same
 * recursive splits (supers of at most SUPER_LEAF groups), the groups are
 * renumbered super by super (so that a super's group centres are
 * contiguous rows of m), and each super s gets a centre M_s (the mean of
 * its groups' centres) and a radius R_s = max ||c - M_s|| over every
 * centroid c of its groups (dd, rounded up as the groups' radii).  The
 * triangle inequality ||x - c|| >= ||x - M_s|| - R_s then bounds every
 * centroid of s at once, with the same rounding margins as a group's.
 * Only large G gets one: below SUPER_MIN_G the centre step is cheap. */
#define SUPER_LEAF 8
#define SUPER_MIN_G 1024
#define SUPER_ITERS 8

/* Flat k-means of the n points x into T clusters (T <= n): k-means++
 * seeds (the rng of `seed`), then SUPER_ITERS Lloyd iterations
 * (vt_assign and means; an empty cluster keeps its centre); lab receives
 * each point's cluster (the seeding's distances are float, vt_sqdists_f:
 * only the speed depends on the grouping).  The supers want one cut at the
 * data's own scale: on the scale data (k = 131,072, 8,387 groups) the
 * recursive splits made supers of 3.5 groups on average (leaf 8) or mixed
 * clusters (leaf 16: 72 % of the rows through them were wide).  Returns 0
 * or VT_ENOMEM. */
static int flat_kmeans(vt_pool *pool, const float *x, size_t n, size_t d, size_t T,
                       uint64_t seed, int32_t *lab)
{
	float *cen = malloc(T * d * sizeof *cen), *dq = malloc(n * sizeof *dq);
	double *sum = malloc(T * d * sizeof *sum), *dmin = malloc(n * sizeof *dmin);
	size_t *cnt = malloc(T * sizeof *cnt);
	int rc = VT_ENOMEM;
	if (!cen || !dq || !dmin || !sum || !cnt)
		goto out;
	vt_rng r;
	vt_rng_init(&r, seed, 0);
	for (size_t q = 0; q < T; q++) {
		size_t pick = q ? pick_d2(&r, dmin, n) : (size_t)vt_rng_below(&r, n);
		float *cq = cen + q * d;
		memcpy(cq, x + pick * d, d * sizeof *cq);
		vt_sqdists_f(cq, x, d, n, dq);
		for (size_t i = 0; i < n; i++)
			dmin[i] = q == 0 || dq[i] < dmin[i] ? dq[i] : dmin[i];
	}
	for (int it = 0; it <= SUPER_ITERS; it++) {
		if ((rc = vt_assign(pool, x, n, d, cen, T, NULL, NULL, lab, NULL, NULL, NULL)))
			goto out;
		if (it == SUPER_ITERS)
			break;
		lloyd_means(x, n, d, lab, T, sum, cnt, cen);
	}
	rc = 0;
out:
	free(cen);
	free(dq);
	free(dmin);
	free(sum);
	free(cnt);
	return rc;
}

static int build_supers(vt_nearest *ix, vt_pool *pool, uint64_t seed)
{
	size_t G = ix->G, d = ix->d, k = ix->k, T0 = 0;
	int rc = VT_ENOMEM;
	int32_t *sg = malloc(G * sizeof *sg), *order = malloc(G * sizeof *order);
	size_t *cnt = NULL;
	int32_t *perm = malloc(k * sizeof *perm);
	uint32_t *gstart = malloc((G + 1) * sizeof *gstart);
	float *m = malloc(G * d * sizeof *m), *mn = malloc(G * sizeof *mn);
	double *mnu = malloc(G * sizeof *mnu), *rho = malloc(G * sizeof *rho);
	double *gmax = malloc(G * sizeof *gmax), *sum = malloc(d * sizeof *sum);
	float *rhof = malloc(G * sizeof *rhof), *mnuf = malloc(G * sizeof *mnuf);
	if (!sg || !order || !perm || !gstart || !m || !mn || !mnu || !rho || !gmax || !sum ||
	    !rhof || !mnuf)
		goto out;
	T0 = (G + SUPER_LEAF - 1) / SUPER_LEAF;
	if ((rc = flat_kmeans(pool, ix->m, G, d, T0, seed ^ 0x9e3779b97f4a7c15u, sg)))
		goto out;
	rc = VT_ENOMEM;
	cnt = calloc(T0 + 1, sizeof *cnt);
	if (!cnt)
		goto out;
	for (size_t g = 0; g < G; g++)
		cnt[sg[g] + 1]++;
	size_t T = 0;
	for (size_t s = 0; s < T0; s++)
		T += cnt[s + 1] > 0;
	ix->sstart = malloc((T + 1) * sizeof *ix->sstart);
	ix->sm = malloc(T * d * sizeof *ix->sm);
	ix->smn = malloc(T * sizeof *ix->smn);
	ix->smnuf = malloc(T * sizeof *ix->smnuf);
	ix->srhof = malloc(T * sizeof *ix->srhof);
	if (!ix->sstart || !ix->sm || !ix->smn || !ix->smnuf || !ix->srhof)
		goto out;
	for (size_t s = 0; s < T0; s++)
		cnt[s + 1] += cnt[s];
	{
		size_t t = 0;
		for (size_t s = 0; s < T0; s++)
			if (cnt[s + 1] > cnt[s])
				ix->sstart[t++] = (uint32_t)cnt[s];
		ix->sstart[T] = (uint32_t)G;
	}
	for (size_t g = 0; g < G; g++)
		order[cnt[sg[g]]++] = (int32_t)g; /* new group number -> old */
	/* the groups' arrays in the new order */
	uint32_t pos = 0;
	for (size_t q = 0; q < G; q++) {
		size_t g = (size_t)order[q];
		uint32_t a = ix->gstart[g], b = ix->gstart[g + 1];
		gstart[q] = pos;
		memcpy(perm + pos, ix->perm + a, (b - a) * sizeof *perm);
		pos += b - a;
		memcpy(m + q * d, ix->m + g * d, d * sizeof *m);
		mn[q] = ix->mn[g], mnu[q] = ix->mnu[g], rho[q] = ix->rho[g];
		gmax[q] = ix->gmax[g], rhof[q] = ix->rhof[g], mnuf[q] = ix->mnuf[g];
	}
	gstart[G] = pos;
#define SWAP_IN(f, v) do { free(ix->f); ix->f = v; v = NULL; } while (0)
	SWAP_IN(perm, perm);
	SWAP_IN(gstart, gstart);
	SWAP_IN(m, m);
	SWAP_IN(mn, mn);
	SWAP_IN(mnu, mnu);
	SWAP_IN(rho, rho);
	SWAP_IN(gmax, gmax);
	SWAP_IN(rhof, rhof);
	SWAP_IN(mnuf, mnuf);
#undef SWAP_IN
	for (size_t s = 0; s < T; s++) {
		uint32_t a = ix->sstart[s], b = ix->sstart[s + 1];
		memset(sum, 0, d * sizeof *sum);
		for (uint32_t g = a; g < b; g++)
			for (size_t t = 0; t < d; t++)
				sum[t] += ix->m[(size_t)g * d + t];
		float *ms = ix->sm + s * d;
		for (size_t t = 0; t < d; t++)
			ms[t] = (float)(sum[t] / (double)(b - a));
		double r = 0;
		for (uint32_t p = ix->gstart[a]; p < ix->gstart[b]; p++) {
			double v = vt_nearest_sqdist(ix->c + (size_t)ix->perm[p] * d, ms, d);
			r = v > r ? v : r;
		}
		ix->srhof[s] = float_up(sqrt(r * (1 + ((double)d + 4) * 0x1p-50)) * (1 + 0x1p-50));
	}
	vt_sqnorms(ix->sm, T, d, ix->smn);
	for (size_t s = 0; s < T; s++)
		ix->smnuf[s] = float_up(norm_up(ix->smn[s]));
	ix->T = T;
	rc = 0;
out:
	free(sg);
	free(order);
	free(cnt);
	free(perm);
	free(gstart);
	free(m);
	free(mn);
	free(mnu);
	free(rho);
	free(gmax);
	free(sum);
	free(rhof);
	free(mnuf);
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
	if ((rc = vt_nn_centroid_norms(c, k, d, ix->cn, ix->bmax)))
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
		if ((rc = make_groups(pool, c, k, d, leaf ? leaf : 1, 1, seed, grp, &G0)))
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
	if (G >= SUPER_MIN_G && (rc = build_supers(ix, pool, seed)))
		goto fail;
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
