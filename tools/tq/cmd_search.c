/* tq search: per-layer formats with the fewest total bits whose accuracy
 * loss stays within a budget.
 *
 * 1. Curves: every knob (a layer and a kind of quantization) alone at
 *    every candidate width, on the search slice.
 * 2. Allocations: from all knobs at their widest, step the knob whose
 *    next width costs the least predicted loss per bit saved, while the
 *    summed single-knob losses stay within gamma x budget; one allocation
 *    per gamma.
 * 3. Every allocation is evaluated jointly on the search slice and on the
 *    held-out validation slice; the cheapest one within the budget on both
 *    wins. A second round refines gamma between the best passing and the
 *    first failing value. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_cli.h"

static const char help[] =
    "usage: tq search MODEL.onnx --data D --budget PP [options]\n"
    "\n"
    "Finds per-layer formats with the fewest total bits whose top-1\n"
    "accuracy loss against float stays within PP percentage points, on a\n"
    "search slice and on a held-out validation slice of the samples, and\n"
    "writes them as a sectioned map file that tq eval, tq run and tq train\n"
    "take with --map FILE.\n"
    "\n"
    "options:\n"
    "      --budget PP    allowed top-1 loss in percentage points (e.g. 0.5)\n"
    "      --margin PP    hold the loss to budget - PP on both slices: a\n"
    "                     guard for data the search has not seen (default 0)\n"
    "      --what W[,W..] what to quantize: extr,weights (default), intr\n"
    "      --family F     nearest (default), even, stochastic: fixed point\n"
    "                     with `auto` fractional bits per layer; float:\n"
    "                     saturating floats from 16 down to 4 bits\n"
    "      --widths LIST  candidate word widths for fixed point (default\n"
    "                     16,12,10,8,7,6,5,4,3,2)\n"
    "      --cost C       what a bit costs: size (default: each layer's own\n"
    "                     parameters for weights, activation elements per\n"
    "                     sample for extr/intr), params (the layer's\n"
    "                     parameter count), activations (its output size)\n"
    "      --validation N held-out samples (default: half of them); the\n"
    "                     search uses the others\n"
    "  -l, --layers P,... only the layers these patterns match\n"
    "  -o, --output FILE  the sectioned map file to write (JSON)\n"
    "  -d, --data D       fashion-mnist, a directory of IDX files, or\n"
    "                     X.npy,y.npy\n"
    "      --split S      test (default) or train\n"
    "      --limit N      use the first N samples (search + validation)\n"
    "      --normalize M:S[,M:S...]  feed (x - M) / S per channel\n"
    "      --batch N      samples per run (default 256)\n"
    "      --calib N      samples for the statistics `auto` uses\n"
    "      --seed N       seed for stochastic rounding (default 0)\n"
    "      --threads N    threads to use\n"
    "      --memory MB    float values kept for reuse (default 1024)\n"
    "      --report FILE  write a self-contained HTML report with charts\n"
    "      --json         print the results document (JSON) on stdout\n"
    "  -q, --quiet        no progress display\n"
    "\n"
    "The loss is measured on the samples used; on other data it is an\n"
    "estimate. When no allocation meets the budget, tq search says so,\n"
    "reports the most accurate one found, still writes it, and exits 1.\n"
    "\n"
    "examples:\n"
    "  tq search models/lenet-fashion-mnist.onnx --data fashion-mnist \\\n"
    "      --limit 4000 --budget 0.5 -o lenet-map.json --report search.html\n"
    "  tq eval models/lenet-fashion-mnist.onnx --data fashion-mnist \\\n"
    "      --map lenet-map.json\n";

typedef struct knob {
  tq_map_kind kind;
  size_t node;
  double weight; /* cost of one bit of this knob */
  char **cand;   /* resolved specs, widest first */
  int *bits;     /* their widths */
  double *loss;  /* single-knob loss (pp, >= 0) on the search slice */
  size_t n_cand;
} knob;

typedef struct alloc {
  size_t *pos; /* candidate index per knob */
  double gamma, bits;
  tq_config_result search, valid;
} alloc;

static const char *const float_family[] = {
    "float,5,10,sat", "float,5,6,sat", "float,5,4,sat", "float,4,3,sat",
    "float,4,2,sat",  "float,3,2,sat", "float,2,2,sat", "float,2,1,sat"};

static double loss_pp(const tq_config_result *flt, const tq_config_result *r) {
  return 100.0 * (flt->eval.top1 - r->eval.top1);
}

/* Output elements per sample of node (planned for one sample). */
static double activation_size(tq_an_cli *a, size_t node) {
  tq_node_info info;
  tq_graph_node_info(a->g, node, &info);
  double n = 0;
  for (size_t k = 0; k < info.n_outputs; k++) {
    const tq_shape *s = tq_session_value_shape(a->s, info.outputs[k]);
    double e = 1; /* per sample: the session may be planned for a batch */
    for (int d = 1; s && d < s->ndim; d++) e *= (double)s->dims[d];
    if (s) n += e;
  }
  return n;
}

static double param_count(tq_an_cli *a, size_t node) {
  tq_node_info info;
  tq_graph_node_info(a->g, node, &info);
  double n = 0;
  for (size_t k = 0; k < info.n_weights; k++) {
    const tq_tensor *t = tq_graph_initializer(a->g, info.weights[k]);
    if (t) n += (double)tq_tensor_numel(t);
  }
  return n;
}

static int make_config(tq_an_cli *a, const knob *knobs, size_t n_knobs,
                       const size_t *pos, tq_qmap_set **out) {
  if (tq_qmap_set_create(a->ctx, out) != TQ_OK) return 0;
  for (size_t k = 0; k < n_knobs; k++)
    if (!tq_an_add(a, *out, knobs[k].kind, knobs[k].node,
                   knobs[k].cand[pos[k]]))
      return 0;
  return 1;
}

/* Greedy allocation under gamma x budget of predicted (summed) loss. */
static void allocate(const knob *knobs, size_t n_knobs, double limit,
                     size_t *pos) {
  double total = 0;
  for (size_t k = 0; k < n_knobs; k++) {
    pos[k] = 0;
    total += knobs[k].loss[0];
  }
  for (;;) {
    size_t best = n_knobs;
    double best_ratio = INFINITY, best_inc = 0;
    for (size_t k = 0; k < n_knobs; k++) {
      const knob *kb = &knobs[k];
      if (pos[k] + 1 >= kb->n_cand) continue;
      const double inc = kb->loss[pos[k] + 1] - kb->loss[pos[k]];
      if (total + inc > limit + 1e-9) continue;
      const double saved =
          kb->weight * (double)(kb->bits[pos[k]] - kb->bits[pos[k] + 1]);
      const double ratio = saved > 0 ? (inc > 0 ? inc : 0) / saved : INFINITY;
      if (ratio < best_ratio) {
        best_ratio = ratio;
        best = k;
        best_inc = inc;
      }
    }
    if (best == n_knobs) break;
    pos[best]++;
    total += best_inc;
  }
}

static double alloc_bits(const knob *knobs, size_t n_knobs, const size_t *pos) {
  double b = 0;
  for (size_t k = 0; k < n_knobs; k++)
    b += knobs[k].weight * knobs[k].bits[pos[k]];
  return b;
}

/* Within the budget on both slices (budget already less the margin). */
static int passes(const alloc *al, const tq_config_result *fs,
                  const tq_config_result *fv, double budget) {
  return loss_pp(fs, &al->search) <= budget + 1e-9 &&
         loss_pp(fv, &al->valid) <= budget + 1e-9;
}

/* Evaluates allocations [first, n) on both slices. */
static int evaluate_allocs(tq_an_cli *a, const knob *knobs, size_t n_knobs,
                           alloc *al, size_t first, size_t n,
                           const size_t *idx_s, size_t n_s, const size_t *idx_v,
                           size_t n_v, tq_config_result *fs,
                           tq_config_result *fv) {
  const size_t m = n - first;
  tq_qmap_set **cfg = calloc(m ? m : 1, sizeof *cfg);
  tq_config_result *rs = calloc(m ? m : 1, sizeof *rs);
  tq_config_result *rv = calloc(m ? m : 1, sizeof *rv);
  int ok = cfg && rs && rv;
  for (size_t i = 0; ok && i < m; i++)
    ok = make_config(a, knobs, n_knobs, al[first + i].pos, &cfg[i]);
  /* the held-out samples keep their stochastic-rounding numbers (their
   * positions in the whole run), as tq eval over all samples gives them */
  ok = ok &&
       tq_an_evaluate(a, "search: joint", idx_s, n_s, 0,
                      (const tq_qmap_set *const *)cfg, m, fs, rs) &&
       tq_an_evaluate(a, "search: validation", idx_v, n_v, (uint64_t)n_s,
                      (const tq_qmap_set *const *)cfg, m, fv, rv);
  for (size_t i = 0; ok && i < m; i++) {
    al[first + i].search = rs[i];
    al[first + i].valid = rv[i];
  }
  for (size_t i = 0; cfg && i < m; i++) tq_qmap_set_destroy(cfg[i]);
  free(cfg);
  free(rs);
  free(rv);
  return ok;
}

