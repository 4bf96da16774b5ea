/* The built-in operators: the groups of src/ops/, looked up by op_type. */
#include <string.h>

#include "ops/op_internal.h"

typedef struct op_group {
  const tq_op_entry *ops;
  const size_t *count;
} op_group;

static const op_group groups[] = {
    {tq_ops_nn, &tq_ops_nn_count},
    {tq_ops_elementwise, &tq_ops_elementwise_count},
    {tq_ops_shape, &tq_ops_shape_count},
};
enum { GROUP_COUNT = sizeof groups / sizeof groups[0] };

const tq_op_entry *tq_builtin_op(const char *op_type) {
  for (int g = 0; g < GROUP_COUNT; g++)
    for (size_t i = 0; i < *groups[g].count; i++)
      if (strcmp(groups[g].ops[i].def.op_type, op_type) == 0)
        return &groups[g].ops[i];
  return NULL;
}

size_t tq_builtin_op_count(void) {
  size_t n = 0;
  for (int g = 0; g < GROUP_COUNT; g++) n += *groups[g].count;
  return n;
}

const tq_op_entry *tq_builtin_op_at(size_t i) {
  for (int g = 0; g < GROUP_COUNT; g++) {
    if (i < *groups[g].count) return &groups[g].ops[i];
    i -= *groups[g].count;
  }
  return NULL;
}

typedef struct backward_group {
  const tq_backward_entry *entries;
  const size_t *count;
} backward_group;

static const backward_group backward_groups[] = {
    {tq_backward_nn, &tq_backward_nn_count},
    {tq_backward_elementwise, &tq_backward_elementwise_count},
    {tq_backward_shape, &tq_backward_shape_count},
};
enum {
  BACKWARD_GROUP_COUNT = sizeof backward_groups / sizeof backward_groups[0]
};

const tq_backward_entry *tq_builtin_backward(const char *op_type) {
  for (int g = 0; g < BACKWARD_GROUP_COUNT; g++)
    for (size_t i = 0; i < *backward_groups[g].count; i++)
      if (strcmp(backward_groups[g].entries[i].op_type, op_type) == 0)
        return &backward_groups[g].entries[i];
  return NULL;
}
