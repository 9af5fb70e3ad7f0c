/* irbis-mpi classify: `irbis classify` sharded by camera over MPI ranks.
 *
 * Rank 0 runs the library's classify run (irb_classify_run_dist): lock, parameters, scan into
 * the store, exactly as `irbis classify`. When images are pending, its plan hook broadcasts them
 * (paths and cameras, in store order); every rank, rank 0 included, takes cameras from the shared
 * counter, classifies them with its own threads (irb_classify_worker_*, the engine of `irbis
 * classify`, which reads each image's content digests just before its decode) and commits each
 * camera's results and digests to OUT/mpi-parts/<sha256(camera)>.part. Rank 0
 * then feeds the parts, in store order, through the normal store, sequence and output path, so
 * the outputs equal a single-process run's. A killed run started again skips every camera whose
 * part is complete. */
#include <math.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "classify_opts.h"
#include "comm.h"
#include "parts.h"
#include "work.h"

static const char *const CMD = "classify";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mpirun -np N irbis-mpi classify --pipeline P.irbis SURVEY_DIR -o OUT/ [options]\n"
            "       mpirun -np N irbis-mpi classify --model M.onnx --classifier C.irbis SURVEY_DIR -o OUT/ [options]\n"
            "Options as `irbis classify` (see `irbis classify --help`); the images are classified by camera\n"
            "(their folder) over the ranks and the outputs in OUT/ equal a single-process run's. Per-camera\n"
            "results are kept in OUT/mpi-parts/ until the outputs are written, so a killed run resumes.\n"
            "A pipeline with motion features sends each image with its neighbours (the previous and next\n"
            "image of its camera in shooting order), so the results equal one process's.\n"
            "  -j, --threads N   threads per rank (default: the node's CPUs / its ranks)\n"
            "      --precision fp32|bf16|int8  the CNN's precision on every rank (default: the pipeline's;\n"
            "                    int8 needs a pipeline trained with --precision int8)\n");
}

/* The options of `irbis classify` (tools/irbis/classify_opts.c, shared with the CLI). Returns
 * CLI_OK, CLI_USAGE, or -1 after --help. */
static int parse(int argc, char **argv, irb_classify_opts *o, int *quiet)
{
    return classify_parse(argc, argv, CMD, usage, o, quiet);
}

/* ==== state of a run */

typedef struct run {
    irb_classify_opts o;
    int quiet;
    char parts[4096]; /* OUT/mpi-parts */
    /* the pending images, as rank 0's store listed them */
    char *packed; /* "G" then path\0camera\0time\0prev\0next\0 per image (time: %.17g or
                   * empty; prev/next empty when none) */
    size_t packed_len;
    const char **path, **cam, **nb_prev, **nb_next; /* neighbours of image i: NULL when none */
    double *time;                                   /* per image, seconds, NaN: unknown */
    size_t n;
    camera_set cs;
    irb_classify_worker_t *w;
    const char *key;
    int nc;
    int planned;           /* rank 0: the others wait for no more broadcasts (told to work, or gone) */
    long long digested;    /* files this rank read for their content digests before the plan */
    long long computed;    /* images classified this run, all ranks (rank 0) */
    double t_work, t_plan; /* this rank's work; rank 0's whole plan hook (list, work, checks) */
    double t0, shown;      /* start of this rank's work, last progress line */
    /* rank 0 replaying the parts in store order */
    part_cursor parts_in;
    size_t cursor;
} run;

static int rank_fail(const irb_error *err)
{
    if (comm_rank() == 0)
        return cli_fail(CMD, err);
    int quiet = cli_quiet; /* other ranks are quiet, but their own failure is theirs to say */
    cli_quiet = 0;
    cli_error(CMD, "rank %d: %s", comm_rank(), err->message[0] ? err->message : "failed");
    cli_quiet = quiet;
    return CLI_FATAL;
}

static const char *camera_of(void *user, size_t i, char *buf, size_t cap)
{
    (void)buf, (void)cap;
    return ((run *)user)->cam[i];
}

