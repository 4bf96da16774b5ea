/* Datasets from .npy files: "X.npy,y.npy", or one file per model input
 * and the labels, "input_ids=ids.npy,attention_mask=m.npy,labels=y.npy".
 *
 * The spec is a comma-separated list of entries. An entry NAME=PATH (NAME:
 * the text before the first '=', when it holds no '/') names the model
 * input it feeds; `labels=PATH` names the labels. Bare PATH entries feed
 * the inputs no entry names, in the model's order; without `labels=`, the
 * last bare entry is the labels. Every input is kept in its file's dtype
 * and converted to the dtype the model declares when gathered. A dataset
 * of one bare input keeps the image rule of the IDX datasets: [N,H,W]
 * samples get a channel dimension, [1,H,W]. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor_internal.h"
#include "io/dataset_internal.h"

/* Most entries of a spec. */
enum { MAX_ENTRIES = 64 };

typedef struct entry {
  char *name; /* NULL: bare */
  char *path;
} entry;

static char *dup_range(const char *b, const char *e) {
  while (b < e && (*b == ' ' || *b == '\t')) b++;
  while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;
  char *p = malloc((size_t)(e - b) + 1);
  if (p) {
    memcpy(p, b, (size_t)(e - b));
    p[e - b] = '\0';
  }
  return p;
}

static void free_entries(entry *es, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(es[i].name);
    free(es[i].path);
  }
}

/* Splits spec into entries; the messages for empty ones keep the words of
 * the two-file form. */
static tq_status split_spec(tq_context *ctx, const char *spec, entry *es,
                            size_t *n) {
  *n = 0;
  for (const char *b = spec;;) {
    const char *comma = strchr(b, ',');
    const char *e = comma ? comma : b + strlen(b);
    if (*n == MAX_ENTRIES)
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, spec, 0, 0,
                      "an NPY dataset has at most %d files", MAX_ENTRIES);
    char *text = dup_range(b, e);
    if (!text) return tq_error_nomem(ctx);
    entry *en = &es[(*n)++];
    en->name = NULL;
    en->path = text;
    char *eq = strchr(text, '=');
    if (eq && eq != text && !memchr(text, '/', (size_t)(eq - text))) {
      *eq = '\0';
      en->name = text;
      en->path = NULL;
      if (!(en->path = dup_range(eq + 1, eq + 1 + strlen(eq + 1))))
        return tq_error_nomem(ctx);
    }
    if (!*en->path)
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, spec, 0, 0,
                      "an NPY dataset is \"X.npy,y.npy\" or \"NAME=X.npy,...,"
                      "labels=y.npy\"; the %s path is empty",
                      *n == 1  ? "samples (first)"
                      : !comma ? "labels (second)"
                               : "next");
    if (!comma) break;
    b = comma + 1;
  }
  return TQ_OK;
}

/* Which entry holds the labels: `labels=`, else the last bare one. */
static tq_status find_labels(tq_context *ctx, const char *spec, const entry *es,
                             size_t n, size_t *at) {
  size_t named = n, bare = n;
  for (size_t i = 0; i < n; i++) {
    if (!es[i].name) {
      bare = i;
    } else if (!strcmp(es[i].name, "labels")) {
      if (named != n)
        return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, spec, 0, 0,
                        "labels= is given twice");
      named = i;
    }
  }
  *at = named != n ? named : bare;
  if (*at == n)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, spec, 0, 0,
                    "an NPY dataset needs labels: a last bare file or "
                    "labels=y.npy");
  if (n < 2)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, spec, 0, 0,
                    "an NPY dataset needs samples besides the labels");
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      if (es[i].name && es[j].name && !strcmp(es[i].name, es[j].name))
        return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, spec, 0, 0,
                        "input '%s' is given twice", es[i].name);
  return TQ_OK;
}

