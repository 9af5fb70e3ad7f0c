/* irbis-mpi featurize: `irbis featurize` sharded by camera over MPI ranks.
 *
 * Rank 0 lists the inputs (as `irbis featurize` does) and broadcasts them; inputs are grouped
 * by camera (their folder), largest camera first; every rank takes the next camera from a shared
 * counter, decodes and runs its images with its own threads and commits the rows to a part file
 * (OUT_BASE.parts/). Rank 0 then merges the parts in input order into OUT_BASE.npy/.csv/.json:
 * the same rows, order, bytes and messages as a single `irbis featurize` run. A killed run
 * started again skips the cameras whose part is complete. */
#include <dirent.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "comm.h"
#include "featurize_opts.h"
#include "parts.h"
#include "work.h"

static const char *const CMD = "featurize";

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: mpirun -np N irbis-mpi featurize --model M.onnx [options] -o OUT_BASE IMAGES...|DIR...|--list FILE\n"
        "Options as `irbis featurize`; the work is split by camera (the images' folder) over the ranks,\n"
        "and the merged OUT_BASE.npy/.csv/.json equal a single-process run's. Partial results are kept\n"
        "in OUT_BASE.parts/ until the merge, so a killed run resumes where it stopped.\n"
        "  --threads N   threads per rank (default: the node's CPUs / its ranks)\n");
}

/* ==== the run */

typedef struct run {
    fopts o;
    paths in;
    camera_set cs;
    char *key;        /* parts fingerprint */
    char parts[4096]; /* OUT_BASE.parts */
    featurize_engine e;
} run;

static int setup_net(run *r)
{
    if (!r->o.threads)
        r->o.threads = default_threads();
    return featurize_engine_new(&r->e, &r->o, (int)r->o.threads, CMD);
}

static const char *camera_of(void *user, size_t i, char *buf, size_t cap)
{
    const char *p = ((paths *)user)->v[i], *s = strrchr(p, '/');
    size_t n = s ? (size_t)(s - p) : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    return buf;
}

static const char *path_of(void *user, size_t i) { return ((paths *)user)->v[i]; }

/* Rank 0 lists the inputs; everyone receives them (NUL-separated) and groups them by camera. */
static int share_inputs(run *r, int argc, char **argv)
{
    int ok = 1;
    char *packed = NULL;
    size_t len = 0;
    if (comm_rank() == 0) {
        ok = collect_inputs(&r->in, CMD, r->o.list, argc - optind, argv + optind);
        for (size_t i = 0; ok == 1 && i < r->in.n; i++)
            len += strlen(r->in.v[i]) + 1;
        if (ok == 1 && (packed = malloc(len ? len : 1))) {
            char *w = packed;
            for (size_t i = 0; i < r->in.n; i++)
                w = stpcpy(w, r->in.v[i]) + 1;
        } else if (ok == 1) {
            ok = 0;
        }
    }
    int bad = comm_max_int(ok == 1 ? 0 : ok == -1 ? 1 : 2);
    if (bad)
        return free(packed), bad == 1 ? CLI_USAGE : CLI_FATAL;
    if (comm_bcast_bytes((void **)&packed, &len, 0) != 0)
        return free(packed), CLI_FATAL;
    if (comm_rank() != 0)
        for (size_t off = 0; off < len; off += strlen(packed + off) + 1)
            if (!paths_add(&r->in, packed + off))
                return free(packed), CLI_FATAL;
    free(packed);
    /* featurize reads no times: every image's row is its own, so a piece may start anywhere */
    unit_rule rule = {.target = unit_target(), .path = path_of};
    if (cameras_group(&r->cs, r->in.n, camera_of, &r->in, &rule) != 0)
        return CLI_FATAL;
    units_dump(&r->cs, (const char *const *)r->in.v);
    return CLI_OK;
}