static const char *path_of(void *user, size_t i) { return ((run *)user)->path[i]; }

/* Splits the broadcast list (after its 'G') into path/cam/time and groups the images into units
 * (cameras, large ones split where no sequence spans the cut). */
static int unpack(run *r)
{
    size_t n = 0;
    for (size_t off = 1; off < r->packed_len; off += strlen(r->packed + off) + 1)
        n++;
    r->n = n / 5;
    r->path = malloc((r->n ? r->n : 1) * sizeof *r->path);
    r->cam = malloc((r->n ? r->n : 1) * sizeof *r->cam);
    r->nb_prev = malloc((r->n ? r->n : 1) * sizeof *r->nb_prev);
    r->nb_next = malloc((r->n ? r->n : 1) * sizeof *r->nb_next);
    r->time = malloc((r->n ? r->n : 1) * sizeof *r->time);
    if (!r->path || !r->cam || !r->nb_prev || !r->nb_next || !r->time)
        return CLI_FATAL;
    size_t off = 1;
    for (size_t i = 0; i < r->n; i++) {
        r->path[i] = r->packed + off;
        off += strlen(r->packed + off) + 1;
        r->cam[i] = r->packed + off;
        off += strlen(r->packed + off) + 1;
        r->time[i] = r->packed[off] ? strtod(r->packed + off, NULL) : NAN;
        off += strlen(r->packed + off) + 1;
        r->nb_prev[i] = r->packed[off] ? r->packed + off : NULL;
        off += strlen(r->packed + off) + 1;
        r->nb_next[i] = r->packed[off] ? r->packed + off : NULL;
        off += strlen(r->packed + off) + 1;
    }
    unit_rule rule = {.target = unit_target(), .path = path_of, .times = r->time, .gap = r->o.sequence_gap};
    if (cameras_group(&r->cs, r->n, camera_of, r, &rule) != 0)
        return CLI_FATAL;
    units_dump(&r->cs, r->path);
    return CLI_OK;
}

/* ==== parts */

static int part_dim(const run *r) { return (int)(sizeof(double) / sizeof(float)) * r->nc; }

/* 1 when the camera's part is complete under this key, holds its pending images in order (a
 * superset is fine: images done by an earlier finish of rank 0 are no longer pending) and none of
 * them changed since it was written. */
static int camera_done(run *r, const camera *c)
{
    char path[8192];
    part_path(r->parts, c->name, path, sizeof path);
    return part_complete(path, r->key, c->name, part_dim(r), -1) &&
           part_current(path, r->o.survey_dir, r->path, c->idx, c->n, 1);
}

static int camera_done_at(void *user, size_t c)
{
    run *r = user;
    return camera_done(r, &r->cs.v[c]);
}

/* Rank 0 checks which cameras are done; everyone learns it. */
static int share_done(run *r) { return cameras_share_done(&r->cs, r->parts, CMD, camera_done_at, r); }

/* Writes each image's result into the camera's part as the worker delivers it. */
typedef struct camera_job {
    run *r;
    const camera *cam;
    const char **paths;
    part_writer pw;
    irb_error err;
    int failed;
} camera_job;

static void on_result(void *user, size_t i, irb_status st, const double *probs, const char (*digest)[65],
                      const irb_error *image_err)
{
    camera_job *j = user;
    if (j->failed)
        return;
    int ok = st == IRB_OK;
    const char *msg = !ok || (image_err && image_err->warning) ? image_err->message : ""; /* a warning kept */
    if (part_add(&j->pw, ok ? PART_OK : PART_FAIL, st, j->paths[i], msg, digest,
                 ok ? (const float *)(const void *)probs : NULL, &j->err) != IRB_OK)
        j->failed = 1;
    if (i % (size_t)j->r->o.batch == 0)
        comm_poke(); /* let the shared counter's requests progress */
}

