/* tq map: check quantizer maps and show which quantizer a layer gets. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "map_model.h"
#include "map_sites.h"
#include "model_util.h"
#include "tq.h"

static const char cmd[] = "map";

typedef struct layer_query {
  const char *id;
  const char *const *weights;
  size_t n_weights;
  long node; /* with --model: its node */
} layer_query;

typedef enum map_form { FORM_SECTIONED, FORM_FLAT, FORM_SPEC } map_form;

typedef struct options {
  const char *map;
  tq_map_kind kind;
  int kind_given;
  int json;
  layer_query *layers;
  size_t n_layers;
  const char *model; /* --model: check the map against this model; with
                        --layer, show what specs resolve to there */
  const char *view;  /* --map-view */
  int strict;
  tq_cli_map_model mm;
  tq_context *ctx;
} options;

/* ---- loading ------------------------------------------------------------- */

static int is_readable_file(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, R_OK) == 0;
}

/* Loads MAP into a set: a sectioned file as it is, a flat file or a spec
 * string as the one map of the kind asked for. */
static tq_status load_map(tq_context *ctx, const char *arg, tq_map_kind kind,
                          tq_qmap_set **set, map_form *form) {
  *set = NULL;
  if (is_readable_file(arg)) {
    /* Set loading rejects flat files; the second try then reports the
     * flat file's own errors (or, for a sectioned file, the same ones). */
    if (tq_qmap_set_load(ctx, arg, set) == TQ_OK) {
      *form = FORM_SECTIONED;
      return TQ_OK;
    }
    *form = FORM_FLAT;
  } else {
    const char *first = arg;
    while (*first == ' ' || *first == '\t' || *first == '\n') first++;
    *form = *first == '{' ? FORM_FLAT : FORM_SPEC; /* inline JSON */
  }
  tq_qmap *map = NULL;
  tq_status st = tq_qmap_load(ctx, arg, kind, &map);
  if (st != TQ_OK) return st;
  st = tq_qmap_set_create(ctx, set);
  if (st != TQ_OK) {
    tq_qmap_destroy(map);
    return st;
  }
  return tq_qmap_set_put(ctx, *set, map);
}

/* The default kind rejects intrinsic objects; say so when that is why. */
static void hint_intrinsic(const char *arg) {
  tq_context *ctx = NULL;
  if (tq_context_create(&ctx) != TQ_OK) return;
  tq_qmap *map = NULL;
  if (tq_qmap_load(ctx, arg, TQ_MAP_INTRINSIC, &map) == TQ_OK)
    tq_cli_error(cmd,
                 "hint: the map is valid as an intrinsic map; check it with "
                 "--kind intrinsic");
  tq_qmap_destroy(map);
  tq_context_destroy(ctx);
}

/* Which kinds to show: all sections of a sectioned map unless --kind picks
 * one; the one kind a flat map or spec was checked as. */
static int shown(const options *o, map_form form, tq_map_kind kind) {
  return (form == FORM_SECTIONED && !o->kind_given) || o->kind == kind;
}

/* ---- text output --------------------------------------------------------- */

/* Prints s quoted, with control characters escaped (out may be NULL to
 * only measure); returns its width in characters. */
static size_t print_quoted(FILE *out, const char *s) {
  size_t width = 2;
  if (out) fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8] = "";
    if (*p == '"' || *p == '\\')
      snprintf(esc, sizeof esc, "\\%c", *p);
    else if (*p == '\n')
      snprintf(esc, sizeof esc, "\\n");
    else if (*p == '\t')
      snprintf(esc, sizeof esc, "\\t");
    else if (*p < 0x20 || *p == 0x7f)
      snprintf(esc, sizeof esc, "\\u%04x", *p);
    if (esc[0]) {
      if (out) fputs(esc, out);
      width += strlen(esc);
      continue;
    }
    if (out) fputc(*p, out);
    if ((*p & 0xc0) != 0x80) width++; /* UTF-8 continuation bytes: no width */
  }
  if (out) fputc('"', out);
  return width;
}

