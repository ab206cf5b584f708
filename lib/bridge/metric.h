/* vtrain: the distance a model is trained and used with.
 *
 * The metric is an option of the programs (--metric=l2|cosine) and a
 * metadata value of the models they write ("metric": "l2" or "cosine").
 * Under cosine, rows are normalised to unit L2 norm and then treated as
 * under L2.
 */
#ifndef VT_METRIC_H
#define VT_METRIC_H

#ifdef __cplusplus
extern "C" {
#endif

enum { VT_METRIC_L2 = 0, VT_METRIC_COSINE = 1 };

/* The metadata name of metric: "cosine" for VT_METRIC_COSINE, else "l2". */
const char *vt_metric_name(int metric);

/* The metric named s ("l2" or "cosine"), or VT_EINVAL for any other name
 * or NULL. */
int vt_metric_parse(const char *s);

#ifdef __cplusplus
}
#endif
#endif
