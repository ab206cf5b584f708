/* Fuzz the stream reader over every kind: the bytes are read as a vtrain
 * stream through vt_input (as every tool reads its inputs) in the three
 * ways the tools use (block by block; stored frames then decoded; row
 * batches across frames with every column), then by the kind-specific
 * readers: vt_model_load (centroids, codebooks, any kind held whole),
 * vt_accum_read (accumulators) and vt_sq_read_parts / vt_sq_read_merged
 * (SQ statistics).  Each input runs as given (checksum paths) and again
 * with its checksums recomputed (fz_fix_checksums), so that mutations
 * reach the sizes, kinds and metadata behind them. */
#include "fuzz.h"

#include "bridge/accumio.h"
#include "bridge/sqio.h"
#include "stream/input.h"
#include "bridge/model.h"
#include "train/accum.h"
#include "train/sq.h"

static volatile unsigned char sink;

/* Read the first and last byte of n bytes at p (ASan checks both). */
static void touch(const void *p, size_t n)
{
	if (p && n) {
		sink ^= ((const unsigned char *)p)[0];
		sink ^= ((const unsigned char *)p)[n - 1];
	}
}

static void touch_block(const vt_header *h, const vt_block *b)
{
	touch(b->ids, b->rows * 8);
	touch(b->weight, b->rows * 8);
	touch(b->loss, b->rows * 8);
	touch(b->data, b->rows * h->dim * vt_elem_size(h->elem));
}

static vt_input *open_vt(const char **path, char *err, size_t errlen)
{
	vt_input_opts o = {.from = VT_FMT_VT};
	vt_input *in = NULL;
	if (vt_input_open(&in, path, 1, &o, err, errlen) < 0)
		return NULL;
	return in;
}

static void run(const char *path)
{
	char err[1024];
	const char *paths[] = {path};
	vt_input *in;

	/* 1: block by block */
	if (!(in = open_vt(paths, err, sizeof err)))
		return;
	const vt_header *h = vt_input_header(in);
	int kind = h->kind;
	vt_block b;
	while (vt_input_next(in, &b, err, sizeof err) > 0)
		touch_block(vt_input_header(in), &b);
	vt_input_free(in);

	/* 2: stored frames, every other one decoded */
	if ((in = open_vt(paths, err, sizeof err))) {
		int codec, i = 0;
		const unsigned char *stored;
		size_t sl, rl;
		uint64_t ck;
		while (vt_input_next_stored(in, &codec, &stored, &sl, &rl, &ck, err, sizeof err) > 0) {
			touch(stored, sl);
			if (i++ % 2 && vt_input_decode_stored(in, &b, err, sizeof err) > 0)
				touch_block(vt_input_header(in), &b);
		}
		vt_input_free(in);
	}

	/* 3: batches of 3 rows across frames, with every column */
	if ((in = open_vt(paths, err, sizeof err))) {
		size_t rb = (size_t)vt_input_header(in)->dim * vt_elem_size(vt_input_header(in)->elem);
		void *data = malloc(3 * rb);
		uint64_t ids[3];
		double w[3], l[3];
		while (data && vt_input_read(in, 3, data, ids, w, l, err, sizeof err) > 0)
			touch(data, 3 * rb);
		free(data);
		vt_input_free(in);
	}

	/* 4: the whole stream as a model, whatever its kind */
	vt_model m;
	unsigned all = 0;
	for (int k = VT_KIND_VECTORS; k <= VT_KIND_ACCUM; k++)
		all |= VT_KINDMASK(k);
	if (vt_model_load(&m, path, all, 1u << 16, err, sizeof err) == 0)
		touch(m.x ? (void *)m.x : (void *)m.xd, m.rows * m.dim * vt_elem_size(m.h.elem));
	vt_model_free(&m);

	/* 5: the kind's own reader */
	if (kind == VT_KIND_ACCUM && (in = open_vt(paths, err, sizeof err))) {
		vt_accum *a = NULL;
		char id[17];
		if (vt_accum_read(in, &a, id, err, sizeof err) == 0)
			vt_accum_free(a);
		vt_input_free(in);
	}
	if (kind == VT_KIND_SQ && (in = open_vt(paths, err, sizeof err))) {
		vt_sq **parts = NULL;
		size_t np = 0;
		vt_sq_read_parts(in, &parts, &np, 64u << 20, err, sizeof err);
		for (size_t i = 0; i < np; i++)
			vt_sq_free(parts[i]);
		free(parts);
		vt_input_free(in);
		if ((in = open_vt(paths, err, sizeof err))) {
			vt_sq *s = NULL;
			vt_input *const ins[] = {in};
			if (vt_sq_read_merged(ins, 1, &s, err, sizeof err) == 0)
				vt_sq_free(s);
			vt_input_free(in);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(fz_file(data, size));
	uint8_t *fixed = malloc(size ? size : 1);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	fz_fix_checksums(fixed, size);
	if (size && memcmp(fixed, data, size) != 0)
		run(fz_file(fixed, size));
	free(fixed);
	return 0;
}
