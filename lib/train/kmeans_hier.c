/* vtrain: the hierarchical build of k-means (see kmeans.h): a heap of
 * leaves, the one with the highest loss split first by a flat sub-k-means
 * into up to hier_k children, which share out the leaf's remaining count
 * of centroids in proportion to their weight. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/kmeans_impl.h"

struct leaf {
	size_t lo, hi;     /* range of perm */
	size_t quota;      /* centroids this leaf must still become */
	double loss, weight;
	int dead;          /* cannot be split (one distinct point) */
};

struct hier {
	vt_kmeans *km;
	vt_pool *pool;
	const float *x;
	const double *w;
	size_t n, d, k;
	size_t *perm, *perm2;
	struct leaf *leaves;
	float *LC;         /* k x d leaf centroids */
	size_t nleaves;
	size_t *heap, nheap;
	float *buf, *cC;
	double *wbuf, *cw, *cl;
	int32_t *lab;
	size_t *cnt, *remap;
	uint64_t nsplit;
};

static int leaf_before(const struct hier *H, size_t a, size_t b)
{
	const struct leaf *A = &H->leaves[a], *B = &H->leaves[b];
	if (A->loss != B->loss)
		return A->loss > B->loss;
	return a < b;
}

static void heap_push(struct hier *H, size_t v)
{
	size_t i = H->nheap++;
	H->heap[i] = v;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!leaf_before(H, H->heap[i], H->heap[up]))
			break;
		size_t t = H->heap[i];
		H->heap[i] = H->heap[up];
		H->heap[up] = t;
		i = up;
	}
}

static size_t heap_pop(struct hier *H)
{
	size_t top = H->heap[0];
	H->heap[0] = H->heap[--H->nheap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, b = i;
		if (l < H->nheap && leaf_before(H, H->heap[l], H->heap[b]))
			b = l;
		if (r < H->nheap && leaf_before(H, H->heap[r], H->heap[b]))
			b = r;
		if (b == i)
			break;
		size_t t = H->heap[i];
		H->heap[i] = H->heap[b];
		H->heap[b] = t;
		i = b;
	}
	return top;
}

/* Split leaf li into at most kk children by a flat sub-k-means.  The first
 * child replaces the leaf, the others are appended.  *made receives the
 * number of children (1: the leaf could not be split).  Children get quota
 * 1; the caller shares out quotas. */