/* Classifies one camera and commits its part. */
static int do_camera(void *user, const camera *cam)
{
    run *r = user;
    char path[8192];
    part_path(r->parts, cam->name, path, sizeof path);
    camera_job j = {.r = r, .cam = cam};
    if (part_create(&j.pw, path, r->key, cam->name, part_dim(r), &j.err) != IRB_OK)
        return rank_fail(&j.err);
    const char **prev = malloc(cam->n * sizeof *prev), **next = malloc(cam->n * sizeof *next);
    if (!(j.paths = malloc(cam->n * sizeof *j.paths)) || !prev || !next) {
        free(j.paths), free(prev), free(next);
        return part_abort(&j.pw), cli_error(CMD, "out of memory"), CLI_FATAL;
    }
    for (size_t i = 0; i < cam->n; i++) {
        j.paths[i] = r->path[cam->idx[i]];
        prev[i] = r->nb_prev[cam->idx[i]], next[i] = r->nb_next[cam->idx[i]];
    }
    int rc = CLI_OK;
    if (irb_classify_worker_run(r->w, j.paths, prev, next, cam->n, on_result, &j, &j.err) != IRB_OK || j.failed)
        rc = rank_fail(&j.err);
    free(j.paths), free(prev), free(next);
    if (rc != CLI_OK)
        return part_abort(&j.pw), rc;
    return part_commit(&j.pw, &j.err) == IRB_OK ? CLI_OK : rank_fail(&j.err);
}

/* Rank 0's progress line, every 5 s. */
static void on_unit(void *user, long t, long long images)
{
    run *r = user;
    if (comm_rank() != 0 || r->quiet || comm_wtime() - r->shown < 5)
        return;
    r->shown = comm_wtime();
    fprintf(stderr,
            "classify: %ld of %zu cameras handed out to %d ranks; rank 0 did %lld images "
            "(%.1f img/s)  elapsed %.0fs\n",
            t + 1, r->cs.n, comm_size(), images, images / (r->shown - r->t0 > 0 ? r->shown - r->t0 : 1),
            r->shown - r->t0);
}

/* Every rank: build the worker, agree it works, classify cameras until none is left. */
static int compute(run *r, irb_error *err0)
{
    int rc = unpack(r);
    irb_error err = {0};
    if (rc == CLI_OK) {
        if (irb_classify_worker_new(&r->o, &r->w, &err) != IRB_OK) {
            rc = CLI_FATAL;
            if (comm_rank() != 0)
                rank_fail(&err);
            else if (err0)
                *err0 = err;
        } else {
            r->key = irb_classify_worker_key(r->w);
            r->nc = irb_classify_worker_values(r->w); /* probabilities (+ novelty) */
        }
    }
    if (comm_max_int(rc) != CLI_OK)
        return CLI_FATAL;
    if ((rc = share_done(r)) != CLI_OK)
        return rc;
    long long images = 0;
    r->t0 = r->shown = comm_wtime();
    rc = work_units(&r->cs, CMD, do_camera, on_unit, r, &images);
    r->t_work = comm_wtime() - r->t0;
    if (getenv("IRBIS_MPI_TIMING"))
        fprintf(stderr, "irbis-mpi classify: rank %d: %lld images in %.3f s (%.2f img/s)\n", comm_rank(), images,
                r->t_work, images / (r->t_work > 0 ? r->t_work : 1));
    rc = comm_max_int(rc);
    r->computed = comm_sum_ll(images);
    return rc;
}

/* ==== content digests asked for before the plan
 *
 * The run reads the digests of pending images that may be pictures it knew under another path or
 * time (a survey moved, copied or renamed: then every image is one, and nothing is left to
 * classify) and, once, of images an earlier irbis classified without them. Those reads are the
 * whole work of such a run, so they are distributed as the classifying is, not left to rank 0
 * (which would read the whole survey through its own file-system client): rank 0 broadcasts the
 * list ('D' then the paths), every rank reads every size-th file from its rank on its threads, and
 * the digests are gathered back in order. The store's decisions (which pictures are found again)
 * stay on rank 0, which alone holds the store. */

static size_t share_of(size_t n, int rank)
{
    return n > (size_t)rank ? (n - (size_t)rank - 1) / (size_t)comm_size() + 1 : 0;
}

