/* Unit tests of lib/train/pool: every task runs once, worker ids are
 * exclusive, results reduced in task order do not depend on the number of
 * threads, one pool serves many batches, and the edges (no tasks, more
 * threads than tasks, a NULL pool, bad sizes). */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "train/pool.h"

#define MAXW 64

/* What one batch saw: hits per task, and per-worker exclusivity. */
typedef struct {
	size_t ntasks;
	atomic_int *hits;
	atomic_int busy[MAXW];   /* 1 while a task runs with that worker id */
	atomic_int clash;        /* two tasks at once with one worker id */
	atomic_int bad_worker;   /* a worker id outside [0, size) */
	int size;
} tally;

static void tally_task(void *arg, size_t t, int worker)
{
	tally *y = arg;
	if (worker < 0 || worker >= y->size || worker >= MAXW) {
		atomic_fetch_add(&y->bad_worker, 1);
	} else {
		if (atomic_exchange(&y->busy[worker], 1))
			atomic_fetch_add(&y->clash, 1);
		/* a little work, so that tasks overlap */
		volatile double s = 0;
		for (int i = 0; i < 200; i++)
			s += i * 0.5;
		atomic_store(&y->busy[worker], 0);
	}
	if (t < y->ntasks)
		atomic_fetch_add(&y->hits[t], 1);
}

/* Run ntasks on p; 1 when every task ran exactly once, with worker ids in
 * range and never two at once with one id. */
static int run_tally(vt_pool *p, size_t ntasks)
{
	tally y;
	memset(&y, 0, sizeof y);
	y.ntasks = ntasks;
	y.size = vt_pool_size(p);
	y.hits = xmalloc((ntasks ? ntasks : 1) * sizeof *y.hits);
	for (size_t t = 0; t < ntasks; t++)
		atomic_init(&y.hits[t], 0);
	vt_pool_run(p, ntasks, tally_task, &y);
	int ok = atomic_load(&y.clash) == 0 && atomic_load(&y.bad_worker) == 0;
	for (size_t t = 0; t < ntasks; t++)
		ok &= atomic_load(&y.hits[t]) == 1;
	free(y.hits);
	return ok;
}

static void test_once(void)
{
	static const int threads[] = {1, 2, 3, 8};
	static const size_t ntasks[] = {1, 2, 3, 7, 64, 1000, 100000};
	for (size_t a = 0; a < sizeof threads / sizeof *threads; a++) {
		vt_pool *p = check_pool(threads[a]);
		CHECK(vt_pool_size(p) == threads[a], "a pool of %d threads has size %d", threads[a],
		      vt_pool_size(p));
		int ok = 1;
		for (size_t b = 0; b < sizeof ntasks / sizeof *ntasks; b++)
			ok &= run_tally(p, ntasks[b]);
		CHECK(ok, "%d threads: every task of 1 to 100000 runs once, worker ids exclusive",
		      threads[a]);
		vt_pool_free(p);
	}
	CHECK(run_tally(NULL, 1000), "a NULL pool runs every task once, as worker 0");
}

/* Fixed blocks of a data set: each task sums its block in order into its own
 * slot; the caller adds the slots in task order. */
typedef struct {
	const double *x;
	size_t n, block;
	double *part;
} blocksum;

static void block_task(void *arg, size_t t, int worker)
{
	(void)worker;
	blocksum *b = arg;
	size_t lo = t * b->block, hi = lo + b->block < b->n ? lo + b->block : b->n;
	double s = 0;
	for (size_t i = lo; i < hi; i++)
		s += b->x[i] * b->x[i];
	b->part[t] = s;
}

static double sum_blocks(vt_pool *p, const double *x, size_t n, size_t block)
{
	size_t nb = (n + block - 1) / block;
	blocksum b = {x, n, block, xmalloc(nb * sizeof(double))};
	for (size_t t = 0; t < nb; t++)
		b.part[t] = -1;   /* a block that never ran shows */
	vt_pool_run(p, nb, block_task, &b);
	double s = 0;
	for (size_t t = 0; t < nb; t++)
		s += b.part[t];
	free(b.part);
	return s;
}

