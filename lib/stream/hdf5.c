/* vtrain: HDF5 input through libhdf5 (see formats.h, vt_vecreader_open_hdf5,
 * and formats_priv.h).  The only file of vtrain that includes hdf5.h.
 *
 * Decisions that formats.h leaves open:
 *   - One dataset is one input: "train" unless named (FILE:NAME, split by
 *     vt_hdf5_split; NAME may be a path inside the file, "/group/x").
 *   - Only simple 2-D dataspaces: (rows, dimension).  A scalar, 1-D or
 *     3-D+ dataset is VT_EUNSUP naming its shape; a missing dataset is
 *     VT_EINVAL naming the file's top-level links.
 *   - Element types: float of 2 (IEEE half), 4 or 8 bytes and integers of
 *     1, 2, 4 or 8 bytes, signed or not.  libhdf5 reads each into the
 *     little-endian type of the same class and size (so byte order and
 *     odd precisions are its business, and no value changes on the way),
 *     and vt_el_convert turns that into float32 exactly as for the .npy of
 *     the same dtype: float32 is read straight into the caller's block.
 *     Enums, strings, compounds, arrays, ... are VT_EUNSUP.
 *   - Rows are read by hyperslabs of whole rows, one block at a time; a
 *     chunked dataset gets a chunk cache of two rows of chunks (so that a
 *     block that straddles two never reads a chunk twice), from 1 to
 *     256 MiB.
 *   - libhdf5 prints its error stack on stderr by default; that is turned
 *     off for the process (the library never prints).  A failure is one
 *     message with the innermost reason from the stack ("libhdf5: ...").
 *   - Locks: a read takes libhdf5's shared file lock, and goes on without
 *     one on a file system that has locking disabled (NFS, Lustre).
 */
#define _POSIX_C_SOURCE 200809L
#include "stream/formats_priv.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "error.h"

struct vt_h5 {
	hid_t file, dset, fspace, mtype;
	int own_mtype;       /* mtype was made here (H5Tclose it) */
	char name[256];      /* the dataset's name, for messages */
};

/* The most bytes of libhdf5's chunk cache for one dataset. */
#define H5_CACHE_MAX ((size_t)256 << 20)
#define H5_CACHE_MIN ((size_t)1 << 20)

/* ------------------------------------------------------------------ */
/* messages */

/* The innermost description of libhdf5's current error stack. */
static herr_t walk_first(unsigned n, const H5E_error2_t *e, void *data)
{
	char *buf = data;
	if (n == 0 && e && e->desc)
		snprintf(buf, 200, "%s", e->desc);
	return 0;
}

static const char *h5_why(char buf[200])
{
	buf[0] = 0;
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_first, buf);
	if (!buf[0])
		snprintf(buf, 200, "no reason given");
	return buf;
}

/* The shape (a, b, ...) of dims into s. */
static void shape_str(char *s, size_t cap, const hsize_t *dims, int ndims)
{
	size_t n = 0;
	n += (size_t)snprintf(s + n, cap - n, "(");
	for (int i = 0; i < ndims && n < cap; i++)
		n += (size_t)snprintf(s + n, cap - n, "%s%llu", i ? ", " : "",
		                      (unsigned long long)dims[i]);
	if (n < cap)
		snprintf(s + n, cap - n, ")");
}

typedef struct {
	char *buf;
	size_t cap, len;
	unsigned count;
} names_ctx;