static int split_leaf(struct hier *H, size_t li, size_t kk, size_t *first_new, size_t *made)
{
	vt_kmeans *km = H->km;
	const size_t d = H->d;
	struct leaf *lf = &H->leaves[li];
	size_t lo = lf->lo, nl = lf->hi - lf->lo;
	*made = 1;
	*first_new = H->nleaves;
	for (size_t q = 0; q < nl; q++) {
		size_t i = H->perm[lo + q];
		memcpy(H->buf + q * d, H->x + i * d, d * sizeof *H->buf);
		if (H->w)
			H->wbuf[q] = H->w[i];
	}
	const double *wb = H->w ? H->wbuf : NULL;
	long long dc = vt_km_count_distinct(H->buf, nl, d, wb, kk);
	if (dc < 0)
		return (int)dc;
	if ((size_t)dc < kk)
		kk = (size_t)dc;
	if (kk < 2) {
		lf->dead = 1;
		return 0;
	}
	struct vt_km_prob sp;
	int rc = vt_km_prob_init(&sp, H->pool, H->buf, wb, nl, d);
	if (rc)
		return rc;
	vt_rng r;
	vt_rng_init(&r, km->seed, VT_KM_RNG_SPLIT + H->nsplit++);
	rc = vt_km_seed_pp(H->pool, &sp, kk, &r, H->cC);
	if (!rc) {
		struct vt_km_lloyd_opts o = vt_km_lloyd_opts_of(km, km->split_iters);
		o.ties = km->ties;
		rc = vt_km_lloyd(H->pool, &sp, NULL, kk, H->cC, &o, H->lab, H->cw, H->cl, NULL,
		                 NULL);
	}
	vt_km_prob_release(&sp);
	if (rc)
		return rc;
	/* drop empty children, keep the order */
	memset(H->cnt, 0, kk * sizeof *H->cnt);
	for (size_t q = 0; q < nl; q++)
		H->cnt[H->lab[q]]++;
	size_t c = 0;
	for (size_t j = 0; j < kk; j++)
		H->remap[j] = H->cnt[j] ? c++ : SIZE_MAX;
	if (c < 2) {
		lf->dead = 1;
		return 0;
	}
	/* stable reorder of the leaf's range by child */
	size_t *off = H->remap + kk; /* c + 1 offsets */
	memset(off, 0, (c + 1) * sizeof *off);
	for (size_t j = 0; j < kk; j++)
		if (H->remap[j] != SIZE_MAX)
			off[H->remap[j] + 1] = H->cnt[j];
	for (size_t j = 0; j < c; j++)
		off[j + 1] += off[j];
	size_t *cur = H->cnt; /* reuse as cursors */
	for (size_t j = 0; j < c; j++)
		cur[j] = off[j];
	for (size_t q = 0; q < nl; q++)
		H->perm2[lo + cur[H->remap[H->lab[q]]]++] = H->perm[lo + q];
	memcpy(H->perm + lo, H->perm2 + lo, nl * sizeof *H->perm);
	size_t cj = 0;
	for (size_t j = 0; j < kk; j++) {
		if (H->remap[j] == SIZE_MAX)
			continue;
		size_t dst = cj == 0 ? li : H->nleaves++;
		struct leaf *nlf = &H->leaves[dst];
		nlf->lo = lo + off[cj];
		nlf->hi = lo + off[cj + 1];
		nlf->quota = 1;
		nlf->loss = H->cl[j];
		nlf->weight = H->cw[j];
		nlf->dead = 0;
		memcpy(H->LC + dst * d, H->cC + j * d, d * sizeof *H->LC);
		cj++;
	}
	*made = c;
	return 0;
}

/* Share q centroids among the children (leaf ids ids[0..c-1]) in
 * proportion to weight: 1 each, then the rest by largest remainder; a
 * child never gets more than its number of points (the excess is returned
 * as spare). */
static size_t share_quota(struct hier *H, const size_t *ids, size_t c, size_t q)
{
	double W = 0;
	for (size_t j = 0; j < c; j++)
		W += H->leaves[ids[j]].weight;
	size_t R = q - c, given = 0, spare = 0;
	double *frac = (double *)H->cl; /* scratch of >= hier_k doubles */
	for (size_t j = 0; j < c; j++) {
		double ideal = W > 0 ? (double)R * H->leaves[ids[j]].weight / W : 0;
		size_t f = (size_t)floor(ideal);
		H->leaves[ids[j]].quota = 1 + f;
		frac[j] = ideal - (double)f;
		given += f;
	}
	while (given < R) {
		size_t b = 0;
		for (size_t j = 1; j < c; j++)
			if (frac[j] > frac[b])
				b = j;
		H->leaves[ids[b]].quota++;
		frac[b] = -1;
		given++;
	}
	for (size_t j = 0; j < c; j++) {
		struct leaf *lf = &H->leaves[ids[j]];
		size_t np = lf->hi - lf->lo;
		if (lf->quota > np) {
			spare += lf->quota - np;
			lf->quota = np;
		}
	}
	return spare;
}

