/* tq map check --model: what a map does to one model, per key and per
 * layer (or node), from the library's map report. */
#include <jansson.h>
#include <string.h>

#include "map_model.h"

static const char *target_word(const tq_map_report *r, size_t n) {
  const int layers = tq_map_report_view(r) == TQ_MAP_VIEW_LAYERS;
  if (n == 1) return layers ? "layer" : "node";
  return layers ? "layers" : "nodes";
}

static void print_key_line(const tq_map_report *r, tq_map_kind kind, size_t e) {
  tq_map_key_report kr;
  tq_map_report_key(r, kind, e, &kr);
  printf("  %zu  \"%s\"  ", e, kr.key);
  if (!kr.n_matched) {
    printf("matches no %s (changes nothing)\n", target_word(r, 1));
    return;
  }
  printf("applies to %zu %s", kr.n_applied, target_word(r, kr.n_applied));
  if (kr.n_applied < kr.n_matched)
    printf(" (matches %zu; earlier keys win on %zu)", kr.n_matched,
           kr.n_matched - kr.n_applied);
  printf("%s\n", kr.n_applied ? ":" : ", changes nothing");
  for (size_t t = 0; t < tq_map_report_target_count(r); t++) {
    if (tq_map_report_applies(r, t, kind) != (long)e) continue;
    tq_map_target tg;
    tq_map_report_target(r, t, &tg);
    printf("       %s", tg.id);
    if (kind == TQ_MAP_WEIGHTS || kind == TQ_MAP_UPDATES)
      for (size_t w = 0; w < tg.n_weights; w++)
        printf("%s%s", w ? ", " : " (", tg.weights[w]);
    printf("%s\n",
           (kind == TQ_MAP_WEIGHTS || kind == TQ_MAP_UPDATES) && tg.n_weights
               ? ")"
               : "");
  }
}

static void print_target(const tq_map_report *r, const tq_session *s,
                         const tq_qmap_set *set, size_t t) {
  tq_map_target tg;
  tq_map_report_target(r, t, &tg);
  printf("  %s", tg.id);
  tq_layer_info li;
  if (tq_map_report_view(r) == TQ_MAP_VIEW_LAYERS &&
      tq_session_layer(s, t, &li) == TQ_OK) {
    tq_node_info ni;
    tq_graph_node_info(tq_session_graph(s), li.output_node, &ni);
    printf("  (%zu node%s, output of %s)", li.n_nodes,
           li.n_nodes == 1 ? "" : "s", ni.id);
  }
  printf("\n");
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++) {
    const tq_qmap *map = tq_qmap_set_get(set, (tq_map_kind)k);
    if (!map || !tg.eligible[k]) continue;
    const long e = tq_map_report_applies(r, t, (tq_map_kind)k);
    printf("    %-10s ", tq_map_kind_name((tq_map_kind)k));
    if (e < 0) {
      printf("float (no key matches)\n");
      continue;
    }
    const char *key = NULL;
    const tq_qmap_value *v = NULL;
    tq_qmap_entry(map, (size_t)e, &key, &v);
    printf(
        "%s  <- key \"%s\" (entry %ld)\n",
        v->quantizer ? tq_quantizer_spec(v->quantizer) : "(intrinsic object)",
        key, e);
  }
}

void tq_map_model_print(const char *model, const tq_map_report *r,
                        const tq_session *s, const tq_qmap_set *set) {
  const size_t n = tq_map_report_target_count(r);
  printf("\nmodel %s under the %s view: %zu %s\n", model,
         tq_map_report_view(r) == TQ_MAP_VIEW_LAYERS ? "layer" : "node", n,
         target_word(r, n));
  for (int k = 0; k < TQ_MAP_KIND_COUNT; k++) {
    const tq_qmap *map = tq_qmap_set_get(set, (tq_map_kind)k);
    if (!map) continue;
    printf("\n[%s] per key\n", tq_map_kind_name((tq_map_kind)k));
    for (size_t e = 0; e < tq_qmap_size(map); e++)
      print_key_line(r, (tq_map_kind)k, e);
  }
  printf("\nper %s\n", target_word(r, 1));
  for (size_t t = 0; t < n; t++) print_target(r, s, set, t);
}

/* ---- JSON ---------------------------------------------------------------*/

static int jset(json_t *obj, const char *key, json_t *value) {
  return json_object_set_new(obj, key, value) == 0;
}