static herr_t list_one(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
	names_ctx *c = data;
	if (c->count++ == 8) {
		snprintf(c->buf + c->len, c->cap - c->len, ", ...");
		return 1;   /* stop */
	}
	int n = snprintf(c->buf + c->len, c->cap - c->len, "%s%s", c->len ? ", " : "", name);
	if (n > 0 && (size_t)n < c->cap - c->len)
		c->len += (size_t)n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the path */

static int ends_h5(const char *s, size_t n)
{
	static const char *const exts[] = {".hdf5", ".h5"};
	for (size_t i = 0; i < 2; i++) {
		size_t m = strlen(exts[i]);
		if (n < m)
			continue;
		size_t j = 0;
		while (j < m && tolower((unsigned char)s[n - m + j]) == exts[i][j])
			j++;
		if (j == m)
			return 1;
	}
	return 0;
}

size_t vt_hdf5_split(const char *arg)
{
	size_t len = strlen(arg);
	struct stat st;
	if (strchr(arg, ':') == NULL || stat(arg, &st) == 0)
		return len;
	for (const char *p = strchr(arg, ':'); p; p = strchr(p + 1, ':')) {
		size_t n = (size_t)(p - arg);
		if (n == 0 || !p[1])
			continue;
		if (ends_h5(arg, n))
			return n;
		char file[4096];
		if (n < sizeof file) {
			memcpy(file, arg, n);
			file[n] = 0;
			if (stat(file, &st) == 0 && !S_ISDIR(st.st_mode))
				return n;
		}
	}
	return len;
}

/* ------------------------------------------------------------------ */
/* open */

/* The bytes that the superblock of the HDF5 file at path says the file
 * holds (its end-of-file address, which counts a user block before the
 * superblock too: libhdf5 compares it with the file's size), and the
 * file's size; 0 when it cannot tell.  Only for the message of a file that
 * libhdf5 would not open: libhdf5 reads past the end of a file as zeros, so
 * a file cut before its root group fails on those zeros ("bad symbol table
 * leaf node") before its own length check. */
static int stored_eof(const char *path, uint64_t *want, uint64_t *size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	struct stat st;
	int found = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		/* the signature is at 0, 512, 1024, 2048, ... (after a user block) */
		for (uint64_t at = 0; at + 8 <= *size && !found; at = at ? 2 * at : 512) {
			unsigned char b[64];
			ssize_t n = pread(fd, b, sizeof b, (off_t)at);
			if (n < 12 || memcmp(b, "\x89HDF\r\n\x1a\n", 8) != 0)
				continue;
			unsigned v = b[8], o, pos;
			if (v <= 1)
				o = b[13], pos = v == 0 ? 24 : 28;
			else
				o = b[9], pos = 12;
			if ((o != 2 && o != 4 && o != 8) || pos + 3 * o > (unsigned)n)
				break;
			uint64_t eof = 0;
			for (unsigned i = o; i-- > 0;)
				eof = eof << 8 | b[pos + 2 * o + i];
			if (eof == UINT64_MAX >> (64 - 8 * o))
				break;   /* undefined */
			*want = eof;
			found = 1;
		}
	}
	close(fd);
	return found;
}

void vt_h5_close(struct vt_h5 *h)
{
	if (!h)
		return;
	if (h->own_mtype && h->mtype >= 0)
		H5Tclose(h->mtype);
	if (h->fspace >= 0)
		H5Sclose(h->fspace);
	if (h->dset >= 0)
		H5Dclose(h->dset);
	if (h->file >= 0)
		H5Fclose(h->file);
	free(h);
}