/* Every rank: its share of the broadcast list (after its 'D'); rank 0 receives the digests of all
 * n in out (other ranks: NULL). 0, or -1 on every rank when one of them ran out of memory. */
static int share_digests(run *r, const char *packed, size_t len, size_t n, char (*out)[2][65])
{
    int size = comm_size(), rank = comm_rank();
    size_t mine_n = share_of(n, rank), k = 0;
    const char **mine = malloc((mine_n ? mine_n : 1) * sizeof *mine);
    char(*dig)[2][65] = malloc((mine_n ? mine_n : 1) * sizeof *dig);
    size_t i = 0;
    for (size_t off = 1; mine && off < len; off += strlen(packed + off) + 1, i++)
        if (i % (size_t)size == (size_t)rank)
            mine[k++] = packed + off;
    int ok = comm_max_int(!mine || !dig) == 0;
    if (ok) {
        irb_image_digests(r->o.survey_dir, mine, mine_n, r->o.threads, dig, NULL);
        r->digested += (long long)mine_n;
    }
    void *all = NULL;
    size_t total = 0;
    ok = ok && comm_allgather_bytes(dig, mine_n * sizeof *dig, &all, &total) == 0 && total == n * sizeof *dig;
    for (size_t j = 0; ok && out && j < n; j++) { /* file j: rank j % size's (j / size)-th */
        size_t at = j / (size_t)size;
        for (int q = 0; q < (int)(j % (size_t)size); q++)
            at += share_of(n, q);
        memcpy(out[j], (char *)all + at * sizeof *dig, sizeof *dig);
    }
    free(mine), free(dig), free(all);
    return ok ? 0 : -1;
}

/* ==== rank 0: hooks of irb_classify_run_dist */

static irb_status no_memory(irb_error *err, const char *what, int n)
{
    err->status = IRB_NOMEM;
    err->warning = 0;
    snprintf(err->message, sizeof err->message, "out of memory for %s of %d files to read", what, n);
    return IRB_NOMEM;
}

/* The digests the run asks for, read by every rank (share_digests). */
static irb_status digests(void *user, int n, const char *const *paths, char (*out)[2][65], irb_error *err)
{
    run *r = user;
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(paths[i]) + 1;
    char *buf = malloc(len);
    if (!buf) { /* the others wait for a broadcast: told to stop */
        char stop = 'S';
        void *p = &stop;
        size_t one = 1;
        comm_bcast_bytes(&p, &one, 0);
        r->planned = 1;
        return no_memory(err, "the list", n);
    }
    char *w = buf;
    *w++ = 'D';
    for (int i = 0; i < n; i++)
        w = stpcpy(w, paths[i]) + 1;
    void *p = buf;
    if (comm_bcast_bytes(&p, &len, 0) != 0) { /* the others stopped */
        free(buf);
        r->planned = 1;
        return no_memory(err, "the list", n);
    }
    int rc = share_digests(r, buf, len, (size_t)n, out);
    free(buf);
    return rc == 0 ? IRB_OK : no_memory(err, "the digests", n);
}

