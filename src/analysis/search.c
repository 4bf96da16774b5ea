/* tq search as a library call: per-layer formats with the fewest total
 * bits whose accuracy loss stays within a budget (analysis.h).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis_internal.h"
#include "analysis/search_formats.h"
#include "core/error.h"

enum { MAX_WIDTHS = 32 };

static const char *const float_family[] = {
    "float,5,10,sat", "float,5,6,sat", "float,5,4,sat", "float,4,3,sat",
    "float,4,2,sat",  "float,3,2,sat", "float,2,2,sat", "float,2,1,sat"};
enum { N_FLOAT = sizeof float_family / sizeof *float_family };

static const int default_widths[] = {16, 12, 10, 8, 7, 6, 5, 4, 3, 2};

/* The gammas of the first round; -1: every knob at its widest. */
static const double round1[] = {-1, 0, 0.25, 0.5, 0.75, 1, 1.5, 2, 3};
enum { N_ROUND1 = sizeof round1 / sizeof *round1, N_REFINE = 6 };

/* The search under way: options checked, knobs, allocations tried. */
typedef struct search {
  tq_context *ctx;
  tq_analysis *an;
  tq_search_result *r;
  int widths[MAX_WIDTHS]; /* widest first, each once */
  size_t n_widths;
  tq_format_candidates formats; /* a search over formats: n > 0 */
  double target;                /* budget - margin */
  size_t *idx; /* 0 .. n-1: the search slice, then the validation one */
} search;

static double loss_pp(const tq_config_result *flt, const tq_config_result *r) {
  return 100.0 * (flt->eval.top1 - r->eval.top1);
}

const char *tq_search_cost_name(tq_search_cost cost) {
  switch (cost) {
    case TQ_SEARCH_COST_SIZE: return "size";
    case TQ_SEARCH_COST_PARAMS: return "params";
    case TQ_SEARCH_COST_ACTIVATIONS: return "activations";
    default: return NULL;
  }
}

void tq_search_result_destroy(tq_search_result *r) {
  if (!r) return;
  for (size_t k = 0; k < r->n_layers; k++) {
    tq_search_layer *l = &r->layers[k];
    for (size_t c = 0; c < l->n_candidates; c++) free((char *)l->candidates[c]);
    free((void *)l->candidates);
    free((int *)l->bits);
    free((double *)l->cost_bits);
    free((double *)l->alone_loss_pp);
    free((char *)l->layer);
  }
  free(r->layers);
  for (size_t i = 0; i < r->n_steps; i++) free((size_t *)r->steps[i].positions);
  free(r->steps);
  free((char *)r->family);
  free(r);
}

/* ---- options -------------------------------------------------------------*/

/* A search over formats: its candidates; family and widths unset. */
static tq_status check_formats(search *s, const tq_search_opts *o) {
  if (o->family || o->n_widths)
    return tq_error(s->ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "a search over formats takes no family or word widths");
  return tq_format_candidates_make(s->ctx, o->formats, o->n_formats,
                                   &s->formats);
}

static tq_status check_opts(search *s, const tq_search_opts *o) {
  tq_context *ctx = s->ctx;
  if (o->n_formats) {
    tq_status st = check_formats(s, o);
    if (st != TQ_OK) return st;
  }
  const char *family = o->n_formats ? "formats"
                       : o->family  ? o->family
                                    : "nearest";
  const int is_float = !strcmp(family, "float");
  if (!o->n_formats && !is_float && strcmp(family, "nearest") &&
      strcmp(family, "even") && strcmp(family, "stochastic"))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "the family must be nearest, even, stochastic or float, "
                    "got '%s'",
                    family);
  if (!tq_search_cost_name(o->cost))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "unknown search cost %d", (int)o->cost);
  if (!(o->budget_pp >= 0 && o->budget_pp <= 100) ||
      !(o->margin_pp >= 0 && o->margin_pp <= o->budget_pp))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "the budget (%g pp) must be in [0, 100] and the margin "
                    "(%g pp) in [0, budget]",
                    o->budget_pp, o->margin_pp);
  if (is_float && o->n_widths)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "word widths are for the fixed-point families; the float "
                    "family tries float,5,10 down to float,2,1");
  const int *w = o->n_widths ? o->widths : default_widths;
  const size_t n = o->n_widths ? o->n_widths
                               : sizeof default_widths / sizeof *default_widths;
  if (!w || n > MAX_WIDTHS)
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "at most %d word widths", MAX_WIDTHS);
  /* widest first, each once */
  for (size_t i = 0; i < n; i++) {
    if (w[i] < 2 || w[i] > 32)
      return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                      "word width %d is not in [2, 32]", w[i]);
    size_t j = s->n_widths++;
    for (; j > 0 && s->widths[j - 1] < w[i]; j--)
      s->widths[j] = s->widths[j - 1];
    s->widths[j] = w[i];
  }
  size_t kept = 0;
  for (size_t i = 0; i < s->n_widths; i++)
    if (!kept || s->widths[kept - 1] != s->widths[i])
      s->widths[kept++] = s->widths[i];
  s->n_widths = kept;
  s->target = o->budget_pp - o->margin_pp;
  s->r->budget_pp = o->budget_pp;
  s->r->margin_pp = o->margin_pp;
  s->r->cost = o->cost;
  s->r->family = strdup(family);
  return s->r->family ? TQ_OK : tq_error_nomem(ctx);
}

