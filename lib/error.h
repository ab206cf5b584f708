/* vtrain: status codes shared by every module of libvtrain.
 *
 * Every library function that can fail returns an int: 0 (or a count) on
 * success, a negative VT_E* code on failure.  The library never prints and
 * never exits; tools turn codes into messages with vt_strerror().
 */
#ifndef VT_ERROR_H
#define VT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
	VT_OK = 0,
	VT_EIO = -1,       /* system call failed; errno holds the cause */
	VT_ENOMEM = -2,    /* allocation failed */
	VT_ETRUNC = -3,    /* input ended early (no end marker / short record) */
	VT_ECHECKSUM = -4, /* a checksum did not match */
	VT_EMAGIC = -5,    /* not a vtrain stream / unknown file format */
	VT_EVERSION = -6,  /* unsupported format version */
	VT_EKIND = -7,     /* wrong stream kind for this use */
	VT_EDIM = -8,      /* dimension mismatch */
	VT_ELIMIT = -9,    /* a size read from input exceeds a limit */
	VT_EFORMAT = -10,  /* malformed content */
	VT_EINVAL = -11,   /* invalid argument */
	VT_EPIPE = -12,    /* the reader of our output went away */
	VT_ENOSPC = -13,   /* no space left on device */
	VT_EDATA = -14,    /* bad values in the data (NaN/Inf, ...) */
	VT_EUNSUP = -15,   /* valid but unsupported (dtype, order, ...) */
	VT_EINTR = -16,    /* interrupted by a signal the caller asked to honour */
};

/* Text for a status code.  Never NULL; static storage. */
const char *vt_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
