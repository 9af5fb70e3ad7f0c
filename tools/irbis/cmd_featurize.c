/* irbis featurize: images -> CNN feature set (OUT.npy / OUT.csv / OUT.json, docs/features.md).
 * Images go through the library's featurizer (irb_featurizer: decoding on `threads` worker
 * threads while the net runs the previous batch, mirrors from the preprocessed tensor). A file that fails to decode is
 * reported on stderr and skipped; the exit status is then CLI_PARTIAL. Rows are also committed durably in segments of
 * SEGMENT inputs to OUT.parts/ (tools/irbis/parts.h), so a killed run started again with the same command and inputs
 * replays the committed segments instead of computing them; the folder is removed once the feature set is complete. */
#include <dirent.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "featurize_opts.h"
#include "parts.h"

const char irb_cmd_featurize_summary[] = "compute CNN features of images into a feature set (.npy/.csv/.json)";

static const char *const CMD = "featurize";

static void usage(FILE *out)
{
    fprintf(out, "usage: irbis featurize --model M.onnx [options] -o OUT_BASE IMAGES...|DIR...|--list FILE\n"
                 "  --layer NAME        cut the net at this tensor\n"
                 "  --cut N             or at cut point N (1, 2, ... back from the output; 0 = output)\n"
                 "  --pool avg|none     global average pooling of a 4-D cut (default avg with a cut)\n"
                 "  --flip              also a row for the horizontally flipped image (flipped=1)\n"
                 "  --precision fp32|bf16|int8   (bf16 needs AVX512-BF16; int8 needs --calib)\n"
                 "  --calib TABLE       int8 activation ranges (irbis calibrate; docs/int8.md)\n"
                 "  --engine auto|onednn|reference\n"
                 "  --threads N         decode workers and CNN workers (default: all CPUs)\n"
                 "  --batch B           images per CNN run (default 16)\n"
                 "  --size S            run the network at SxS inputs (default: the model's size; a net\n"
                 "                      ending in global pooling takes any size)\n"
                 "  --resize center|short|squash   center: centre crop F of each side (default);\n"
                 "                      short: short side to S, then centre crop; squash: whole frame\n"
                 "  --crop-fraction F   for center (default 0.875)\n"
                 "  --short-side S      for short (default size * 8 / 7: 256 for 224)\n"
                 "  --decode-size M     decode at the DCT scale size M would pick and resample from it (a\n"
                 "                      multi-size pipeline's smaller inputs: its largest size)\n"
                 "  --list FILE         read image paths from FILE, one per line\n"
                 "  -o OUT_BASE         writes OUT_BASE.npy, OUT_BASE.csv, OUT_BASE.json\n"
                 "A killed run started again with the same command carries on: rows are committed in\n"
                 "segments of 1024 images to OUT_BASE.parts/, removed when the feature set is complete.\n");
}

/* ==== the run */

typedef struct run {
    fopts o;
    paths in;
    featurize_engine e;
    irb_featwriter_t *w;
    int cb_rc; /* a failure inside the featurizer's callback */
    int failed;
    /* segments: committed parts of SEGMENT inputs each */
    char *parts, *key;
    size_t segment; /* inputs per segment */
    part_writer pw; /* the segment being written (pw.af.f != NULL) */
    size_t resumed; /* inputs replayed from an earlier run's segments */
    int tty;        /* stderr is a terminal: a live progress line */
    size_t done;    /* inputs handled so far */
} run;

/* The live "\r" progress line on a terminal; erase_progress clears it before other output. */
static void show_progress(const run *r)
{
    if (r->tty)
        fprintf(stderr, "\r\033[Kfeaturize %zu/%zu images, %d failed", r->done, r->in.n, r->failed), fflush(stderr);
}

static void erase_progress(const run *r)
{
    if (r->tty && r->done)
        fputs("\r\033[K", stderr);
}

/* Inputs per segment. Test hook (builds with IRBIS_TEST_HOOKS only, docs/contributing.md):
 * IRBIS_FEATURIZE_SEGMENT overrides it. */