static irb_status plan(void *user, long long n, const char *const *paths, const char *const *cams, const double *times,
                       const char *const *prev, const char *const *next, irb_error *err)
{
    run *r = user;
    double t0 = comm_wtime();
    size_t len = 1;
    for (long long i = 0; i < n; i++)
        len += strlen(paths[i]) + strlen(cams[i]) + 5 + 32 + (prev && prev[i] ? strlen(prev[i]) : 0) +
               (next && next[i] ? strlen(next[i]) : 0);
    char *buf = malloc(len);
    if (buf) {
        char *w = buf;
        *w++ = 'G';
        for (long long i = 0; i < n; i++) {
            w = stpcpy(stpcpy(w, paths[i]) + 1, cams[i]) + 1;
            if (!isnan(times[i]))
                w += snprintf(w, 32, "%.17g", times[i]);
            *w++ = 0;
            w = stpcpy(w, prev && prev[i] ? prev[i] : "") + 1;
            w = stpcpy(w, next && next[i] ? next[i] : "") + 1;
        }
        len = (size_t)(w - buf);
    }
    /* the others wait for this broadcast whatever happens: send "S" (stop) when out of memory */
    char stop = 'S';
    void *p = buf ? (void *)buf : (void *)&stop;
    size_t plen = buf ? len : 1;
    comm_bcast_bytes(&p, &plen, 0);
    r->planned = 1;
    if (!buf) {
        err->status = IRB_NOMEM;
        snprintf(err->message, sizeof err->message, "out of memory for the list of %lld pending images", n);
        return IRB_NOMEM;
    }
    r->packed = buf, r->packed_len = len;
    irb_error_clear(err);
    int rc = compute(r, err);
    if (rc == CLI_OK && part_cursor_init(&r->parts_in, r->parts, r->cs.n) != 0) {
        err->status = IRB_NOMEM;
        snprintf(err->message, sizeof err->message, "out of memory");
        return IRB_NOMEM;
    }
    for (size_t c = 0; rc == CLI_OK && c < r->cs.n; c++)
        if (!camera_done(r, &r->cs.v[c])) {
            err->status = IRB_CORRUPT;
            snprintf(err->message, sizeof err->message, "%.400s: the part of camera '%.400s' is missing or incomplete",
                     r->parts, r->cs.v[c].name);
            return IRB_CORRUPT;
        }
    r->t_plan = comm_wtime() - t0;
    if (rc == CLI_OK)
        return IRB_OK;
    if (err->status == IRB_OK) {
        err->status = IRB_INTERNAL;
        snprintf(err->message, sizeof err->message, "a rank could not classify its cameras (see its message)");
    }
    return err->status;
}

static int replay_fail(irb_error *err, const char *msg, const char *arg)
{
    err->status = IRB_CORRUPT;
    err->warning = 0;
    snprintf(err->message, sizeof err->message, msg, arg);
    return -1;
}

/* The next pending image's row from its camera's part (read in order, as the featurize merge
 * does), with its content digests as the rank that decoded it read them. */
static int result(void *user, const char *path, double *probs, char (*digest)[65], irb_error *err)
{
    run *r = user;
    if (r->cursor >= r->n || strcmp(r->path[r->cursor], path))
        return replay_fail(err, "%s: not the next image of the distributed plan", path);
    size_t c = r->cs.of[r->cursor++];
    if (part_cursor_seek(&r->parts_in, c, r->cs.v[c].name, err) != IRB_OK)
        return -1;
    part_reader *rd = &r->parts_in.rd;
    irb_status s;
    while ((s = part_next(rd, err)) == IRB_OK && strcmp(rd->path, path))
        ; /* rows of images an earlier run already stored */
    if (s != IRB_OK)
        return replay_fail(err, "%s: missing from its camera's part", path);
    memcpy(digest, rd->digest, sizeof rd->digest);
    if (rd->kind == PART_FAIL) {
        err->status = rd->status;
        err->warning = 0;
        snprintf(err->message, sizeof err->message, "%s", rd->message);
        return 0;
    }
    memcpy(probs, rd->row, sizeof(double) * (size_t)r->nc);
    if (rd->message && rd->message[0]) { /* the decoder's warning about the image */
        err->status = IRB_OK;
        err->warning = 1;
        snprintf(err->message, sizeof err->message, "%s", rd->message);
    }
    return 1;
}

/* Same progress lines as `irbis classify` without a terminal. */
static void on_progress(void *user, const irb_progress *p)
{
    char line[256];
    if (((run *)user)->quiet || !(p->final || p->phase == IRB_PHASE_CLASSIFY || p->phase == IRB_PHASE_DIGESTS))
        return;
    if (cli_digests_line(p, line, sizeof line))
        fprintf(stderr, "%s (on %d ranks)\n", line, comm_size());
    else if (p->phase == IRB_PHASE_CLASSIFY)
        fprintf(stderr, "classify %lld/%lld images (from the ranks' parts)  failed %lld  elapsed %.0fs\n", p->done,
                p->total, p->failed, p->elapsed);
    else
        fprintf(stderr, "%s %lld/%lld  elapsed %.0fs\n", p->phase_name, p->done, p->total, p->elapsed);
}

