#include "train/vecops.h"

#include <math.h>
#include <string.h>

size_t vt_first_nonfinite_row(const float *x, size_t n, size_t d)
{
	for (size_t i = 0; i < n; i++) {
		const float *r = x + i * d;
		float acc = 0;
		/* x - x is 0 for finite x and NaN for NaN or infinity. */
		for (size_t j = 0; j < d; j++)
			acc += r[j] - r[j];
		if (acc != 0 || acc != acc)
			return i;
	}
	return n;
}

size_t vt_drop_nonfinite_rows(float *x, size_t n, size_t d, uint64_t *ids, double *w,
                              double *l, size_t *first)
{
	size_t kept = 0, bad = n;
	for (size_t i = 0; i < n; i++) {
		if (vt_first_nonfinite_row(x + i * d, 1, d) == 0) {
			if (bad == n)
				bad = i;
			continue;
		}
		if (kept != i) {
			memmove(x + kept * d, x + i * d, d * sizeof *x);
			if (ids)
				ids[kept] = ids[i];
			if (w)
				w[kept] = w[i];
			if (l)
				l[kept] = l[i];
		}
		kept++;
	}
	if (first)
		*first = bad;
	return kept;
}

size_t vt_normalize_rows(float *x, size_t n, size_t d)
{
	size_t zero = 0;
	for (size_t i = 0; i < n; i++) {
		float *r = x + i * d;
		double s = 0;
		for (size_t j = 0; j < d; j++)
			s += (double)r[j] * r[j];
		if (s == 0) {
			zero++;
			continue;
		}
		double inv = 1.0 / sqrt(s);
		for (size_t j = 0; j < d; j++)
			r[j] = (float)(r[j] * inv);
	}
	return zero;
}