int vt_km_hier_build(vt_kmeans *km, vt_pool *pool, const float *x, const double *w,
                     size_t n, size_t d, float *C, int32_t *labels)
{
	const size_t k = km->k, hk = km->hier_k < k ? km->hier_k : k;
	struct hier H;
	memset(&H, 0, sizeof H);
	H.km = km;
	H.pool = pool;
	H.x = x;
	H.w = w;
	H.n = n;
	H.d = d;
	H.k = k;
	int rc = VT_ENOMEM;
	H.perm = malloc(n * sizeof *H.perm);
	H.perm2 = malloc(n * sizeof *H.perm2);
	H.leaves = calloc(k, sizeof *H.leaves);
	H.LC = malloc(k * d * sizeof *H.LC);
	H.heap = malloc(k * sizeof *H.heap);
	H.buf = malloc(n * d * sizeof *H.buf);
	H.wbuf = w ? malloc(n * sizeof *H.wbuf) : NULL;
	H.cC = malloc(hk * d * sizeof *H.cC);
	H.cw = malloc(hk * sizeof *H.cw);
	H.cl = malloc(hk * sizeof *H.cl);
	H.lab = malloc(n * sizeof *H.lab);
	H.cnt = malloc(hk * sizeof *H.cnt);
	H.remap = malloc((2 * hk + 1) * sizeof *H.remap);
	size_t *ids = malloc(hk * sizeof *ids);
	if (!H.perm || !H.perm2 || !H.leaves || !H.LC || !H.heap || !H.buf ||
	    (w && !H.wbuf) || !H.cC || !H.cw || !H.cl || !H.lab || !H.cnt || !H.remap || !ids)
		goto out;
	for (size_t i = 0; i < n; i++)
		H.perm[i] = i;
	/* the root: all points, the weighted mean */
	{
		double *mean = calloc(d, sizeof *mean), W = 0;
		if (!mean)
			goto out;
		for (size_t i = 0; i < n; i++) {
			double wi = w ? w[i] : 1.0;
			for (size_t e = 0; e < d; e++)
				mean[e] += wi * x[i * d + e];
			W += wi;
		}
		for (size_t e = 0; e < d; e++)
			H.LC[e] = (float)(mean[e] / W);
		free(mean);
		H.leaves[0] = (struct leaf){0, n, k, INFINITY, W, 0};
		H.nleaves = 1;
	}
	size_t spare = 0;
	if (k > 1)
		heap_push(&H, 0);
	while (H.nheap) {
		size_t li = heap_pop(&H);
		size_t q = H.leaves[li].quota, first, made;
		if ((rc = split_leaf(&H, li, q < hk ? q : hk, &first, &made)))
			goto out;
		if (made < 2) {
			spare += q - 1;
			continue;
		}
		ids[0] = li;
		for (size_t j = 1; j < made; j++)
			ids[j] = first + j - 1;
		spare += share_quota(&H, ids, made, q);
		for (size_t j = 0; j < made; j++)
			if (H.leaves[ids[j]].quota > 1)
				heap_push(&H, ids[j]);
	}
	/* centroids left over (leaves with too few distinct points): split the
	 * leaves with the highest loss further */
	while (spare > 0) {
		size_t b = SIZE_MAX;
		for (size_t j = 0; j < H.nleaves; j++) {
			const struct leaf *lf = &H.leaves[j];
			if (lf->dead || lf->hi - lf->lo < 2 || !(lf->loss > 0))
				continue;
			if (b == SIZE_MAX || lf->loss > H.leaves[b].loss)
				b = j;
		}
		if (b == SIZE_MAX)
			break;
		size_t want = spare + 1 < hk ? spare + 1 : hk, first, made;
		if ((rc = split_leaf(&H, b, want, &first, &made)))
			goto out;
		if (made >= 2)
			spare -= made - 1;
	}
	memcpy(C, H.LC, H.nleaves * d * sizeof *C);
	if (labels)
		for (size_t j = 0; j < H.nleaves; j++)
			for (size_t q = H.leaves[j].lo; q < H.leaves[j].hi; q++)
				labels[H.perm[q]] = (int32_t)j;
	/* still short (only with duplicates allowed): copies of the heaviest
	 * leaf, which the Lloyd loop then splits as empty clusters */
	for (size_t j = H.nleaves; j < k; j++) {
		size_t b = 0;
		for (size_t q = 1; q < H.nleaves; q++)
			if (H.leaves[q].weight > H.leaves[b].weight)
				b = q;
		memcpy(C + j * d, H.LC + b * d, d * sizeof *C);
	}
	rc = 0;
out:
	free(H.perm);
	free(H.perm2);
	free(H.leaves);
	free(H.LC);
	free(H.heap);
	free(H.buf);
	free(H.wbuf);
	free(H.cC);
	free(H.cw);
	free(H.cl);
	free(H.lab);
	free(H.cnt);
	free(H.remap);
	free(ids);
	return rc;
}
