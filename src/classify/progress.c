/* The progress model of a run: counts, a recent-window rate and an ETA, handed to the host's
 * callback at most every `interval` seconds. Drawing is the host's business (the CLI). */
#include <string.h>
#include <time.h>

#include "classify/classify_internal.h"

static const char *const PHASE_NAMES[] = {"scan", "classify", "sequences", "outputs", "digests"};

double irb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void irb_progress_init(irb_progress_tracker *t, irb_progress_fn fn, void *user, double interval)
{
    memset(t, 0, sizeof *t);
    t->fn = fn;
    t->user = user;
    t->interval = interval > 0 ? interval : 0.5;
    t->t0 = irb_now();
    t->p.eta = -1;
}

void irb_progress_phase(irb_progress_tracker *t, irb_phase phase, long long done, long long total)
{
    t->p.phase = phase;
    t->p.phase_name = PHASE_NAMES[phase];
    t->p.done = done;
    t->p.total = total;
    t->p.rate = 0;
    t->p.eta = -1;
    t->p.final = 0;
    t->phase_t0 = irb_now();
    t->phase_done0 = done;
    t->win_n = 0;
    t->last_report = 0;
    irb_progress_update(t, done, total, t->p.failed, 1);
}

/* Rate over a window of the last few reports (so a resumed run's ETA reflects this run's speed,
 * and a slow start does not linger); the whole phase until the window fills. */
static void update_rate(irb_progress_tracker *t, double now, long long done)
{
    int cap = (int)(sizeof t->win_t / sizeof t->win_t[0]);
    if (t->win_n == cap) {
        memmove(t->win_t, t->win_t + 1, sizeof t->win_t[0] * (size_t)(cap - 1));
        memmove(t->win_done, t->win_done + 1, sizeof t->win_done[0] * (size_t)(cap - 1));
        t->win_n--;
    }
    t->win_t[t->win_n] = now;
    t->win_done[t->win_n] = done;
    t->win_n++;
    double t_a = t->win_n == cap ? t->win_t[0] : t->phase_t0;
    long long d_a = t->win_n == cap ? t->win_done[0] : t->phase_done0;
    t->p.rate = now > t_a ? (double)(done - d_a) / (now - t_a) : 0;
    t->p.eta = (t->p.rate > 0 && t->p.total >= done) ? (double)(t->p.total - done) / t->p.rate : -1;
}

void irb_progress_update(irb_progress_tracker *t, long long done, long long total, long long failed, int force)
{
    double now = irb_now();
    t->p.done = done;
    t->p.total = total;
    t->p.failed = failed;
    t->p.elapsed = now - t->t0;
    if (!force && now - t->last_report < t->interval)
        return;
    update_rate(t, now, done);
    t->last_report = now;
    if (t->fn)
        t->fn(t->user, &t->p);
}

void irb_progress_end_phase(irb_progress_tracker *t)
{
    double now = irb_now();
    t->p.final = 1;
    t->p.elapsed = now - t->t0;
    t->p.rate = now > t->phase_t0 ? (double)(t->p.done - t->phase_done0) / (now - t->phase_t0) : 0;
    t->p.eta = 0;
    if (t->fn)
        t->fn(t->user, &t->p);
    t->p.final = 0;
}