static void print_value(FILE *out, const tq_qmap_value *v) {
  if (v->quantizer) {
    fputs(tq_quantizer_spec(v->quantizer), out);
    return;
  }
  fprintf(out, "product: %s",
          v->product ? tq_quantizer_spec(v->product) : "exact");
  if (v->accumulator)
    fprintf(out, "; accumulator: %s", tq_quantizer_spec(v->accumulator));
  else
    fprintf(out, "; sum: %s", v->sum ? tq_quantizer_spec(v->sum) : "float");
}

static const char *plural(size_t n) {
  return n == 1 ? "y" : "ies";
}

/* Extrinsic quantizers quantize float32 values only (docs/ops.md). */
static void print_float_only_note(void) {
  printf(
      "  (applies to float32 outputs only: bool, integer, float64, "
      "float16 and bfloat16 outputs pass unchanged)\n");
}

static void print_summary(const options *o, const tq_qmap_set *set,
                          map_form form) {
  printf("%s: valid ", o->map);
  if (form == FORM_SPEC) {
    const tq_qmap *map = tq_qmap_set_get(set, o->kind);
    const tq_qmap_value *v = NULL;
    tq_qmap_entry(map, 0, NULL, &v);
    printf("quantizer spec for every layer, as kind %s: ",
           tq_map_kind_name(o->kind));
    print_value(stdout, v);
    printf("\n");
    return;
  }
  if (form == FORM_FLAT) {
    printf("flat map, checked as kind %s\n", tq_map_kind_name(o->kind));
    return;
  }
  int any = 0;
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++)
    if (tq_qmap_set_get(set, (tq_map_kind)k)) any = 1;
  if (!any) {
    printf("map without sections: every layer stays float\n");
    return;
  }
  printf("sectioned map (");
  const char *sep = "";
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++) {
    const tq_qmap *map = tq_qmap_set_get(set, (tq_map_kind)k);
    if (!map) continue;
    size_t n = tq_qmap_size(map);
    printf("%s%s: %zu entr%s", sep, tq_map_kind_name((tq_map_kind)k), n,
           plural(n));
    sep = ", ";
  }
  printf(")\n");
}

enum { KEY_COLUMN_MAX = 40 };

static void print_section(const tq_qmap *map) {
  size_t n = tq_qmap_size(map);
  printf("\n[%s] %zu entr%s%s\n", tq_map_kind_name(tq_qmap_kind(map)), n,
         plural(n), n > 1 ? ", the first match in this order wins" : "");
  if (n == 0) {
    printf("  (empty: every layer stays float)\n");
    return;
  }
  if (tq_qmap_kind(map) == TQ_MAP_EXTRINSIC) print_float_only_note();
  size_t key_width = 3;
  for (size_t i = 0; i < n; i++) {
    const char *key = NULL;
    tq_qmap_entry(map, i, &key, NULL);
    size_t w = print_quoted(NULL, key);
    if (w > key_width) key_width = w;
  }
  if (key_width > KEY_COLUMN_MAX) key_width = KEY_COLUMN_MAX;
  int index_width = snprintf(NULL, 0, "%zu", n - 1);
  if (index_width < 1) index_width = 1;
  printf("  %*s  %-*s  %s\n", index_width, "#", (int)key_width, "key",
         "quantizer");
  for (size_t i = 0; i < n; i++) {
    const char *key = NULL;
    const tq_qmap_value *v = NULL;
    tq_qmap_entry(map, i, &key, &v);
    printf("  %*zu  ", index_width, i);
    size_t w = print_quoted(stdout, key);
    printf("%*s  ", (int)(w < key_width ? key_width - w : 0), "");
    print_value(stdout, v);
    printf("\n");
  }
}

