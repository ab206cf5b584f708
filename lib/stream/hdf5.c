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
 *     256 MiB, except unfiltered chunks of whole rows, which libhdf5
 *     reads in place without one.
 *   - libhdf5 prints its error stack on stderr by default; that is turned
 *     off for the process (the library never prints).  A failure is one
 *     message with the innermost reason from the stack ("libhdf5: ...").
 *   - What libhdf5 1.10 trusts is checked first (check_layout,
 *     check_chunks): the shape against what the file can hold, the chunk
 *     shape against the dataset's, each chunk's place and size; a file
 *     shorter than its superblock says is "truncated" (stored_eof).
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
#include <zlib.h>

#include "error.h"

struct vt_h5 {
	hid_t file, dset, fspace, mtype;
	int own_mtype;       /* mtype was made here (H5Tclose it) */
	char name[256];      /* the dataset's name, for messages */
	/* a chunked dataset: its chunks are checked before they are read */
	int chunked, nfilters;
	int known;           /* every filter is deflate, shuffle or fletcher32 */
	int f_deflate, f_fletcher;   /* their indices in the pipeline, or -1 */
	unsigned char *raw, *sink;   /* a stored chunk, inflate's output */
	size_t raw_cap;
	hsize_t chunk[2];
	uint64_t chunk_bytes, dim, file_size;
	uint64_t next_crow;  /* the first row of chunks not checked yet */
};

/* The most bytes of libhdf5's chunk cache for one dataset. */
#define H5_CACHE_MAX ((size_t)256 << 20)
#define H5_CACHE_MIN ((size_t)1 << 20)
/* check_layout's answer for no chunk cache at all (libhdf5 then reads the
 * rows selected of each chunk from the file into the caller's block) */
#define H5_NO_CACHE ((size_t)-1)

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
	free(h->raw);
	free(h->sink);
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

/* The storage layout of the dataset, checked where libhdf5 1.10 trusts
 * the file and would read out of its buffers (a chunk larger than the
 * dataset can ever be: seen to crash it), or past the file's end (a
 * contiguous dataset); and the chunk cache that it needs in *cache: none
 * (H5_NO_CACHE) for unfiltered chunks of whole rows, which libhdf5 then
 * reads straight into the caller's block (a cache costs a copy: 1.5x the
 * time of .npy, measured on Fashion-MNIST); else two rows of chunks, so
 * that a block that straddles two never reads (or inflates) a chunk twice;
 * 0 when the default serves (not chunked, or small chunks). */
