/* vtrain: output files written atomically.
 *
 * vt_out_open("-" or NULL) writes to stdout.  Any other path is written to a
 * temporary file beside it (PATH.tmp.XXXXXX) that vt_out_commit() renames over
 * PATH; vt_out_abort() removes it.  Temporary files still open are removed
 * by vt_out_cleanup_all(), which is async-signal-safe, so a tool's SIGINT
 * handler can call it: a killed run leaves no half-written model.
 */
#ifndef VT_OUTPUT_H
#define VT_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	int fd;
	int is_stdout;      /* no temporary file: stdout, or a FIFO or device path */
	int direct;         /* a FIFO or device opened by path (closed at commit) */
	int seekable;       /* pwrite works (regular file) */
	char *path;         /* final path, NULL for stdout */
	char *tmp;          /* temporary path, NULL for stdout */
	int slot;           /* index in the signal-cleanup registry, or -1 */
	uint64_t written;   /* bytes written through vt_out_write */
} vt_out;

/* Open an output.  A path naming an existing FIFO, device or socket is
 * written in place (no temporary file).  For any other path, the temporary file is created in the same
 * directory (so the rename is atomic).  Returns 0, or VT_EIO (errno set). */
int vt_out_open(vt_out *o, const char *path);

/* Append n bytes.  Returns 0, VT_EPIPE, VT_ENOSPC or VT_EIO. */
int vt_out_write(vt_out *o, const void *p, size_t n);

/* Overwrite n bytes at offset off (already written).  VT_EUNSUP if the
 * output is not seekable. */
int vt_out_pwrite(vt_out *o, const void *p, size_t n, uint64_t off);

/* Finish: for a path, fsync, close and rename over the final name; for
 * stdout, nothing is closed.  Returns 0 or a VT_E* code (and the temporary
 * file is removed). */
int vt_out_commit(vt_out *o);

/* Abandon: remove the temporary file.  Safe to call after commit, and on a
 * zeroed vt_out. */
void vt_out_abort(vt_out *o);

/* Remove every temporary file still registered.  Async-signal-safe. */
void vt_out_cleanup_all(void);

#ifdef __cplusplus
}
#endif
#endif
