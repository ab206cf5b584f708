/* bridge/assign: every mode gives the argmin of dd (ties to the lower
 * index) and the same distances; residuals; the double scan for centroids
 * too large for float; errors. */
#include <math.h>
#include <string.h>

#include "bridge/assign.h"
#include "check.h"
#include "error.h"

/* The definition: argmin over j of vt_nearest_sqdist, ties to the lower j. */
static void oracle(const float *x, size_t n, size_t d, const float *c, size_t k, int32_t *lab,
                   double *dist)
{
	for (size_t i = 0; i < n; i++) {
		double best = vt_nearest_sqdist(x + i * d, c, d);
		int32_t bj = 0;
		for (size_t j = 1; j < k; j++) {
			double v = vt_nearest_sqdist(x + i * d, c + j * d, d);
			if (v < best)
				best = v, bj = (int32_t)j;
		}
		lab[i] = bj;
		dist[i] = best;
	}
}

int main(void)
{
	vt_pool *pool = check_pool(2);
	{
		/* clustered centroids (1,000 means + a duplicate of each of the
		 * first 100, so exact ties occur), rows around them */
		size_t n = 5000, d = 12, m = 1000, k = m + 100;
		float *means;
		float *x = check_blobs(n, d, m, 10, 0.5, 21, &means);
		float *c = xmalloc(k * d * sizeof *c);
		memcpy(c, means, m * d * sizeof *c);
		memcpy(c + m * d, means, 100 * d * sizeof *c);
		int32_t *lr = xmalloc(n * sizeof *lr), *l = xmalloc(n * sizeof *l);
		double *dr = xmalloc(n * sizeof *dr), *dd = xmalloc(n * sizeof *dd);
		oracle(x, n, d, c, k, lr, dr);
		const int modes[] = {VT_NEAREST_AUTO, VT_NEAREST_SEARCH, VT_NEAREST_BRUTE};
		for (int q = 0; q < 3; q++) {
			vt_assigner *a;
			int rc = vt_assigner_new(&a, pool, c, k, d, modes[q]);
			for (size_t b0 = 0; rc == 0 && b0 < n; b0 += 1700) /* several calls */
				rc = vt_assigner_run(a, pool, x + b0 * d, n - b0 < 1700 ? n - b0 : 1700,
				                     l + b0, dd + b0);
			CHECK(rc == 0 && !memcmp(l, lr, n * sizeof *l) && !memcmp(dd, dr, n * sizeof *dd),
			      "mode %s: the labels and dd of the definition",
			      vt_assign_mode_name(modes[q]));
			vt_assign_report r;
			vt_assigner_report(a, &r);
			CHECK(r.st.rows == (double)n && r.mode == modes[q] && !r.scan && r.k == k &&
			      (modes[q] == VT_NEAREST_BRUTE ? r.groups == 0 && r.st.rows_brute == n
			                                     : r.groups > 1 && r.bytes > 0),
			      "mode %s: report (rows %.0f, groups %zu, brute %.0f)",
			      vt_assign_mode_name(modes[q]), r.st.rows, r.groups, r.st.rows_brute);
			if (modes[q] == VT_NEAREST_SEARCH)
				CHECK(r.st.rows_round1 + r.st.rows_round2 > 0 &&
				      r.st.rows_round1 + r.st.rows_round2 + r.st.rows_costly +
				      r.st.rows_overflow + r.st.rows_brute + r.st.rows_special == (double)n,
				      "search: rows certified (%.0f + %.0f of %zu), the rest accounted for",
				      r.st.rows_round1, r.st.rows_round2, n);
			vt_assigner_free(a);
		}
		int ties = 0;
		for (size_t i = 0; i < n; i++)
			ties += lr[i] >= (int32_t)m;
		CHECK(ties == 0, "exact ties go to the lower index (%d rows to a duplicate)", ties);

		/* residuals */
		float *r = xmalloc(n * d * sizeof *r);
		memcpy(r, x, n * d * sizeof *r);
		vt_assigner *a;
		int rc = vt_assigner_new(&a, pool, c, k, d, VT_NEAREST_SEARCH);
		rc |= vt_assigner_subtract(a, pool, r, n, l);
		int ok = rc == 0 && !memcmp(l, lr, n * sizeof *l);
		for (size_t i = 0; ok && i < n * d; i++)
			ok = r[i] == x[i] - c[(size_t)lr[i / d] * d + i % d];
		CHECK(ok, "vt_assigner_subtract: x minus its nearest centroid, and the labels");
		vt_assigner_free(a);
		free(x), free(means), free(c), free(lr), free(l), free(dr), free(dd), free(r);
	}
	{
		/* centroids too large for float: the double scan, in every mode */
		size_t n = 300, d = 4, k = 7;
		float *x = xmalloc(n * d * sizeof *x), *c = xmalloc(k * d * sizeof *c);
		check_normal(x, n * d, 5, 1, 3e18, 0);
		check_normal(c, k * d, 6, 1, 3e18, 0);
		c[0] = 3e19f;
		int32_t lr[300], l[300];
		double dr[300], dd[300];
		oracle(x, n, d, c, k, lr, dr);
		for (int mode = VT_NEAREST_AUTO; mode <= VT_NEAREST_BRUTE; mode++) {
			vt_assigner *a;
			int rc = vt_assigner_new(&a, NULL, c, k, d, mode);
			rc |= vt_assigner_run(a, pool, x, n, l, dd);
			vt_assign_report r;
			vt_assigner_report(a, &r);
			CHECK(rc == 0 && r.scan && !memcmp(l, lr, sizeof l) && !memcmp(dd, dr, sizeof dd),
			      "huge centroids, mode %s: the scan gives the definition",
			      vt_assign_mode_name(mode));
			vt_assigner_free(a);
		}
		free(x), free(c);
	}
	{
		float c[4] = {0, 1, NAN, 3};
		vt_assigner *a = (vt_assigner *)c;
		CHECK(vt_assigner_new(&a, NULL, c, 2, 2, VT_NEAREST_AUTO) == VT_EDATA && !a,
		      "a NaN centroid: VT_EDATA");
		CHECK(vt_assigner_new(&a, NULL, c, 0, 2, VT_NEAREST_AUTO) == VT_EINVAL && !a, "k 0");
		CHECK(vt_assigner_new(&a, NULL, c, 1, 2, 7) == VT_EINVAL && !a, "an unknown mode");
		CHECK(vt_assign_mode_of("auto") == VT_NEAREST_AUTO &&
		      vt_assign_mode_of("search") == VT_NEAREST_SEARCH &&
		      vt_assign_mode_of("brute") == VT_NEAREST_BRUTE &&
		      vt_assign_mode_of("Brute") == VT_EINVAL && vt_assign_mode_of("") == VT_EINVAL,
		      "mode names");
		vt_assigner_free(NULL);
	}
	vt_pool_free(pool);
	return check_done();
}