static int jpush(json_t *arr, json_t *value) {
  return json_array_append_new(arr, value) == 0;
}

static json_t *strings_json(const char *const *names, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    if (!jpush(a, json_string(names[i]))) {
      json_decref(a);
      return NULL;
    }
  return a;
}

static json_t *key_json(const tq_map_report *r, tq_map_kind kind, size_t e) {
  tq_map_key_report kr;
  tq_map_report_key(r, kind, e, &kr);
  json_t *o = json_object(), *matched = json_array(), *applied = json_array();
  int ok = o && matched && applied;
  for (size_t t = 0; ok && t < tq_map_report_target_count(r); t++) {
    tq_map_target tg;
    tq_map_report_target(r, t, &tg);
    if (tq_map_report_matches(r, kind, e, t))
      ok &= jpush(matched, json_string(tg.id));
    if (tq_map_report_applies(r, t, kind) == (long)e)
      ok &= jpush(applied, json_string(tg.id));
  }
  ok = ok && jset(o, "entry", json_integer((json_int_t)e)) &&
       jset(o, "key", json_string(kr.key));
  /* & rather than &&: both calls must run to take their values over. */
  ok = ok & jset(o, "matched", matched) & jset(o, "applied", applied);
  if (!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *target_json(const tq_map_report *r, const tq_session *s,
                           const tq_qmap_set *set, size_t t) {
  tq_map_target tg;
  tq_map_report_target(r, t, &tg);
  const tq_graph *g = tq_session_graph(s);
  json_t *o = json_object(), *nodes = json_array(), *applies = json_object();
  int ok = o && nodes && applies;
  size_t output = t;
  tq_layer_info li;
  if (tq_map_report_view(r) == TQ_MAP_VIEW_LAYERS &&
      tq_session_layer(s, t, &li) == TQ_OK) {
    output = li.output_node;
    for (size_t m = 0; ok && m < li.n_nodes; m++) {
      tq_node_info ni;
      tq_graph_node_info(g, li.nodes[m], &ni);
      ok &= jpush(nodes, json_string(ni.id));
    }
  } else {
    ok &= jpush(nodes, json_string(tg.id));
  }
  for (int k = 0; ok && k < TQ_MAP_KIND_COUNT; k++) {
    if (!tq_qmap_set_get(set, (tq_map_kind)k) || !tg.eligible[k]) continue;
    const long e = tq_map_report_applies(r, t, (tq_map_kind)k);
    ok &= jset(applies, tq_map_kind_name((tq_map_kind)k),
               e < 0 ? json_null() : json_integer((json_int_t)e));
  }
  tq_node_info out;
  ok = ok && tq_graph_node_info(g, output, &out) == TQ_OK &&
       jset(o, "id", json_string(tg.id)) &&
       jset(o, "output_node", json_string(out.id)) &&
       jset(o, "weights", strings_json(tg.weights, tg.n_weights));
  ok = ok & jset(o, "nodes", nodes) & jset(o, "applies", applies);
  if (!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *tq_map_model_json(const char *model, const tq_map_report *r,
                          const tq_session *s, const tq_qmap_set *set) {
  json_t *o = json_object(), *keys = json_object(), *targets = json_array();
  int ok = o && keys && targets;
  for (int k = 0; ok && k < TQ_MAP_KIND_COUNT; k++) {
    const tq_qmap *map = tq_qmap_set_get(set, (tq_map_kind)k);
    if (!map) continue;
    json_t *entries = json_array();
    for (size_t e = 0; entries && e < tq_qmap_size(map); e++)
      if (!jpush(entries, key_json(r, (tq_map_kind)k, e))) {
        json_decref(entries);
        entries = NULL;
      }
    ok &= jset(keys, tq_map_kind_name((tq_map_kind)k), entries);
  }
  for (size_t t = 0; ok && t < tq_map_report_target_count(r); t++)
    ok &= jpush(targets, target_json(r, s, set, t));
  ok =
      ok && jset(o, "path", json_string(model)) &&
      jset(
          o, "view",
          json_string(tq_map_report_view(r) == TQ_MAP_VIEW_LAYERS ? "layers"
                                                                  : "nodes")) &&
      jset(o, "unused_keys", json_integer((json_int_t)tq_map_report_unused(r)));
  ok = ok & jset(o, "keys", keys) & jset(o, "targets", targets);
  if (!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}
