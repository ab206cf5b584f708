/* vtrain unit tests: the shared harness and helpers (see check.h). */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <stdarg.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "train/rng.h"

int check_count, check_failures;

void check_report(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	check_count++;
	if (ok) {
		printf("ok %d - ", check_count);
	} else {
		check_failures++;
		printf("not ok %d - %s:%d: ", check_count, file, line);
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	/* a suite may fork: nothing buffered may be printed twice */
	fflush(stdout);
}

void check_skip(const char *fmt, ...)
{
	va_list ap;
	check_count++;
	printf("ok %d - # SKIP ", check_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

int check_done(void)
{
	printf("1..%d\n%d passed, %d failed\n", check_count, check_count - check_failures,
	       check_failures);
	return check_failures ? 1 : 0;
}

static void bail(const char *why)
{
	printf("Bail out! %s\n", why);
	exit(1);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		bail("out of memory");
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		bail("out of memory");
	return q;
}

double d2(const float *a, const float *b, size_t d)
{
	double s = 0;
	for (size_t t = 0; t < d; t++) {
		double e = (double)a[t] - b[t];
		s += e * e;
	}
	return s;
}

/* The one generator behind check_blobs and check_mixture. */
static float *blobs(size_t n, size_t d, size_t m, double spread, double sigma,
                    uint64_t seed, uint64_t stream, int drawn, float **means)
{
	vt_rng r;
	vt_rng_init(&r, seed, stream);
	float *mu = xmalloc(m * d * sizeof *mu), *x = xmalloc(n * d * sizeof *x);
	for (size_t i = 0; i < m * d; i++)
		mu[i] = (float)(spread * vt_rng_normal(&r));
	for (size_t i = 0; i < n; i++) {
		size_t j = drawn ? (size_t)vt_rng_below(&r, m) : i % m;
		for (size_t t = 0; t < d; t++)
			x[i * d + t] = mu[j * d + t] + (float)(sigma * vt_rng_normal(&r));
	}
	if (means)
		*means = mu;
	else
		free(mu);
	return x;
}

float *check_blobs(size_t n, size_t d, size_t m, double spread, double sigma,
                   uint64_t seed, float **means)
{
	return blobs(n, d, m, spread, sigma, seed, 1, 0, means);
}

float *check_mixture(size_t n, size_t d, size_t m, double spread, uint64_t seed)
{
	return blobs(n, d, m, spread, 1.0, seed, 3, 1, NULL);
}

void check_normal(float *a, size_t n, uint64_t seed, uint64_t stream,
                  double scale, double shift)
{
	vt_rng r;
	vt_rng_init(&r, seed, stream);
	for (size_t i = 0; i < n; i++)
		a[i] = (float)(scale * vt_rng_normal(&r) + shift);
}

vt_pool *check_pool(int threads)
{
	vt_pool *p = NULL;
	if (vt_pool_new(&p, threads))
		bail("vt_pool_new");
	return p;
}

int check_survives(void (*fn)(void *), void *arg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		bail("fork");
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		bail("waitpid");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

unsigned char *check_slurp(const char *path, size_t *n)
{
	*n = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0, got;
	unsigned char *b = xmalloc(cap);
	while ((got = fread(b + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap)
			b = xrealloc(b, cap *= 2);
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(b);
		return NULL;
	}
	*n = len;
	return b;
}
