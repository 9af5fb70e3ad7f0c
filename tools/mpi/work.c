#include "work.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm.h"
#include "parts.h"

/* ---- cameras ------------------------------------------------------------------------------- */

static const camera_set *sort_cs;

static int by_size(const void *a, const void *b)
{
    const camera *x = &sort_cs->v[*(const size_t *)a], *y = &sort_cs->v[*(const size_t *)b];
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    return (x->idx[0] > y->idx[0]) - (x->idx[0] < y->idx[0]);
}

size_t unit_target(void)
{
    const char *v = getenv("IRBIS_MPI_UNIT_IMAGES");
    if (!v || !*v)
        return 256;
    char *end;
    long long t = strtoll(v, &end, 10);
    return *end || t < 0 ? 256 : (size_t)t;
}

/* reach[p]: the last position (in camera c's input order) of a sequence with a member at p or
 * before, the sequences being the library's burst rule (irb_sequences_assign) over c's inputs.
 * A piece may start at p when reach[p - 1] < p: no sequence spans the cut. NULL: no memory. */
static size_t *sequence_reach(const camera *c, const unit_rule *u, void *user)
{
    irb_seq_item *it = calloc(c->n ? c->n : 1, sizeof *it);
    size_t *reach = malloc((c->n ? c->n : 1) * sizeof *reach), *last = NULL;
    irb_sequences seq = {0};
    irb_seq_opts so = {.gap = u->gap};
    int ok = it && reach;
    for (size_t p = 0; ok && p < c->n; p++) {
        double t = u->times ? u->times[c->idx[p]] : NAN;
        it[p] = (irb_seq_item){.path = u->path(user, c->idx[p]), .has_time = !isnan(t)};
        if (it[p].has_time)
            it[p].time = (irb_time){(int64_t)floor(t), t - floor(t)};
    }
    ok = ok && irb_sequences_assign(it, c->n, &so, &seq, NULL) == IRB_OK &&
         (last = malloc((seq.n_sequences ? seq.n_sequences : 1) * sizeof *last));
    for (size_t p = 0; ok && p < c->n; p++)
        last[seq.image_seq[p]] = p;
    for (size_t p = 0; ok && p < c->n; p++) {
        size_t l = last[seq.image_seq[p]];
        reach[p] = p && reach[p - 1] > l ? reach[p - 1] : l;
    }
    irb_sequences_release(&seq);
    free(it), free(last);
    if (!ok)
        free(reach);
    return ok ? reach : NULL;
}

/* 1 when a piece of camera c may start at its p-th input (see unit_rule and sequence_reach). */
static int may_cut(const camera *c, size_t p, const unit_rule *u, void *user, const size_t *reach)
{
    const char *path = u->path(user, c->idx[p]);
    return irb_strmap_hash(path, strlen(path)) % u->target == 0 && reach[p - 1] < p;
}

/* Appends unit {name, idx[0..n)} to v (of capacity *cap). Returns 0 on success. */
static int add_unit(camera **v, size_t *nv, size_t *cap, char *name, const size_t *idx, size_t n)
{
    if (*nv == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        camera *nvp = realloc(*v, nc * sizeof *nvp);
        if (!nvp)
            return -1;
        *v = nvp, *cap = nc;
    }
    camera *c = &(*v)[*nv];
    memset(c, 0, sizeof *c);
    c->name = name;
    if (!name || !(c->idx = malloc((n ? n : 1) * sizeof *c->idx)))
        return free(name), -1;
    memcpy(c->idx, idx, n * sizeof *idx);
    c->n = c->cap = n;
    (*nv)++;
    return 0;
}

/* Replaces cs->v by its units under rule u. */
static int split_units(camera_set *cs, size_t n_inputs, const unit_rule *u, void *user)
{
    camera *v = NULL;
    size_t nv = 0, cap = 0;
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < cs->n; k++) {
        camera *c = &cs->v[k];
        size_t *reach = sequence_reach(c, u, user);
        if (!reach) {
            rc = -1;
            break;
        }
        size_t start = 0;
        for (size_t p = 1; rc == 0 && p <= c->n; p++) {
            if (p < c->n && !may_cut(c, p, u, user, reach))
                continue;
            char *name;
            if (start == 0) {
                name = strdup(c->name);
            } else {
                const char *first = u->path(user, c->idx[start]);
                size_t len = strlen(c->name) + strlen(first) + 4;
                if ((name = malloc(len)))
                    snprintf(name, len, "%s @ %s", c->name, first);
            }
            rc = add_unit(&v, &nv, &cap, name, c->idx + start, p - start);
            start = p;
        }
        free(reach);
    }
    for (size_t k = 0; k < cs->n; k++)
        free(cs->v[k].name), free(cs->v[k].idx);
    free(cs->v);
    cs->v = v, cs->n = nv;
    if (rc != 0)
        return -1;
    for (size_t k = 0; k < nv; k++)
        for (size_t p = 0; p < v[k].n; p++)
            if (v[k].idx[p] < n_inputs)
                cs->of[v[k].idx[p]] = k;
    return 0;
}