/* 1 when camera c's part is complete and holds the rows of its images as they are now. */
static int camera_done_at(void *user, size_t c)
{
    run *r = user;
    const camera *cam = &r->cs.v[c];
    char path[8192];
    part_path(r->parts, cam->name, path, sizeof path);
    return part_complete(path, r->key, cam->name, (int)r->e.dim * r->e.k, (long long)cam->n) &&
           part_current(path, NULL, (const char *const *)r->in.v, cam->idx, cam->n, 0);
}

/* Rank 0 marks the cameras whose part is complete; everyone learns which. */
static int share_done(run *r) { return cameras_share_done(&r->cs, r->parts, CMD, camera_done_at, r); }

/* The featurizer's rows of one unit into its part: an image's rows are added once its last row
 * (its mirror's with --flip) arrives; a failed image is added as such. */
typedef struct unit_ctx {
    run *r;
    part_writer *w;
    const char *const *paths;
    int rc;
} unit_ctx;

static void on_row(void *ctx, size_t index, int input, int flipped, const float *row, size_t dim, const irb_error *e)
{
    unit_ctx *u = ctx;
    run *r = u->r;
    (void)input;
    if (u->rc != CLI_OK)
        return;
    if (row) {
        memcpy(r->e.rows + (size_t)flipped * dim, row, dim * sizeof *row);
        if (r->o.flip && !flipped)
            return;
    }
    int kind = !row ? PART_FAIL : e && e->warning ? PART_WARN : PART_OK;
    const char *msg = kind == PART_OK ? "" : e && e->message[0] ? e->message : "cannot be decoded";
    irb_status st = row ? IRB_OK : e && e->status != IRB_OK ? e->status : IRB_CORRUPT;
    irb_error err = {0};
    if (part_add(u->w, kind, st, u->paths[index], msg, NULL, row ? r->e.rows : NULL, &err) != IRB_OK)
        u->rc = cli_fail(CMD, &err);
    comm_poke();
}

/* Decodes, runs and commits one camera. */
static int do_camera(void *user, const camera *cam)
{
    run *r = user;
    char path[8192];
    part_path(r->parts, cam->name, path, sizeof path);
    part_writer w;
    irb_error err = {0};
    const char **unit_paths = malloc((cam->n ? cam->n : 1) * sizeof *unit_paths);
    if (!unit_paths)
        return cli_error(CMD, "out of memory"), CLI_FATAL;
    for (size_t i = 0; i < cam->n; i++)
        unit_paths[i] = r->in.v[cam->idx[i]];
    if (part_create(&w, path, r->key, cam->name, (int)r->e.dim * r->e.k, &err) != IRB_OK)
        return free(unit_paths), cli_fail(CMD, &err);
    unit_ctx u = {r, &w, unit_paths, CLI_OK};
    if (irb_featurizer_run(r->e.fz, unit_paths, cam->n, NULL, on_row, &u, &err) != IRB_OK)
        u.rc = cli_fail(CMD, &err);
    free(unit_paths);
    if (u.rc != CLI_OK)
        return part_abort(&w), u.rc;
    return part_commit(&w, &err) == IRB_OK ? CLI_OK : cli_fail(CMD, &err);
}

/* ==== merge (rank 0) */

/* Input i's row from its camera's part into m->rd. */
static irb_status merge_row(run *r, part_cursor *m, size_t i, irb_error *err)
{
    size_t c = r->cs.of[i];
    CLI_TRY(part_cursor_seek(m, c, r->cs.v[c].name, err));
    CLI_TRY(part_next(&m->rd, err));
    if (strcmp(m->rd.path, r->in.v[i])) {
        err->status = IRB_CORRUPT;
        snprintf(err->message, sizeof err->message, "part of camera '%s' has '%s' where '%s' was expected",
                 r->cs.v[c].name, m->rd.path, r->in.v[i]);
        return IRB_CORRUPT;
    }
    return IRB_OK;
}