/* The slices: the last `validation` samples are held out. */
static tq_status slices(search *s, const tq_search_opts *o) {
  const size_t n = s->an->n;
  if (n < 2)
    return tq_error(s->ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "needs at least 2 samples (search and validation)");
  const size_t nv = o->validation > 0 ? o->validation : n / 2;
  if (nv >= n)
    return tq_error(s->ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "a validation slice of %zu samples leaves none to "
                    "search on (%zu in all)",
                    nv, n);
  s->r->validation_n = nv;
  s->r->search_n = n - nv;
  if (!(s->idx = malloc(n * sizeof *s->idx))) return tq_error_nomem(s->ctx);
  for (size_t i = 0; i < n; i++) s->idx[i] = i;
  return TQ_OK;
}

/* ---- knobs ---------------------------------------------------------------*/

/* What one bit of node costs: its output elements per sample (*act) and
 * its parameter count (*par). */
static void layer_sizes(const tq_analysis *an, size_t node, double *act,
                        double *par) {
  tq_node_info info;
  tq_graph_node_info(an->g, node, &info);
  *act = 0;
  for (size_t k = 0; k < info.n_outputs; k++) {
    const tq_shape *sh = tq_session_value_shape(an->s, info.outputs[k]);
    double e = 1; /* per sample: the session may be planned for a batch */
    for (int d = 1; sh && d < sh->ndim; d++) e *= (double)sh->dims[d];
    if (sh) *act += e;
  }
  *par = 0;
  for (size_t k = 0; k < info.n_weights; k++) {
    const tq_tensor *t = tq_graph_initializer(an->g, info.weights[k]);
    if (t) *par += (double)tq_tensor_numel(t);
  }
}

/* A knob for node: its cost weight and its candidates, `auto` resolved. */
static tq_status make_knob(search *s, tq_map_kind kind, size_t node,
                           tq_search_layer *kb) {
  tq_search_result *r = s->r;
  double act, par;
  layer_sizes(s->an, node, &act, &par);
  kb->kind = kind;
  kb->node = node;
  kb->weight = r->cost == TQ_SEARCH_COST_PARAMS        ? par
               : r->cost == TQ_SEARCH_COST_ACTIVATIONS ? act
               : kind == TQ_MAP_WEIGHTS                ? par
                                                       : act;
  const int is_float = !strcmp(r->family, "float");
  const tq_format_candidates *fc = &s->formats;
  const size_t nc = fc->n ? fc->n : is_float ? N_FLOAT : s->n_widths;
  char **cand = calloc(nc, sizeof *cand);
  int *bits = calloc(nc, sizeof *bits);
  double *cost = calloc(nc, sizeof *cost);
  kb->candidates = (const char *const *)cand;
  kb->bits = bits;
  kb->cost_bits = cost;
  kb->alone_loss_pp = calloc(nc, sizeof *kb->alone_loss_pp);
  kb->layer = strdup(tq_an_layer_id(s->an, node));
  if (!cand || !bits || !cost || !kb->alone_loss_pp || !kb->layer)
    return tq_error_nomem(s->ctx);
  for (size_t c = 0; c < nc; c++) {
    char tmpl[TQ_AN_SPEC_CAP], spec[TQ_AN_SPEC_CAP];
    if (fc->n)
      snprintf(tmpl, sizeof tmpl, "%s", fc->specs[c]);
    else if (is_float)
      snprintf(tmpl, sizeof tmpl, "%s", float_family[c]);
    else
      snprintf(tmpl, sizeof tmpl, "%s,%d,auto", r->family, s->widths[c]);
    tq_status st =
        tq_analysis_resolve(s->ctx, s->an, tmpl, node, kind, spec, sizeof spec);
    if (st != TQ_OK) return st;
    if (!(cand[c] = strdup(spec))) return tq_error_nomem(s->ctx);
    bits[c] = fc->n ? (int)ceil(fc->bits[c]) : tq_an_spec_bits(spec);
    cost[c] = fc->n ? fc->bits[c] : bits[c];
    kb->n_candidates++;
  }
  return TQ_OK;
}

