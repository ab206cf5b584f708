#define _POSIX_C_SOURCE 200809L
#include "train/stats.h"

#include <math.h>
#include <string.h>

#include "error.h"

int vt_cluster_stats_compute(const double *h, size_t k, vt_cluster_stats *out)
{
	memset(out, 0, sizeof *out);
	if (k == 0)
		return VT_EINVAL;
	double total = 0, sq = 0, mn = h[0], mx = h[0];
	size_t empty = 0;
	for (size_t j = 0; j < k; j++) {
		if (!isfinite(h[j]) || h[j] < 0)
			return VT_EDATA;
		total += h[j];
		sq += h[j] * h[j];
		mn = h[j] < mn ? h[j] : mn;
		mx = h[j] > mx ? h[j] : mx;
		empty += h[j] == 0;
	}
	out->k = k;
	out->empty = empty;
	out->total = total;
	out->mean = total / (double)k;
	out->min = mn;
	out->max = mx;
	if (total > 0) {
		double var = 0;
		for (size_t j = 0; j < k; j++)
			var += (h[j] - out->mean) * (h[j] - out->mean);
		var /= (double)k;
		out->cv = sqrt(var) / out->mean;
		out->max_mean = mx / out->mean;
		out->imbalance = (double)k * sq / (total * total);
	}
	return 0;
}