static void print_layer(const options *o, const tq_qmap_set *set, map_form form,
                        const layer_query *q) {
  printf("\nlayer ");
  print_quoted(stdout, q->id);
  if (q->n_weights) {
    printf(" (weight%s ", q->n_weights > 1 ? "s" : "");
    for (size_t j = 0; j < q->n_weights; j++) {
      if (j) printf(", ");
      print_quoted(stdout, q->weights[j]);
    }
    printf(")");
  }
  printf("\n");
  int printed = 0;
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++) {
    const tq_qmap *map = tq_qmap_set_get(set, (tq_map_kind)k);
    if (!shown(o, form, (tq_map_kind)k) || (!map && !o->kind_given)) continue;
    printed = 1;
    printf("  %-10s ", tq_map_kind_name((tq_map_kind)k));
    tq_qmap_match m;
    if (!map) {
      printf("float (the map has no %s section)\n",
             tq_map_kind_name((tq_map_kind)k));
      continue;
    }
    if (!tq_qmap_resolve(map, q->id, q->weights, q->n_weights, &m)) {
      printf("float (no key matches)\n");
      continue;
    }
    print_value(stdout, m.value);
    const int sites = o->model && m.value->quantizer;
    printf("  <- key ");
    print_quoted(stdout, m.key);
    printf(" (entry %zu), found in ", m.entry);
    if (m.via == q->id) {
      printf("the layer ID\n");
    } else {
      printf("weight ");
      print_quoted(stdout, m.via);
      printf("\n");
    }
    if (sites)
      tq_cli_print_sites(o->ctx, &o->mm, (size_t)q->node, (tq_map_kind)k,
                         m.value->quantizer);
  }
  if (!printed) printf("  float (the map has no sections)\n");
}

static void print_text(const options *o, const tq_qmap_set *set,
                       map_form form) {
  print_summary(o, set, form);
  if (form != FORM_SPEC)
    for (int k = 0; k < TQ_MAP_KIND_COUNT; k++) {
      const tq_qmap *map = tq_qmap_set_get(set, (tq_map_kind)k);
      if (!shown(o, form, (tq_map_kind)k)) continue;
      if (map)
        print_section(map);
      else if (o->kind_given)
        printf("\n[%s] absent: every layer stays float\n",
               tq_map_kind_name((tq_map_kind)k));
    }
  for (size_t i = 0; i < o->n_layers; i++)
    print_layer(o, set, form, &o->layers[i]);
}

/* ---- JSON output --------------------------------------------------------- */

/* json_object_set_new and json_array_append_new take ownership of value
 * even when it is NULL or they fail, so errors only need to be counted. */
static int jset(json_t *obj, const char *key, json_t *value) {
  return json_object_set_new(obj, key, value) == 0;
}

static int jspec(json_t *obj, const char *key, const tq_quantizer *q) {
  return !q || jset(obj, key, json_string(tq_quantizer_spec(q)));
}

static int value_json(json_t *obj, const tq_qmap_value *v) {
  if (v->quantizer) return jspec(obj, "quantizer", v->quantizer);
  return jspec(obj, "product", v->product) & jspec(obj, "sum", v->sum) &
         jspec(obj, "accumulator", v->accumulator);
}

static json_t *section_json(const tq_qmap *map) {
  json_t *entries = json_array();
  if (!entries) return NULL;
  int ok = 1;
  for (size_t i = 0; i < tq_qmap_size(map); i++) {
    const char *key = NULL;
    const tq_qmap_value *v = NULL;
    tq_qmap_entry(map, i, &key, &v);
    json_t *e = json_object();
    ok &= e != NULL && jset(e, "index", json_integer((json_int_t)i)) &&
          jset(e, "key", json_string(key)) && value_json(e, v);
    ok &= json_array_append_new(entries, e) == 0;
  }
  if (!ok) {
    json_decref(entries);
    return NULL;
  }
  return entries;
}

static json_t *layer_json(const options *o, const tq_qmap_set *set,
                          map_form form, const layer_query *q) {
  json_t *layer = json_object(), *weights = json_array(),
         *matches = json_object();
  int ok = layer && weights && matches;
  for (size_t j = 0; ok && j < q->n_weights; j++)
    ok &= json_array_append_new(weights, json_string(q->weights[j])) == 0;
  for (int k = 0; ok && k < TQ_MAP_KIND_COUNT; k++) {
    const tq_qmap *map = tq_qmap_set_get(set, (tq_map_kind)k);
    if (!map || !shown(o, form, (tq_map_kind)k)) continue;
    tq_qmap_match m;
    json_t *match = json_null();
    if (tq_qmap_resolve(map, q->id, q->weights, q->n_weights, &m)) {
      match = json_object();
      ok &= match != NULL &&
            jset(match, "entry", json_integer((json_int_t)m.entry)) &&
            jset(match, "key", json_string(m.key)) &&
            jset(match, "via", json_string(m.via)) &&
            value_json(match, m.value);
      if (ok && o->model && m.value->quantizer)
        ok &= jset(match, "sites",
                   tq_cli_sites_json(o->ctx, &o->mm, (size_t)q->node,
                                     (tq_map_kind)k, m.value->quantizer));
    }
    ok &= jset(matches, tq_map_kind_name((tq_map_kind)k), match);
  }
  if (ok) {
    /* & rather than &&: every call must run to take its value over. */
    ok = jset(layer, "layer", json_string(q->id)) &
         jset(layer, "weights", weights) & jset(layer, "matches", matches);
    weights = matches = NULL;
  }
  json_decref(weights);
  json_decref(matches);
  if (!ok) {
    json_decref(layer);
    return NULL;
  }
  return layer;
}