static tq_status make_knobs(search *s, const tq_search_opts *o) {
  static const tq_map_kind both[] = {TQ_MAP_EXTRINSIC, TQ_MAP_WEIGHTS};
  const tq_map_kind *kinds = o->n_kinds ? o->kinds : both;
  const size_t n_kinds = o->n_kinds ? o->n_kinds : 2;
  tq_search_result *r = s->r;
  tq_status st = TQ_OK;
  for (size_t k = 0; k < n_kinds && st == TQ_OK; k++) {
    size_t *nodes, n;
    st = tq_analysis_layers(s->ctx, s->an, kinds[k], o->layers, o->n_layers,
                            &nodes, &n);
    if (st != TQ_OK) break;
    tq_search_layer *more =
        realloc(r->layers, (r->n_layers + n) * sizeof *r->layers);
    if (more)
      r->layers = more;
    else
      st = tq_error_nomem(s->ctx);
    for (size_t i = 0; st == TQ_OK && i < n; i++) {
      tq_search_layer *kb = &r->layers[r->n_layers++];
      memset(kb, 0, sizeof *kb);
      st = make_knob(s, kinds[k], nodes[i], kb);
    }
    free(nodes);
  }
  return st;
}

/* ---- 1. curves -----------------------------------------------------------*/

/* Every knob alone at every candidate, on the search slice: the
 * single-knob losses (pp, >= 0) and the float results of the slice. */
static tq_status curves(search *s) {
  tq_search_result *r = s->r;
  size_t n_cfg = 0;
  for (size_t k = 0; k < r->n_layers; k++) n_cfg += r->layers[k].n_candidates;
  tq_qmap_set **cfg = calloc(n_cfg ? n_cfg : 1, sizeof *cfg);
  tq_config_result *res = calloc(n_cfg ? n_cfg : 1, sizeof *res);
  tq_status st = cfg && res ? TQ_OK : tq_error_nomem(s->ctx);
  for (size_t k = 0, c = 0; k < r->n_layers && st == TQ_OK; k++)
    for (size_t j = 0; j < r->layers[k].n_candidates && st == TQ_OK; j++, c++)
      st = tq_an_config(s->ctx, s->an, r->layers[k].kind, &r->layers[k].node,
                        &r->layers[k].candidates[j], 1, &cfg[c]);
  if (st == TQ_OK)
    st = tq_an_evaluate(s->ctx, s->an, "search: layers", s->idx, r->search_n, 0,
                        (const tq_qmap_set *const *)cfg, n_cfg,
                        &r->float_search, res);
  for (size_t k = 0, c = 0; k < r->n_layers && st == TQ_OK; k++)
    for (size_t j = 0; j < r->layers[k].n_candidates; j++, c++) {
      const double l = loss_pp(&r->float_search, &res[c]);
      ((double *)r->layers[k].alone_loss_pp)[j] = l > 0 ? l : 0;
    }
  for (size_t i = 0; cfg && i < n_cfg; i++) tq_qmap_set_destroy(cfg[i]);
  free(cfg);
  free(res);
  return st;
}

/* ---- 2. allocations ------------------------------------------------------*/

/* Greedy allocation under `limit` of predicted (summed) loss. */
static void allocate(const tq_search_result *r, double limit, size_t *pos) {
  const tq_search_layer *knobs = r->layers;
  double total = 0;
  for (size_t k = 0; k < r->n_layers; k++) {
    pos[k] = 0;
    total += knobs[k].alone_loss_pp[0];
  }
  for (;;) {
    size_t best = r->n_layers;
    double best_ratio = INFINITY, best_inc = 0;
    for (size_t k = 0; k < r->n_layers; k++) {
      const tq_search_layer *kb = &knobs[k];
      if (pos[k] + 1 >= kb->n_candidates) continue;
      const double inc =
          kb->alone_loss_pp[pos[k] + 1] - kb->alone_loss_pp[pos[k]];
      if (total + inc > limit + 1e-9) continue;
      const double saved =
          kb->weight * (kb->cost_bits[pos[k]] - kb->cost_bits[pos[k] + 1]);
      const double ratio = saved > 0 ? (inc > 0 ? inc : 0) / saved : INFINITY;
      if (ratio < best_ratio) {
        best_ratio = ratio;
        best = k;
        best_inc = inc;
      }
    }
    if (best == r->n_layers) break;
    pos[best]++;
    total += best_inc;
  }
}

/* Adds the allocation for gamma unless an identical one exists. */
static tq_status add_step(search *s, double gamma) {
  tq_search_result *r = s->r;
  const size_t nk = r->n_layers;
  size_t *pos = calloc(nk ? nk : 1, sizeof *pos);
  if (!pos) return tq_error_nomem(s->ctx);
  if (gamma >= 0) allocate(r, gamma * s->target, pos);
  for (size_t i = 0; i < r->n_steps; i++)
    if (!memcmp(r->steps[i].positions, pos, nk * sizeof *pos)) {
      free(pos);
      return TQ_OK;
    }
  tq_search_step *st = &r->steps[r->n_steps++];
  st->positions = pos;
  st->gamma = gamma;
  for (size_t k = 0; k < nk; k++)
    st->total_bits += r->layers[k].weight * r->layers[k].cost_bits[pos[k]];
  return TQ_OK;
}

/* Within the budget less the margin on both slices. */
static int passes(const search *s, const tq_search_step *st) {
  const tq_search_result *r = s->r;
  return loss_pp(&r->float_search, &st->search) <= s->target + 1e-9 &&
         loss_pp(&r->float_validation, &st->validation) <= s->target + 1e-9;
}

/* ---- 3. joint evaluation -------------------------------------------------*/

/* Evaluates steps [first, n_steps) on both slices. */
static tq_status evaluate_steps(search *s, size_t first) {
  tq_search_result *r = s->r;
  const size_t m = r->n_steps - first;
  tq_qmap_set **cfg = calloc(m ? m : 1, sizeof *cfg);
  tq_config_result *rs = calloc(m ? m : 1, sizeof *rs);
  tq_config_result *rv = calloc(m ? m : 1, sizeof *rv);
  tq_status st = cfg && rs && rv ? TQ_OK : tq_error_nomem(s->ctx);
  for (size_t i = 0; st == TQ_OK && i < m; i++) {
    const size_t *pos = r->steps[first + i].positions;
    st = tq_qmap_set_create(s->ctx, &cfg[i]);
    for (size_t k = 0; k < r->n_layers && st == TQ_OK; k++)
      st = tq_an_add_layer(s->ctx, s->an, cfg[i], r->layers[k].kind,
                           r->layers[k].node, r->layers[k].candidates[pos[k]]);
  }
  /* the held-out samples keep their stochastic-rounding numbers (their
   * positions in the whole run), as tq eval over all samples gives them */
  if (st == TQ_OK)
    st = tq_an_evaluate(s->ctx, s->an, "search: joint", s->idx, r->search_n, 0,
                        (const tq_qmap_set *const *)cfg, m, &r->float_search,
                        rs);
  if (st == TQ_OK)
    st = tq_an_evaluate(s->ctx, s->an, "search: validation",
                        s->idx + r->search_n, r->validation_n,
                        (uint64_t)r->search_n, (const tq_qmap_set *const *)cfg,
                        m, &r->float_validation, rv);
  for (size_t i = 0; st == TQ_OK && i < m; i++) {
    r->steps[first + i].search = rs[i];
    r->steps[first + i].validation = rv[i];
    r->steps[first + i].accepted = passes(s, &r->steps[first + i]);
  }
  for (size_t i = 0; cfg && i < m; i++) tq_qmap_set_destroy(cfg[i]);
  free(cfg);
  free(rs);
  free(rv);
  return st;
}

/* Round 1 over fixed gammas, then six between the largest passing gamma
 * and the next one tried. */
static tq_status allocations(search *s) {
  tq_search_result *r = s->r;
  if (!(r->steps = calloc(N_ROUND1 + N_REFINE, sizeof *r->steps)))
    return tq_error_nomem(s->ctx);
  tq_status st = TQ_OK;
  for (size_t i = 0; i < N_ROUND1 && st == TQ_OK; i++)
    st = add_step(s, round1[i]);
  if (st == TQ_OK) st = evaluate_steps(s, 0);
  if (st != TQ_OK) return st;
  double lo = -2, hi = INFINITY;
  for (size_t i = 0; i < r->n_steps; i++)
    if (r->steps[i].accepted && r->steps[i].gamma > lo) lo = r->steps[i].gamma;
  for (size_t i = 0; i < r->n_steps; i++)
    if (r->steps[i].gamma > lo && r->steps[i].gamma < hi)
      hi = r->steps[i].gamma;
  if (lo < 0 || !isfinite(hi)) return TQ_OK;
  const size_t before = r->n_steps;
  for (int k = 1; k <= N_REFINE && st == TQ_OK; k++)
    st = add_step(s, lo + (hi - lo) * k / 7.0);
  return st == TQ_OK && r->n_steps > before ? evaluate_steps(s, before) : st;
}

/* The cheapest step within the budget, else the most accurate one. */
static void choose(tq_search_result *r) {
  size_t best = r->n_steps, most_accurate = 0;
  for (size_t i = 0; i < r->n_steps; i++) {
    const tq_search_step *a = &r->steps[i], *m = &r->steps[most_accurate];
    if (a->accepted &&
        (best == r->n_steps || a->total_bits < r->steps[best].total_bits))
      best = i;
    const double acc_i = a->search.eval.top1 + a->validation.eval.top1;
    const double acc_m = m->search.eval.top1 + m->validation.eval.top1;
    if (acc_i > acc_m || (acc_i == acc_m && a->total_bits < m->total_bits))
      most_accurate = i;
  }
  for (size_t i = 0; i < r->n_steps; i++) {
    tq_search_step *a = &r->steps[i];
    a->pareto = 1;
    for (size_t j = 0; a->pareto && j < r->n_steps; j++) {
      const tq_search_step *b = &r->steps[j];
      a->pareto = !(b->total_bits <= a->total_bits &&
                    b->validation.eval.top1 >= a->validation.eval.top1 &&
                    (b->total_bits < a->total_bits ||
                     b->validation.eval.top1 > a->validation.eval.top1));
    }
  }
  r->met = best < r->n_steps;
  r->chosen = r->met ? best : most_accurate;
  for (size_t k = 0; k < r->n_layers; k++)
    r->layers[k].chosen = r->steps[r->chosen].positions[k];
  r->float_bits = 0;
  for (size_t k = 0; k < r->n_layers; k++)
    r->float_bits += 32.0 * r->layers[k].weight;
  /* float over all samples */
  const double ns = (double)r->search_n, nv = (double)r->validation_n;
  const tq_config_result *fs = &r->float_search, *fv = &r->float_validation;
  r->float_all = *fs;
  r->float_all.eval.top1 =
      (fs->eval.top1 * ns + fv->eval.top1 * nv) / (ns + nv);
  r->float_all.eval.top5 =
      (fs->eval.top5 * ns + fv->eval.top5 * nv) / (ns + nv);
  r->float_all.eval.loss =
      (fs->eval.loss * ns + fv->eval.loss * nv) / (ns + nv);
}

tq_status tq_search(tq_context *ctx, tq_analysis *an,
                    const tq_search_opts *opts, tq_search_result **out) {
  if (!an || !opts || !out || (opts->n_layers && !opts->layers) ||
      (opts->n_kinds && !opts->kinds))
    return tq_error(ctx, TQ_ERR_INVALID_ARGUMENT, NULL, 0, 0,
                    "tq_search: NULL argument");
  *out = NULL;
  search s = {.ctx = ctx, .an = an, .r = calloc(1, sizeof *s.r)};
  tq_status st = s.r ? check_opts(&s, opts) : tq_error_nomem(ctx);
  if (st == TQ_OK) st = slices(&s, opts);
  if (st == TQ_OK) st = make_knobs(&s, opts);
  if (st == TQ_OK) st = curves(&s);
  if (st == TQ_OK) st = allocations(&s);
  if (st == TQ_OK) choose(s.r);
  free(s.idx);
  tq_format_candidates_free(&s.formats);
  if (st != TQ_OK) {
    tq_search_result_destroy(s.r);
    return st;
  }
  *out = s.r;
  return TQ_OK;
}
