#define _POSIX_C_SOURCE 200809L
#include "bridge/centroids.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "train/vecops.h"

int vt_centroids_check_dim(const vt_model *m, const char *path, uint32_t dim,
                           const char *dim_of, char *err, size_t errlen)
{
	if (m->dim == dim)
		return 0;
	snprintf(err, errlen, "%s: centroids have dimension %u, but %s has %u", path, m->dim,
	         dim_of, dim);
	return VT_EDIM;
}

int vt_centroids_check_unit(const vt_model *m, const char *path, int metric, char *err,
                            size_t errlen)
{
	if (metric != VT_METRIC_COSINE && metric != VT_METRIC_DOT)
		return 0;
	double tol = metric == VT_METRIC_DOT ? VT_CENTROIDS_DOT_TOL : 1e-3;
	for (size_t j = 0; j < m->rows; j++) {
		const float *r = m->x + j * m->dim;
		double s = 0;
		for (uint32_t t = 0; t < m->dim; t++)
			s += (double)r[t] * r[t];
		if (!(fabs(sqrt(s) - 1) <= tol)) {
			if (metric == VT_METRIC_DOT)
				snprintf(err, errlen, "%s: centroid %zu has norm %.9g; metric=dot needs "
				         "unit-norm centroids (vkmeans --metric=dot makes them)", path, j,
				         sqrt(s));
			else
				snprintf(err, errlen, "%s: centroid %zu has norm %.6g; --metric=cosine needs "
				         "normalised centroids (vkmeans --metric=cosine makes them)", path,
				         j, sqrt(s));
			return VT_EDATA;
		}
	}
	return 0;
}

/* The checks after the load; returns 0 or an error with its message. */
static int check(const vt_model *m, const char *path, const vt_centroids_opts *o, char *err,
                 size_t errlen)
{
	if (m->rows == 0) {
		snprintf(err, errlen, "%s: no centroids", path);
		return VT_EFORMAT;
	}
	int rc;
	if (o && o->dim && (rc = vt_centroids_check_dim(m, path, o->dim, o->dim_of, err,
	                                                errlen)) < 0)
		return rc;
	size_t bad = vt_first_nonfinite_row(m->x, m->rows, m->dim);
	if (bad < m->rows) {
		snprintf(err, errlen, "%s: centroid %zu is not finite", path, bad);
		return VT_EDATA;
	}
	if (!o)
		return 0;
	int metric = vt_metric_settle(&m->h, path, o->metric, o->metric_from, err, errlen);
	if (metric < 0)
		return metric;
	if (o->metric_out)
		*o->metric_out = metric;
	if (metric == VT_METRIC_COSINE && !(o->checks & VT_CENTROIDS_UNIT_NORM))
		return 0;
	return vt_centroids_check_unit(m, path, metric, err, errlen);
}

int vt_centroids_load(vt_model *m, const char *path, const vt_centroids_opts *opts, char *err,
                      size_t errlen)
{
	int rc = vt_model_load(m, path,
	                       VT_KINDMASK(VT_KIND_CENTROIDS) | VT_KINDMASK(VT_KIND_VECTORS),
	                       VT_CENTROIDS_MAX_ROWS, err, errlen);
	if (rc < 0)
		return rc;
	if ((rc = check(m, path, opts, err, errlen)) < 0)
		vt_model_free(m);
	return rc;
}
