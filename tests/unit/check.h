/* vtrain unit tests: the one shared harness.
 *
 * Every tests/unit/test_*.c includes this header and is linked with
 * check.c (CMakeLists.txt does both).  A suite reports each assertion with
 * CHECK, which prints a TAP line ("ok N - what" or "not ok N - file:line:
 * what"), and ends with `return check_done();`.  Besides the harness this
 * holds what several suites need: allocation that bails out, Gaussian blobs,
 * squared distances, a thread pool that must exist, a whole file's bytes.
 */
#ifndef VT_CHECK_H
#define VT_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "train/pool.h"

#if defined(__GNUC__)
#define CHECK_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CHECK_PRINTF(f, a)
#endif

/* Assertions made so far, and how many of them failed. */
extern int check_count, check_failures;

/* One assertion: counts it and prints its TAP line; the description is a
 * printf format and its arguments.  Use through CHECK. */
void check_report(int ok, const char *file, int line, const char *fmt, ...)
	CHECK_PRINTF(4, 5);

/* CHECK(cond, fmt, ...): assert cond (evaluated once). */
#define CHECK(cond, ...) check_report((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

/* A test that cannot run here: counted, printed "ok N - # SKIP why". */
void check_skip(const char *fmt, ...) CHECK_PRINTF(1, 2);

/* The plan line and a summary; returns the exit status (1 if any failed). */
int check_done(void);

/* malloc/realloc that bail out of the run (TAP "Bail out!", exit 1) when
 * they fail; a size of 0 gets 1 byte. */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);

/* sum_t (a_t - b_t)^2 over d coordinates, in double. */
double d2(const float *a, const float *b, size_t d);

/* n x d rows (caller frees) around m Gaussian means: mean j is spread *
 * N(0, I_d), row i is mean (i % m) + sigma * N(0, I_d).  Drawn from
 * vt_rng stream 1 of seed: the means first, then the rows in order.  The
 * means (m x d, caller frees) go to *means unless means is NULL. */
float *check_blobs(size_t n, size_t d, size_t m, double spread, double sigma,
                   uint64_t seed, float **means);

/* As check_blobs with sigma 1, but each row draws its mean uniformly
 * (vt_rng_below) just before its noise, from vt_rng stream 3 of seed. */
float *check_mixture(size_t n, size_t d, size_t m, double spread, uint64_t seed);

/* a[i] = scale * N(0, 1) + shift for i < n, from vt_rng stream `stream` of
 * seed. */
void check_normal(float *a, size_t n, uint64_t seed, uint64_t stream,
                  double scale, double shift);

/* A pool of `threads` threads (vt_pool_new); bails out when it fails. */
vt_pool *check_pool(int threads);

/* 1 when fn(arg), run in a child process, returns normally; 0 when the
 * child crashes, aborts or exits non-zero.  For calls whose only promise is
 * "does not crash", such as vt_x_free(NULL). */
int check_survives(void (*fn)(void *), void *arg);

/* The whole file at path (caller frees; *n its size), or NULL when it
 * cannot be opened or read. */
unsigned char *check_slurp(const char *path, size_t *n);

#endif
