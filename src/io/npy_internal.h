/* Internal: what reading (npy.c) and writing (npy_write.c) NumPy .npy
 * files share. */
#ifndef TQ_IO_NPY_INTERNAL_H
#define TQ_IO_NPY_INTERNAL_H

#include <stddef.h>

#include "tensorquant/npy.h"

/* The first six bytes of every .npy file. */
extern const unsigned char tq_npy_magic[6];

/* Large enough for TQ_MAX_DIMS dims of 19 digits plus separators. */
#define TQ_NPY_SHAPE_TEXT_MAX 256

/* Formats a shape exactly as Python's repr of a tuple: "()", "(3,)",
 * "(2, 3)". The writer relies on this to produce NumPy's header bytes.
 * cap must be at least TQ_NPY_SHAPE_TEXT_MAX. */
void tq_npy_format_shape(const tq_shape *shape, char *buf, size_t cap);

#endif
