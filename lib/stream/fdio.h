/* vtrain: robust file-descriptor I/O and a buffered reader.
 *
 * vt_read_full / vt_write_full retry on EINTR and short counts.  A write to
 * a closed pipe returns VT_EPIPE (SIGPIPE is left to the tool: see
 * vt_cli_exit_quietly_on_epipe()).
 *
 * vt_rd is a buffered reader over one fd with look-ahead, so that a format
 * can be told by its magic number even on a pipe.  It never seeks.
 */
#ifndef VT_FDIO_H
#define VT_FDIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Read up to n bytes; fewer only at end of file.  Returns the count read
 * (>= 0) or VT_EIO (errno set). */
ssize_t vt_read_full(int fd, void *buf, size_t n);

/* Write all n bytes.  Returns 0, VT_EPIPE, VT_ENOSPC or VT_EIO (errno set). */
int vt_write_full(int fd, const void *buf, size_t n);

#define VT_RD_BUFSIZE (1u << 17)

typedef struct {
	int fd;
	int owns_fd;            /* close fd in vt_rd_close */
	const char *name;       /* for messages: the path, or "(stdin)" */
	unsigned char *buf;
	size_t pos, len;        /* buffered bytes are buf[pos..len) */
	int eof;
	uint64_t offset;        /* bytes consumed so far (position of buf[pos]) */
} vt_rd;

/* Open path for reading ("-" or NULL is stdin).  Returns 0 or VT_EIO /
 * VT_ENOMEM.  On failure nothing needs closing. */
int vt_rd_open(vt_rd *r, const char *path);

/* Wrap an existing fd (not closed by vt_rd_close). */
int vt_rd_from_fd(vt_rd *r, int fd, const char *name);

/* Make up to n (<= VT_RD_BUFSIZE) bytes available without consuming them.
 * *p points at them; returns the count available (< n only at end of file)
 * or VT_EIO. */
ssize_t vt_rd_peek(vt_rd *r, size_t n, const unsigned char **p);

/* Consume up to n bytes into dst.  Returns the count (< n only at end of
 * file) or VT_EIO.  Large reads go straight to dst. */
ssize_t vt_rd_read(vt_rd *r, void *dst, size_t n);

/* Like vt_rd_read, but fewer than n bytes is VT_ETRUNC (0 bytes at a clean
 * end of file too, unless the caller checks vt_rd_at_eof first). */
int vt_rd_read_exact(vt_rd *r, void *dst, size_t n);

/* 1 if no more bytes can be read, 0 if some can, VT_EIO on error. */
int vt_rd_at_eof(vt_rd *r);

/* Release the buffer and close the fd if owned.  NULL-safe members. */
void vt_rd_close(vt_rd *r);

/* Little-endian helpers. */
static inline uint16_t vt_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t vt_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}
static inline uint64_t vt_le64(const unsigned char *p)
{
	return (uint64_t)vt_le32(p) | ((uint64_t)vt_le32(p + 4) << 32);
}
static inline void vt_put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}
static inline void vt_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static inline void vt_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

#ifdef __cplusplus
}
#endif
#endif
