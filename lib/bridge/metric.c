#include "bridge/metric.h"

#include <string.h>

#include "error.h"

const char *vt_metric_name(int metric)
{
	return metric == VT_METRIC_COSINE ? "cosine" : "l2";
}

int vt_metric_parse(const char *s)
{
	if (s && strcmp(s, "l2") == 0)
		return VT_METRIC_L2;
	if (s && strcmp(s, "cosine") == 0)
		return VT_METRIC_COSINE;
	return VT_EINVAL;
}