int cameras_group(camera_set *cs, size_t n, const char *(*cam)(void *, size_t, char *, size_t), void *user,
                  const unit_rule *rule)
{
    memset(cs, 0, sizeof *cs);
    irb_strmap *table = NULL; /* camera name -> camera index */
    cs->of = malloc((n ? n : 1) * sizeof *cs->of);
    cs->v = calloc(n ? n : 1, sizeof *cs->v);
    if (irb_strmap_new(64, &table, NULL) != IRB_OK || !cs->of || !cs->v)
        return irb_strmap_free(table), -1;
    char buf[4096];
    for (size_t i = 0; i < n; i++) {
        const char *name = cam(user, i, buf, sizeof buf);
        int64_t k;
        if (irb_strmap_add(table, name, strlen(name), (int64_t)cs->n, &k, NULL) != IRB_OK)
            return irb_strmap_free(table), -1;
        if ((size_t)k == cs->n && !(cs->v[cs->n++].name = strdup(name)))
            return irb_strmap_free(table), -1;
        camera *c = &cs->v[k];
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 16;
            size_t *v = realloc(c->idx, cap * sizeof *v);
            if (!v)
                return irb_strmap_free(table), -1;
            c->idx = v, c->cap = cap;
        }
        c->idx[c->n++] = i;
        cs->of[i] = (size_t)k;
    }
    irb_strmap_free(table);
    if (rule && rule->target > 0 && split_units(cs, n, rule, user) != 0)
        return -1;
    if (!(cs->order = malloc((cs->n ? cs->n : 1) * sizeof *cs->order)))
        return -1;
    for (size_t k = 0; k < cs->n; k++)
        cs->order[k] = k;
    sort_cs = cs;
    qsort(cs->order, cs->n, sizeof *cs->order, by_size);
    return 0;
}

void cameras_free(camera_set *cs)
{
    for (size_t k = 0; cs->v && k < cs->n; k++)
        free(cs->v[k].name), free(cs->v[k].idx);
    free(cs->v), free(cs->order), free(cs->of);
    memset(cs, 0, sizeof *cs);
}

int cameras_share_done(camera_set *cs, const char *parts, const char *cmd, int (*is_done)(void *user, size_t c),
                       void *user)
{
    size_t n = cs->n;
    /* the other ranks receive a fresh buffer from the broadcast (which fails on every rank when
     * this one could not be allocated) */
    unsigned char *done = comm_rank() == 0 ? calloc(n ? n : 1, 1) : NULL;
    if (comm_rank() == 0) {
        if (part_mkdirs(parts) != 0)
            cli_error(cmd, "%s: cannot create the parts folder", parts);
        for (size_t c = 0; done && c < n; c++)
            done[c] = (unsigned char)is_done(user, c);
    }
    int rc = comm_bcast_bytes((void **)&done, &n, 0);
    for (size_t c = 0; rc == 0 && c < n; c++)
        cs->v[c].done = done[c];
    free(done);
    return rc == 0 ? CLI_OK : CLI_FATAL;
}

void units_dump(const camera_set *cs, const char *const *paths)
{
#ifndef IRBIS_TEST_HOOKS
    (void)cs, (void)paths;
#else
    const char *file = getenv("IRBIS_MPI_UNITS_FILE");
    FILE *f = file && comm_rank() == 0 ? fopen(file, "w") : NULL;
    if (!f)
        return;
    for (size_t k = 0; k < cs->n; k++)
        for (size_t p = 0; p < cs->v[k].n; p++)
            fprintf(f, "%s\t%s\n", cs->v[k].name, paths[cs->v[k].idx[p]]);
    fclose(f);
#endif
}

int default_threads(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long t = (cpus > 0 ? cpus : 1) / (comm_local_size() > 0 ? comm_local_size() : 1);
    return t < 1 ? 1 : (int)t;
}

void root_error(const char *cmd, const char *fmt, ...)
{
    if (comm_rank() != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "irbis %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The saved stdout and stderr of a rank > 0 while it parses (-1: not silenced). */
static int parse_out = -1, parse_err = -1;

void parse_silent(int on)
{
    if (comm_rank() == 0 || (on ? parse_out >= 0 : parse_out < 0))
        return;
    fflush(stdout), fflush(stderr);
    if (on) {
        int null = open("/dev/null", O_WRONLY);
        if (null < 0)
            return;
        parse_out = dup(1), parse_err = dup(2);
        dup2(null, 1), dup2(null, 2);
        close(null);
    } else {
        dup2(parse_out, 1), dup2(parse_err, 2);
        close(parse_out), close(parse_err);
        parse_out = parse_err = -1;
    }
}

static long kill_after_parts(void)
{
#ifdef IRBIS_TEST_HOOKS
    const char *v = getenv("IRBIS_MPI_KILL_AFTER_PARTS");
    return v ? atol(v) : 0;
#else
    return 0;
#endif
}

int work_units(const camera_set *cs, const char *cmd, int (*do_unit)(void *user, const camera *c),
               void (*progress)(void *user, long t, long long images), void *user, long long *images)
{
    comm_counter *ctr = NULL;
    if (comm_counter_new(&ctr) != 0)
        return cli_error(cmd, "cannot create the MPI work counter"), CLI_FATAL;
    int rc = CLI_OK;
    long committed = 0, kill_after = kill_after_parts();
    for (long t; rc == CLI_OK && (t = comm_counter_next(ctr)) < (long)cs->n;) {
        const camera *cam = &cs->v[cs->order[t]];
        if (cam->done)
            continue;
        rc = do_unit(user, cam);
        *images += (long long)cam->n;
        if (rc == CLI_OK && ++committed == kill_after)
            raise(SIGKILL);
        if (progress)
            progress(user, t, *images);
    }
    comm_counter_free(ctr);
    return rc;
}
