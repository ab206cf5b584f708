/* vtrain: a small reusable thread pool for the maths wing.
 *
 * A pool of T threads (the caller counts as one of them) runs a batch of
 * independent tasks 0..ntasks-1.  Tasks are handed out dynamically, so which
 * thread runs which task varies; callers keep their results deterministic by
 * making each task's output depend only on the task index (fixed row blocks,
 * per-task partial sums reduced in task order).  The pool is created once and
 * reused across iterations, so no thread is created per call.
 *
 * A NULL pool is valid everywhere and means "run serially in the caller".
 */
#ifndef VT_POOL_H
#define VT_POOL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_pool vt_pool;

/* One task: arg is the caller's context, task in [0, ntasks), worker in
 * [0, vt_pool_size(pool)) identifies the running thread (for per-thread
 * scratch space).  Two tasks never run at once with the same worker id. */
typedef void (*vt_task_fn)(void *arg, size_t task, int worker);

/* Create a pool of `threads` threads (the caller plus threads-1 workers);
 * threads <= 0 means the number of online CPUs.  Also limits OpenBLAS to
 * one thread (openblas_set_num_threads(1)) so that its own pool does not
 * spin against ours.  *out is NULL on failure.
 * Returns 0, VT_EINVAL (threads > 1024) or VT_ENOMEM. */
int vt_pool_new(vt_pool **out, int threads);

/* Stop and join the workers, free the pool.  NULL-safe. */
void vt_pool_free(vt_pool *p);

/* Number of threads, including the caller (1 for a NULL pool). */
int vt_pool_size(const vt_pool *p);

/* Run fn(arg, t, worker) for every t in [0, ntasks) and return when all
 * are done.  The calling thread takes part.  Not reentrant: do not call
 * vt_pool_run on the same pool from inside a task. */
void vt_pool_run(vt_pool *p, size_t ntasks, vt_task_fn fn, void *arg);

/* Number of online CPUs (at least 1). */
int vt_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif
