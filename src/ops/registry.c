/* The one table of built-in operators: every family's descriptors (see
 * op_families.h), looked up once per node by domain, name and opset.
 *
 * Adding an operator: an ID in op_ids.h and one descriptor in its family's
 * file (a new family: a new file and its name in TQ_OP_FAMILIES), plus its
 * tests. Nothing else dispatches on operator names. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/op_families.h"

typedef struct op_family {
  const tq_op_desc *ops;
  const size_t *count;
} op_family;

#define TQ_OP_FAMILY_ENTRY(family) {tq_ops_##family, &tq_ops_##family##_count},
static const op_family families[] = {TQ_OP_FAMILIES(TQ_OP_FAMILY_ENTRY)};
#undef TQ_OP_FAMILY_ENTRY
enum { FAMILY_COUNT = sizeof families / sizeof families[0] };

int tq_op_domain_is_default(const char *domain) {
  return !domain || !*domain || !strcmp(domain, "ai.onnx");
}

static const char *normal_domain(const char *domain) {
  return tq_op_domain_is_default(domain) ? "" : domain;
}

const tq_op_desc *tq_op_lookup(const char *domain, const char *name,
                               int64_t opset) {
  domain = normal_domain(domain);
  for (int f = 0; f < FAMILY_COUNT; f++)
    for (size_t i = 0; i < *families[f].count; i++) {
      const tq_op_desc *d = &families[f].ops[i];
      if (!strcmp(d->name, name) && !strcmp(d->domain, domain) &&
          opset >= d->min_opset && opset <= d->max_opset)
        return d;
    }
  return NULL;
}

size_t tq_builtin_op_count(void) {
  size_t n = 0;
  for (int f = 0; f < FAMILY_COUNT; f++) n += *families[f].count;
  return n;
}

const tq_op_desc *tq_builtin_op_at(size_t i) {
  for (int f = 0; f < FAMILY_COUNT; f++) {
    if (i < *families[f].count) return &families[f].ops[i];
    i -= *families[f].count;
  }
  return NULL;
}
