#define _POSIX_C_SOURCE 200809L
#include "train/coreset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/kmeans.h"
#include "train/pool.h"
#include "train/rng.h"

void vt_coreset_params_default(vt_coreset_params *p)
{
	p->seed = 0;
	p->threads = 0;
	p->iters = 10;
	p->tol = 1e-4;
}

/* A point to place in id order: its id, then its group or row as the tie
 * break. */
struct key {
	uint64_t id;
	size_t at;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key *p = a, *q = b;
	if (p->id != q->id)
		return p->id < q->id ? -1 : 1;
	return p->at < q->at ? -1 : p->at > q->at;
}

/* Group labelled points into a coreset.  The rows are visited group by
 * group (a stable counting sort of their indices by label), so that each
 * group's weighted sum needs one row of doubles and its mean goes straight
 * into cx at the group's slot; the groups with members are then moved to
 * the front and put in id order in place.  Each sum, weight and loss adds
 * its rows in increasing index, as a pass over the rows in order would. */
int vt_coreset_from_labels(const float *x, size_t n, size_t d, const double *w,
                           const double *lloss, const uint64_t *ids,
                           const int32_t *labels, size_t k, float *cx, double *cw,
                           double *cl, uint64_t *cid, size_t *m)
{
	*m = 0;
	if (n == 0 || d == 0 || k == 0 || k > (size_t)INT32_MAX)
		return VT_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (labels[i] < 0 || (size_t)labels[i] >= k)
			return VT_EINVAL;
	if (k > SIZE_MAX / sizeof(double) / d)
		return VT_ENOMEM;
	int rc = VT_ENOMEM;
	double *W = malloc(k * sizeof *W), *L = malloc(k * sizeof *L);
	double *S = malloc(d * sizeof *S);
	size_t *start = calloc(k + 1, sizeof *start), *order = malloc(n * sizeof *order);
	uint64_t *mid = malloc(k * sizeof *mid);
	struct key *keys = malloc(k * sizeof *keys);
	float *tmp = malloc(d * sizeof *tmp);
	unsigned char *done = calloc(k, 1);
	if (!W || !L || !S || !start || !order || !mid || !keys || !tmp || !done)
		goto out;
	for (size_t i = 0; i < n; i++)
		start[(size_t)labels[i] + 1]++;
	for (size_t j = 0; j < k; j++)
		start[j + 1] += start[j];
	for (size_t i = 0; i < n; i++)
		order[start[labels[i]]++] = i;
	for (size_t j = k; j > 0; j--)
		start[j] = start[j - 1];
	start[0] = 0;
	/* each group with members: weight, smallest id, weighted mean (the
	 * plain mean for a group of weight 0) and loss about the rounded mean,
	 * in slot nk, nk <= j */
	size_t nk = 0;
	for (size_t j = 0; j < k; j++) {
		size_t b = start[j], e = start[j + 1];
		if (b == e)
			continue;
		double Wj = 0;
		uint64_t mj = 0;
		memset(S, 0, d * sizeof *S);
		for (size_t p = b; p < e; p++) {
			size_t i = order[p];
			double wi = w ? w[i] : 1.0;
			uint64_t id = ids ? ids[i] : (uint64_t)i;
			const float *xi = x + i * d;
			for (size_t t = 0; t < d; t++)
				S[t] += wi * xi[t];
			Wj += wi;
			if (p == b || id < mj)
				mj = id;
		}
		if (!(Wj > 0))
			for (size_t p = b; p < e; p++)
				for (size_t t = 0; t < d; t++)
					S[t] += x[order[p] * d + t];
		double den = Wj > 0 ? Wj : (double)(e - b);
		float *c = cx + nk * d;
		for (size_t t = 0; t < d; t++)
			c[t] = (float)(S[t] / den);
		double Lj = 0;
		for (size_t p = b; p < e; p++) {
			size_t i = order[p];
			const float *xi = x + i * d;
			double s2 = 0;
			for (size_t t = 0; t < d; t++) {
				double df = (double)xi[t] - c[t];
				s2 += df * df;
			}
			Lj += (lloss ? lloss[i] : 0.0) + (w ? w[i] : 1.0) * s2;
		}
		W[nk] = Wj;
		L[nk] = Lj;
		mid[nk] = mj;
		keys[nk] = (struct key){mj, nk};
		nk++;
	}
	/* ties of the smallest id break by the label, as the slots are in
	 * label order */
	qsort(keys, nk, sizeof *keys, key_cmp);
	/* row p of the output is slot keys[p].at: a permutation of the nk
	 * slots, applied in place cycle by cycle */
	for (size_t p0 = 0; p0 < nk; p0++) {
		if (done[p0])
			continue;
		memcpy(tmp, cx + p0 * d, d * sizeof *tmp);
		size_t p = p0;
		for (;;) {
			done[p] = 1;
			size_t q = keys[p].at;
			if (q == p0) {
				memcpy(cx + p * d, tmp, d * sizeof *tmp);
				break;
			}
			memcpy(cx + p * d, cx + q * d, d * sizeof *cx);
			p = q;
		}
	}
	for (size_t p = 0; p < nk; p++) {
		size_t j = keys[p].at;
		if (cw)
			cw[p] = W[j];
		if (cl)
			cl[p] = L[j];
		if (cid)
			cid[p] = mid[j];
	}
	*m = nk;
	rc = 0;
out:
	free(W), free(L), free(S), free(start), free(order), free(mid), free(keys), free(tmp);
	free(done);
	return rc;
}

