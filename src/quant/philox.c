#include <stddef.h>

#include "quant/philox.h"

#include <Random123/philox.h>

#include "tensorquant/quantizer.h"

void tq_philox_block(uint64_t seed, uint64_t stream, uint64_t block,
                     uint32_t out[4]) {
  philox4x32_ctr_t ctr = {{(uint32_t)block, (uint32_t)(block >> 32),
                           (uint32_t)stream, (uint32_t)(stream >> 32)}};
  philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
  philox4x32_ctr_t r = philox4x32(ctr, key);
  for (int i = 0; i < 4; i++) out[i] = r.v[i];
}

void tq_philox_fill_u24(uint64_t seed, uint64_t stream, uint64_t first,
                        uint32_t *u24, size_t n) {
  size_t i = 0;
  uint32_t words[4];
  while (i < n) {
    uint64_t index = first + i;
    tq_philox_block(seed, stream, index >> 2, words);
    for (unsigned lane = (unsigned)(index & 3); lane < 4 && i < n; lane++)
      u24[i++] = words[lane] >> 8;
  }
}

float tq_stochastic_u(uint64_t seed, uint64_t stream, uint64_t index) {
  uint32_t w[4];
  tq_philox_block(seed, stream, index >> 2, w);
  return (float)(w[index & 3] >> 8) * 0x1p-24f;
}
