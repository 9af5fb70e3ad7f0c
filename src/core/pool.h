/* A small persistent thread pool: work is split by index (ith of nth). The calling thread
 * takes part as worker 0. A pool belongs to one owner (a session/model); no globals. */
#ifndef IRB_CORE_POOL_H
#define IRB_CORE_POOL_H

typedef struct irb_pool irb_pool;
typedef void (*irb_pool_fn)(void *ctx, int ith, int nth);

/* nthreads <= 0 means the number of online CPUs. Returns NULL on failure. */
irb_pool *irb_pool_new(int nthreads);
void irb_pool_free(irb_pool *p);
int irb_pool_size(const irb_pool *p);
/* Runs fn(ctx, i, n) for i in [0, n) with n = pool size, and waits for all. */
void irb_pool_run(irb_pool *p, irb_pool_fn fn, void *ctx);
/* Online CPU count (>= 1). */
int irb_cpu_count(void);

#endif
