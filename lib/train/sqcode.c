#include "train/sqcode.h"

void vt_sq8_trained(const double *bounds, size_t d, float *vmin, float *vdiff)
{
	for (size_t j = 0; j < d; j++) {
		float lo = (float)bounds[j], hi = (float)bounds[d + j];
		vmin[j] = lo;
		vdiff[j] = hi - lo;
	}
}

void vt_sq8_encode(const float *vmin, const float *vdiff, size_t d, const float *x, size_t n,
                   uint8_t *codes)
{
	for (size_t i = 0; i < n; i++) {
		const float *xi = x + i * d;
		uint8_t *ci = codes + i * d;
		for (size_t j = 0; j < d; j++) {
			float t = 0.0f;
			if (vdiff[j] != 0.0f) {
				t = (xi[j] - vmin[j]) / vdiff[j];
				if (t < 0.0f)
					t = 0.0f;
				if (t > 1.0f)
					t = 1.0f;
			}
			float s = 255.0f * t;
			ci[j] = (uint8_t)(int)s;
		}
	}
}
