/* Backward of the neural-network group (conv_backward.c, gemm.c, pool.c,
 * norm.c). */
#include "ops/nn_internal.h"

const tq_backward_entry tq_backward_nn[] = {
    {"Conv", tq_nn_conv_backward, 0},
    {"ConvTranspose", tq_nn_conv_transpose_backward, 0},
    {"Gemm", tq_nn_gemm_backward, 0},
    {"MatMul", tq_nn_matmul_backward, 0},
    {"MaxPool", tq_nn_maxpool_backward, 0},
    {"AveragePool", tq_nn_avgpool_backward, 0},
    {"GlobalAveragePool", tq_nn_global_avgpool_backward, 0},
    {"GlobalMaxPool", tq_nn_global_maxpool_backward, 0},
    /* running mean and variance (inputs 3, 4) are state */
    {"BatchNormalization", tq_nn_batchnorm_backward, (1u << 3) | (1u << 4)},
};
const size_t tq_backward_nn_count =
    sizeof tq_backward_nn / sizeof tq_backward_nn[0];
