/* tq: the TensorQuant command-line tool. Dispatches to one subcommand. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "comm.h"
#include "tq.h"

static const tq_command *const commands[] = {
    &tq_cmd_quantize,
    &tq_cmd_formats,
    &tq_cmd_map,
    &tq_cmd_info,
    &tq_cmd_run,
    &tq_cmd_export,
    &tq_cmd_train,
    &tq_cmd_eval,
    &tq_cmd_calibrate,
    &tq_cmd_bench,
    &tq_cmd_report,
    &tq_cmd_sweep,
    &tq_cmd_sensitivity,
    &tq_cmd_search,
    &tq_cmd_stats,
};
enum { COMMAND_COUNT = sizeof commands / sizeof commands[0] };

static void print_usage(FILE *out) {
  fprintf(
      out,
      "tq %s: see what quantization does to deep neural networks\n\n"
      "usage: tq <command> [options]    (tq <command> --help for details)\n\n"
      "commands:\n",
      TQ_VERSION_STRING);
  for (int i = 0; i < COMMAND_COUNT; i++)
    fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
  fprintf(out, "  %-10s %s\n", "help", "this list, or `tq help <command>`");
  fprintf(out,
          "\nexamples:\n"
          "  tq formats\n"
          "  tq quantize --spec nearest,8,4 -i x.npy -o xq.npy --stats\n"
          "  tq info model.onnx\n"
          "  tq run model.onnx -i x.npy -o y.npy --extr nearest,8,4\n"
          "  tq map check maps/lenet.json --layer LeNet/Conv1\n"
          "  tq bench quantizers --size 64\n");
}

static const tq_command *find_command(const char *name) {
  for (int i = 0; i < COMMAND_COUNT; i++)
    if (strcmp(commands[i]->name, name) == 0) return commands[i];
  return NULL;
}

int main(int argc, char **argv) {
  /* Operators allocate large scratch buffers on every call; keeping them
   * in the heap instead of fresh mmaps saves the page faults of touching
   * new memory each time (a tenth of training time otherwise). */
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  if (argc < 2) {
    print_usage(stderr);
    return TQ_EXIT_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
    const char *mpi = tq_cli_comm_library();
    printf("tq %s (libtensorquant %s, kernels: %s, OpenBLAS core: %s, "
           "MPI: %s)\n",
           TQ_VERSION_STRING, TQ_VERSION_STRING, tq_kernel_isa(),
           tq_cli_blas_core(), mpi ? mpi : "not built in");
    return TQ_EXIT_OK;
  }
  if (strcmp(name, "help") == 0 || tq_cli_is_help(name)) {
    if (argc > 2 && strcmp(name, "help") == 0) {
      const tq_command *cmd = find_command(argv[2]);
      if (!cmd) {
        fprintf(stderr, "tq: unknown command '%s' (see tq help)\n", argv[2]);
        return TQ_EXIT_USAGE;
      }
      fputs(cmd->help, stdout);
      return TQ_EXIT_OK;
    }
    print_usage(stdout);
    return TQ_EXIT_OK;
  }
  const tq_command *cmd = find_command(name);
  if (!cmd) {
    fprintf(stderr, "tq: unknown command '%s' (see tq help)\n", name);
    return TQ_EXIT_USAGE;
  }
  for (int i = 2; i < argc; i++)
    if (tq_cli_is_help(argv[i])) {
      fputs(cmd->help, stdout);
      return TQ_EXIT_OK;
    }
  /* Under mpirun: join the other ranks (docs/mpi.md). */
  if (tq_cli_comm_init(&argc, &argv)) return TQ_EXIT_FAILURE;
  return tq_cli_comm_finalize(cmd->run(argc - 1, argv + 1));
}