static int print_json(const options *o, const tq_qmap_set *set, map_form form,
                      json_t *model) {
  static const char *const form_names[] = {"sectioned", "flat", "spec"};
  json_t *root = json_object(), *sections = json_object(),
         *layers = json_array();
  int ok = root && sections && layers &&
           jset(root, "map", json_string(o->map)) &&
           jset(root, "form", json_string(form_names[form]));
  for (int k = 0; ok && k < TQ_MAP_KIND_COUNT; k++) {
    const tq_qmap *map = tq_qmap_set_get(set, (tq_map_kind)k);
    if (map && shown(o, form, (tq_map_kind)k))
      ok &= jset(sections, tq_map_kind_name((tq_map_kind)k), section_json(map));
  }
  for (size_t i = 0; ok && i < o->n_layers; i++)
    ok &= json_array_append_new(layers,
                                layer_json(o, set, form, &o->layers[i])) == 0;
  if (ok && o->model) ok = model && jset(root, "model", json_incref(model));
  if (ok) {
    ok = jset(root, "sections", sections) & jset(root, "layers", layers);
    sections = layers = NULL;
  }
  if (ok) {
    ok = json_dumpf(root, stdout, JSON_INDENT(2)) == 0;
    printf("\n");
  }
  json_decref(sections);
  json_decref(layers);
  json_decref(root);
  if (!ok)
    tq_cli_error(cmd,
                 "cannot write the JSON output (out of memory, or a layer or "
                 "weight name that is not valid UTF-8)");
  return ok;
}

/* ---- arguments ----------------------------------------------------------- */

static int parse_kind(const char *text, tq_map_kind *kind) {
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++)
    if (strcmp(text, tq_map_kind_name((tq_map_kind)k)) == 0) {
      *kind = (tq_map_kind)k;
      return 1;
    }
  tq_cli_error(cmd,
               "--kind expects extrinsic, weights, intrinsic, gradients or "
               "updates, got '%s'",
               text);
  return 0;
}

/* Fills o from argv (argv[0] = "map", argv[1] = "check"); weights points to
 * room for argc names. Returns 0 after printing a usage error. */
static int parse_args(int argc, char **argv, options *o, const char **weights) {
  size_t n_weights = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v;
    if (strcmp(a, "--layer") == 0) {
      if (!(v = tq_cli_value(cmd, argc, argv, &i))) return 0;
      o->layers[o->n_layers++] = (layer_query){v, weights + n_weights, 0, -1};
    } else if (strcmp(a, "--weight") == 0) {
      if (!(v = tq_cli_value(cmd, argc, argv, &i))) return 0;
      if (o->n_layers == 0) {
        tq_cli_error(cmd, "--weight %s must follow the --layer it belongs to",
                     v);
        return 0;
      }
      weights[n_weights++] = v;
      o->layers[o->n_layers - 1].n_weights++;
    } else if (strcmp(a, "--kind") == 0) {
      if (!(v = tq_cli_value(cmd, argc, argv, &i))) return 0;
      if (!parse_kind(v, &o->kind)) return 0;
      o->kind_given = 1;
    } else if (strcmp(a, "--json") == 0) {
      o->json = 1;
    } else if (strcmp(a, "--strict") == 0) {
      o->strict = 1;
    } else if (strcmp(a, "--model") == 0) {
      if (!(o->model = tq_cli_value(cmd, argc, argv, &i))) return 0;
    } else if (strcmp(a, "--map-view") == 0) {
      if (!(o->view = tq_cli_value(cmd, argc, argv, &i))) return 0;
    } else if (a[0] == '-' && a[1] == '-') {
      tq_cli_error(cmd, "unknown option %s (see tq map --help)", a);
      return 0;
    } else if (o->map) {
      tq_cli_error(cmd, "one MAP at a time: got '%s' and '%s'", o->map, a);
      return 0;
    } else {
      o->map = a;
    }
  }
  tq_map_view view;
  if (!tq_cli_map_view(cmd, o->view, &view)) return 0;
  if (!o->model && (o->view || o->strict)) {
    tq_cli_error(cmd, "%s needs --model MODEL",
                 o->view ? "--map-view" : "--strict");
    return 0;
  }
  if (!o->map) {
    tq_cli_error(cmd,
                 "missing MAP: a map file or a quantizer spec (see tq "
                 "map --help)");
    return 0;
  }
  return 1;
}

