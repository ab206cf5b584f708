#define _POSIX_C_SOURCE 200809L
#include "stream/output.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "stream/fdio.h"

/* Registry of temporary paths, read by the signal handler.  A slot holds a
 * NUL-terminated path copied in full before it is marked live. */
#define VT_OUT_SLOTS 16
#define VT_OUT_PATHMAX 4096
static char tmp_paths[VT_OUT_SLOTS][VT_OUT_PATHMAX];
static volatile sig_atomic_t tmp_live[VT_OUT_SLOTS];

static int reg_add(const char *path)
{
	if (strlen(path) >= VT_OUT_PATHMAX)
		return -1;
	for (int i = 0; i < VT_OUT_SLOTS; i++) {
		if (!tmp_live[i]) {
			memcpy(tmp_paths[i], path, strlen(path) + 1);
			tmp_live[i] = 1;
			return i;
		}
	}
	return -1;
}

static void reg_del(int slot)
{
	if (slot >= 0 && slot < VT_OUT_SLOTS)
		tmp_live[slot] = 0;
}

void vt_out_cleanup_all(void)
{
	for (int i = 0; i < VT_OUT_SLOTS; i++) {
		if (tmp_live[i]) {
			unlink(tmp_paths[i]);
			tmp_live[i] = 0;
		}
	}
}

int vt_out_open(vt_out *o, const char *path)
{
	memset(o, 0, sizeof *o);
	o->slot = -1;
	o->fd = -1;
	if (!path || strcmp(path, "-") == 0) {
		struct stat st;
		o->fd = 1;
		o->is_stdout = 1;
		o->seekable = fstat(1, &st) == 0 && S_ISREG(st.st_mode) &&
		              lseek(1, 0, SEEK_CUR) == 0;
		return 0;
	}
	/* An existing FIFO, device or socket is written in place: there is
	 * nothing to replace atomically, and a rename would destroy it. */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		o->fd = open(path, O_WRONLY | O_CLOEXEC);
		if (o->fd < 0)
			return VT_EIO;
		o->is_stdout = 1;   /* committed and aborted as a stream: no rename */
		o->seekable = 0;
		o->direct = 1;
		return 0;
	}
	size_t len = strlen(path);
	o->path = malloc(len + 1);
	o->tmp = malloc(len + 16);
	if (!o->path || !o->tmp) {
		free(o->path);
		free(o->tmp);
		o->path = o->tmp = NULL;
		return VT_ENOMEM;
	}
	memcpy(o->path, path, len + 1);
	snprintf(o->tmp, len + 16, "%s.tmp.XXXXXX", path);
	/* Block signals while the file exists but is not yet registered. */
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	o->fd = mkstemp(o->tmp);
	int err = errno;
	if (o->fd >= 0)
		o->slot = reg_add(o->tmp);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (o->fd < 0) {
		free(o->path);
		free(o->tmp);
		o->path = o->tmp = NULL;
		errno = err;
		return VT_EIO;
	}
	/* mkstemp makes 0600; give the file the usual umask-based mode. */
	mode_t um = umask(0);
	umask(um);
	fchmod(o->fd, 0666 & ~um);
	o->seekable = 1;
	return 0;
}

int vt_out_write(vt_out *o, const void *p, size_t n)
{
	int rc = vt_write_full(o->fd, p, n);
	if (rc == 0)
		o->written += n;
	return rc;
}

int vt_out_pwrite(vt_out *o, const void *p, size_t n, uint64_t off)
{
	if (!o->seekable)
		return VT_EUNSUP;
	const char *c = p;
	while (n > 0) {
		ssize_t w = pwrite(o->fd, c, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == ENOSPC ? VT_ENOSPC : VT_EIO;
		}
		c += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static void out_release(vt_out *o)
{
	free(o->path);
	free(o->tmp);
	o->path = o->tmp = NULL;
	o->slot = -1;
}

int vt_out_commit(vt_out *o)
{
	if (o->direct) {
		int rc = close(o->fd) == 0 ? 0 : errno == ENOSPC ? VT_ENOSPC : VT_EIO;
		o->fd = -1;
		o->direct = 0;
		return rc;
	}
	if (o->is_stdout)
		return 0;
	if (!o->tmp)
		return VT_EINVAL;
	int rc = 0;
	if (fsync(o->fd) != 0 && errno != EINVAL && errno != EROFS)
		rc = errno == ENOSPC ? VT_ENOSPC : VT_EIO;
	if (close(o->fd) != 0 && rc == 0)
		rc = errno == ENOSPC ? VT_ENOSPC : VT_EIO;
	o->fd = -1;
	if (rc == 0 && rename(o->tmp, o->path) != 0)
		rc = VT_EIO;
	if (rc != 0) {
		int err = errno;
		unlink(o->tmp);
		errno = err;
	}
	reg_del(o->slot);
	out_release(o);
	return rc;
}

void vt_out_abort(vt_out *o)
{
	if (o->direct && o->fd >= 0) {
		close(o->fd);
		o->fd = -1;
		o->direct = 0;
	}
	if (o->is_stdout || !o->tmp)
		return;
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	unlink(o->tmp);
	reg_del(o->slot);
	out_release(o);
}
