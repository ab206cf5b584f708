/* vtrain: labels sorted by partition, out of core (vassign --sort): the
 * "shuffle" of an IVF index build, where every inverted list is the rows
 * of one partition.
 *
 * One labelling pass (bridge/labelpass.h) fills a run buffer of at most
 * `budget` bytes with records (id, the row's label words and, with
 * keep_rows, its input vector).  A full buffer is sorted by (partition 0,
 * id) -- a stable counting sort by partition, then a stable merge sort by
 * id of the partitions whose ids are not already in order -- and appended
 * as a run to one temporary file in tmpdir, created with mkstemp and
 * unlinked at once, so that nothing is left behind on an error or a
 * signal.  At the end a k-way merge (a binary heap keyed by (partition,
 * id, run)) of the runs writes the rows.  When all rows fit in one run no
 * temporary file is made.  The data on disk is read twice at most: the
 * input once, the runs once.
 *
 * Order: by the nearest partition (word 0 of a row), then id; rows of
 * equal (partition, id) keep their input order (the sort is stable), so
 * the bytes do not depend on the budget, the batch or the threads.
 */
#ifndef VT_SHUFFLE_H
#define VT_SHUFFLE_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/labelpass.h"
#include "stream/format.h"
#include "stream/writer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default run buffer: 1 GiB. */
#define VT_SORT_DEFAULT_BUDGET ((size_t)1 << 30)

typedef struct {
	size_t budget;       /* bytes of the run buffer (records and sort indices); 0: default */
	const char *tmpdir;  /* the directory of the runs' file (required) */
	int keep_rows;       /* carry the input rows too, for a vectors output */
} vt_sort_opts;

typedef struct {
	size_t runs;         /* sorted runs: 1 when everything fitted in memory */
	size_t run_rows;     /* the most rows a run holds */
	uint64_t spilled;    /* bytes written to (and read back from) the runs' file */
	double t_sort, t_merge; /* seconds sorting runs, merging them */
} vt_sort_stats;

/* Mark h (a labels or vectors header) as sorted by partition: metadata
 * order=partition (stream/labels.h, vt_labels_by_partition). */
int vt_sort_mark(vt_header *h);

/* The header of the input rows in partition order (--vectors-out): vectors
 * of dimension d with ids, and from the labels header lh its made_by, k,
 * centroids_id and order.  Returns 0 or a code of vt_header_set; h is
 * then freed. */
int vt_sort_vectors_header(vt_header *h, const vt_header *lh, size_t d);

/* Label every row of in as vt_assign_input does (ao; ao->sink must be
 * NULL), and write the labels to w in (partition, id) order; with wv (a
 * writer of a vectors header with ids and dimension d; so->keep_rows set),
 * the input rows with their ids in the same order.  counts (k entries, or
 * NULL) receives the rows of each partition.  Memory: the run buffer
 * (so->budget bytes at most, or about 1 MiB of records above it when one
 * record is larger), a batch of input rows with keep_rows, and the
 * labelling pass's own (labelpass.h).  Returns 0 or the pass's error
 * codes, and VT_EIO / VT_ENOSPC for the runs' file ("TMPDIR: ..."), with a
 * message in err; astats->write_failed is 1 when w failed, 2 when wv did. */
int vt_assign_sorted(vt_input *in, vt_pool *pool, const float *c, size_t k, size_t d,
                     const vt_assign_opts *ao, const vt_sort_opts *so, vt_writer *w,
                     vt_writer *wv, uint64_t *counts, vt_assign_stats *astats,
                     vt_sort_stats *sstats, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