/* n <= target: the points themselves, in id order. */
static int copy_sorted(const float *x, size_t n, size_t d, const double *w,
                       const double *lloss, const uint64_t *ids, float *cx, double *cw,
                       double *cl, uint64_t *cid, size_t *m)
{
	struct key *keys = malloc(n * sizeof *keys);
	if (!keys)
		return VT_ENOMEM;
	for (size_t i = 0; i < n; i++)
		keys[i] = (struct key){ids ? ids[i] : (uint64_t)i, i};
	qsort(keys, n, sizeof *keys, key_cmp);
	for (size_t p = 0; p < n; p++) {
		size_t i = keys[p].at;
		memcpy(cx + p * d, x + i * d, d * sizeof *cx);
		if (cw)
			cw[p] = w ? w[i] : 1.0;
		if (cl)
			cl[p] = lloss ? lloss[i] : 0.0;
		if (cid)
			cid[p] = keys[p].id;
	}
	*m = n;
	free(keys);
	return 0;
}

/* Flat weighted k-means of n points into k <= n groups: labels. */
static int flat_labels(const float *x, size_t n, size_t d, const double *w,
                       const double *lloss, size_t k, const vt_coreset_params *params,
                       uint64_t seed, int32_t *labels)
{
	vt_kmeans *km;
	int rc = vt_kmeans_new(&km, k);
	if (rc < 0)
		return rc;
	vt_kmeans_set_seed(km, seed);
	vt_kmeans_set_threads(km, params->threads);
	vt_kmeans_set_mode(km, VT_KMEANS_FLAT);
	vt_kmeans_set_allow_duplicates(km, 1);
	/* Bounds of at most a quarter of the rows' bytes, so that the chunk, not
	 * the bounds, sets vcoreset's memory. */
	size_t bb = n * d * sizeof(float) / 4;
	vt_kmeans_set_bounds_bytes(km, bb < VT_CORESET_BOUNDS_MAX ? (bb < 1024 ? 1024 : bb)
	                                                          : VT_CORESET_BOUNDS_MAX);
	if ((rc = vt_kmeans_set_iters(km, params->iters)) == 0 &&
	    (rc = vt_kmeans_set_tol(km, params->tol)) == 0) {
		/* a total weight of 0 is no error here: group unweighted */
		double W = 0;
		for (size_t i = 0; w && i < n; i++)
			W += w[i];
		rc = vt_kmeans_run(km, x, n, d, w && W > 0 ? w : NULL, lloss, labels);
	}
	vt_kmeans_free(km);
	return rc;
}

/* Above VT_CORESET_TWO_LEVEL (64) targets, two levels: g ~ sqrt(target)
 * groups by flat k-means, then each group into its share of the target (in
 * proportion to its weight) by flat k-means over its points alone, so that
 * no point is ever compared with all the target's centroids. */

/* Shares of target among g groups of weights W and sizes cnt: in
 * proportion to the weights (largest remainders first, lowest index on
 * ties), at least 1 for a group with members, at most its size.  Returns
 * the sum. */
