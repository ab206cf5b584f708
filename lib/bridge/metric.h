/* vtrain: the distance a model is trained and used with.
 *
 * The metric is an option of the programs (--metric=l2|cosine|dot) and a
 * metadata value of the models they write ("metric": "l2", "cosine" or
 * "dot").  Under cosine, rows are normalised to unit L2 norm and then
 * treated as under L2.  Under dot (inner product, FAISS's
 * METRIC_INNER_PRODUCT, Lance's "dot") a row goes to the centroid of the
 * largest <x, c>; the centroids are kept at unit norm (spherical k-means),
 * and for unit c
 *     ||x - c||^2 = ||x||^2 + 1 - 2 <x, c>,
 * so the largest inner product is the least squared distance: every
 * assignment stays the exact L2 search, and a dot model whose centroids
 * are not of unit norm is refused (bridge/centroids.h).  A program given
 * a model or a stream that records a metric runs under that metric;
 * --metric there only confirms it (vt_metric_settle).
 */
#ifndef VT_METRIC_H
#define VT_METRIC_H

#include <stddef.h>

#include "stream/format.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { VT_METRIC_L2 = 0, VT_METRIC_COSINE = 1, VT_METRIC_DOT = 2 };

/* The names this version knows, for messages: "l2, cosine or dot". */
#define VT_METRIC_NAMES "l2, cosine or dot"

/* The metadata name of metric: "cosine" for VT_METRIC_COSINE, "dot" for
 * VT_METRIC_DOT, else "l2". */
const char *vt_metric_name(int metric);

/* The metric named s ("l2", "cosine" or "dot"), or VT_EINVAL for any other name
 * or NULL. */
int vt_metric_parse(const char *s);

/* The metric that the stream or model of header h records: its "metric"
 * value, or for a sample, "vsample.metric".  *key (may be NULL) receives
 * the key read.  Returns VT_METRIC_*, -1 when none is recorded (vectors,
 * older models), or VT_EINVAL for a name this version does not know. */
int vt_metric_recorded(const vt_header *h, const char **key);

/* The metric of a run that reads `what` (a path, for the message), whose
 * header h may record a metric, when another source fixes one: `given`,
 * described by `given_from` ("--metric=cosine was given", "sample.vt was
 * made with metric=cosine"), or given_from NULL when nothing fixes it.
 * The result is the recorded metric, else the given one, else l2.  A
 * given metric other than the recorded one is an error naming both:
 *   "WHAT: made with metric=cosine, but --metric=l2 was given"
 * (the key is named when it is not "metric": "metric=l2 (vsample.metric)").
 * Returns VT_METRIC_*, or VT_EINVAL with a message in err (also for a
 * recorded name this version does not know). */
int vt_metric_settle(const vt_header *h, const char *what, int given, const char *given_from,
                     char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