static int check_layout(struct vt_h5 *h, const char *path, const hsize_t *dims,
                        const hsize_t *maxdims, size_t esize, size_t *cache, char *err,
                        size_t errlen)
{
	*cache = 0;
	hid_t dcpl = H5Dget_create_plist(h->dset);
	char why[200];
	if (dcpl < 0)
		return vt_fmt_err(err, errlen, VT_EFORMAT, "dataset '%s': libhdf5: %s", h->name,
		                  h5_why(why));
	int rc = 0;
	struct stat st;
	uint64_t fsize = stat(path, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
	uint64_t bytes = dims[0] * dims[1] * esize;   /* checked by vt_fmt_check_total */
	H5D_layout_t lay = H5Pget_layout(dcpl);
	/* What the file can hold: unfiltered data takes its bytes in the file,
	 * and deflate shrinks at most 1032 times.  More is a damaged shape (or
	 * chunks never written, which read as the fill value), that would
	 * otherwise stream fill values for as long as the shape says. */
	int nf = lay == H5D_CHUNKED ? H5Pget_nfilters(dcpl) : 0;
	uint64_t most = fsize;
	for (int i = 0; i < nf && most < UINT64_MAX; i++) {
		unsigned flags;
		size_t nv = 0;
		H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nv, NULL, 0, NULL,
		                                 NULL);
		if (id == H5Z_FILTER_DEFLATE)
			most = fsize > UINT64_MAX / 1100 ? UINT64_MAX : fsize * 1100;
		else if (id != H5Z_FILTER_SHUFFLE && id != H5Z_FILTER_FLETCHER32)
			most = UINT64_MAX;   /* a filter vtrain does not know */
	}
	if (bytes > most) {
		char sh[80];
		shape_str(sh, sizeof sh, dims, 2);
		H5Pclose(dcpl);
		return vt_fmt_err(err, errlen, VT_EFORMAT,
		                  "dataset '%s' of shape %s (%" PRIu64 " bytes) is more than a file "
		                  "of %" PRIu64 " bytes holds: a damaged shape, or data never written",
		                  h->name, sh, bytes, fsize);
	}
	if (lay == H5D_CHUNKED) {
		hsize_t c[H5S_MAX_RANK];
		int nd = H5Pget_chunk(dcpl, H5S_MAX_RANK, c);
		if (nd != 2 || !c[0] || !c[1] ||
		    (maxdims[0] != H5S_UNLIMITED && c[0] > maxdims[0]) ||
		    (maxdims[1] != H5S_UNLIMITED && c[1] > maxdims[1]) ||
		    c[0] > UINT32_MAX || c[1] > UINT32_MAX || c[0] * c[1] > UINT32_MAX / esize) {
			char sh[80] = "(?)", mx[80];
			if (nd == 2)
				shape_str(sh, sizeof sh, c, 2);
			shape_str(mx, sizeof mx, maxdims, 2);
			H5Pclose(dcpl);
			return vt_fmt_err(err, errlen, VT_EFORMAT,
			                  "dataset '%s' is damaged: chunks of shape %s in a dataset "
			                  "of at most %s", h->name, sh, mx);
		}
		h->chunked = 1;
		h->chunk[0] = c[0];
		h->chunk[1] = c[1];
		h->chunk_bytes = c[0] * c[1] * esize;
		h->dim = dims[1];
		h->nfilters = H5Pget_nfilters(dcpl);
		h->known = h->nfilters >= 0 && h->nfilters <= 8;
		h->f_deflate = h->f_fletcher = -1;
		for (int i = 0; i < h->nfilters && h->known; i++) {
			unsigned flags;
			size_t nv = 0;
			H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nv, NULL, 0, NULL,
			                                 NULL);
			if (id == H5Z_FILTER_DEFLATE && h->f_deflate < 0)
				h->f_deflate = i;
			else if (id == H5Z_FILTER_FLETCHER32 && h->f_fletcher < 0)
				h->f_fletcher = i;
			else if (id != H5Z_FILTER_SHUFFLE)
				h->known = 0;
		}
		h->file_size = fsize;
		uint64_t across = (dims[1] + c[1] - 1) / c[1];
		uint64_t b = 2 * across * c[0] * c[1] * esize;   /* < 2^33 x 2^20 */
		if (h->nfilters == 0 && across == 1)
			*cache = H5_NO_CACHE;   /* whole rows, as stored: read in place */
		else if (b > H5_CACHE_MIN)
			*cache = b > H5_CACHE_MAX ? H5_CACHE_MAX : (size_t)b;
	} else if (lay == H5D_CONTIGUOUS) {
		haddr_t off = H5Dget_offset(h->dset);
		if (off != HADDR_UNDEF && (off > fsize || bytes > fsize - off))
			rc = vt_fmt_err(err, errlen, VT_ETRUNC,
			                "dataset '%s': its %" PRIu64 " bytes at offset %" PRIu64
			                " go past the end of the file (%" PRIu64 " bytes)", h->name,
			                bytes, (uint64_t)off, fsize);
	}
	H5Pclose(dcpl);
	return rc;
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
		uint64_t want = 0, size = 0;
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
		return vt_fmt_err(err, errlen, VT_EFORMAT, "'%s' cannot be opened (libhdf5: %s)", h->name,
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
	hsize_t dims[H5S_MAX_RANK], maxdims[H5S_MAX_RANK];
	if (nd < 0 || H5Sget_simple_extent_dims(h->fspace, dims, maxdims) < 0)
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
	size_t cb;
	if ((rc = check_layout(h, path, dims, maxdims, vt_el_size(r->el), &cb, err, errlen)) < 0)
		return rc;
	if (cb) {
		/* opened again with the cache: an open dataset keeps the cache of its
		 * first open, so the first handle is closed before */
		hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
		if (dapl < 0 || H5Pset_chunk_cache(dapl, 10007, cb == H5_NO_CACHE ? 0 : cb, 1.0) < 0) {
			if (dapl >= 0)
				H5Pclose(dapl);
			return vt_fmt_err(err, errlen, VT_ENOMEM, "dataset '%s': libhdf5: %s",
			                  h->name, h5_why(why));
		}
		H5Dclose(h->dset);
		h->dset = H5Dopen2(h->file, h->name, dapl);
		if (h->dset < 0)
			h5_why(why);   /* before the next call clears the stack */
		H5Pclose(dapl);
		if (h->dset < 0)
			return vt_fmt_err(err, errlen, VT_EFORMAT, "dataset '%s': libhdf5: %s",
			                  h->name, why);
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

/* The bytes that the deflate stream in[0..n) inflates to (counted, not
 * kept; at most limit + 1), or -1 when it is not a whole zlib stream. */
static int64_t inflated_size(const unsigned char *in, size_t n, unsigned char *sink,
                             size_t cap, uint64_t limit)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit(&z) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	int rc;
	do {
		z.next_out = sink;
		z.avail_out = (uInt)cap;
		rc = inflate(&z, Z_NO_FLUSH);
	} while (rc == Z_OK && z.total_out <= limit);
	int64_t out = rc == Z_STREAM_END || z.total_out > limit ? (int64_t)z.total_out : -1;
	inflateEnd(&z);
	return out;
}

/* The size that a stored chunk of `stored` bytes at offset off, with
 * filter mask `mask`, has after its filters, when vtrain can tell (the
 * filters are deflate, shuffle and fletcher32; deflate is undone here once
 * more, to count): *out, and 1; 0 when it cannot tell. */
static int filtered_size(struct vt_h5 *h, const hsize_t *off, unsigned mask, uint64_t stored,
                         uint64_t *out, char *err, size_t errlen, int *rc)
{
	*rc = 0;
	if (!h->known)
		return 0;
	int fl = h->f_fletcher >= 0 && !(mask & (1u << h->f_fletcher));
	int de = h->f_deflate >= 0 && !(mask & (1u << h->f_deflate));
	if (!de) {
		*out = stored - (fl && stored >= 4 ? 4 : 0);
		return 1;
	}
	/* a chunk whose deflate stream is longer than twice the chunk is damaged */
	if (stored > 2 * h->chunk_bytes + 4096) {
		*out = stored;
		return 1;
	}
	if (stored > h->raw_cap) {
		unsigned char *p = realloc(h->raw, (size_t)stored);
		if (!p) {
			*rc = vt_fmt_err(err, errlen, VT_ENOMEM, "out of memory");
			return 0;
		}
		h->raw = p;
		h->raw_cap = (size_t)stored;
	}
	if (!h->sink && !(h->sink = malloc(1u << 16))) {
		*rc = vt_fmt_err(err, errlen, VT_ENOMEM, "out of memory");
		return 0;
	}
	uint32_t fm = 0;
	char why[200];
	if (H5Dread_chunk(h->dset, H5P_DEFAULT, off, &fm, h->raw) < 0) {
		*rc = vt_fmt_err(err, errlen, VT_EFORMAT,
		                 "dataset '%s': the chunk at (%llu, %llu) cannot be read (libhdf5: "
		                 "%s)", h->name, (unsigned long long)off[0],
		                 (unsigned long long)off[1], h5_why(why));
		return 0;
	}
	uint64_t n = stored;
	if (fl && h->f_fletcher > h->f_deflate)
		n = n >= 4 ? n - 4 : 0;   /* its checksum, after the deflate stream */
	int64_t got = inflated_size(h->raw, (size_t)n, h->sink, 1u << 16, 2 * h->chunk_bytes);
	if (got < 0) {
		*rc = vt_fmt_err(err, errlen, VT_EFORMAT,
		                 "dataset '%s' is damaged: the chunk at (%llu, %llu) is not a whole "
		                 "deflate stream", h->name, (unsigned long long)off[0],
		                 (unsigned long long)off[1]);
		return 0;
	}
	*out = (uint64_t)got - (fl && h->f_fletcher < h->f_deflate && got >= 4 ? 4 : 0);
	return 1;
}

/* The chunks that rows [a, b) of a chunked dataset span, where libhdf5
 * 1.10 trusts them: each within the file, and each holds exactly a
 * chunk's bytes once its filters are undone (libhdf5 1.10.8 copies a whole
 * chunk out of what it read or inflated, past its end when that is
 * shorter).  Unfiltered chunks are checked by their stored size; chunks
 * under deflate (with shuffle, fletcher32) by inflating them once more,
 * which doubles the cost of decompression; chunks under any other filter
 * are left to libhdf5 (docs/BAD-INPUT.md).  Each row of chunks is checked
 * once, as blocks come in order. */
static int check_chunks(struct vt_h5 *h, uint64_t a, uint64_t b, char *err, size_t errlen)
{
	uint64_t r0 = a / h->chunk[0], r1 = (b - 1) / h->chunk[0];
	if (r0 < h->next_crow)
		r0 = h->next_crow;
	char why[200];
	for (uint64_t cr = r0; cr <= r1; cr++) {
		for (uint64_t col = 0; col < h->dim; col += h->chunk[1]) {
			hsize_t off[2] = {cr * h->chunk[0], col};
			unsigned mask = 0;
			haddr_t addr = HADDR_UNDEF;
			hsize_t size = 0;
			if (H5Dget_chunk_info_by_coord(h->dset, off, &mask, &addr, &size) < 0)
				return vt_fmt_err(err, errlen, VT_EFORMAT,
				                  "dataset '%s': the chunk at (%llu, %llu) cannot be found "
				                  "(libhdf5: %s)", h->name, (unsigned long long)off[0],
				                  (unsigned long long)off[1], h5_why(why));
			if (addr == HADDR_UNDEF)
				continue;   /* never written: the fill value */
			int unfiltered = h->nfilters <= 0 ||
			                 (h->nfilters < 32 &&
			                  (mask & ((1u << h->nfilters) - 1)) == (1u << h->nfilters) - 1);
			if (addr > h->file_size || size > h->file_size - addr)
				return vt_fmt_err(err, errlen, VT_ETRUNC,
				                  "dataset '%s': the chunk at (%llu, %llu) lies past the "
				                  "end of the file (%llu bytes at offset %llu, of %llu)",
				                  h->name, (unsigned long long)off[0],
				                  (unsigned long long)off[1], (unsigned long long)size,
				                  (unsigned long long)addr,
				                  (unsigned long long)h->file_size);
			uint64_t holds = size;
			int rc = 0;
			if (!unfiltered && !filtered_size(h, off, mask, size, &holds, err, errlen, &rc)) {
				if (rc < 0)
					return rc;
				continue;   /* a filter that vtrain does not undo */
			}
			if (holds != h->chunk_bytes)
				return vt_fmt_err(err, errlen, VT_EFORMAT,
				                  "dataset '%s' is damaged: the chunk at (%llu, %llu) holds "
				                  "%llu bytes%s, not the %llu of a chunk", h->name,
				                  (unsigned long long)off[0], (unsigned long long)off[1],
				                  (unsigned long long)holds,
				                  unfiltered ? "" : " once its filters are undone",
				                  (unsigned long long)h->chunk_bytes);
		}
	}
	h->next_crow = r1 + 1;
	return 0;
}

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
	if (h->chunked && (rc = check_chunks(h, r->done, r->done + want, err, errlen)) < 0)
		return rc;
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
