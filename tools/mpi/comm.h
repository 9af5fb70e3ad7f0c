/* The MPI layer of irbis-mpi behind a small interface, so that only comm.c includes mpi.h.
 * All calls are made from the main thread of each rank (MPI_THREAD_FUNNELED). */
#ifndef IRBIS_MPI_COMM_H
#define IRBIS_MPI_COMM_H

#include <stddef.h>

#include <irbis.h>

/* MPI_Init_thread + ranks on this node. Returns 0 on success. */
int comm_init(int *argc, char ***argv);
void comm_finalize(void);
/* Ends every rank (used only when a rank cannot continue and the others might wait forever). */
void comm_abort(int code);

int comm_rank(void);
int comm_size(void);
int comm_local_size(void); /* ranks sharing this node (MPI_COMM_TYPE_SHARED) */

void comm_barrier(void);
/* Broadcasts a byte buffer from root: on root *buf and *n are read; on the others *buf receives a
 * malloc'ed copy (caller frees) and *n its size. Returns 0 on success. */
int comm_bcast_bytes(void **buf, size_t *n, int root);
/* Concatenates every rank's n bytes (n may differ between ranks) in rank order, on every rank:
 * *all receives a malloc'ed buffer (caller frees) of *total bytes. Returns 0 on success, -1 when
 * out of memory on some rank or the total exceeds MPI's int counts (on every rank alike). */
int comm_allgather_bytes(const void *mine, size_t n, void **all, size_t *total);
/* Rank 0's v, on every rank (e.g. the exit status all ranks share). */
int comm_root_int(int v);
/* The maximum / sum of v over all ranks. */
int comm_max_int(int v);
long long comm_sum_ll(long long v);
/* Sums n doubles over all ranks in place; every rank gets bitwise the same result (reduce to
 * rank 0, then broadcast), so replicated optimisers stay in lockstep. Matches the library's
 * irb_allreduce_fn (user unused). */
irb_status comm_allreduce_sum(void *user, double *buf, size_t n, irb_error *err);

/* A shared counter for dynamic load balancing: a long on rank 0 advanced with one-sided
 * MPI_Fetch_and_op, so a rank takes the next work item as soon as it is free without rank 0
 * having to answer. new/free are collective. */
typedef struct comm_counter comm_counter;
int comm_counter_new(comm_counter **out);
long comm_counter_next(comm_counter *c);
void comm_counter_free(comm_counter *c);
/* Lets MPI progress pending one-sided requests targeting this rank (called between batches). */
void comm_poke(void);

double comm_wtime(void);

#endif
