/* bench_probe: how often the narrowed assignment (lib/train/cindex) agrees
 * with the brute force over all centroids, and what it costs in loss.
 *
 *   bench_probe [-g GROUPS] CENTROIDS VECTORS [PROBE...]
 *
 * The index groups the centroids as a narrowed refinement does
 * (vt_kmeans_group_centroids with seed 1; -g 0 or none: ceil(sqrt k)
 * groups).  CENTROIDS is a centroids stream, VECTORS any vector input that vcat
 * reads (give it a subsample: the brute force compares every row with all
 * k centroids).  For each PROBE (default 1 2 4 8 16) it prints the share
 * of rows whose narrowed label is the brute-force label, the ratio of the
 * narrowed loss to the exact one, the distances computed per row, and the
 * times.  Built by CMake into build/bench/.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "error.h"
#include "bridge/model.h"
#include "train/cindex.h"
#include "train/kernel.h"
#include "train/kmeans.h"
#include "train/pool.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_probe: %s: %s\n", what, vt_strerror(rc));
	exit(1);
}

int main(int argc, char **argv)
{
	size_t groups = 0;
	if (argc > 2 && argv[1][0] == '-' && argv[1][1] == 'g') {
		groups = (size_t)atol(argv[2]);
		argv += 2;
		argc -= 2;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: bench_probe [-g GROUPS] CENTROIDS VECTORS [PROBE...]\n");
		return 2;
	}
	char err[512];
	vt_model cm, xm;
	int rc = vt_model_load(&cm, argv[1], VT_KINDMASK(VT_KIND_CENTROIDS), (size_t)1 << 31, err,
	                       sizeof err);
	if (rc) {
		fprintf(stderr, "bench_probe: %s\n", err);
		return 1;
	}
	rc = vt_model_load(&xm, argv[2], VT_KINDMASK(VT_KIND_VECTORS) | VT_KINDMASK(VT_KIND_POINTS),
	                   (size_t)1 << 28, err, sizeof err);
	if (rc) {
		fprintf(stderr, "bench_probe: %s\n", err);
		return 1;
	}
	if (cm.dim != xm.dim || !cm.x || !xm.x) {
		fprintf(stderr, "bench_probe: centroids and vectors must be float32 of one dimension\n");
		return 1;
	}
	const size_t k = cm.rows, n = xm.rows, d = cm.dim;
	vt_pool *pool = NULL;
	if ((rc = vt_pool_new(&pool, 0)))
		die("pool", rc);
	int32_t *lb = malloc(n * sizeof *lb), *la = malloc(n * sizeof *la);
	double *db = malloc(n * sizeof *db), *da = malloc(n * sizeof *da);
	if (!lb || !la || !db || !da)
		die("memory", VT_ENOMEM);
	double t0 = now();
	if ((rc = vt_assign(pool, xm.x, n, d, cm.x, k, NULL, NULL, lb, NULL, NULL, NULL)))
		die("brute force", rc);
	double tb = now() - t0;
	double lossb = 0;
	if ((rc = vt_sqdist_labels(pool, xm.x, n, d, cm.x, k, lb, db, &lossb)))
		die("exact distances", rc);
	t0 = now();
	/* the grouping of a narrowed refinement: k-means over the centroids,
	 * seed 1, in the same pool */
	size_t G = groups ? (groups < k ? groups : k) : vt_cindex_groups_for(k, 1);
	int32_t *grp = malloc(k * sizeof *grp);
	if (!grp)
		die("memory", VT_ENOMEM);
	vt_cindex *ix = NULL;
	if ((rc = vt_kmeans_group_centroids(pool, cm.x, k, d, G, 1, grp)) ||
	    (rc = vt_cindex_new(&ix, cm.x, k, d, grp, G)))
		die("index", rc);
	free(grp);
	double ti = now() - t0;
	printf("# bench_probe: k=%zu d=%zu rows=%zu groups=%zu largest=%zu threads=%d\n", k, d, n,
	       vt_cindex_groups(ix), vt_cindex_largest(ix), vt_pool_size(pool));
	printf("# brute force: %.2f s, loss %.10g; index build %.2f s\n", tb, lossb, ti);
	printf("%-6s %10s %12s %14s %8s %9s\n", "probe", "agree", "loss_ratio", "dists_per_row",
	       "share", "time_s");
	static const int defaults[] = {1, 2, 4, 8, 16};
	int np = argc > 3 ? argc - 3 : 5;
	for (int q = 0; q < np; q++) {
		int P = argc > 3 ? atoi(argv[3 + q]) : defaults[q];
		if (P < 1 || (size_t)P > vt_cindex_groups(ix))
			continue;
		double ev = 0, lossa = 0;
		t0 = now();
		if ((rc = vt_cindex_assign(ix, pool, xm.x, n, (size_t)P, 0, la, NULL, &ev)))
			die("narrowed assignment", rc);
		double ta = now() - t0;
		if ((rc = vt_sqdist_labels(pool, xm.x, n, d, cm.x, k, la, da, &lossa)))
			die("exact distances", rc);
		size_t agree = 0;
		for (size_t i = 0; i < n; i++)
			agree += la[i] == lb[i] || da[i] == db[i];
		printf("%-6d %9.4f%% %12.7f %14.0f %7.4f%% %9.2f\n", P, 100.0 * (double)agree / (double)n,
		       lossa / lossb, ev / (double)n, 100.0 * ev / (double)n / (double)k, ta);
	}
	vt_cindex_free(ix);
	vt_pool_free(pool);
	vt_model_free(&cm);
	vt_model_free(&xm);
	free(lb), free(la), free(db), free(da);
	return 0;
}
