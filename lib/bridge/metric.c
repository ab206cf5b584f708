#include "bridge/metric.h"

#include <stdio.h>
#include <string.h>

#include "error.h"

const char *vt_metric_name(int metric)
{
	return metric == VT_METRIC_COSINE ? "cosine" : metric == VT_METRIC_DOT ? "dot" : "l2";
}

int vt_metric_parse(const char *s)
{
	if (s && strcmp(s, "l2") == 0)
		return VT_METRIC_L2;
	if (s && strcmp(s, "cosine") == 0)
		return VT_METRIC_COSINE;
	if (s && strcmp(s, "dot") == 0)
		return VT_METRIC_DOT;
	return VT_EINVAL;
}

int vt_metric_recorded(const vt_header *h, const char **key)
{
	const char *k = "metric", *v = vt_header_get(h, k);
	if (!v) {
		k = "vsample.metric";
		v = vt_header_get(h, k);
	}
	if (key)
		*key = k;
	return v ? vt_metric_parse(v) : -1;
}

int vt_metric_settle(const vt_header *h, const char *what, int given, const char *given_from,
                     char *err, size_t errlen)
{
	const char *key;
	int rec = vt_metric_recorded(h, &key);
	if (rec == VT_EINVAL) {
		snprintf(err, errlen, "%s: %s '%s' is not " VT_METRIC_NAMES, what, key,
		         vt_header_get(h, key));
		return VT_EINVAL;
	}
	if (rec < 0)
		return given_from ? given : VT_METRIC_L2;
	if (given_from && given != rec) {
		snprintf(err, errlen, "%s: made with metric=%s%s%s%s, but %s", what,
		         vt_metric_name(rec), strcmp(key, "metric") ? " (" : "",
		         strcmp(key, "metric") ? key : "", strcmp(key, "metric") ? ")" : "", given_from);
		return VT_EINVAL;
	}
	return rec;
}
