/* vtrain: the narrowed refinement of k-means: the grouping of the centroids
 * by a flat k-means over them, and an assignment through a centroid index
 * (cindex.h) built over that grouping.  The index only holds the groups it
 * is given; k-means makes them, in the caller's pool. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "train/cindex.h"
#include "train/kmeans_impl.h"

/* Lloyd updates of a grouping */
#define GROUP_ITERS 10

int vt_kmeans_group_centroids(vt_pool *pool, const float *c, size_t k, size_t d,
                              size_t groups, uint64_t seed, int32_t *group)
{
	if (k == 0 || d == 0 || k >= (size_t)INT32_MAX || d > (size_t)INT32_MAX ||
	    k > SIZE_MAX / sizeof(float) / d || groups == 0 || groups > k || !group)
		return VT_EINVAL;
	for (size_t i = 0; i < k * d; i++)
		if (!isfinite(c[i]))
			return VT_EDATA;
	if (groups == 1) {
		memset(group, 0, k * sizeof *group);
		return 0;
	}
	if (groups == k) {
		for (size_t j = 0; j < k; j++)
			group[j] = (int32_t)j;
		return 0;
	}
	/* a flat run of vt_kmeans with its defaults (k-means++, tol 1e-4,
	 * 64 MiB of bounds), duplicates allowed, GROUP_ITERS updates */
	struct vt_km_prob p;
	float *C = malloc(groups * d * sizeof *C);
	if (!C)
		return VT_ENOMEM;
	int rc = vt_km_prob_init(&p, pool, c, NULL, k, d);
	if (rc) {
		free(C);
		return rc;
	}
	vt_rng r;
	vt_rng_init(&r, seed, VT_KM_RNG_FLAT);
	rc = vt_km_seed_pp(pool, &p, groups, &r, C);
	if (!rc) {
		struct vt_km_lloyd_opts o = {.iters = GROUP_ITERS,
		                             .tol = 1e-4,
		                             .bounds_bytes = (size_t)64 << 20};
		rc = vt_km_lloyd(pool, &p, NULL, groups, C, &o, group, NULL, NULL, NULL, NULL);
	}
	vt_km_prob_release(&p);
	free(C);
	return rc;
}

/* P groups probed of ceil(sqrt(P k)) (vt_cindex_groups_for), the G that
 * makes the G + P k / G distances per row least.  The index is built anew
 * for every pass, so that its groups follow the centroids as they move;
 * the grouping runs in the caller's pool. */
int vt_km_narrow_assign(vt_pool *pool, const float *x, size_t n, size_t d, const float *C,
                        size_t k, size_t P, int keep, uint64_t seed, int32_t *labels,
                        double *work)
{
	const size_t G = vt_cindex_groups_for(k, P);
	if (G > VT_CINDEX_MAX_GROUPS)
		return VT_EINVAL;
	int32_t *group = malloc(k * sizeof *group);
	if (!group)
		return VT_ENOMEM;
	vt_cindex *ix = NULL;
	int rc = vt_kmeans_group_centroids(pool, C, k, d, G, seed, group);
	if (!rc)
		rc = vt_cindex_new(&ix, C, k, d, group, G);
	free(group);
	if (rc)
		return rc;
	if (P > G)
		P = G;
	double ev = 0;
	rc = vt_cindex_assign(ix, pool, x, n, P, keep, labels, NULL, &ev);
	*work = ev / (double)k;
	vt_cindex_free(ix);
	return rc;
}