static size_t segment_size(void)
{
#ifdef IRBIS_TEST_HOOKS
    const char *v = getenv("IRBIS_FEATURIZE_SEGMENT");
    long n = v ? atol(v) : 0;
    if (n > 0)
        return (size_t)n;
#endif
    return 1024;
}

static void segment_name(size_t first, char *buf, size_t cap) { snprintf(buf, cap, "segment from input %zu", first); }

static int setup(run *r)
{
    const fopts *o = &r->o;
    int threads = o->threads ? (int)o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    r->o.threads = threads;
    int rc = featurize_engine_new(&r->e, o, threads, CMD);
    if (rc == CLI_OK)
        rc = featurize_engine_key(&r->e, o, &r->key, CMD);
    if (rc != CLI_OK)
        return rc;
    size_t plen = strlen(o->out) + 8;
    if (!(r->parts = malloc(plen))) {
        cli_error(CMD, "out of memory");
        return CLI_FATAL;
    }
    snprintf(r->parts, plen, "%s.parts", o->out);
    r->segment = segment_size();
    return featurize_open_set(&r->w, o, &r->e, CMD);
}

/* One image's rows (or its failure) into the segment's part and the feature set. */
static void image_done(run *r, size_t i, const irb_error *e, int ok)
{
    const char *path = r->in.v[i];
    int warn = ok && e && e->warning;
    int k = r->e.k;
    size_t d = r->e.dim;
    irb_error err = {0};
    erase_progress(r);
    if (!ok) {
        cli_file_message(CMD, path, e && e->message[0] ? e->message : "cannot be decoded", 0);
        r->failed++;
    } else if (warn) {
        cli_file_message(CMD, path, e->message, 1);
    }
    if (r->pw.af.f && part_add(&r->pw,
                               !ok    ? PART_FAIL
                               : warn ? PART_WARN
                                      : PART_OK,
                               ok ? IRB_OK : IRB_CORRUPT, path, !ok || warn ? e->message : "", NULL,
                               ok ? r->e.rows : NULL, &err) != IRB_OK) {
        r->cb_rc = cli_fail(CMD, &err);
        return;
    }
    for (int f = 0; ok && f < k; f++)
        if (irb_featwriter_add(r->w, path, f, NULL, r->e.rows + (size_t)f * d, &err) != IRB_OK) {
            r->cb_rc = cli_fail(CMD, &err);
            return;
        }
    r->done++;
    show_progress(r);
}

typedef struct segment_ctx {
    run *r;
    size_t first;
} segment_ctx;

static void on_row(void *ctx, size_t index, int input, int flipped, const float *row, size_t dim, const irb_error *e)
{
    segment_ctx *sc = ctx;
    run *r = sc->r;
    (void)input;
    if (r->cb_rc != CLI_OK)
        return;
    if (!row) {
        image_done(r, sc->first + index, e, 0);
        return;
    }
    memcpy(r->e.rows + (size_t)flipped * dim, row, dim * sizeof *row);
    if (!r->o.flip || flipped)
        image_done(r, sc->first + index, e, 1);
}

/* Decodes, runs and writes images [i0, i0 + n). */
static int do_images(run *r, size_t i0, size_t n)
{
    irb_error err = {0};
    segment_ctx sc = {r, i0};
    if (irb_featurizer_run(r->e.fz, (const char *const *)r->in.v + i0, n, NULL, on_row, &sc, &err) != IRB_OK)
        return cli_fail(CMD, &err);
    return r->cb_rc;
}

/* Replays the committed segment of inputs [first, first + n) from an earlier run: its rows into
 * the feature set and its per-file messages, as computing it would. Returns 1 when replayed, 0
 * when there is no usable segment (missing, damaged, other options or other inputs), -1 when
 * the feature set cannot be written. */