/* Adds the allocation for gamma unless an identical one exists. */
static int add_alloc(const knob *knobs, size_t n_knobs, double budget,
                     double gamma, alloc *al, size_t *n) {
  size_t *pos = malloc((n_knobs ? n_knobs : 1) * sizeof *pos);
  if (!pos) return 0;
  if (gamma < 0)
    memset(pos, 0, n_knobs * sizeof *pos); /* all at their widest */
  else
    allocate(knobs, n_knobs, gamma * budget, pos);
  for (size_t i = 0; i < *n; i++)
    if (!memcmp(al[i].pos, pos, n_knobs * sizeof *pos)) {
      free(pos);
      return 1;
    }
  al[*n].pos = pos;
  al[*n].gamma = gamma;
  al[*n].bits = alloc_bits(knobs, n_knobs, pos);
  (*n)++;
  return 1;
}

static json_t *map_json(tq_an_cli *a, const knob *knobs, size_t n_knobs,
                        const size_t *pos) {
  json_t *m = json_object();
  static const char *const section[TQ_MAP_KIND_COUNT] = {
      [TQ_MAP_EXTRINSIC] = "extrinsic",
      [TQ_MAP_WEIGHTS] = "weights",
      [TQ_MAP_INTRINSIC] = "intrinsic"};
  for (size_t k = 0; k < n_knobs; k++) {
    json_t *sec = json_object_get(m, section[knobs[k].kind]);
    if (!sec) {
      sec = json_object();
      json_object_set_new(m, section[knobs[k].kind], sec);
    }
    tq_node_info info;
    tq_graph_node_info(a->g, knobs[k].node, &info);
    char key[1024];
    tq_exact_layer_key(info.id, key, sizeof key);
    json_object_set_new(sec, key, json_string(knobs[k].cand[pos[k]]));
  }
  return m;
}

