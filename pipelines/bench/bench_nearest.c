/* bench_nearest: the exact nearest-centroid search (lib/train/nearest)
 * against brute force, per row, with every label checked.
 *
 *   bench_nearest --gen multi|iid -k K -d D -n ROWS [--top T] [--cnoise S]
 *   bench_nearest --rows FILE --centroids FILE -d D [-n ROWS]   (raw float32)
 *   common: [-r REPS] [--probe P[,P...]] [--groups G] [-j THREADS] [--seed S]
 *
 * Data (--gen): vt_gen's Gaussian mixture with K means (spread 10, sigma 1);
 * multi: the means are clusters of clusters (--top T top means, default
 * 1024, sub-spread 2); iid: i.i.d. means.  The centroids are the K means
 * plus N(0, cnoise^2) per coordinate (default 0.25), standing in for
 * trained centroids; the rows are drawn from the mixture (rows 10^9 on, so
 * apart from anything used elsewhere).
 *
 * Each repetition times, in alternating order, brute force (vt_assign, the
 * current kernel: float argmin, labels only), the exact reference
 * (vt_nearest_brute), the exact search (vt_nearest_query, auto mode, one
 * index across repetitions as in a long stream) and each approximate probe.
 * The search's labels and distances must equal the reference's on every
 * row (else exit 1).  Prints one line per repetition and the medians.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "train/gen.h"
#include "train/kernel.h"
#include "train/nearest.h"
#include "train/pool.h"
#include "train/rng.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double median(const double *v0, int n)
{
	double v[64];
	memcpy(v, v0, n * sizeof *v);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *read_raw(const char *path, size_t d, size_t *rows)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	size_t n = (size_t)sz / (d * sizeof(float));
	if (*rows && *rows < n)
		n = *rows;
	float *x = malloc(n * d * sizeof *x);
	if (!x || fread(x, sizeof *x, n * d, f) != n * d) {
		free(x);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*rows = n;
	return x;
}

static void die(const char *m)
{
	fprintf(stderr, "bench_nearest: %s\n", m);
	exit(1);
}

int main(int argc, char **argv)
{
	size_t n = 8192, d = 128, k = 131072, top = 1024, groups = 0;
	int reps = 3, threads = 0;
	double cnoise = 0.25;
	uint64_t seed = 1;
	const char *gen = NULL, *rows_path = NULL, *cent_path = NULL, *probes = "";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			goto usage;
		if (!strcmp(a, "-n"))
			n = strtoull(v, NULL, 10);
		else if (!strcmp(a, "-d"))
			d = strtoull(v, NULL, 10);
		else if (!strcmp(a, "-k"))
			k = strtoull(v, NULL, 10);
		else if (!strcmp(a, "-r"))
			reps = atoi(v);
		else if (!strcmp(a, "-j"))
			threads = atoi(v);
		else if (!strcmp(a, "--groups"))
			groups = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--top"))
			top = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--cnoise"))
			cnoise = atof(v);
		else if (!strcmp(a, "--seed"))
			seed = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--gen"))
			gen = v;
		else if (!strcmp(a, "--rows"))
			rows_path = v;
		else if (!strcmp(a, "--centroids"))
			cent_path = v;
		else if (!strcmp(a, "--probe"))
			probes = v;
		else
			goto usage;
		i++;
	}
	if (reps < 1 || reps > 64 || !d || !n || (!gen && (!rows_path || !cent_path)))
		goto usage;

	float *x, *c;
	char what[256];
	if (gen) {
		int multi = !strcmp(gen, "multi");
		if (!multi && strcmp(gen, "iid"))
			goto usage;
		vt_gen_params gp = {seed, (uint32_t)d, (uint32_t)k, 10, 1, 0, multi ? (uint32_t)top : 0,
		                    2};
		vt_gen *g;
		if (vt_gen_new(&g, &gp))
			die("generator");
		x = malloc(n * d * sizeof *x);
		c = malloc(k * d * sizeof *c);
		if (!x || !c)
			die("out of memory");
		vt_gen_rows(g, 1000000000ull, n, x, NULL, 2);
		vt_rng r;
		vt_rng_init(&r, seed, 77);
		const float *mu = vt_gen_means(g);
		for (size_t i = 0; i < k * d; i++)
			c[i] = mu[i] + (float)(cnoise * vt_rng_normal(&r));
		vt_gen_free(g);
		if (multi)
			snprintf(what, sizeof what, "multi-scale (top %zu, sub-spread 2, spread 10, sigma 1, "
			         "centroids = means + N(0, %.2g^2))", top, cnoise);
		else
			snprintf(what, sizeof what, "iid means (spread 10, sigma 1, centroids = means + "
			         "N(0, %.2g^2))", cnoise);
	} else {
		size_t kk = 0;
		x = read_raw(rows_path, d, &n);
		c = read_raw(cent_path, d, &kk);
		if (!x || !c)
			die("cannot read the raw files");
		k = kk;
		snprintf(what, sizeof what, "rows %s, centroids %s", rows_path, cent_path);
	}
	printf("data: %s\nshape: n=%zu d=%zu k=%zu reps=%d threads=%d\n", what, n, d, k, reps,
	       threads);

	vt_pool *pool;
	if (vt_pool_new(&pool, threads))
		die("pool");
	int32_t *lk = malloc(n * sizeof *lk), *lr = malloc(n * sizeof *lr), *ls = malloc(n * sizeof *ls);
	int32_t *la = malloc(n * sizeof *la);
	double *dr = malloc(n * sizeof *dr), *ds = malloc(n * sizeof *ds), *da = malloc(n * sizeof *da);
	if (!lk || !lr || !ls || !la || !dr || !ds || !da)
		die("out of memory");

	double t0 = now();
	vt_nearest *ix;
	if (vt_nearest_new(&ix, pool, c, k, d, NULL, groups, seed))
		die("index");
	double tbuild = now() - t0;
	printf("index: %zu groups, %zu bytes (%.2f%% of the centroids), built in %.2f s\n",
	       vt_nearest_groups(ix), vt_nearest_bytes(ix),
	       100.0 * vt_nearest_bytes(ix) / ((double)k * d * 4), tbuild);

	size_t np = 0, pr[16];
	for (const char *p = probes; *p && np < 16;) {
		pr[np++] = strtoull(p, (char **)&p, 10);
		if (*p == ',')
			p++;
	}
	vt_nearest *ixa = NULL;
	if (np && vt_nearest_new(&ixa, pool, c, k, d, NULL, groups, seed))
		die("index");

	double tk[64], tr[64], ts[64], ta[16][64], agree[16] = {0}, lossr[16] = {0};
	size_t kdiff = 0;
	for (int r = 0; r < reps; r++) {
		for (int step = 0; step < 2; step++) {
			if ((step == 0) == (r % 2 == 0)) {
				t0 = now();
				if (vt_assign(pool, x, n, d, c, k, NULL, NULL, lk, NULL, NULL, NULL))
					die("vt_assign");
				tk[r] = now() - t0;
				t0 = now();
				if (vt_nearest_brute(pool, x, n, d, c, k, 1, lr, dr))
					die("vt_nearest_brute");
				tr[r] = now() - t0;
			} else {
				t0 = now();
				if (vt_nearest_query(ix, pool, x, n, 1, ls, ds))
					die("vt_nearest_query");
				ts[r] = now() - t0;
			}
		}
		for (size_t i = 0; i < n; i++)
			if (ls[i] != lr[i] || ds[i] != dr[i]) {
				printf("MISMATCH rep %d row %zu: search %d %.17g, reference %d %.17g\n", r, i,
				       ls[i], ds[i], lr[i], dr[i]);
				return 1;
			}
		kdiff = 0;
		for (size_t i = 0; i < n; i++)
			kdiff += lk[i] != lr[i];
		printf("rep %d: brute(kernel) %.3f s  reference %.3f s  search %.3f s  "
		       "speedup %.2fx (vs reference %.2fx)  identical labels: %zu/%zu\n",
		       r + 1, tk[r], tr[r], ts[r], tk[r] / ts[r], tr[r] / ts[r], n, n);
		for (size_t q = 0; q < np; q++) {
			vt_nearest_set_probe(ixa, pr[q]);
			t0 = now();
			if (vt_nearest_query(ixa, pool, x, n, 1, la, da))
				die("vt_nearest_query (probe)");
			ta[q][r] = now() - t0;
			size_t same = 0;
			double sa = 0, se = 0;
			for (size_t i = 0; i < n; i++) {
				same += la[i] == lr[i];
				sa += da[i];
				se += dr[i];
			}
			agree[q] = (double)same / n;
			lossr[q] = sa / se;
			printf("rep %d: approx probe %zu: %.3f s  speedup %.2fx  agreement %.5f  loss "
			       "ratio %.6f\n", r + 1, pr[q], ta[q][r], tk[r] / ta[q][r], agree[q], lossr[q]);
		}
	}
	double sp[64], spr[64];
	for (int r = 0; r < reps; r++) {
		sp[r] = tk[r] / ts[r];
		spr[r] = tr[r] / ts[r];
	}
	const vt_nearest_stats *st = vt_nearest_get_stats(ix);
	printf("search: rows %.0f: round 1 %.0f, round 2 %.0f, costly->brute %.0f, overflow %.0f, "
	       "brute chunks %.0f, special %.0f; evals/row %.0f of %zu; time centres %.2f visit %.2f "
	       "brute %.2f other %.2f s; measured brute/visit cost per centroid %.3f\n",
	       st->rows, st->rows_round1, st->rows_round2, st->rows_costly, st->rows_overflow,
	       st->rows_brute, st->rows_special, st->evals / st->rows, k, st->t_centres, st->t_visit,
	       st->t_brute, st->t_other, st->col_ratio);
	printf("kernel float argmin differs from the exact label on %zu of %zu rows\n", kdiff, n);
	printf("MEDIAN brute(kernel) %.3f s (%.1f us/row)  reference %.3f s  search %.3f s "
	       "(%.1f us/row)  speedup %.2fx  (median of per-rep ratios %.2fx; vs reference %.2fx)"
	       "  time ratio search/brute %.3f\n",
	       median(tk, reps), 1e6 * median(tk, reps) / n, median(tr, reps), median(ts, reps),
	       1e6 * median(ts, reps) / n, median(tk, reps) / median(ts, reps), median(sp, reps),
	       median(spr, reps), median(ts, reps) / median(tk, reps));
	for (size_t q = 0; q < np; q++) {
		double s2[64];
		for (int r = 0; r < reps; r++)
			s2[r] = tk[r] / ta[q][r];
		printf("MEDIAN approx probe %zu: %.3f s  speedup %.2fx (median of ratios)  agreement "
		       "%.5f  loss ratio %.6f\n", pr[q], median(ta[q], reps), median(s2, reps), agree[q],
		       lossr[q]);
	}
	vt_nearest_free(ix);
	vt_nearest_free(ixa);
	vt_pool_free(pool);
	free(x);
	free(c);
	return 0;
usage:
	fprintf(stderr, "usage: bench_nearest (--gen multi|iid -k K | --rows F --centroids F) -d D "
	                "[-n N] [-r REPS] [--top T] [--cnoise S] [--probe P,..] [-j T] [--seed S]\n");
	return 2;
}