static int merge(run *r)
{
    irb_error err = {0};
    irb_featwriter_t *w = NULL;
    int failed = 0;
    for (size_t c = 0; c < r->cs.n; c++) {
        char path[8192];
        part_path(r->parts, r->cs.v[c].name, path, sizeof path);
        if (!part_complete(path, r->key, r->cs.v[c].name, (int)r->e.dim * r->e.k, (long long)r->cs.v[c].n))
            return cli_error(CMD, "%s: the part of camera '%s' is missing or incomplete", path, r->cs.v[c].name),
                   CLI_FATAL;
    }
    part_cursor m;
    if (part_cursor_init(&m, r->parts, r->cs.n) != 0)
        return cli_error(CMD, "out of memory"), CLI_FATAL;
    int rc = featurize_open_set(&w, &r->o, &r->e, CMD);
    for (size_t i = 0; rc == CLI_OK && i < r->in.n; i++) {
        if (merge_row(r, &m, i, &err) != IRB_OK)
            rc = cli_fail(CMD, &err);
        else
            rc = featurize_replay_row(w, &m.rd, &r->e, &failed, CMD);
    }
    part_cursor_free(&m);
    if (rc == CLI_OK) {
        irb_featwriter_t *ww = w;
        w = NULL;
        if (irb_featwriter_close(ww, &err) != IRB_OK)
            rc = cli_fail(CMD, &err);
    }
    irb_featwriter_free(w);
    if (rc == CLI_OK) {
        featurize_summary(CMD, r->in.n, failed, &r->e, r->o.out);
        part_remove_all(r->parts);
    }
    return rc == CLI_OK && failed ? CLI_PARTIAL : rc;
}

static void cleanup(run *r)
{
    featurize_engine_free(&r->e);
    free(r->key);
    cameras_free(&r->cs);
    paths_free(&r->in);
}

int mpi_featurize(int argc, char **argv)
{
    run r = {0};
    parse_silent(1);
    int rc = featurize_parse(argc, argv, CMD, usage, &r.o);
    parse_silent(0);
    if (rc <= 0)
        return rc == 0 ? CLI_OK : CLI_USAGE;
    snprintf(r.parts, sizeof r.parts, "%s.parts", r.o.out);
    double t0 = comm_wtime();
    rc = share_inputs(&r, argc, argv);
    if (rc == CLI_OK)
        rc = comm_max_int(setup_net(&r));
    if (rc == CLI_OK && comm_rank() == 0) /* the options that shape the rows: parts of other runs are not reused */
        rc = featurize_engine_key(&r.e, &r.o, &r.key, CMD);
    char *key = r.key;
    size_t klen = key ? strlen(key) + 1 : 0;
    if (comm_max_int(rc) == CLI_OK && comm_bcast_bytes((void **)&key, &klen, 0) == 0)
        r.key = key;
    else
        rc = rc == CLI_OK ? CLI_FATAL : rc;
    if (rc == CLI_OK)
        rc = share_done(&r);
    long long images = 0;
    double t1 = comm_wtime();
    if (rc == CLI_OK)
        rc = work_units(&r.cs, CMD, do_camera, NULL, &r, &images);
    double t2 = comm_wtime();
    rc = comm_max_int(rc);
    long long total = comm_sum_ll(images);
    if (getenv("IRBIS_MPI_TIMING"))
        fprintf(stderr, "irbis-mpi featurize: rank %d: %lld images in %.3f s (%.2f img/s)\n", comm_rank(), images,
                t2 - t1, images / (t2 - t1 > 0 ? t2 - t1 : 1));
    if (rc == CLI_OK && comm_rank() == 0) {
        double t3 = comm_wtime();
        rc = merge(&r);
        if (getenv("IRBIS_MPI_TIMING"))
            fprintf(stderr,
                    "irbis-mpi featurize: %lld images featurized this run by %d ranks; setup %.3f s, "
                    "work %.3f s, merge %.3f s\n",
                    total, comm_size(), t1 - t0, t2 - t1, comm_wtime() - t3);
    }
    cleanup(&r);
    return comm_root_int(rc); /* every rank exits with rank 0's status */
}