/* The element type of dataset type t: r->el, and h->mtype to read it as. */
static int pick_type(vt_vecreader *r, struct vt_h5 *h, hid_t t, char *err, size_t errlen)
{
	H5T_class_t cls = H5Tget_class(t);
	size_t size = H5Tget_size(t);
	if (cls == H5T_FLOAT) {
		switch (size) {
		case 2: {
			/* IEEE half, little-endian, as h5py and numpy spell it */
			hid_t m = H5Tcopy(H5T_IEEE_F32LE);
			if (m < 0 || H5Tset_fields(m, 15, 10, 5, 0, 10) < 0 || H5Tset_size(m, 2) < 0 ||
			    H5Tset_ebias(m, 15) < 0) {
				if (m >= 0)
					H5Tclose(m);
				char why[200];
				return vt_fmt_err(err, errlen, VT_EUNSUP, "dataset '%s': float16: libhdf5: %s",
				                  h->name, h5_why(why));
			}
			h->mtype = m;
			h->own_mtype = 1;
			r->el = VT_EL_F16;
			return 0;
		}
		case 4:
			h->mtype = H5T_NATIVE_FLOAT;   /* straight into the caller's block */
			r->el = VT_EL_F32;
			return 0;
		case 8:
			h->mtype = H5T_IEEE_F64LE;
			r->el = VT_EL_F64;
			return 0;
		default:
			break;
		}
		return vt_fmt_err(err, errlen, VT_EUNSUP,
		                  "dataset '%s' has %zu-byte floats (float of 2, 4 or 8 bytes, "
		                  "and integers, are read)", h->name, size);
	}
	if (cls == H5T_INTEGER) {
		int sgn = H5Tget_sign(t) == H5T_SGN_2;
		switch (size) {
		case 1:
			h->mtype = sgn ? H5T_STD_I8LE : H5T_STD_U8LE;
			r->el = sgn ? VT_EL_I8 : VT_EL_U8;
			return 0;
		case 2:
			h->mtype = sgn ? H5T_STD_I16LE : H5T_STD_U16LE;
			r->el = sgn ? VT_EL_I16 : VT_EL_U16;
			return 0;
		case 4:
			h->mtype = sgn ? H5T_STD_I32LE : H5T_STD_U32LE;
			r->el = sgn ? VT_EL_I32 : VT_EL_U32;
			return 0;
		case 8:
			h->mtype = sgn ? H5T_STD_I64LE : H5T_STD_U64LE;
			r->el = sgn ? VT_EL_I64 : VT_EL_U64;
			return 0;
		default:
			break;
		}
		return vt_fmt_err(err, errlen, VT_EUNSUP,
		                  "dataset '%s' has %zu-byte integers (integers of 1, 2, 4 or 8 "
		                  "bytes, and floats, are read)", h->name, size);
	}
	static const struct {
		H5T_class_t c;
		const char *name;
	} classes[] = {
		{H5T_TIME, "time"},         {H5T_STRING, "string"},
		{H5T_BITFIELD, "bitfield"}, {H5T_OPAQUE, "opaque"},
		{H5T_COMPOUND, "compound"}, {H5T_REFERENCE, "reference"},
		{H5T_ENUM, "enum"},         {H5T_VLEN, "variable-length"},
		{H5T_ARRAY, "array"},
	};
	const char *what = "unknown";
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (classes[i].c == cls)
			what = classes[i].name;
	return vt_fmt_err(err, errlen, VT_EUNSUP,
	                  "dataset '%s' has %s elements (float and integer datasets are read)",
	                  h->name, what);
}

/* A chunk cache of two rows of chunks for a chunked dataset (0 when the
 * default serves: not chunked, or small chunks). */
static size_t cache_bytes(hid_t dset, uint32_t dim, size_t esize)
{
	hid_t dcpl = H5Dget_create_plist(dset);
	if (dcpl < 0)
		return 0;
	size_t want = 0;
	hsize_t c[2];
	if (H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 2, c) == 2 && c[0] && c[1]) {
		uint64_t across = ((uint64_t)dim + c[1] - 1) / c[1];
		uint64_t b = 2 * across * c[0] * c[1] * esize;
		if (b / 2 / esize / c[0] / c[1] != across)
			b = H5_CACHE_MAX;   /* wrapped: absurd chunks */
		if (b > H5_CACHE_MIN)
			want = b > H5_CACHE_MAX ? H5_CACHE_MAX : (size_t)b;
	}
	H5Pclose(dcpl);
	return want;
}