static int root_run(run *r)
{
    if (r->o.restart)
        part_remove_all(r->parts);
    r->o.progress = on_progress;
    r->o.progress_user = r;
    r->o.progress_interval = 5.0;
    irb_classify_dist d = {.user = r, .plan = plan, .result = result, .digests = digests};
    irb_classify_summary sum;
    irb_error err = {0};
    double t0 = comm_wtime();
    irb_status s = irb_classify_run_dist(&r->o, &d, &sum, &err);
    if (!r->planned) { /* the others still wait for the list */
        char stop = 'S';
        void *p = &stop;
        size_t n = 1;
        comm_bcast_bytes(&p, &n, 0);
    }
    part_cursor_free(&r->parts_in);
    if (s != IRB_OK)
        return cli_fail_options(CMD, &err);
    if (sum.pending == 0) /* with --limit, the next run still needs them */
        part_remove_all(r->parts);
    cli_outputs_notes(CMD, &err, &sum);
    if (getenv("IRBIS_MPI_TIMING"))
        fprintf(stderr,
                "irbis-mpi classify: %lld images classified this run by %d ranks; plan + work %.3f s, "
                "replay into the store %.3f s, total %.3f s\n",
                r->computed, comm_size(), r->t_plan, sum.classify_seconds - r->t_plan, comm_wtime() - t0);
    char clauses[CLI_CLAUSES_SIZE];
    if (!r->quiet)
        fprintf(stderr,
                "irbis %s: %lld images: %lld classified, %lld failed, %lld sequences%s; %lld done by an earlier "
                "run; %lld left; %.1f s (%.1f s classifying on %d ranks)\n"
                "irbis %s: results in %s (predictions.csv, camtrap-dp/, report.html)\n",
                CMD, sum.images, sum.classified, sum.failed, sum.sequences,
                cli_summary_clauses(&sum, clauses, sizeof clauses), sum.resumed, sum.pending, sum.seconds,
                sum.classify_seconds, comm_size(), CMD, r->o.out_dir);
    return sum.failed || sum.pending ? CLI_PARTIAL : CLI_OK; /* pending: stopped by --limit */
}

/* Ranks > 0: read their share of the files rank 0 asks digests of, wait for its list, then work
 * (or stop). */
static int other_run(run *r)
{
    void *p = NULL;
    size_t n = 0;
    for (;;) {
        if (comm_bcast_bytes(&p, &n, 0) != 0)
            return CLI_FATAL;
        if (n == 0 || ((char *)p)[0] != 'D')
            break;
        size_t files = 0;
        for (size_t off = 1; off < n; off += strlen((char *)p + off) + 1)
            files++;
        share_digests(r, p, n, files, NULL); /* a failure: rank 0 says it and stops the others */
        free(p);
    }
    r->packed = p, r->packed_len = n;
    if (n == 0 || r->packed[0] != 'G')
        return CLI_OK; /* nothing to do: rank 0's status decides */
    return compute(r, NULL);
}

int mpi_classify(int argc, char **argv)
{
    run r = {0};
    irb_classify_opts_default(&r.o);
    parse_silent(1);
    int rc = parse(argc, argv, &r.o, &r.quiet);
    parse_silent(0);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    snprintf(r.parts, sizeof r.parts, "%s/mpi-parts", r.o.out_dir);
    if (!r.o.threads)
        r.o.threads = default_threads();
    rc = comm_rank() == 0 ? root_run(&r) : other_run(&r);
    if (getenv("IRBIS_MPI_TIMING"))
        fprintf(stderr, "irbis-mpi classify: rank %d: content digests of %lld files read before the plan\n",
                comm_rank(), r.digested);
    irb_classify_worker_free(r.w);
    cameras_free(&r.cs);
    free(r.path), free(r.cam), free(r.nb_prev), free(r.nb_next), free(r.time), free(r.packed);
    part_cursor_free(&r.parts_in);
    return comm_root_int(rc); /* every rank exits with rank 0's status */
}
