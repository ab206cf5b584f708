#define _POSIX_C_SOURCE 200809L
#include "train/accum.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

int vt_accum_new(vt_accum **out, size_t k, size_t d)
{
	*out = NULL;
	if (k == 0 || d == 0 || k > SIZE_MAX / sizeof(double) / d)
		return VT_EINVAL;
	vt_accum *a = calloc(1, sizeof *a);
	if (!a)
		return VT_ENOMEM;
	a->k = k;
	a->d = d;
	a->sum = calloc(k * d, sizeof *a->sum);
	a->weight = calloc(k, sizeof *a->weight);
	a->loss = calloc(k, sizeof *a->loss);
	if (!a->sum || !a->weight || !a->loss) {
		vt_accum_free(a);
		return VT_ENOMEM;
	}
	*out = a;
	return 0;
}

void vt_accum_free(vt_accum *a)
{
	if (!a)
		return;
	free(a->sum);
	free(a->weight);
	free(a->loss);
	free(a);
}

void vt_accum_reset(vt_accum *a)
{
	memset(a->sum, 0, a->k * a->d * sizeof *a->sum);
	memset(a->weight, 0, a->k * sizeof *a->weight);
	memset(a->loss, 0, a->k * sizeof *a->loss);
	a->total_weight = 0;
	a->total_loss = 0;
	a->rows = 0;
}

int vt_accum_add(vt_accum *a, const float *x, size_t n, const double *w,
                 const double *lloss, const int32_t *labels, const double *dist2)
{
	for (size_t i = 0; i < n; i++)
		if (labels[i] < 0 || (size_t)labels[i] >= a->k)
			return VT_EINVAL;
	const size_t d = a->d;
	for (size_t i = 0; i < n; i++) {
		size_t j = (size_t)labels[i];
		double wi = w ? w[i] : 1.0;
		double *s = a->sum + j * d;
		const float *xr = x + i * d;
		if (w)
			for (size_t t = 0; t < d; t++)
				s[t] += wi * xr[t];
		else
			for (size_t t = 0; t < d; t++)
				s[t] += xr[t];
		a->weight[j] += wi;
		a->total_weight += wi;
		double l = (lloss ? lloss[i] : 0.0) + (dist2 ? wi * dist2[i] : 0.0);
		a->loss[j] += l;
		a->total_loss += l;
	}
	a->rows += n;
	return 0;
}

int vt_accum_merge(vt_accum *dst, const vt_accum *src)
{
	if (dst->k != src->k || dst->d != src->d)
		return VT_EDIM;
	for (size_t i = 0; i < dst->k * dst->d; i++)
		dst->sum[i] += src->sum[i];
	for (size_t j = 0; j < dst->k; j++) {
		dst->weight[j] += src->weight[j];
		dst->loss[j] += src->loss[j];
	}
	dst->total_weight += src->total_weight;
	dst->total_loss += src->total_loss;
	dst->rows += src->rows;
	return 0;
}

int vt_accum_centroids(const vt_accum *a, const float *old, float *out,
                       size_t *nempty)
{
	size_t empty = 0;
	const size_t d = a->d;
	for (size_t j = 0; j < a->k; j++) {
		if (a->weight[j] > 0) {
			double inv = 1.0 / a->weight[j];
			for (size_t t = 0; t < d; t++)
				out[j * d + t] = (float)(a->sum[j * d + t] * inv);
		} else {
			empty++;
			if (old && old != out)
				memcpy(out + j * d, old + j * d, d * sizeof *out);
		}
	}
	if (nempty)
		*nempty = empty;
	return 0;
}

double vt_accum_dot(const vt_accum *a, const float *c)
{
	double ip = 0;
	for (size_t j = 0; j < a->k * a->d; j++)
		ip += a->sum[j] * c[j];
	return ip;
}
