/* Backward of the nn group of operators (training). */
#include "ops/op_internal.h"

/* Placeholder row so the table is never empty; filled in as operators gain
 * their backward. */
const tq_backward_entry tq_backward_nn[] = {{"", NULL}};
const size_t tq_backward_nn_count = 0;