/* --model: opens it, finds each --layer's node and, where no --weight was
 * given, takes the layer's weights from the model. */
static int model_layers(options *o) {
  for (size_t i = 0; i < o->n_layers; i++) {
    layer_query *q = &o->layers[i];
    if ((q->node = tq_cli_map_model_node(cmd, &o->mm, q->id)) < 0) return 0;
    tq_node_info info;
    if (q->n_weights == 0 &&
        tq_graph_node_info(o->mm.g, (size_t)q->node, &info) == TQ_OK) {
      q->weights = info.weights;
      q->n_weights = info.n_weights;
    }
  }
  return 1;
}

/* The report of the map on the model under o->view; prints errors. */
static int open_report(const options *o, const tq_qmap_set *set,
                       tq_map_report **r) {
  tq_map_view view;
  tq_cli_map_view(cmd, o->view, &view); /* checked by parse_args */
  tq_status st = tq_session_set_map_view(o->ctx, o->mm.s, view);
  if (st == TQ_OK) st = tq_map_report_create(o->ctx, o->mm.s, set, r);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, o->ctx, st);
    return 0;
  }
  return 1;
}

static int run_check(int argc, char **argv) {
  options o = {.kind = TQ_MAP_EXTRINSIC};
  o.layers = calloc((size_t)argc, sizeof *o.layers);
  const char **weights = calloc((size_t)argc, sizeof *weights);
  if (!o.layers || !weights) {
    free(o.layers);
    free(weights);
    tq_cli_error(cmd, "out of memory");
    return TQ_EXIT_FAILURE;
  }
  int rc = TQ_EXIT_USAGE;
  tq_context *ctx = NULL;
  tq_qmap_set *set = NULL;
  tq_map_report *report = NULL;
  if (!parse_args(argc, argv, &o, weights)) goto done;
  rc = TQ_EXIT_FAILURE;
  if (tq_context_create(&ctx) != TQ_OK) {
    tq_cli_error(cmd, "out of memory");
    goto done;
  }
  map_form form = FORM_SPEC;
  tq_status st = load_map(ctx, o.map, o.kind, &set, &form);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    if (form == FORM_FLAT && !o.kind_given) hint_intrinsic(o.map);
    goto done;
  }
  o.ctx = ctx;
  if (o.model && (!tq_cli_map_model_open(cmd, ctx, o.model, &o.mm) ||
                  !model_layers(&o) || !open_report(&o, set, &report)))
    goto done;
  if (o.json) {
    json_t *model =
        report ? tq_map_model_json(o.model, report, o.mm.s, set) : NULL;
    const int ok = print_json(&o, set, form, model);
    json_decref(model);
    if (!ok) goto done;
  } else {
    print_text(&o, set, form);
    if (report) tq_map_model_print(o.model, report, o.mm.s, set);
  }
  rc = fflush(stdout) == 0 ? TQ_EXIT_OK : TQ_EXIT_FAILURE;
  if (report && tq_cli_maps_warn_unused(cmd, report, set, o.strict) && o.strict)
    rc = TQ_EXIT_FAILURE;
done:
  tq_map_report_destroy(report);
  tq_cli_map_model_close(&o.mm);
  tq_qmap_set_destroy(set);
  tq_context_destroy(ctx);
  free(o.layers);
  free(weights);
  return rc;
}

static int run_map(int argc, char **argv) {
  if (argc < 2) {
    tq_cli_error(cmd,
                 "missing subcommand: tq map check MAP (see tq map "
                 "--help)");
    return TQ_EXIT_USAGE;
  }
  if (strcmp(argv[1], "check") != 0) {
    tq_cli_error(cmd, "unknown subcommand '%s'; the one subcommand is check",
                 argv[1]);
    return TQ_EXIT_USAGE;
  }
  return run_check(argc, argv);
}

