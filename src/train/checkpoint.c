/* Training checkpoints.
 *
 * Layout: the 8 bytes "TQCKPT01", a little-endian uint32 header length,
 * a JSON header {"epoch", "steps", "optimizer", "tensors": [{"name",
 * "kind", "shape"}...]}, then each tensor's float32 values (little
 * endian) in header order. Kinds: "init" (a float initializer of the
 * graph: parameters and running statistics), "m" and "v" (the optimizer
 * state of a parameter). Written atomically. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/bytes.h"
#include "core/error.h"
#include "train/train_internal.h"

#define CKPT_MAGIC "TQCKPT01"

typedef struct ckpt_item {
  const char *name, *kind;
  const tq_shape *shape;
  float *data;
  size_t n;
} ckpt_item;

/* The checkpoint's tensors, in file order. Caller frees *items. */
static tq_status list_items(tq_context *ctx, const tq_trainer *t,
                            ckpt_item **items, size_t *count) {
  const tq_graph *g = t->g;
  *items = calloc(g->n_inits + 2 * t->n_params + 1, sizeof **items);
  if (!*items) return tq_error_nomem(ctx);
  size_t n = 0;
  for (size_t i = 0; i < g->n_inits; i++) {
    tq_tensor *w = g->inits[i];
    if (w->dtype != TQ_DTYPE_FLOAT32) continue;
    (*items)[n++] = (ckpt_item){g->values[g->init_values[i]].name, "init",
                                &w->shape, tq_f32(w), w->numel};
  }
  for (size_t i = 0; i < t->n_params; i++) {
    const tq_param *p = &t->params[i];
    tq_tensor *w = g->inits[p->init];
    const char *name = g->values[p->value].name;
    (*items)[n++] = (ckpt_item){name, "m", &w->shape, p->m, w->numel};
    if (p->v) (*items)[n++] = (ckpt_item){name, "v", &w->shape, p->v, w->numel};
  }
  *count = n;
  return TQ_OK;
}

typedef struct save_job {
  const char *header;
  const ckpt_item *items;
  size_t n;
} save_job;

static int write_ckpt(FILE *fp, void *user) {
  const save_job *job = user;
  const uint32_t hl = (uint32_t)strlen(job->header);
  unsigned char len[4] = {(unsigned char)hl, (unsigned char)(hl >> 8),
                          (unsigned char)(hl >> 16), (unsigned char)(hl >> 24)};
  if (fwrite(CKPT_MAGIC, 1, 8, fp) != 8 || fwrite(len, 1, 4, fp) != 4 ||
      fwrite(job->header, 1, hl, fp) != hl)
    return EIO;
  for (size_t i = 0; i < job->n; i++) {
    const float *d = job->items[i].data;
    for (size_t e = 0; e < job->items[i].n; e++) {
      unsigned char b[4];
      uint32_t u;
      memcpy(&u, &d[e], 4);
      store_le32(b, u);
      if (fwrite(b, 1, 4, fp) != 4) return EIO;
    }
  }
  return 0;
}

tq_status tq_trainer_save_checkpoint(tq_context *ctx, const tq_trainer *t,
                                     const char *path, int epoch,
                                     uint64_t run_tag) {
  ckpt_item *items;
  size_t n;
  tq_status st = list_items(ctx, t, &items, &n);
  if (st != TQ_OK) return st;
  json_t *root = json_object(), *arr = json_array();
  json_object_set_new(root, "format", json_string("tensorquant checkpoint"));
  json_object_set_new(root, "epoch", json_integer(epoch));
  json_object_set_new(root, "steps", json_integer((json_int_t)t->steps));
  char tag[24];
  snprintf(tag, sizeof tag, "%016llx", (unsigned long long)run_tag);
  json_object_set_new(root, "run_tag", json_string(tag));
  json_object_set_new(root, "optimizer",
                      json_string(tq_optimizer_name(t->cfg.optimizer)));
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_object(), *dims = json_array();
    for (int d = 0; d < items[i].shape->ndim; d++)
      json_array_append_new(dims, json_integer(items[i].shape->dims[d]));
    json_object_set_new(o, "name", json_string(items[i].name));
    json_object_set_new(o, "kind", json_string(items[i].kind));
    json_object_set_new(o, "shape", dims);
    json_array_append_new(arr, o);
  }
  json_object_set_new(root, "tensors", arr);
  char *header = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  if (!header) {
    free(items);
    return tq_error_nomem(ctx);
  }
  save_job job = {header, items, n};
  st = tq_atomic_write_file(ctx, path, write_ckpt, &job);
  free(header);
  free(items);
  return st;
}