static size_t shares(const double *W, const size_t *cnt, size_t g, size_t target, size_t *q)
{
	double tot = 0;
	size_t nz = 0, sum = 0;
	for (size_t j = 0; j < g; j++)
		if (cnt[j])
			tot += W[j] > 0 ? W[j] : 0, nz++;
	for (size_t j = 0; j < g; j++) {
		q[j] = 0;
		if (!cnt[j])
			continue;
		double want = tot > 0 ? (double)target * (W[j] > 0 ? W[j] : 0) / tot
		                      : (double)target / (double)nz;
		size_t v = (size_t)want;
		v = v < 1 ? 1 : v > cnt[j] ? cnt[j] : v;
		q[j] = v;
		sum += v;
	}
	/* hand out what is left one at a time to the groups with room, the
	 * heaviest per point given first; take back from the largest shares
	 * if the minimum of 1 went over */
	while (sum < target) {
		size_t b = SIZE_MAX;
		for (size_t j = 0; j < g; j++)
			if (q[j] < cnt[j] && (b == SIZE_MAX || W[j] * (double)q[b] > W[b] * (double)q[j]))
				b = j;
		if (b == SIZE_MAX)
			break;
		q[b]++, sum++;
	}
	while (sum > target) {
		size_t b = SIZE_MAX;
		for (size_t j = 0; j < g; j++)
			if (q[j] > 1 && (b == SIZE_MAX || q[j] > q[b]))
				b = j;
		if (b == SIZE_MAX)
			break;
		q[b]--, sum--;
	}
	return sum;
}

/* The second level: one task per group, each with its worker's buffers. */
struct level2 {
	const float *x;
	const double *w, *lloss;
	size_t d;
	const vt_coreset_params *params;
	const size_t *cnt, *q, *start, *order, *first; /* first: the group's first leaf */
	size_t big;
	float *gx;
	double *gw, *gl;
	int32_t *glab;
	int32_t *labels;
	int *rc;
};

static void level2_task(void *arg, size_t j, int worker)
{
	struct level2 *L = arg;
	size_t c = L->cnt[j], d = L->d, b = (size_t)worker * L->big;
	const size_t *o = L->order + L->start[j];
	int32_t first = (int32_t)L->first[j];
	if (!c)
		return;
	if (L->q[j] >= c) {
		for (size_t t = 0; t < c; t++)
			L->labels[o[t]] = first + (int32_t)t;
		return;
	}
	float *gx = L->gx + b * d;
	double *gw = L->gw ? L->gw + b : NULL, *gl = L->gl ? L->gl + b : NULL;
	int32_t *glab = L->glab + b;
	for (size_t t = 0; t < c; t++) {
		memcpy(gx + t * d, L->x + o[t] * d, d * sizeof *gx);
		if (gw)
			gw[t] = L->w[o[t]];
		if (gl)
			gl[t] = L->lloss[o[t]];
	}
	vt_coreset_params one = *L->params;
	one.threads = 1;
	vt_rng r;
	vt_rng_init(&r, L->params->seed, 1 + (uint64_t)j);
	L->rc[j] = flat_labels(gx, c, d, gw, gl, L->q[j], &one, vt_rng_u64(&r), glab);
	for (size_t t = 0; t < c && !L->rc[j]; t++)
		L->labels[o[t]] = first + glab[t];
}

static int two_level_labels(const float *x, size_t n, size_t d, const double *w,
                            const double *lloss, size_t target,
                            const vt_coreset_params *params, int32_t *labels, size_t *nl)
{
	size_t g = 1;
	while (g * g < target)
		g++;
	int rc = flat_labels(x, n, d, w, lloss, g, params, params->seed, labels);
	if (rc)
		return rc;
	vt_pool *pool = NULL;
	if ((rc = vt_pool_new(&pool, params->threads)) < 0)
		return rc;
	size_t T = (size_t)vt_pool_size(pool);
	rc = VT_ENOMEM;
	size_t *cnt = calloc(g, sizeof *cnt), *q = malloc(g * sizeof *q);
	size_t *start = malloc((g + 1) * sizeof *start), *order = malloc(n * sizeof *order);
	size_t *first = malloc(g * sizeof *first);
	double *W = calloc(g, sizeof *W);
	int *rcs = calloc(g, sizeof *rcs);
	struct level2 L = {0};
	if (!cnt || !q || !start || !order || !first || !W || !rcs)
		goto out;
	for (size_t i = 0; i < n; i++) {
		cnt[labels[i]]++;
		W[labels[i]] += w ? w[i] : 1.0;
	}
	start[0] = 0;
	size_t big = 0;
	for (size_t j = 0; j < g; j++) {
		start[j + 1] = start[j] + cnt[j];
		big = cnt[j] > big ? cnt[j] : big;
	}
	for (size_t i = 0; i < n; i++)
		order[start[labels[i]]++] = i;
	for (size_t j = g; j > 0; j--)
		start[j] = start[j - 1];
	start[0] = 0;
	shares(W, cnt, g, target, q);
	size_t leaves = 0;
	for (size_t j = 0; j < g; j++) {
		first[j] = leaves;
		leaves += cnt[j] ? (q[j] < cnt[j] ? q[j] : cnt[j]) : 0;
	}
	L = (struct level2){x, w, lloss, d, params, cnt, q, start, order, first, big,
	                    malloc(T * big * d * sizeof *L.gx), w ? malloc(T * big * sizeof *L.gw) : NULL,
	                    lloss ? malloc(T * big * sizeof *L.gl) : NULL,
	                    malloc(T * big * sizeof *L.glab), labels, rcs};
	if (!L.gx || (w && !L.gw) || (lloss && !L.gl) || !L.glab)
		goto out;
	vt_pool_run(pool, g, level2_task, &L);
	rc = 0;
	for (size_t j = 0; j < g && !rc; j++)
		rc = rcs[j];
	*nl = leaves;
out:
	free(cnt), free(q), free(start), free(order), free(first), free(W), free(rcs);
	free(L.gx), free(L.gw), free(L.gl), free(L.glab);
	vt_pool_free(pool);
	return rc;
}

