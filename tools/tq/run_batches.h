/* Internal to the tq tool: running a model on named, typed inputs read
 * from .npy files, in batches, collecting the outputs asked for (tq run). */
#ifndef TQ_TOOL_RUN_BATCHES_H
#define TQ_TOOL_RUN_BATCHES_H

#include "tq.h"

/* Most -i and -o arguments. */
enum { TQ_RUN_MAX_IO = 64 };

/* "-i NAME=FILE" or "-i FILE" (name NULL). */
typedef struct tq_run_io {
  const char *name, *path;
} tq_run_io;

/* Splits "NAME=FILE" (NAME: the text before the first '=', when it holds
 * no '/'; a path with '=' in it can be written ./a=b.npy) or takes a bare
 * FILE. arg must outlive io. */
tq_run_io tq_run_io_parse(char *arg);

/* Reads the files of in[0..n) and binds them to the graph's inputs (the
 * tensors in graph input order, *x[graph input]); a float32 input takes any
 * numeric file, converted as tq_npy_read converts; other inputs need the
 * file's dtype to be the one declared. Prints errors; returns 1 on success
 * (free x[0..count) with tq_tensor_destroy either way). */
int tq_run_read_inputs(const char *cmd, tq_context *ctx, const tq_graph *g,
                       const tq_run_io *in, size_t n, tq_tensor **x);

/* Runs s on x (graph input order) in batches of `batch` samples along
 * dimension 0 (0: all at once), giving the graph outputs out_index[0..
 * n_out) whole in y[0..n_out) (new tensors; batches concatenated along
 * dimension 0). The observer set on s sees the first batch only. Prints
 * errors; returns 1 on success (destroy y[0..n_out) either way). */
int tq_run_batches(const char *cmd, tq_context *ctx, tq_session *s,
                   tq_tensor *const *x, long batch, const size_t *out_index,
                   size_t n_out, tq_value_observer dump, void *dump_user,
                   tq_tensor **y);

/* A value or node name as a file name: letters, digits, '.', '-', '_'
 * kept, anything else '_', and no leading '.'. */
void tq_run_safe_name(const char *name, char *buf, size_t size);

#endif
