/* Binding arguments to a graph's inputs and outputs by name: what
 * tq_session_run_named, the tq tool's -i/-o and multi-input datasets share.
 *
 * An argument names its slot ("input_ids"), or is bare (NULL or ""): bare
 * arguments take the slots no argument names, in graph order. Every input
 * must be bound exactly once; outputs may be left out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "graph/session_internal.h"

int tq_graph_input_index(const tq_graph *g, const char *name) {
  for (size_t i = 0; name && i < g->n_inputs; i++)
    if (strcmp(g->values[g->inputs[i]].name, name) == 0) return (int)i;
  return -1;
}

int tq_graph_output_index(const tq_graph *g, const char *name) {
  for (size_t i = 0; name && i < g->n_outputs; i++)
    if (strcmp(g->values[g->outputs[i]].name, name) == 0) return (int)i;
  return -1;
}

/* "input_ids (int64 [-1, 128]), mask (bool [-1, 128])" or "logits,
 * hidden": the slots for messages, cut to fit buf. */
static void list_slots(const tq_graph *g, int inputs, char *buf, size_t size) {
  size_t used = 0, n = inputs ? g->n_inputs : g->n_outputs;
  buf[0] = '\0';
  for (size_t i = 0; i < n && used + 1 < size; i++) {
    const char *name =
        inputs ? g->values[g->inputs[i]].name : g->values[g->outputs[i]].name;
    char shape[96] = "";
    if (inputs) tq_shape_format(&g->input_shapes[i], shape, sizeof shape);
    int k =
        inputs
            ? snprintf(buf + used, size - used, "%s'%s' (%s %s)", i ? ", " : "",
                       name, tq_dtype_name(g->input_dtypes[i]), shape)
            : snprintf(buf + used, size - used, "%s'%s'", i ? ", " : "", name);
    used += k > 0 ? (size_t)k : 0;
  }
}

/* The shared core: index[i] = the slot argument i binds. */
static tq_status bind(tq_context *ctx, const tq_graph *g, int inputs,
                      const char *const *names, size_t n, size_t *index) {
  const char *what = inputs ? "input" : "output";
  if (!g || (n && !index))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "binding %ss: the graph or index is NULL", what);
  const size_t slots = inputs ? g->n_inputs : g->n_outputs;
  char list[512];
  unsigned char *taken = calloc(slots ? slots : 1, 1);
  if (!taken) return tq_error_nomem(ctx);
  tq_status st = TQ_OK;
  /* Named arguments first: bare ones take what is left. */
  for (size_t i = 0; i < n && st == TQ_OK; i++) {
    const char *name = names ? names[i] : NULL;
    if (!name || !*name) continue;
    const int k =
        inputs ? tq_graph_input_index(g, name) : tq_graph_output_index(g, name);
    if (k < 0) {
      list_slots(g, inputs, list, sizeof list);
      st = tq_error(ctx, TQ_ERR_NOT_FOUND, NULL, 0, 0,
                    "the model has no %s named '%.120s'; its %ss are %s", what,
                    name, what, list);
    } else if (taken[k]) {
      st = tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "%s '%.120s' is given twice", what, name);
    } else {
      taken[k] = 1;
      index[i] = (size_t)k;
    }
  }
  size_t next = 0;
  for (size_t i = 0; i < n && st == TQ_OK; i++) {
    if (names && names[i] && *names[i]) continue;
    while (next < slots && taken[next]) next++;
    if (next == slots) {
      list_slots(g, inputs, list, sizeof list);
      st = tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "%zu %ss given, more than the model's %zu: %s", n, what,
                    slots, list);
      break;
    }
    taken[next] = 1;
    index[i] = next;
  }
  for (size_t k = 0; inputs && k < slots && st == TQ_OK; k++)
    if (!taken[k]) {
      list_slots(g, inputs, list, sizeof list);
      char shape[96];
      tq_shape_format(&g->input_shapes[k], shape, sizeof shape);
      st = tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "input '%.120s' (%s %s) is not given; the model's "
                    "inputs are %s",
                    g->values[g->inputs[k]].name,
                    tq_dtype_name(g->input_dtypes[k]), shape, list);
    }
  free(taken);
  return st;
}

tq_status tq_graph_bind_inputs(tq_context *ctx, const tq_graph *g,
                               const char *const *names, size_t n,
                               size_t *index) {
  return bind(ctx, g, 1, names, n, index);
}

tq_status tq_graph_bind_outputs(tq_context *ctx, const tq_graph *g,
                                const char *const *names, size_t n,
                                size_t *index) {
  return bind(ctx, g, 0, names, n, index);
}

tq_status tq_session_run_named(tq_context *ctx, tq_session *s,
                               const char *const *in_names,
                               const tq_tensor *const *inputs, size_t n_in,
                               const char *const *out_names,
                               tq_tensor **outputs, size_t n_out,
                               const tq_run_opts *opts) {
  if (!s || (n_in && !inputs) || (n_out && !outputs))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_session_run_named: NULL argument");
  for (size_t i = 0; i < n_out; i++) outputs[i] = NULL;
  const tq_graph *g = s->g;
  size_t *in_at = malloc((n_in ? n_in : 1) * sizeof *in_at);
  size_t *out_at = malloc((n_out ? n_out : 1) * sizeof *out_at);
  const tq_tensor **ordered =
      calloc(g->n_inputs ? g->n_inputs : 1, sizeof *ordered);
  tq_status st = in_at && out_at && ordered ? TQ_OK : tq_error_nomem(ctx);
  if (st == TQ_OK) st = tq_graph_bind_inputs(ctx, g, in_names, n_in, in_at);
  if (st == TQ_OK) st = tq_graph_bind_outputs(ctx, g, out_names, n_out, out_at);
  for (size_t i = 0; st == TQ_OK && i < n_in; i++)
    ordered[in_at[i]] = inputs[i];
  if (st == TQ_OK)
    st = tq_session_run_outputs(ctx, s, ordered, g->n_inputs, 0, NULL, out_at,
                                outputs, n_out, opts);
  free(in_at);
  free(out_at);
  free(ordered);
  return st;
}
