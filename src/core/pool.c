#include "core/pool.h"

#include <pthread.h>
#include <unistd.h>

#include "core/alloc.h"

struct irb_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    irb_pool_fn fn;
    void *ctx;
    unsigned long generation;
    int pending;
    int quit;
};

typedef struct {
    irb_pool *p;
    int ith;
} worker_arg;

int irb_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void *worker(void *arg)
{
    worker_arg wa = *(worker_arg *)arg;
    irb_free(arg);
    irb_pool *p = wa.p;
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->quit) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->generation;
        irb_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, wa.ith, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

irb_pool *irb_pool_new(int nthreads)
{
    irb_pool *p = irb_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = nthreads > 0 ? nthreads : irb_cpu_count();
    p->threads = irb_calloc((size_t)p->n, sizeof *p->threads);
    if (!p->threads) {
        irb_free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 1; i < p->n; i++) {
        worker_arg *wa = irb_malloc(sizeof *wa);
        if (wa) { /* filled before the thread starts: it reads *wa at once */
            wa->p = p;
            wa->ith = i;
        }
        if (!wa || pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
            irb_free(wa);
            p->n = i; /* run with the threads we have */
            break;
        }
    }
    return p;
}

int irb_pool_size(const irb_pool *p) { return p ? p->n : 1; }

void irb_pool_run(irb_pool *p, irb_pool_fn fn, void *ctx)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->pending = p->n - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void irb_pool_free(irb_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    irb_free(p->threads);
    irb_free(p);
}
