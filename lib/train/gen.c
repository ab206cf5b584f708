#define _POSIX_C_SOURCE 200809L
#include "train/gen.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "error.h"
#include "train/rng.h"

struct vt_gen {
	vt_gen_params p;
	float *means;
	double *cdf;   /* cumulative Zipf weights, NULL when uniform */
};

int vt_gen_new(vt_gen **out, const vt_gen_params *p)
{
	*out = NULL;
	if (p->dim < 1 || p->means < 1 || !(p->spread >= 0) || !(p->sigma >= 0) ||
	    !(p->skew >= 0) || !isfinite(p->spread) || !isfinite(p->sigma) || !isfinite(p->skew) ||
	    p->top > p->means || (p->top && !(p->sub_spread >= 0 && isfinite(p->sub_spread))))
		return VT_EINVAL;
	vt_gen *g = calloc(1, sizeof *g);
	if (!g)
		return VT_ENOMEM;
	g->p = *p;
	g->means = malloc((size_t)p->means * p->dim * sizeof *g->means);
	if (!g->means) {
		vt_gen_free(g);
		return VT_ENOMEM;
	}
	vt_rng r;
	vt_rng_init(&r, p->seed, UINT64_MAX);
	if (!p->top) {
		for (size_t i = 0; i < (size_t)p->means * p->dim; i++)
			g->means[i] = (float)(p->spread * vt_rng_normal(&r));
	} else {
		/* the top means from their own stream, in double; then each mean
		 * is its top mean plus an offset drawn from the means' stream */
		double *top = malloc((size_t)p->top * p->dim * sizeof *top);
		if (!top) {
			vt_gen_free(g);
			return VT_ENOMEM;
		}
		vt_rng rt;
		vt_rng_init(&rt, p->seed, UINT64_MAX - 1);
		for (size_t i = 0; i < (size_t)p->top * p->dim; i++)
			top[i] = p->spread * vt_rng_normal(&rt);
		for (size_t j = 0; j < p->means; j++) {
			const double *t = top + (j % p->top) * p->dim;
			for (size_t q = 0; q < p->dim; q++)
				g->means[j * p->dim + q] =
					(float)(t[q] + p->sub_spread * vt_rng_normal(&r));
		}
		free(top);
	}
	if (p->skew > 0) {
		g->cdf = malloc(p->means * sizeof *g->cdf);
		if (!g->cdf) {
			vt_gen_free(g);
			return VT_ENOMEM;
		}
		double s = 0;
		for (uint32_t j = 0; j < p->means; j++)
			g->cdf[j] = (s += pow(j + 1.0, -p->skew));
		for (uint32_t j = 0; j < p->means; j++)
			g->cdf[j] /= s;
	}
	*out = g;
	return 0;
}

void vt_gen_free(vt_gen *g)
{
	if (!g)
		return;
	free(g->means);
	free(g->cdf);
	free(g);
}

const float *vt_gen_means(const vt_gen *g)
{
	return g->means;
}

static uint32_t pick(const vt_gen *g, vt_rng *r)
{
	if (!g->cdf)
		return (uint32_t)vt_rng_below(r, g->p.means);
	double u = vt_rng_uniform(r);
	uint32_t lo = 0, hi = g->p.means - 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (g->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* One row: Marsaglia polar pairs, both values used. */
static void make_row(const vt_gen *g, uint64_t i, float *x, uint32_t *label)
{
	vt_rng r;
	vt_rng_init(&r, g->p.seed, i);
	uint32_t j = pick(g, &r);
	const float *m = g->means + (size_t)j * g->p.dim;
	uint32_t d = g->p.dim;
	double sig = g->p.sigma;
	for (uint32_t t = 0; t < d; t += 2) {
		double u, v, s;
		do {
			u = 2.0 * vt_rng_uniform(&r) - 1.0;
			v = 2.0 * vt_rng_uniform(&r) - 1.0;
			s = u * u + v * v;
		} while (s >= 1.0 || s == 0.0);
		double f = sig * sqrt(-2.0 * log(s) / s);
		x[t] = (float)(m[t] + u * f);
		if (t + 1 < d)
			x[t + 1] = (float)(m[t + 1] + v * f);
	}
	if (label)
		*label = j;
}

typedef struct {
	const vt_gen *g;
	uint64_t first;
	size_t lo, hi;
	float *out;
	uint32_t *labels;
} gen_job;

static void *gen_worker(void *arg)
{
	gen_job *j = arg;
	size_t d = j->g->p.dim;
	for (size_t i = j->lo; i < j->hi; i++)
		make_row(j->g, j->first + i, j->out + i * d, j->labels ? j->labels + i : NULL);
	return NULL;
}

int vt_gen_rows(const vt_gen *g, uint64_t first, size_t n, float *out,
                uint32_t *labels, int threads)
{
	if (threads < 1)
		threads = 1;
	if ((size_t)threads > n / 256 + 1)
		threads = (int)(n / 256 + 1);
	if (threads > 64)
		threads = 64;
	gen_job jobs[64];
	pthread_t tid[64];
	int started = 0;
	for (int t = 0; t < threads; t++) {
		jobs[t] = (gen_job){g, first, n * t / threads, n * (t + 1) / threads, out, labels};
		if (t == 0)
			continue;
		if (pthread_create(&tid[t], NULL, gen_worker, &jobs[t]) != 0)
			break;
		started = t;
	}
	gen_worker(&jobs[0]);
	for (int t = 1; t <= started; t++)
		pthread_join(tid[t], NULL);
	/* Any job whose thread could not start runs here. */
	for (int t = started + 1; t < threads; t++)
		gen_worker(&jobs[t]);
	return 0;
}
