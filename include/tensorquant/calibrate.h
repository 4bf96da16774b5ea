/* Calibration: the range of the values each layer's extrinsic quantizer
 * sees (its output), measured on samples of a dataset, for `static` specs
 * (docs/design.md §2.10, docs/analysis.md "Calibration").
 *
 * Methods (ONNX Runtime's calibrators, docs/analysis.md gives the rules):
 * minmax (the exact range), percentile=P (ONNX Runtime's default:
 * symmetric, a histogram of |x|), entropy (TensorRT's KL method as ONNX
 * Runtime's Entropy calibrator implements it), mse (the range minimising
 * the quantization error of the layer's own extrinsic spec).
 *
 * Ownership: tq_calibrate and tq_calibration_load give the caller a
 * calibration to free with tq_calibration_destroy. A session borrows
 * nothing from it: tq_session_set_calibration copies the ranges.
 * Thread-safety: a calibration is immutable after creation. */
#ifndef TENSORQUANT_CALIBRATE_H
#define TENSORQUANT_CALIBRATE_H

#include <stddef.h>

#include "data.h"
#include "export.h"
#include "graph.h"
#include "qmap.h"
#include "quantizer.h"
#include "session.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tq_calib_method {
  TQ_CALIB_MINMAX = 0, /* min and max of the values */
  TQ_CALIB_PERCENTILE, /* symmetric: +-T, T the percentile of |x| */
  TQ_CALIB_ENTROPY,    /* KL divergence of the clipped histogram */
  TQ_CALIB_MSE,        /* least quantization error for the layer's spec */
  TQ_CALIB_METHOD_COUNT
} tq_calib_method;

/* Options of a calibration. Zero-initialise for the defaults. */
typedef struct tq_calib_opts {
  tq_calib_method method;
  double percentile;      /* percentile: P in (0, 100]; 0: 99.999 */
  int num_bins;           /* histogram bins; 0: 2048 */
  int num_quantized_bins; /* entropy: bins of the quantized histogram; 0: 128 */
  size_t limit;           /* use the first `limit` samples; 0: all */
  int batch;              /* samples per run; 0: 64 */
  /* mse: the extrinsic map whose spec each layer is calibrated for (NULL,
   * or a layer it does not cover: int,8,static). */
  const tq_qmap_set *maps;
} tq_calib_opts;

typedef struct tq_calibration tq_calibration;

/* Parses a method as the tool writes it: "minmax", "percentile" or
 * "percentile=P", "entropy", "mse"; sets o->method (and o->percentile).
 * TQ_ERR_PARSE names the method and the valid ones. */
TQ_API tq_status tq_calib_method_parse(tq_context *ctx, const char *text,
                                       tq_calib_opts *o);

/* Runs g over the first opts->limit samples of ds (float, no maps) and
 * records the range of every float output of every layer that an
 * extrinsic map can quantize (output 0 of the node, keyed by the layer
 * ID). opts may be NULL (minmax, all samples). */
TQ_API tq_status tq_calibrate(tq_context *ctx, const tq_graph *g,
                              const tq_dataset *ds, const tq_calib_opts *opts,
                              tq_calibration **out);

/* One method on n values (NaN left out): the range it picks, in *lo and
 * *hi. mse uses spec (NULL: int,8,static), which must be `static`. For
 * tests and for callers with their own data. */
TQ_API tq_status tq_calibrate_values(tq_context *ctx, const float *x, size_t n,
                                     const tq_calib_opts *opts,
                                     const tq_quantizer *spec, double *lo,
                                     double *hi);

/* Reads a calib.json ({"method": ..., "samples": N, "layers": {"<layer
 * ID>": {"min": lo, "max": hi}, ...}}). Malformed JSON gives TQ_ERR_PARSE
 * with file:line:col; a missing or bad field names the file and layer. */
TQ_API tq_status tq_calibration_load(tq_context *ctx, const char *path,
                                     tq_calibration **out);

/* tq_calibration_load on JSON text (len bytes) that came from `source`
 * (what error messages and tq_calibration_source name; NULL:
 * "calibration"). */
TQ_API tq_status tq_calibration_parse(tq_context *ctx, const char *text,
                                      size_t len, const char *source,
                                      tq_calibration **out);

/* Writes c as calib.json to path (atomically). */
TQ_API tq_status tq_calibration_save(tq_context *ctx, const tq_calibration *c,
                                     const char *path);

TQ_API void tq_calibration_destroy(tq_calibration *c);

/* The method as written ("minmax", "percentile=99.999", ...), the samples
 * used, where it was read from ("" when computed), and the layers. Strings
 * are owned by c. */
TQ_API const char *tq_calibration_method(const tq_calibration *c);
TQ_API size_t tq_calibration_samples(const tq_calibration *c);
TQ_API const char *tq_calibration_source(const tq_calibration *c);
TQ_API size_t tq_calibration_count(const tq_calibration *c);

/* Layer i's ID (NULL when i is out of range) and its range. */
TQ_API const char *tq_calibration_layer(const tq_calibration *c, size_t i,
                                        double *lo, double *hi);

/* Gives s's `static` activation specs their ranges from c (copied; NULL
 * removes them). A layer c names that the graph lacks is an error naming
 * the file and layer (a calibration for another model); a layer a static
 * spec needs that c lacks fails when that layer runs, naming it. */
TQ_API tq_status tq_session_set_calibration(tq_context *ctx, tq_session *s,
                                            const tq_calibration *c);

/* Where s quantizes for map `kind` at node `node`: for the weights map,
 * weight input `slot`; otherwise output `slot` (one sample of it: groups
 * never span samples) - its shape (borrowed from s until the next plan or
 * maps), its channel and block axes (docs/design.md §3, "Default axes")
 * and its calibrated range. Extrinsic sites need a planned session. For
 * tq_quantizer_resolve, to show what a spec resolves to at a layer. */
TQ_API tq_status tq_session_quant_site(tq_context *ctx, const tq_session *s,
                                       size_t node, tq_map_kind kind,
                                       size_t slot, tq_quant_site *site,
                                       tq_shape *shape_storage);

#ifdef __cplusplus
}
#endif
#endif