int vt_coreset_reduce(const float *x, size_t n, size_t d, const double *w,
                      const double *lloss, const uint64_t *ids, size_t target,
                      const vt_coreset_params *params, float *cx, double *cw,
                      double *cl, uint64_t *cid, size_t *m)
{
	*m = 0;
	if (n == 0 || d == 0 || target == 0 || target > (size_t)INT32_MAX)
		return VT_EINVAL;
	vt_coreset_params def;
	if (!params) {
		vt_coreset_params_default(&def);
		params = &def;
	}
	for (size_t i = 0; i < n; i++)
		if ((w && !(w[i] >= 0 && w[i] < INFINITY)) ||
		    (lloss && !(lloss[i] >= 0 && lloss[i] < INFINITY)))
			return VT_EDATA;
	if (n <= target)
		return copy_sorted(x, n, d, w, lloss, ids, cx, cw, cl, cid, m);
	int32_t *labels = malloc(n * sizeof *labels);
	if (!labels)
		return VT_ENOMEM;
	size_t nl = target;
	int rc = target > VT_CORESET_TWO_LEVEL
	             ? two_level_labels(x, n, d, w, lloss, target, params, labels, &nl)
	             : flat_labels(x, n, d, w, lloss, target, params, params->seed, labels);
	if (rc == 0)
		rc = vt_coreset_from_labels(x, n, d, w, lloss, ids, labels, nl, cx, cw, cl, cid, m);
	free(labels);
	return rc;
}

unsigned long long vt_coreset_peak_bytes(unsigned long long C, unsigned long long d,
                                         unsigned long long k, unsigned long long T)
{
	unsigned long long g = k;
	if (k > VT_CORESET_TWO_LEVEL)
		for (g = 1; g * g < k; g++)
			;
	const unsigned long long cap = VT_CORESET_BOUNDS_MAX;
	unsigned long long lb = 4 * C * g < cap ? 4 * C * g : cap;
	if (lb > C * d)   /* capped at a quarter of the chunk */
		lb = C * d;
	unsigned long long grp =
		k > VT_CORESET_TWO_LEVEL ? T * (2 * C / g) * (4 * d + 4 * k / g + 96) : 0;
	return C * (4 * d + 96) + lb + grp + 24 * k * d + T * (8ULL << 20) + (8ULL << 20);
}

unsigned long long vt_coreset_chunk_points(unsigned long long budget, unsigned long long r,
                                           unsigned long long total)
{
	if (total == 0)
		return 1;
	return budget * (r < total ? r : total) / total;
}

unsigned long long vt_coreset_chunk_for_mem(unsigned long long mem, unsigned long long d,
                                            unsigned long long budget,
                                            unsigned long long total, unsigned long long T)
{
	/* the peak grows with C: bisect for the largest C that fits */
	unsigned long long lo = 0, hi = mem / (4 * d + 96) + 1;
	while (lo + 1 < hi) {
		unsigned long long mid = lo + (hi - lo) / 2;
		if (vt_coreset_peak_bytes(mid, d, vt_coreset_chunk_points(budget, mid, total), T) <=
		    mem)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}