static int replay_segment(run *r, size_t first, size_t n)
{
    char name[64], path[8192];
    segment_name(first, name, sizeof name);
    part_path(r->parts, name, path, sizeof path);
    if (!part_complete(path, r->key, name, (int)r->e.dim * r->e.k, (long long)n) ||
        !part_current(path, NULL, (const char *const *)r->in.v + first, NULL, n, 0)) /* the same inputs, unchanged */
        return 0;
    erase_progress(r);
    part_reader rd;
    irb_error err = {0};
    if (part_open(&rd, path, &err) != IRB_OK)
        return 0;
    int rc = 1;
    for (size_t i = 0; rc == 1 && i < n && part_next(&rd, &err) == IRB_OK; i++)
        if (featurize_replay_row(r->w, &rd, &r->e, &r->failed, CMD) != CLI_OK)
            rc = -1;
    part_close(&rd);
    return rc;
}

/* All inputs, a segment at a time: replayed while earlier segments are usable, then computed
 * and committed. */
static int run_all(run *r)
{
    int rc = CLI_OK, replaying = 1;
    irb_error err = {0};
    if (part_mkdirs(r->parts) != 0)
        return cli_error(CMD, "%s: cannot create the folder of partial results", r->parts), CLI_FATAL;
    for (size_t s0 = 0; rc == CLI_OK && s0 < r->in.n; s0 += r->segment) {
        size_t n = r->in.n - s0 < r->segment ? r->in.n - s0 : r->segment;
        if (replaying) {
            int got = replay_segment(r, s0, n);
            if (got < 0)
                return CLI_FATAL;
            if (got) {
                r->resumed += n;
                r->done += n;
                show_progress(r);
                continue;
            }
            replaying = 0; /* computed from here on: later segments of an earlier run are redone */
        }
        char name[64], path[8192];
        segment_name(s0, name, sizeof name);
        part_path(r->parts, name, path, sizeof path);
        if (part_create(&r->pw, path, r->key, name, (int)r->e.dim * r->e.k, &err) != IRB_OK)
            return cli_fail(CMD, &err);
        rc = do_images(r, s0, n);
        if (rc != CLI_OK)
            part_abort(&r->pw);
        else if (part_commit(&r->pw, &err) != IRB_OK)
            rc = cli_fail(CMD, &err);
        memset(&r->pw, 0, sizeof r->pw);
    }
    return rc;
}

static void cleanup(run *r)
{
    if (r->pw.af.f)
        part_abort(&r->pw);
    free(r->parts);
    free(r->key);
    irb_featwriter_free(r->w);
    featurize_engine_free(&r->e);
    paths_free(&r->in);
}

int irb_cmd_featurize(int argc, char **argv)
{
    run r = {0};
    int rc = featurize_parse(argc, argv, CMD, usage, &r.o);
    if (rc <= 0)
        return rc == 0 ? CLI_OK : CLI_USAGE;
    int ok = collect_inputs(&r.in, CMD, r.o.list, argc - optind, argv + optind);
    if (ok != 1) {
        cleanup(&r);
        return ok < 0 ? CLI_USAGE : CLI_FATAL;
    }
    rc = setup(&r);
    r.tty = isatty(2);
    if (rc == CLI_OK)
        rc = run_all(&r);
    erase_progress(&r);
    if (rc == CLI_OK) {
        irb_error err = {0};
        irb_featwriter_t *w = r.w;
        r.w = NULL;
        if (irb_featwriter_close(w, &err) != IRB_OK)
            rc = cli_fail(CMD, &err);
        else
            part_remove_all(r.parts); /* the feature set is complete: the segments are not needed */
    }
    if (rc != CLI_OK && r.parts)
        rmdir(r.parts); /* only when no segment was committed: committed ones are kept for a rerun */
    if (rc == CLI_OK && r.resumed)
        fprintf(stderr, "irbis %s: %zu images taken from the committed segments of an earlier run\n", CMD, r.resumed);
    if (rc == CLI_OK)
        featurize_summary(CMD, r.in.n, r.failed, &r.e, r.o.out);
    if (rc == CLI_OK && r.failed)
        rc = CLI_PARTIAL;
    cleanup(&r);
    return rc;
}
