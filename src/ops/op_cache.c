/* The operator cache's key: state an operator derived from its constant
 * inputs is reused only by the implementation that prepared it, for the
 * input shapes and attributes it was prepared for. */
#include <stdlib.h>
#include <string.h>

#include "ops/op_internal.h"

/* Whether the shape recorded in slot k matches input k of c. */
static int shape_matches(const tq_shape *key, const tq_tensor *t) {
  if (!t) return key->ndim == -1;
  return tq_shape_equal(key, &t->shape);
}

void *tq_op_cache_get(const tq_op_cache *cache, int impl, const tq_op_call *c) {
  if (!cache || !cache->data || cache->impl != impl ||
      cache->n_shapes != c->n_in)
    return NULL;
  for (size_t k = 0; k < c->n_in; k++)
    if (!shape_matches(&cache->shapes[k], c->in[k])) return NULL;
  const size_t size = c->params ? c->desc->params_size : 0;
  if (size != cache->params_size ||
      (size && memcmp(cache->params, c->params, size)))
    return NULL;
  return cache->data;
}

int tq_op_cache_put(tq_op_cache *cache, int impl, const tq_op_call *c,
                    void *data, void (*free_data)(void *data)) {
  tq_op_cache_clear(cache);
  if (c->n_in > TQ_OP_CACHE_INPUTS) return 0;
  const size_t size = c->params ? c->desc->params_size : 0;
  if (size) {
    cache->params = malloc(size);
    if (!cache->params) return 0;
    memcpy(cache->params, c->params, size);
  }
  cache->params_size = size;
  for (size_t k = 0; k < c->n_in; k++) {
    memset(&cache->shapes[k], 0, sizeof cache->shapes[k]);
    if (c->in[k])
      cache->shapes[k] = c->in[k]->shape;
    else
      cache->shapes[k].ndim = -1;
  }
  cache->n_shapes = c->n_in;
  cache->impl = impl;
  cache->data = data;
  cache->free_data = free_data;
  return 1;
}

void tq_op_cache_clear(tq_op_cache *cache) {
  if (cache->data && cache->free_data) cache->free_data(cache->data);
  free(cache->params);
  memset(cache, 0, sizeof *cache);
}