/* Open file and dataset into h; sets r->el, r->dim, r->rows. */
static int h5_open(vt_vecreader *r, struct vt_h5 *h, const char *path, char *err,
                   size_t errlen)
{
	char why[200];
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	if (fapl < 0)
		return vt_fmt_err(err, errlen, VT_ENOMEM, "libhdf5: %s", h5_why(why));
	H5Pset_file_locking(fapl, 1, 1);
	h->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
	if (h->file < 0)
		h5_why(why);   /* before the next call clears the stack */
	H5Pclose(fapl);
	if (h->file < 0) {
		htri_t is = H5Fis_hdf5(path);
		if (is == 0)
			return vt_fmt_err(err, errlen, VT_EMAGIC,
			                  "not an HDF5 file (no HDF5 signature)");
		uint64_t want, size;
		if (stored_eof(path, &want, &size) && size < want)
			return vt_fmt_err(err, errlen, VT_ETRUNC,
			                  "truncated HDF5 file: %" PRIu64 " bytes, of the %" PRIu64
			                  " its superblock says (libhdf5: %s)", size, want, why);
		return vt_fmt_err(err, errlen, strncmp(why, "truncated", 9) ? VT_EFORMAT : VT_ETRUNC,
		                  "cannot open as HDF5 (libhdf5: %s)", why);
	}
	if (H5Lexists(h->file, h->name, H5P_DEFAULT) <= 0) {
		char names[200] = "";
		names_ctx c = {names, sizeof names, 0, 0};
		hsize_t idx = 0;
		H5Literate(h->file, H5_INDEX_NAME, H5_ITER_INC, &idx, list_one, &c);
		return vt_fmt_err(err, errlen, VT_EINVAL,
		                  "no dataset '%s' in the file (its top level holds: %s); "
		                  "name one as FILE:NAME", h->name, c.count ? names : "nothing");
	}
	/* what the name is (H5Iget_type: the same in libhdf5 1.10 to 1.14) */
	hid_t obj = H5Oopen(h->file, h->name, H5P_DEFAULT);
	if (obj < 0)
		return vt_fmt_err(err, errlen, VT_EFORMAT, "'%s': libhdf5: %s", h->name,
		                  h5_why(why));
	H5I_type_t ot = H5Iget_type(obj);
	H5Oclose(obj);
	if (ot != H5I_DATASET)
		return vt_fmt_err(err, errlen, VT_EINVAL, "'%s' is %s, not a dataset", h->name,
		                  ot == H5I_GROUP ? "a group" : ot == H5I_DATATYPE ? "a named type"
		                                                              : "no dataset");
	h->dset = H5Dopen2(h->file, h->name, H5P_DEFAULT);
	if (h->dset < 0)
		return vt_fmt_err(err, errlen, VT_EFORMAT, "dataset '%s': libhdf5: %s", h->name,
		                  h5_why(why));
	h->fspace = H5Dget_space(h->dset);
	if (h->fspace < 0)
		return vt_fmt_err(err, errlen, VT_EFORMAT, "dataset '%s': libhdf5: %s", h->name,
		                  h5_why(why));
	int nd = H5Sget_simple_extent_ndims(h->fspace);
	hsize_t dims[H5S_MAX_RANK];
	if (nd < 0 || H5Sget_simple_extent_dims(h->fspace, dims, NULL) < 0)
		return vt_fmt_err(err, errlen, VT_EFORMAT, "dataset '%s': libhdf5: %s", h->name,
		                  h5_why(why));
	if (nd != 2) {
		char sh[160];
		shape_str(sh, sizeof sh, dims, nd);
		return vt_fmt_err(err, errlen, VT_EUNSUP,
		                  "dataset '%s' has %d dimension%s, shape %s: only 2-D datasets "
		                  "(rows, dimension) are read", h->name, nd, nd == 1 ? "" : "s", sh);
	}
	hid_t t = H5Dget_type(h->dset);
	if (t < 0)
		return vt_fmt_err(err, errlen, VT_EFORMAT, "dataset '%s': libhdf5: %s", h->name,
		                  h5_why(why));
	int rc = pick_type(r, h, t, err, errlen);
	H5Tclose(t);
	if (rc < 0)
		return rc;
	char what[300];
	snprintf(what, sizeof what, "dataset '%s': row dimension", h->name);
	if ((rc = vt_fmt_check_dim(dims[1], what, err, errlen)) < 0)
		return rc;
	r->dim = (uint32_t)dims[1];
	if (dims[0] > (hsize_t)INT64_MAX)
		return vt_fmt_err(err, errlen, VT_ELIMIT, "dataset '%s' has too many rows", h->name);
	if ((rc = vt_fmt_check_total(dims[0], r->dim, vt_el_size(r->el), err, errlen)) < 0)
		return rc;
	r->rows = (int64_t)dims[0];
	/* a chunk cache that holds what a block spans */
	size_t cb = cache_bytes(h->dset, r->dim, vt_el_size(r->el));
	if (cb) {
		hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
		if (dapl >= 0 && H5Pset_chunk_cache(dapl, 10007, cb, 1.0) >= 0) {
			hid_t d2 = H5Dopen2(h->file, h->name, dapl);
			if (d2 >= 0) {
				H5Dclose(h->dset);
				h->dset = d2;
			}
		}
		if (dapl >= 0)
			H5Pclose(dapl);
	}
	return 0;
}

