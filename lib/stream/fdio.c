#define _POSIX_C_SOURCE 200809L
#include "stream/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

ssize_t vt_read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return VT_EIO;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int vt_write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE)
				return VT_EPIPE;
			if (errno == ENOSPC || errno == EDQUOT)
				return VT_ENOSPC;
			return VT_EIO;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int rd_init(vt_rd *r, int fd, int owns, const char *name)
{
	memset(r, 0, sizeof *r);
	r->buf = malloc(VT_RD_BUFSIZE);
	if (!r->buf)
		return VT_ENOMEM;
	r->fd = fd;
	r->owns_fd = owns;
	r->name = name;
	return 0;
}

int vt_rd_open(vt_rd *r, const char *path)
{
	if (!path || strcmp(path, "-") == 0)
		return rd_init(r, 0, 0, "(stdin)");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		memset(r, 0, sizeof *r);
		r->fd = -1;
		return VT_EIO;
	}
	int rc = rd_init(r, fd, 1, path);
	if (rc < 0) {
		close(fd);
		r->fd = -1;
	}
	return rc;
}

int vt_rd_from_fd(vt_rd *r, int fd, const char *name)
{
	return rd_init(r, fd, 0, name);
}

static int rd_fill(vt_rd *r, size_t want)
{
	if (r->len - r->pos >= want || r->eof)
		return 0;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	while (r->len < want && !r->eof) {
		ssize_t n = read(r->fd, r->buf + r->len, VT_RD_BUFSIZE - r->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return VT_EIO;
		}
		if (n == 0)
			r->eof = 1;
		r->len += (size_t)n;
	}
	return 0;
}

ssize_t vt_rd_peek(vt_rd *r, size_t n, const unsigned char **p)
{
	if (n > VT_RD_BUFSIZE)
		n = VT_RD_BUFSIZE;
	int rc = rd_fill(r, n);
	if (rc < 0)
		return rc;
	*p = r->buf + r->pos;
	size_t avail = r->len - r->pos;
	return (ssize_t)(avail < n ? avail : n);
}

ssize_t vt_rd_read(vt_rd *r, void *dst, size_t n)
{
	size_t got = 0;
	size_t avail = r->len - r->pos;
	if (avail) {
		size_t c = avail < n ? avail : n;
		memcpy(dst, r->buf + r->pos, c);
		r->pos += c;
		got = c;
	}
	if (got < n && !r->eof) {
		if (n - got >= VT_RD_BUFSIZE / 2) {
			ssize_t m = vt_read_full(r->fd, (char *)dst + got, n - got);
			if (m < 0)
				return m;
			if ((size_t)m < n - got)
				r->eof = 1;
			got += (size_t)m;
		} else {
			int rc = rd_fill(r, n - got);
			if (rc < 0)
				return rc;
			size_t c = r->len - r->pos;
			if (c > n - got)
				c = n - got;
			memcpy((char *)dst + got, r->buf + r->pos, c);
			r->pos += c;
			got += c;
		}
	}
	r->offset += got;
	return (ssize_t)got;
}

int vt_rd_read_exact(vt_rd *r, void *dst, size_t n)
{
	ssize_t got = vt_rd_read(r, dst, n);
	if (got < 0)
		return (int)got;
	return (size_t)got == n ? 0 : VT_ETRUNC;
}

int vt_rd_at_eof(vt_rd *r)
{
	int rc = rd_fill(r, 1);
	if (rc < 0)
		return rc;
	return r->len == r->pos;
}

void vt_rd_close(vt_rd *r)
{
	free(r->buf);
	r->buf = NULL;
	if (r->owns_fd && r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}
