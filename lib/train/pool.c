#define _POSIX_C_SOURCE 200809L
#include "train/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"

void openblas_set_num_threads(int);

struct vt_pool {
	int nthreads;
	pthread_t *tids;
	int nstarted;
	pthread_mutex_t mu;
	pthread_cond_t wake;   /* workers wait here for a new batch */
	pthread_cond_t done;   /* the caller waits here for the end of a batch */
	unsigned long gen;     /* batch generation, under mu */
	int stop;              /* under mu */
	int active;            /* workers still in the current batch, under mu */
	/* the current batch */
	vt_task_fn fn;
	void *arg;
	size_t ntasks;
	atomic_size_t next;
};

struct worker_arg {
	vt_pool *p;
	int id;
};

int vt_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (n > 1024 ? 1024 : (int)n);
}

static void drain(vt_pool *p, int id)
{
	for (;;) {
		size_t t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
		if (t >= p->ntasks)
			break;
		p->fn(p->arg, t, id);
	}
}

static void *worker_main(void *vp)
{
	struct worker_arg *wa = vp;
	vt_pool *p = wa->p;
	int id = wa->id;
	free(wa);
	unsigned long seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->gen == seen)
			pthread_cond_wait(&p->wake, &p->mu);
		if (p->stop)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		drain(p, id);
		pthread_mutex_lock(&p->mu);
		if (--p->active == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int vt_pool_new(vt_pool **out, int threads)
{
	*out = NULL;
	if (threads <= 0)
		threads = vt_cpu_count();
	if (threads > 1024)
		return VT_EINVAL;
	openblas_set_num_threads(1);
	vt_pool *p = calloc(1, sizeof *p);
	if (!p)
		return VT_ENOMEM;
	p->nthreads = threads;
	atomic_init(&p->next, 0);
	if (pthread_mutex_init(&p->mu, NULL)) {
		free(p);
		return VT_ENOMEM;
	}
	if (pthread_cond_init(&p->wake, NULL)) {
		pthread_mutex_destroy(&p->mu);
		free(p);
		return VT_ENOMEM;
	}
	if (pthread_cond_init(&p->done, NULL)) {
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return VT_ENOMEM;
	}
	if (threads > 1) {
		p->tids = malloc((size_t)(threads - 1) * sizeof *p->tids);
		if (!p->tids) {
			vt_pool_free(p);
			return VT_ENOMEM;
		}
		for (int i = 1; i < threads; i++) {
			struct worker_arg *wa = malloc(sizeof *wa);
			if (!wa) {
				vt_pool_free(p);
				return VT_ENOMEM;
			}
			wa->p = p;
			wa->id = i;
			if (pthread_create(&p->tids[i - 1], NULL, worker_main, wa)) {
				free(wa);
				vt_pool_free(p);
				return VT_ENOMEM;
			}
			p->nstarted++;
		}
	}
	*out = p;
	return 0;
}

void vt_pool_free(vt_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nstarted; i++)
		pthread_join(p->tids[i], NULL);
	free(p->tids);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int vt_pool_size(const vt_pool *p)
{
	return p ? p->nthreads : 1;
}

void vt_pool_run(vt_pool *p, size_t ntasks, vt_task_fn fn, void *arg)
{
	if (ntasks == 0)
		return;
	if (!p || p->nstarted == 0 || ntasks == 1) {
		for (size_t t = 0; t < ntasks; t++)
			fn(arg, t, 0);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->arg = arg;
	p->ntasks = ntasks;
	atomic_store(&p->next, 0);
	p->active = p->nstarted;
	p->gen++;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	drain(p, 0);
	pthread_mutex_lock(&p->mu);
	while (p->active > 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}
