/* vtrain: cluster-size statistics.
 *
 * From per-cluster sizes h_j (counts or summed weights), j = 0..k-1:
 *     total = sum h,  mean = total / k
 *     cv        = sqrt(sum (h_j - mean)^2 / k) / mean   (population std)
 *     max_mean  = max h / mean
 *     imbalance = k * sum h^2 / (sum h)^2               (FAISS's factor; 1
 *                                                        when all equal)
 */
#ifndef VT_STATS_H
#define VT_STATS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	size_t k;
	size_t empty;      /* clusters with h_j == 0 */
	double total, mean, min, max;
	double max_mean;   /* 0 when total == 0 */
	double cv;         /* 0 when total == 0 */
	double imbalance;  /* 0 when total == 0 */
} vt_cluster_stats;

/* Fill *out from h[0..k-1].  Returns 0, VT_EINVAL (k == 0) or VT_EDATA (a
 * negative or non-finite size). */
int vt_cluster_stats_compute(const double *h, size_t k, vt_cluster_stats *out);

#ifdef __cplusplus
}
#endif
#endif