/* Takes in's samples from t (read from e): shape, count, data. */
static tq_status take_input(tq_context *ctx, const entry *e, tq_tensor *t,
                            int image, tq_dataset *ds, tq_dataset_input *in,
                            int first) {
  in->name = strdup(e->name ? e->name : "");
  in->file = strdup(e->path);
  if (!in->name || !in->file) return tq_error_nomem(ctx);
  size_t n = 0;
  tq_status st = tq_dataset_set_sample_shape(ctx, e->path, t->shape.dims,
                                             t->shape.ndim, image, in, &n);
  if (st == TQ_OK && !first && n != ds->n)
    st = tq_error(ctx, TQ_ERR_FORMAT, e->path, 0, 0,
                  "%zu samples in %s but %zu in %s: every input needs one "
                  "per sample",
                  ds->n, ds->inputs[0].file, n, e->path);
  if (st != TQ_OK) return st;
  ds->n = n;
  in->dtype = t->dtype;
  in->data = t->data; /* the dataset keeps the values */
  t->owns_data = 0;
  return TQ_OK;
}

/* The labels (y, of shape ys, from file). */
static tq_status take_labels(tq_context *ctx, const char *file, const float *y,
                             const tq_shape *ys, tq_dataset *ds) {
  tq_status st = TQ_OK;
  if (ys->ndim != 1) {
    char text[160];
    tq_shape_format(ys, text, sizeof text);
    st = tq_error(ctx, TQ_ERR_FORMAT, file, 0, 0,
                  "labels must be a 1-d array, found shape %s", text);
  }
  if (st == TQ_OK && (size_t)ys->dims[0] != ds->n)
    st = tq_dataset_count_mismatch(ctx, ds->inputs[0].file, ds->n, file,
                                   (size_t)ys->dims[0]);
  if (st == TQ_OK && !(ds->labels = malloc(ds->n * sizeof *ds->labels)))
    st = tq_error_nomem(ctx);
  for (size_t i = 0; st == TQ_OK && i < ds->n; i++)
    st =
        tq_dataset_take_label(ctx, file, i, y[i], TQ_DATASET_NPY_LABEL_MAX, ds);
  return st;
}

/* Every file is read before any is checked, so that a missing file is
 * reported before the shape of another. */
tq_status tq_dataset_open_npy(tq_context *ctx, const char *spec,
                              tq_dataset *ds) {
  entry es[MAX_ENTRIES];
  tq_tensor *t[MAX_ENTRIES] = {NULL};
  float *y = NULL;
  tq_shape ys;
  size_t n = 0, lab = 0;
  tq_status st = split_spec(ctx, spec, es, &n);
  if (st == TQ_OK) st = find_labels(ctx, spec, es, n, &lab);
  for (size_t i = 0; st == TQ_OK && i < n; i++)
    st = i == lab ? tq_npy_read(ctx, es[i].path, &y, &ys)
                  : tq_npy_read_tensor(ctx, es[i].path, &t[i]);
  if (st == TQ_OK &&
      !(ds->inputs = calloc(n > 1 ? n - 1 : 1, sizeof *ds->inputs)))
    st = tq_error_nomem(ctx);
  /* One bare input: images as the IDX datasets have them. */
  const int image = n == 2 && !es[lab == 0 ? 1 : 0].name;
  for (size_t i = 0; st == TQ_OK && i < n; i++) {
    if (i == lab) continue;
    tq_dataset_input *in = &ds->inputs[ds->n_inputs++];
    st = take_input(ctx, &es[i], t[i], image, ds, in, ds->n_inputs == 1);
  }
  if (st == TQ_OK) st = take_labels(ctx, es[lab].path, y, &ys, ds);
  for (size_t k = 0; st == TQ_OK && k < ds->n_inputs; k++)
    st = tq_dataset_check_finite(ctx, ds, &ds->inputs[k]);
  for (size_t i = 0; i < n; i++) tq_tensor_destroy(t[i]);
  tq_free(y);
  free_entries(es, n);
  return st;
}
