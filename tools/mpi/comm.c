/* The only file of irbis that includes mpi.h. */
#include "comm.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_rank, g_size, g_local = 1;

int comm_init(int *argc, char ***argv)
{
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &g_local);
        MPI_Comm_free(&node);
    }
    return 0;
}

void comm_finalize(void) { MPI_Finalize(); }
void comm_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
int comm_rank(void) { return g_rank; }
int comm_size(void) { return g_size; }
int comm_local_size(void) { return g_local; }
void comm_barrier(void) { MPI_Barrier(MPI_COMM_WORLD); }
double comm_wtime(void) { return MPI_Wtime(); }

int comm_bcast_bytes(void **buf, size_t *n, int root)
{
    unsigned long long len = g_rank == root ? (unsigned long long)*n : 0;
    MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, root, MPI_COMM_WORLD);
    if (g_rank != root) {
        *buf = malloc(len ? len : 1);
        *n = (size_t)len;
    }
    int ok = *buf != NULL, all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all)
        return -1;
    /* in chunks: MPI counts are ints */
    for (size_t off = 0; off < len;) {
        size_t k = len - off > (1u << 30) ? (1u << 30) : len - off;
        MPI_Bcast((char *)*buf + off, (int)k, MPI_BYTE, root, MPI_COMM_WORLD);
        off += k;
    }
    return 0;
}

/* 1 when ok on every rank. */
static int all_ok(int ok)
{
    int all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all;
}

int comm_allgather_bytes(const void *mine, size_t n, void **all, size_t *total)
{
    *all = NULL, *total = 0;
    unsigned long long len = n, sum = 0;
    unsigned long long *lens = malloc((size_t)g_size * sizeof *lens);
    int *count = malloc((size_t)g_size * sizeof *count), *at = malloc((size_t)g_size * sizeof *at);
    int ok = all_ok(lens && count && at);
    if (ok) {
        MPI_Allgather(&len, 1, MPI_UNSIGNED_LONG_LONG, lens, 1, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
        for (int r = 0; r < g_size; r++)
            sum += lens[r];
        for (int r = 0, off = 0; sum <= INT_MAX && r < g_size; off += count[r++])
            at[r] = off, count[r] = (int)lens[r];
        ok = all_ok(sum <= INT_MAX && (*all = malloc(sum ? sum : 1)) != NULL);
    }
    if (ok) {
        MPI_Allgatherv(mine, (int)n, MPI_BYTE, *all, count, at, MPI_BYTE, MPI_COMM_WORLD);
        *total = (size_t)sum;
    } else
        free(*all), *all = NULL;
    free(lens), free(count), free(at);
    return ok ? 0 : -1;
}

int comm_root_int(int v)
{
    MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return v;
}

int comm_max_int(int v)
{
    int r;
    MPI_Allreduce(&v, &r, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return r;
}

long long comm_sum_ll(long long v)
{
    long long r;
    MPI_Allreduce(&v, &r, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    return r;
}

irb_status comm_allreduce_sum(void *user, double *buf, size_t n, irb_error *err)
{
    (void)user;
    for (size_t off = 0; off < n;) {
        int k = n - off > (1u << 28) ? (1 << 28) : (int)(n - off);
        int rc =
            MPI_Reduce(g_rank == 0 ? MPI_IN_PLACE : buf + off, buf + off, k, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        if (rc == MPI_SUCCESS)
            rc = MPI_Bcast(buf + off, k, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) {
            if (err) {
                err->status = IRB_IO;
                snprintf(err->message, sizeof err->message, "MPI allreduce of %d doubles failed (code %d)", k, rc);
            }
            return IRB_IO;
        }
        off += (size_t)k;
    }
    return IRB_OK;
}

struct comm_counter {
    MPI_Win win;
    long *base;
};

int comm_counter_new(comm_counter **out)
{
    comm_counter *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    MPI_Aint size = g_rank == 0 ? (MPI_Aint)sizeof(long) : 0;
    if (MPI_Win_allocate(size, sizeof(long), MPI_INFO_NULL, MPI_COMM_WORLD, &c->base, &c->win) != MPI_SUCCESS) {
        free(c);
        return -1;
    }
    if (g_rank == 0)
        *c->base = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Win_lock_all(0, c->win);
    *out = c;
    return 0;
}

long comm_counter_next(comm_counter *c)
{
    long one = 1, got = -1;
    MPI_Fetch_and_op(&one, &got, MPI_LONG, 0, 0, MPI_SUM, c->win);
    MPI_Win_flush(0, c->win);
    return got;
}

void comm_counter_free(comm_counter *c)
{
    if (!c)
        return;
    MPI_Win_unlock_all(c->win);
    MPI_Win_free(&c->win);
    free(c);
}

void comm_poke(void)
{
    int flag;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
}