const tq_command tq_cmd_map = {
    "map", "check a quantizer map and show which quantizer a layer gets",
    run_map,
    "usage: tq map check MAP [--kind KIND] [--layer ID [--weight NAME]...]...\n"
    "                    [--model MODEL [--map-view V] [--strict]] [--json]\n"
    "\n"
    "Checks a quantizer map completely and lists its entries; with --layer,\n"
    "shows which entry (if any) applies to a layer, per section.\n"
    "\n"
    "MAP is a JSON map file or a quantizer spec string. A file is either\n"
    "flat, one kind of map as in TensorQuant:\n"
    "  {\"Conv1\": \"nearest,12,11\", \"Dense\": \"nearest,16,8\"}\n"
    "or sectioned, one map per kind:\n"
    "  {\"extrinsic\": {...}, \"weights\": {...}, \"intrinsic\": {...},\n"
    "   \"gradients\": {...}, \"updates\": {...}}\n"
    "A MAP that is not a readable file is one spec for every layer, as\n"
    "{\"\": MAP}. Checked: JSON syntax (errors give line and column), section\n"
    "names, every spec string, every \"re:\" regular expression and every\n"
    "intrinsic object ({\"product\": P, \"sum\": S} or\n"
    "{\"product\": P, \"accumulator\": A}). Specs are shown in canonical "
    "form.\n"
    "\n"
    "Matching: a key matches a layer when the layer ID or one of its weight\n"
    "names contains it. Keys starting with \"re:\" are POSIX extended regular\n"
    "expressions, searched anywhere in the name (anchor with ^ and $). Keys\n"
    "starting with \"=\" match whole name segments (between /, . and :):\n"
    "\"=Conv2\" matches LeNet/Conv2/BiasAdd, not Conv2D. \"\"\n"
    "matches every layer. The first matching entry in file order wins; a\n"
    "layer that no key matches stays float.\n"
    "\n"
    "options:\n"
    "  --layer ID     show which entry applies to the layer with this ID\n"
    "                 (repeatable)\n"
    "  --weight NAME  a weight name of the preceding --layer, e.g. the ONNX\n"
    "                 initializer layer1.0.conv1.weight (repeatable)\n"
    "  --kind KIND    the kind of a flat map or spec string: extrinsic\n"
    "                 (default), weights, intrinsic, gradients or updates;\n"
    "                 for a sectioned map, show only that section\n"
    "  --model MODEL  check the map against an ONNX model: per key, the\n"
    "                 layers (and weights) it applies to; per layer, the\n"
    "                 key that applies; a warning for each key that\n"
    "                 applies to nothing. With --layer (IDs of this model):\n"
    "                 per tensor the spec quantizes there (weights, or the\n"
    "                 output for one sample), the axis and group a scaled\n"
    "                 or block format resolves to (per tensor, per channel\n"
    "                 along axis K, blocks of G along axis K); the layer's\n"
    "                 weights are taken from the model unless --weight is\n"
    "                 given\n"
    "  --map-view V   with --model: keys address framework layers (layers)\n"
    "                 or ONNX nodes (nodes, the default)\n"
    "  --strict       with --model: exit 1 when a key applies to nothing\n"
    "  --json         print the entries and matches as JSON\n"
    "  -h, --help     this text\n"
    "\n"
    "exit status: 0 the map is valid, 1 it is not (the message says where\n"
    "and why), 2 usage error.\n"
    "\n"
    "examples:\n"
    "  tq map check maps/lenet.json\n"
    "  tq map check maps/lenet.json --layer LeNet/Conv1 --layer LeNet/Dense\n"
    "  tq map check resnet18.json --layer /layer1/layer1.0/conv1/Conv \\\n"
    "      --weight layer1.0.conv1.weight\n"
    "  tq map check accumulators.json --kind intrinsic --layer fc\n"
    "  tq map check nearest,8,4 --layer anything\n"
    "  tq map check maps/lenet.json --layer LeNet/Conv1 --json\n"
    "  tq map check keras.json --model lenet.onnx --map-view layers "
    "--strict\n"};