static void test_threads_independent(void)
{
	const size_t n = 1000003, block = 4096;
	double *x = xmalloc(n * sizeof *x);
	/* values of many magnitudes, so that the order of additions shows */
	float *f = xmalloc(n * sizeof *f);
	check_normal(f, n, 7, 1, 1, 0);
	for (size_t i = 0; i < n; i++)
		x[i] = (double)f[i] * (1 + (double)(i % 97) * 1e3);
	free(f);
	double ref = sum_blocks(NULL, x, n, block);
	/* the serial left-to-right sum differs from the blocked one: the test
	 * can tell an order */
	double serial = 0;
	for (size_t i = 0; i < n; i++)
		serial += x[i] * x[i];
	CHECK(ref != serial, "the blocked sum (%.17g) and the serial sum (%.17g) differ in bits",
	      ref, serial);
	static const int threads[] = {1, 2, 3, 5, 16};
	for (size_t a = 0; a < sizeof threads / sizeof *threads; a++) {
		vt_pool *p = check_pool(threads[a]);
		int same = 1;
		for (int rep = 0; rep < 5; rep++) {
			double s = sum_blocks(p, x, n, block);
			same &= memcmp(&s, &ref, sizeof s) == 0;
		}
		CHECK(same, "%d threads: the block sums reduced in order are the bits of a NULL-pool run",
		      threads[a]);
		vt_pool_free(p);
	}
	free(x);
}

/* Many batches of changing size on one pool, alternating task functions. */
static void count_task(void *arg, size_t t, int worker)
{
	(void)t, (void)worker;
	atomic_fetch_add((atomic_long *)arg, 1);
}

static void test_reuse(void)
{
	vt_pool *p = check_pool(4);
	int ok = 1;
	long want = 0;
	atomic_long count;
	atomic_init(&count, 0);
	for (size_t job = 0; job < 3000; job++) {
		size_t nt = (job * 7919) % 37;   /* 0 to 36 tasks, 0 and 1 included */
		if (job % 3 == 0) {
			ok &= run_tally(p, nt);
		} else {
			vt_pool_run(p, nt, count_task, &count);
			want += (long)nt;
		}
	}
	CHECK(ok && atomic_load(&count) == want,
	      "one pool of 4 threads runs 3000 batches of 0 to 36 tasks, each task once (%ld of %ld)",
	      (long)atomic_load(&count), want);
	vt_pool_free(p);
}

static void never_task(void *arg, size_t t, int worker)
{
	(void)t, (void)worker;
	atomic_fetch_add((atomic_int *)arg, 1);
}

static void test_edges(void)
{
	atomic_int calls;
	atomic_init(&calls, 0);
	vt_pool *p = check_pool(3);
	vt_pool_run(p, 0, never_task, &calls);
	vt_pool_run(NULL, 0, never_task, &calls);
	CHECK(atomic_load(&calls) == 0, "no tasks: the function is never called (pool and NULL)");
	CHECK(run_tally(p, 5), "the pool still works after an empty batch");
	vt_pool_free(p);

	p = check_pool(16);
	int ok = 1;
	for (size_t nt = 1; nt <= 5; nt++)
		for (int rep = 0; rep < 50; rep++)
			ok &= run_tally(p, nt);
	CHECK(ok, "16 threads and 1 to 5 tasks: each task once, worker ids in range");
	vt_pool_free(p);

	CHECK(vt_pool_size(NULL) == 1, "a NULL pool has size 1");
	vt_pool *q = (vt_pool *)&ok;   /* must be overwritten */
	CHECK(vt_pool_new(&q, 1025) == VT_EINVAL && q == NULL, "1025 threads is VT_EINVAL, *out NULL");
	q = NULL;
	CHECK(vt_pool_new(&q, 0) == 0 && q && vt_pool_size(q) == vt_cpu_count(),
	      "0 threads means the online CPUs (%d)", vt_cpu_count());
	vt_pool_free(q);
	CHECK(vt_cpu_count() >= 1 && vt_cpu_count() <= 1024, "vt_cpu_count is in [1, 1024]");
	q = NULL;
	CHECK(vt_pool_new(&q, -3) == 0 && q && vt_pool_size(q) == vt_cpu_count(),
	      "negative threads mean the online CPUs too");
	vt_pool_free(q);
}

static void free_null(void *unused)
{
	(void)unused;
	vt_pool_free(NULL);
}

int main(void)
{
	test_once();
	test_threads_independent();
	test_reuse();
	test_edges();
	CHECK(check_survives(free_null, NULL), "vt_pool_free(NULL) returns");
	return check_done();
}