static int run(int argc, char **argv) {
  tq_an_cli a = {.cmd = "search"};
  double budget = -1, margin = 0;
  const char *family = "nearest", *cost = "size", *widths_text = NULL;
  long n_val = -1;
  for (int i = 1; i < argc; i++) {
    int m = tq_an_option(&a, argc, argv, &i);
    if (m < 0) return TQ_EXIT_USAGE;
    if (m) continue;
    const char *o = argv[i], *v;
    if (!strcmp(o, "--budget")) {
      if (!(v = tq_cli_value(a.cmd, argc, argv, &i)) ||
          !tq_cli_parse_double(a.cmd, o, v, 0, 100, &budget))
        return TQ_EXIT_USAGE;
    } else if (!strcmp(o, "--margin")) {
      if (!(v = tq_cli_value(a.cmd, argc, argv, &i)) ||
          !tq_cli_parse_double(a.cmd, o, v, 0, 100, &margin))
        return TQ_EXIT_USAGE;
    } else if (!strcmp(o, "--family")) {
      if (!(family = tq_cli_value(a.cmd, argc, argv, &i))) return TQ_EXIT_USAGE;
      if (strcmp(family, "nearest") && strcmp(family, "even") &&
          strcmp(family, "stochastic") && strcmp(family, "float")) {
        tq_cli_error(a.cmd,
                     "--family must be nearest, even, stochastic or float, "
                     "got '%s'",
                     family);
        return TQ_EXIT_USAGE;
      }
    } else if (!strcmp(o, "--cost")) {
      if (!(cost = tq_cli_value(a.cmd, argc, argv, &i))) return TQ_EXIT_USAGE;
      if (strcmp(cost, "size") && strcmp(cost, "params") &&
          strcmp(cost, "activations")) {
        tq_cli_error(a.cmd,
                     "--cost must be size, params or activations, "
                     "got '%s'",
                     cost);
        return TQ_EXIT_USAGE;
      }
    } else if (!strcmp(o, "--widths")) {
      if (!(widths_text = tq_cli_value(a.cmd, argc, argv, &i)))
        return TQ_EXIT_USAGE;
    } else if (!strcmp(o, "--validation")) {
      if (!(v = tq_cli_value(a.cmd, argc, argv, &i)) ||
          !tq_cli_parse_int(a.cmd, o, v, 1, 1L << 40, &n_val))
        return TQ_EXIT_USAGE;
    } else if (o[0] == '-' || a.model) {
      tq_cli_error(a.cmd, "unexpected argument '%s' (see tq search --help)", o);
      return TQ_EXIT_USAGE;
    } else {
      a.model = o;
    }
  }
  if (widths_text && !strcmp(family, "float")) {
    tq_cli_error(a.cmd,
                 "--widths is for the fixed-point families; --family "
                 "float tries float,5,10 down to float,2,1");
    return TQ_EXIT_USAGE;
  }
  if (budget < 0) {
    tq_cli_error(a.cmd,
                 "needs --budget PP (allowed top-1 loss in "
                 "percentage points, see tq search --help)");
    return TQ_EXIT_USAGE;
  }
  int widths[32], n_widths = 0;
  {
    const char *p = widths_text ? widths_text : "16,12,10,8,7,6,5,4,3,2";
    while (*p) {
      char *end;
      long w = strtol(p, &end, 10);
      if (end == p || w < 2 || w > 32 || n_widths == 32 ||
          (*end && *end != ',')) {
        tq_cli_error(a.cmd,
                     "--widths '%s': expected a comma list of word "
                     "widths from 2 to 32",
                     widths_text);
        return TQ_EXIT_USAGE;
      }
      widths[n_widths++] = (int)w;
      p = *end ? end + 1 : end;
    }
    /* widest first, each once */
    for (int i = 1; i < n_widths; i++)
      for (int j = i; j > 0 && widths[j] > widths[j - 1]; j--) {
        int t = widths[j];
        widths[j] = widths[j - 1];
        widths[j - 1] = t;
      }
    int kept = 0;
    for (int i = 0; i < n_widths; i++)
      if (!kept || widths[kept - 1] != widths[i]) widths[kept++] = widths[i];
    n_widths = kept;
  }
  if (margin > budget) {
    tq_cli_error(a.cmd, "--margin %.2f exceeds --budget %.2f", margin, budget);
    return TQ_EXIT_USAGE;
  }
  /* The allocations are held to the budget less the margin. */
  const double target = budget - margin;
  tq_map_kind kinds[3] = {TQ_MAP_EXTRINSIC, TQ_MAP_WEIGHTS};
  size_t n_kinds = 2;
  if (a.what && !tq_an_parse_what(a.cmd, a.what, kinds, &n_kinds))
    return TQ_EXIT_USAGE;
  const char *map_out = a.out;
  a.out = NULL; /* -o is the map here, not the results */
  int rc = TQ_EXIT_FAILURE;
  knob *knobs = NULL;
  size_t n_knobs = 0, n_al = 0;
  alloc *al = NULL;
  size_t *idx = NULL;
  json_t *doc = NULL;
  tq_qmap_set **cfg = NULL;
  tq_config_result *res = NULL;
  size_t n_cfg = 0;
  if (!tq_an_open(&a)) goto done;
  if (a.n < 2) {
    tq_cli_error(a.cmd, "needs at least 2 samples (search and validation)");
    goto done;
  }
  const size_t nv = n_val > 0 ? (size_t)n_val : a.n / 2;
  if (nv >= a.n) {
    tq_cli_error(a.cmd,
                 "--validation %zu leaves no samples to search on "
                 "(%zu in all)",
                 nv, a.n);
    goto done;
  }
  const size_t ns = a.n - nv;
  idx = malloc(a.n * sizeof *idx);
  if (!idx) goto done;
  for (size_t i = 0; i < a.n; i++) idx[i] = i;

  /* Knobs and their candidates. */
  for (size_t k = 0; k < n_kinds; k++) {
    size_t *nodes, n;
    if (!tq_an_select_layers(&a, kinds[k], &nodes, &n)) goto done;
    knob *more = realloc(knobs, (n_knobs + n) * sizeof *knobs);
    if (!more) {
      free(nodes);
      goto done;
    }
    knobs = more;
    for (size_t i = 0; i < n; i++) {
      knob *kb = &knobs[n_knobs++];
      memset(kb, 0, sizeof *kb);
      kb->kind = kinds[k];
      kb->node = nodes[i];
      const double act = activation_size(&a, nodes[i]);
      const double par = param_count(&a, nodes[i]);
      kb->weight = !strcmp(cost, "params")        ? par
                   : !strcmp(cost, "activations") ? act
                   : kinds[k] == TQ_MAP_WEIGHTS   ? par
                                                  : act;
      const size_t nc = !strcmp(family, "float")
                            ? sizeof float_family / sizeof *float_family
                            : (size_t)n_widths;
      kb->cand = calloc(nc, sizeof *kb->cand);
      kb->bits = calloc(nc, sizeof *kb->bits);
      kb->loss = calloc(nc, sizeof *kb->loss);
      if (!kb->cand || !kb->bits || !kb->loss) {
        free(nodes);
        goto done;
      }
      for (size_t c = 0; c < nc; c++) {
        char tmpl[64], spec[600];
        if (!strcmp(family, "float"))
          snprintf(tmpl, sizeof tmpl, "%s", float_family[c]);
        else
          snprintf(tmpl, sizeof tmpl, "%s,%d,auto", family, widths[c]);
        if (!tq_an_resolve(&a, tmpl, nodes[i], kinds[k], spec, sizeof spec) ||
            !(kb->cand[c] = strdup(spec))) {
          free(nodes);
          goto done;
        }
        kb->bits[c] = tq_an_bits(&a, spec);
        kb->n_cand++;
      }
    }
    free(nodes);
  }

  /* 1. Curves on the search slice. */
  for (size_t k = 0; k < n_knobs; k++) n_cfg += knobs[k].n_cand;
  cfg = calloc(n_cfg, sizeof *cfg);
  res = calloc(n_cfg, sizeof *res);
  if (!cfg || !res) goto done;
  tq_config_result fs, fv;
  for (size_t k = 0, c = 0; k < n_knobs; k++)
    for (size_t j = 0; j < knobs[k].n_cand; j++, c++) {
      if (tq_qmap_set_create(a.ctx, &cfg[c]) != TQ_OK ||
          !tq_an_add(&a, cfg[c], knobs[k].kind, knobs[k].node,
                     knobs[k].cand[j]))
        goto done;
    }
  if (!tq_an_evaluate(&a, "search: layers", idx, ns, 0,
                      (const tq_qmap_set *const *)cfg, n_cfg, &fs, res))
    goto done;
  for (size_t k = 0, c = 0; k < n_knobs; k++)
    for (size_t j = 0; j < knobs[k].n_cand; j++, c++) {
      const double l = loss_pp(&fs, &res[c]);
      knobs[k].loss[j] = l > 0 ? l : 0;
    }

  /* 2-3. Allocations for a range of gamma, evaluated jointly. */
  static const double round1[] = {-1, 0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3};
  const size_t max_al = 2 * (sizeof round1 / sizeof *round1) + 8;
  al = calloc(max_al, sizeof *al);
  if (!al) goto done;
  for (size_t i = 0; i < sizeof round1 / sizeof *round1; i++)
    if (!add_alloc(knobs, n_knobs, target, round1[i], al, &n_al)) goto done;
  if (!evaluate_allocs(&a, knobs, n_knobs, al, 0, n_al, idx, ns, idx + ns, nv,
                       &fs, &fv))
    goto done;
  /* Refine between the largest passing gamma and the next one tried. */
  double lo = -2, hi = INFINITY;
  for (size_t i = 0; i < n_al; i++) {
    if (passes(&al[i], &fs, &fv, target)) {
      if (al[i].gamma > lo) lo = al[i].gamma;
    }
  }
  for (size_t i = 0; i < n_al; i++)
    if (al[i].gamma > lo && al[i].gamma < hi) hi = al[i].gamma;
  if (lo >= 0 && isfinite(hi)) {
    const size_t before = n_al;
    for (int s = 1; s <= 6; s++)
      if (!add_alloc(knobs, n_knobs, target, lo + (hi - lo) * s / 7.0, al,
                     &n_al))
        goto done;
    if (n_al > before && !evaluate_allocs(&a, knobs, n_knobs, al, before, n_al,
                                          idx, ns, idx + ns, nv, &fs, &fv))
      goto done;
  }
  size_t best = n_al, most_accurate = 0;
  for (size_t i = 0; i < n_al; i++) {
    if (passes(&al[i], &fs, &fv, target) &&
        (best == n_al || al[i].bits < al[best].bits))
      best = i;
    const double acc_i = al[i].search.eval.top1 + al[i].valid.eval.top1;
    const double acc_m =
        al[most_accurate].search.eval.top1 + al[most_accurate].valid.eval.top1;
    if (acc_i > acc_m ||
        (acc_i == acc_m && al[i].bits < al[most_accurate].bits))
      most_accurate = i;
  }
  const int met = best < n_al;
  const size_t pick = met ? best : most_accurate;
  double float_bits = 0;
  for (size_t k = 0; k < n_knobs; k++) float_bits += 32.0 * knobs[k].weight;

  /* Results. */
  char title[512];
  snprintf(title, sizeof title, "Bit-width search for %s", a.model);
  tq_config_result fall = fs; /* float over all samples */
  fall.eval.top1 =
      (fs.eval.top1 * (double)ns + fv.eval.top1 * (double)nv) / (double)a.n;
  fall.eval.top5 =
      (fs.eval.top5 * (double)ns + fv.eval.top5 * (double)nv) / (double)a.n;
  fall.eval.loss =
      (fs.eval.loss * (double)ns + fv.eval.loss * (double)nv) / (double)a.n;
  doc = tq_an_document(&a, "search", title, &fall);
  json_t *s = json_object(), *layers = json_array(), *trace = json_array();
  json_object_set_new(doc, "search", s);
  json_object_set_new(s, "budget_pp", json_real(budget));
  json_object_set_new(s, "margin_pp", json_real(margin));
  json_object_set_new(s, "cost", json_string(cost));
  json_object_set_new(s, "family", json_string(family));
  json_object_set_new(s, "met", json_boolean(met));
  json_object_set_new(s, "search_n", json_integer((json_int_t)ns));
  json_object_set_new(s, "validation_n", json_integer((json_int_t)nv));
  json_object_set_new(s, "float_top1", json_real(fv.eval.top1));
  json_object_set_new(s, "top1", json_real(al[pick].valid.eval.top1));
  json_object_set_new(s, "loss_pp", json_real(loss_pp(&fv, &al[pick].valid)));
  json_object_set_new(s, "search_float_top1", json_real(fs.eval.top1));
  json_object_set_new(s, "search_top1", json_real(al[pick].search.eval.top1));
  json_object_set_new(s, "search_loss_pp",
                      json_real(loss_pp(&fs, &al[pick].search)));
  json_object_set_new(s, "total_bits", json_real(al[pick].bits));
  json_object_set_new(s, "float_bits", json_real(float_bits));
  json_object_set_new(
      s, "compression",
      json_real(al[pick].bits > 0 ? float_bits / al[pick].bits : 0));
  json_object_set_new(s, "layers", layers);
  json_object_set_new(s, "trace", trace);
  for (size_t k = 0; k < n_knobs; k++) {
    tq_node_info info;
    tq_graph_node_info(a.g, knobs[k].node, &info);
    const size_t p = al[pick].pos[k];
    json_array_append_new(
        layers, json_pack("{s:s, s:s, s:s, s:i, s:f, s:f}", "layer", info.id,
                          "what", tq_an_what_name(knobs[k].kind), "spec",
                          knobs[k].cand[p], "bits", knobs[k].bits[p], "size",
                          knobs[k].weight, "alone_loss_pp", knobs[k].loss[p]));
  }
  for (size_t i = 0; i < n_al; i++) {
    char note[96];
    if (al[i].gamma < 0)
      snprintf(note, sizeof note, "every layer at its widest");
    else
      snprintf(note, sizeof note, "predicted loss <= %.2f x budget",
               al[i].gamma);
    json_array_append_new(
        trace,
        json_pack("{s:I, s:f, s:f, s:f, s:f, s:b, s:s}", "step", (json_int_t)i,
                  "total_bits", al[i].bits, "top1", al[i].valid.eval.top1,
                  "search_top1", al[i].search.eval.top1, "gamma", al[i].gamma,
                  "accepted", passes(&al[i], &fs, &fv, target), "note", note));
  }
  json_t *map = map_json(&a, knobs, n_knobs, al[pick].pos);
  json_object_set(s, "map", map);
  if (a.root && !a.json) {
    printf(
        "float top-1: %.2f %% (search, %zu samples), %.2f %% "
        "(validation, %zu samples)\n\n",
        100 * fs.eval.top1, ns, 100 * fv.eval.top1, nv);
    printf("%-40s %-8s %-24s %5s %12s %10s\n", "layer", "what", "format",
           "bits", "cost weight", "alone pp");
    for (size_t k = 0; k < n_knobs; k++) {
      tq_node_info info;
      tq_graph_node_info(a.g, knobs[k].node, &info);
      const size_t p = al[pick].pos[k];
      printf("%-40s %-8s %-24s %5d %12.0f %10.2f\n", info.id,
             tq_an_what_name(knobs[k].kind), knobs[k].cand[p], knobs[k].bits[p],
             knobs[k].weight, knobs[k].loss[p]);
    }
    printf(
        "\n%zu allocations tried jointly; chosen: %.4g bits (float: %.4g,"
        " %.1fx smaller)\n",
        n_al, al[pick].bits, float_bits,
        al[pick].bits > 0 ? float_bits / al[pick].bits : 0.0);
    printf(
        "top-1 loss: %.2f pp on the search slice, %.2f pp on the "
        "validation slice (budget %.2f pp, held to %.2f)\n",
        loss_pp(&fs, &al[pick].search), loss_pp(&fv, &al[pick].valid), budget,
        target);
  }
  if (!met && a.root)
    tq_cli_error(a.cmd,
                 "no allocation tried keeps the loss within %.2f pp; the "
                 "most accurate one found loses %.2f pp (search) and %.2f "
                 "pp (validation) and is what was written",
                 target, loss_pp(&fs, &al[pick].search),
                 loss_pp(&fv, &al[pick].valid));
  int ok = 1;
  if (map_out && a.root) {
    char *text = json_dumps(map, JSON_INDENT(2));
    size_t len = text ? strlen(text) : 0;
    char *file = text ? realloc(text, len + 2) : NULL;
    if (file) { /* end the file with a newline */
      file[len++] = '\n';
      file[len] = 0;
    } else {
      free(text);
    }
    if (!file) {
      tq_cli_error(a.cmd, "out of memory for the map");
      ok = 0;
    }
    tq_status st =
        file ? tq_write_file_atomic(a.ctx, map_out, file, len) : TQ_OK;
    free(file);
    if (st != TQ_OK) {
      tq_cli_status_error(a.cmd, a.ctx, st);
      ok = 0;
    } else if (file && !a.json && !a.quiet) {
      printf("map: %s (use with --map %s)\n", map_out, map_out);
    }
  }
  json_decref(map);
  ok = ok && tq_an_write(&a, doc);
  rc = ok ? (met ? TQ_EXIT_OK : TQ_EXIT_FAILURE) : TQ_EXIT_FAILURE;
done:
  json_decref(doc);
  for (size_t i = 0; cfg && i < n_cfg; i++) tq_qmap_set_destroy(cfg[i]);
  free(cfg);
  free(res);
  for (size_t i = 0; al && i < n_al; i++) free(al[i].pos);
  free(al);
  for (size_t k = 0; knobs && k < n_knobs; k++) {
    for (size_t c = 0; c < knobs[k].n_cand; c++) free(knobs[k].cand[c]);
    free(knobs[k].cand);
    free(knobs[k].bits);
    free(knobs[k].loss);
  }
  free(knobs);
  free(idx);
  tq_an_close(&a);
  return rc;
}

const tq_command tq_cmd_search = {
    "search",
    "per-layer bit widths with the fewest bits within an accuracy "
    "budget",
    run, help};
