/* vtrain fuzz harnesses: what they share.
 *
 * Each harness is a libFuzzer entry point (LLVMFuzzerTestOneInput) built
 * with -DVT_FUZZ=ON (clang, -fsanitize=fuzzer,address,undefined), and the
 * same source linked with replay.c into a plain program that runs the
 * harness over files (the seed corpus and the crash inputs kept under
 * tests/fixtures/fuzz/) as a ctest regression test in every build.
 *
 * The input bytes are given to the library as a file: an in-memory file
 * (memfd) opened by its /proc/self/fd path, so that they go through the
 * same vt_input / vt_rd code that the tools use on a path.
 */
#ifndef VT_FUZZ_H
#define VT_FUZZ_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stream/format.h"
#include "stream/fdio.h"
#include "stream/input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The path of an in-memory file that holds exactly data[0..size). */
static inline const char *fz_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("vtfuzz", 0);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0)
		abort();
	size_t off = 0;
	while (off < size) {
		ssize_t w = pwrite(fd, data + off, size - off, (off_t)off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	return path;
}

/* Recompute every checksum of what looks like a vtrain stream in d[0..n),
 * in place: the header checksum, each frame's header check and payload
 * checksum, and each end marker's frame and row counts, chain and check.
 * Parsing is lenient (it follows the sizes as written and stops where they
 * run past the end), so that the fuzzer's mutations of sizes, kinds and
 * metadata reach the code behind the checksums. */
static inline void fz_fix_checksums(uint8_t *d, size_t n)
{
	size_t off = 0;
	while (off + VT_HEADER_FIXED + 8 <= n && memcmp(d + off, VT_MAGIC, 4) == 0) {
		size_t mb = vt_le32(d + off + 20);
		if (mb > n - off - VT_HEADER_FIXED - 8)
			return;
		size_t hl = VT_HEADER_FIXED + mb;
		vt_put64(d + off + hl, vt_hash64(d + off, hl, 0));
		off += hl + 8;
		uint64_t frames = 0, rows = 0, chain = 0;
		for (;;) {
			if (off + 4 > n)
				return;
			if (memcmp(d + off, VT_FRAME_TAG, 4) == 0) {
				if (off + VT_FRAME_HEADER > n)
					return;
				uint8_t *fh = d + off;
				vt_put32(fh + 20, (uint32_t)vt_hash64(fh, 20, 0));
				size_t stored = vt_le32(fh + 16);
				if (stored > n - off - VT_FRAME_HEADER)
					return;
				uint64_t ck = vt_hash64(fh + VT_FRAME_HEADER, stored, 0);
				vt_put64(fh + 24, ck);
				unsigned char c8[8];
				vt_put64(c8, ck);
				chain = vt_hash64(c8, 8, chain);
				frames++;
				rows += vt_le32(fh + 8);
				off += VT_FRAME_HEADER + stored;
			} else if (memcmp(d + off, VT_END_TAG, 4) == 0) {
				if (off + VT_END_MARKER > n)
					return;
				uint8_t *m = d + off;
				vt_put64(m + 8, frames);
				vt_put64(m + 16, rows);
				vt_put64(m + 24, chain);
				vt_put64(m + 32, vt_hash64(m, 32, 0));
				off += VT_END_MARKER;
				break;
			} else {
				return;
			}
		}
	}
}


/* Read by the harnesses so that their reads are not optimised away. */
volatile float fz_sinkf;

/* Read the file at path as format fmt through vt_input, as the tools read
 * their inputs, in blocks of block_rows rows (0: the tools' default);
 * touch the first and last value of each block. */
static inline void fz_read_format(const char *path, vt_format fmt, size_t block_rows)
{
	char err[1024];
	const char *paths[] = {path};
	vt_input_opts o = {.from = fmt, .block_rows = block_rows};
	vt_input *in = NULL;
	if (vt_input_open(&in, paths, 1, &o, err, sizeof err) < 0)
		return;
	size_t d = vt_input_header(in)->dim;
	vt_block b;
	while (vt_input_next(in, &b, err, sizeof err) > 0) {
		const float *x = b.data;
		fz_sinkf += x[0] + x[b.rows * d - 1];
	}
	vt_input_free(in);
}

#endif
