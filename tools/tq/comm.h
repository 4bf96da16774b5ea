/* Internal to the tq tool: the communicator of this process when tq runs
 * as several ranks under mpirun (docs/mpi.md).
 *
 * main() calls tq_cli_comm_init once before running a subcommand and
 * tq_cli_comm_finalize with its exit status afterwards; a subcommand asks
 * tq_cli_comm() for the table to hand to the library (NULL: one process)
 * and tq_cli_comm_is_root() whether it is the rank that prints and writes
 * files. */
#ifndef TQ_TOOL_COMM_H
#define TQ_TOOL_COMM_H

#include "tensorquant/comm.h"

/* Initializes MPI only when the process was started by an MPI launcher
 * with more than one rank, so a plain `tq eval` pays nothing and prints no
 * MPI warnings. Returns 0 on success; prints an error and returns nonzero
 * when MPI cannot start, or when this tq was built without MPI but
 * launched as one of several ranks (each would do the whole job). */
int tq_cli_comm_init(int *argc, char ***argv);

/* The communicator of this process: NULL when it runs alone. The table
 * lives until tq_cli_comm_finalize. */
const tq_comm *tq_cli_comm(void);

/* Whether this process prints results and progress and writes output files:
 * rank 0, or the only process. */
int tq_cli_comm_is_root(void);

/* Rank and number of ranks (0 and 1 for a single process). */
int tq_cli_comm_rank(void);
int tq_cli_comm_size(void);

/* What the last failed collective said (empty when none). */
const char *tq_cli_comm_last_error(void);

/* Ends MPI, given the subcommand's exit status, and returns the status to
 * exit with. A failing rank aborts the whole job (MPI_Abort) instead of
 * finalizing: the other ranks may be waiting in a collective that this
 * rank will never enter, and would hang. */
int tq_cli_comm_finalize(int status);

/* Whether this tq was built with MPI ("Open MPI 4.1.4", or NULL). */
const char *tq_cli_comm_library(void);

#endif