int vt_vecreader_open_hdf5(vt_vecreader **out, const char *path, const char *dataset,
                           char *err, size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	if (!dataset || !*dataset)
		dataset = VT_HDF5_DEFAULT_DATASET;
	if (strlen(dataset) >= sizeof ((struct vt_h5 *)0)->name)
		return vt_fmt_err(err, errlen, VT_EINVAL, "dataset name too long");
	/* the library never prints: no error stacks on stderr */
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	vt_vecreader *r = calloc(1, sizeof *r);
	struct vt_h5 *h = calloc(1, sizeof *h);
	if (!r || !h) {
		free(r);
		free(h);
		return vt_fmt_err(err, errlen, VT_ENOMEM, "out of memory");
	}
	h->file = h->dset = h->fspace = h->mtype = H5I_INVALID_HID;
	snprintf(h->name, sizeof h->name, "%s", dataset);
	r->fmt = VT_FMT_HDF5;
	r->rows = -1;
	r->h5 = h;
	int rc = h5_open(r, h, path, err, errlen);
	if (rc < 0) {
		vt_vecreader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* ------------------------------------------------------------------ */
/* read */

/* Rows [row, row + n) into buf as h->mtype. */
static int read_slab(struct vt_h5 *h, uint64_t row, size_t n, uint32_t dim, void *buf,
                     char *err, size_t errlen)
{
	hsize_t start[2] = {row, 0}, count[2] = {n, dim};
	char why[200];
	if (H5Sselect_hyperslab(h->fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
		return vt_fmt_err(err, errlen, VT_EFORMAT, "dataset '%s': libhdf5: %s", h->name,
		                  h5_why(why));
	hid_t ms = H5Screate_simple(2, count, NULL);
	if (ms < 0)
		return vt_fmt_err(err, errlen, VT_ENOMEM, "dataset '%s': libhdf5: %s", h->name,
		                  h5_why(why));
	herr_t rc = H5Dread(h->dset, h->mtype, ms, h->fspace, H5P_DEFAULT, buf);
	if (rc < 0)
		h5_why(why);
	H5Sclose(ms);
	if (rc < 0)
		return vt_fmt_err(err, errlen, VT_EFORMAT,
		                  "dataset '%s': rows %" PRIu64 "..%" PRIu64 " cannot be read "
		                  "(libhdf5: %s)", h->name, row, row + n - 1, why);
	return 0;
}

int64_t vt_h5_read(vt_vecreader *r, float *dst, size_t max_rows, char *err, size_t errlen)
{
	struct vt_h5 *h = r->h5;
	uint64_t left = (uint64_t)r->rows - r->done;
	size_t want = max_rows < left ? max_rows : (size_t)left;
	if (want == 0)
		return 0;
	uint32_t d = r->dim;
	int rc;
	if (r->el == VT_EL_F32) {
		if ((rc = read_slab(h, r->done, want, d, dst, err, errlen)) < 0)
			return rc;
	} else {
		size_t rowbytes = (size_t)d * vt_el_size(r->el);
		if ((rc = vt_fmt_get_scratch(r, rowbytes, err, errlen)) < 0)
			return rc;
		size_t piece = r->scratch_cap / rowbytes;
		for (size_t got = 0; got < want;) {
			size_t n = want - got < piece ? want - got : piece;
			if ((rc = read_slab(h, r->done + got, n, d, r->scratch, err, errlen)) < 0)
				return rc;
			vt_el_convert(r->el, 0, r->scratch, dst + got * d, n * d);
			got += n;
		}
	}
	r->done += want;
	return (int64_t)want;
}