static tq_status bad(tq_context *ctx, const char *path, const char *what) {
  return tq_error(ctx, TQ_ERR_FORMAT, path, 0, 0,
                  "not a checkpoint of this model: %s", what);
}

tq_status tq_trainer_load_checkpoint(tq_context *ctx, tq_trainer *t,
                                     const char *path, int *epoch,
                                     uint64_t *run_tag) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return tq_error(ctx, TQ_ERR_IO, path, 0, 0, "cannot open: %s",
                    strerror(errno));
  tq_status st = TQ_OK;
  char magic[8];
  unsigned char len[4];
  char *header = NULL;
  json_t *root = NULL;
  ckpt_item *items = NULL;
  size_t n = 0;
  if (fread(magic, 1, 8, fp) != 8 || memcmp(magic, CKPT_MAGIC, 8) ||
      fread(len, 1, 4, fp) != 4) {
    st = bad(ctx, path, "no TensorQuant checkpoint header");
    goto done;
  }
  const uint32_t hl = load_le32(len);
  if (hl > (1u << 26) || !(header = malloc((size_t)hl + 1)) ||
      fread(header, 1, hl, fp) != hl) {
    st = bad(ctx, path, "truncated header");
    goto done;
  }
  header[hl] = '\0';
  json_error_t je;
  root = json_loads(header, 0, &je);
  json_t *arr = root ? json_object_get(root, "tensors") : NULL;
  const char *opt =
      root ? json_string_value(json_object_get(root, "optimizer")) : NULL;
  if (!json_is_array(arr) || !opt) {
    st = bad(ctx, path, "malformed header");
    goto done;
  }
  if (strcmp(opt, tq_optimizer_name(t->cfg.optimizer))) {
    st = tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, path, 0, 0,
                  "the checkpoint was written with optimizer %s; this run "
                  "uses %s",
                  opt, tq_optimizer_name(t->cfg.optimizer));
    goto done;
  }
  if ((st = list_items(ctx, t, &items, &n))) goto done;
  if (json_array_size(arr) != n) {
    st = bad(ctx, path, "a different number of tensors");
    goto done;
  }
  /* Check everything first, then read: a mismatch changes nothing. */
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_array_get(arr, i), *dims = json_object_get(o, "shape");
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *kind = json_string_value(json_object_get(o, "kind"));
    int same = name && kind && !strcmp(name, items[i].name) &&
               !strcmp(kind, items[i].kind) && json_is_array(dims) &&
               json_array_size(dims) == (size_t)items[i].shape->ndim;
    for (int d = 0; same && d < items[i].shape->ndim; d++)
      same = json_integer_value(json_array_get(dims, (size_t)d)) ==
             items[i].shape->dims[d];
    if (!same) {
      st = tq_error(ctx, TQ_ERR_FORMAT, path, 0, 0,
                    "not a checkpoint of this model: tensor %zu is '%s' (%s) "
                    "here but '%s' (%s) or another shape in the file",
                    i, items[i].name, items[i].kind, name ? name : "?",
                    kind ? kind : "?");
      goto done;
    }
  }
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += items[i].n;
  unsigned char *raw = malloc(total * 4 + 1);
  if (!raw) {
    st = tq_error_nomem(ctx);
    goto done;
  }
  if (fread(raw, 1, total * 4, fp) != total * 4 || fgetc(fp) != EOF) {
    free(raw);
    st = bad(ctx, path, "the data is truncated or has trailing bytes");
    goto done;
  }
  const unsigned char *p = raw;
  for (size_t i = 0; i < n; i++)
    for (size_t e = 0; e < items[i].n; e++, p += 4)
      items[i].data[e] = float_from_bits(load_le32(p));
  free(raw);
  t->steps = (uint64_t)json_integer_value(json_object_get(root, "steps"));
  if (epoch) *epoch = (int)json_integer_value(json_object_get(root, "epoch"));
  if (run_tag) {
    const char *tag = json_string_value(json_object_get(root, "run_tag"));
    *run_tag = tag ? strtoull(tag, NULL, 16) : 0;
  }
  st = tq_session_requantize_weights(ctx, t->s, t->steps << 32);
done:
  json_decref(root);
  free(header);
  free(items);
  fclose(fp);
  return st;
}
