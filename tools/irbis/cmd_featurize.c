/* irbis featurize: images -> CNN feature set (OUT.npy / OUT.csv / OUT.json, docs/features.md).
 * Images are decoded and preprocessed on `threads` worker threads (one decoder each), a batch
 * at a time, then run through the net in one call. A file that fails to decode is reported on
 * stderr and skipped; the exit status is then CLI_PARTIAL. */
#include <dirent.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char irb_cmd_featurize_summary[] = "compute CNN features of images into a feature set (.npy/.csv/.json)";

static const char *const CMD = "featurize";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: irbis featurize --model M.onnx [options] -o OUT_BASE IMAGES...|DIR...|--list FILE\n"
            "  --layer NAME        cut the net at this tensor\n"
            "  --cut N             or at cut point N (1, 2, ... back from the output; 0 = output)\n"
            "  --pool avg|none     global average pooling of a 4-D cut (default avg with a cut)\n"
            "  --flip              also a row for the horizontally flipped image (flipped=1)\n"
            "  --precision fp32|bf16   (bf16 needs AVX512-BF16)\n"
            "  --engine auto|onednn|reference\n"
            "  --threads N         decode workers and CNN workers (default: all CPUs)\n"
            "  --batch B           images per CNN run (default 16)\n"
            "  --size S            network input size (default: the model's)\n"
            "  --resize squash|crop|center-fraction   (default center-fraction)\n"
            "  --crop-fraction F   for center-fraction (default 0.875)\n"
            "  --short-side S      for crop: resize the short side to S, then centre crop\n"
            "  --list FILE         read image paths from FILE, one per line\n"
            "  -o OUT_BASE         writes OUT_BASE.npy, OUT_BASE.csv, OUT_BASE.json\n");
}

/* ==== inputs */

typedef struct paths {
    char **v;
    size_t n, cap;
} paths;

static int paths_add(paths *p, const char *s)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        char **nv = realloc(p->v, cap * sizeof *nv);
        if (!nv)
            return 0;
        p->v = nv;
        p->cap = cap;
    }
    return (p->v[p->n++] = strdup(s)) != NULL;
}

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Image files under dir, recursively, in sorted order. */
static int add_dir(paths *p, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        cli_error(CMD, "%s: cannot open folder", dir);
        return 0;
    }
    paths here = {0};
    struct dirent *e;
    int ok = 1;
    while (ok && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *full = malloc(n);
        if (!full)
            break;
        snprintf(full, n, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(full, &st) == 0 && (S_ISDIR(st.st_mode) || is_image_name(e->d_name)))
            ok = paths_add(&here, full);
        free(full);
    }
    closedir(d);
    qsort(here.v, here.n, sizeof *here.v, cmp_str);
    for (size_t i = 0; i < here.n; i++) {
        struct stat st;
        if (ok && stat(here.v[i], &st) == 0 && S_ISDIR(st.st_mode))
            ok = add_dir(p, here.v[i]);
        else if (ok)
            ok = paths_add(p, here.v[i]);
        free(here.v[i]);
    }
    free(here.v);
    return ok;
}

static int add_list(paths *p, const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        cli_error(CMD, "%s: cannot open list", file);
        return 0;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int ok = 1;
    while (ok && (n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n > 0)
            ok = paths_add(p, line);
    }
    free(line);
    fclose(f);
    return ok;
}

/* ==== options */

typedef struct fopts {
    const char *model, *layer, *out, *list, *engine;
    long cut, threads, batch, size, short_side;
    int flip, pool, pool_set, bf16;
    double crop_fraction;
    irb_resize_mode resize;
} fopts;

static int parse(int argc, char **argv, fopts *o)
{
    static const struct option longs[] = {
        {"model", 1, 0, 'm'},      {"layer", 1, 0, 'l'},  {"cut", 1, 0, 'c'},        {"pool", 1, 0, 'p'},
        {"flip", 0, 0, 'f'},       {"precision", 1, 0, 'P'}, {"threads", 1, 0, 't'}, {"batch", 1, 0, 'b'},
        {"size", 1, 0, 's'},       {"resize", 1, 0, 'r'}, {"crop-fraction", 1, 0, 'F'}, {"short-side", 1, 0, 'S'},
        {"list", 1, 0, 'L'},       {"engine", 1, 0, 'e'}, {"help", 0, 0, 'h'},       {0, 0, 0, 0}};
    *o = (fopts){.batch = 16, .crop_fraction = 0.875, .resize = IRB_RESIZE_CROP_FRACTION, .engine = "auto"};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'l': o->layer = optarg; break;
        case 'o': o->out = optarg; break;
        case 'L': o->list = optarg; break;
        case 'e': o->engine = optarg; break;
        case 'f': o->flip = 1; break;
        case 'c': if (!cli_int(CMD, "--cut", optarg, 0, 100000, &o->cut)) return -1; break;
        case 't': if (!cli_int(CMD, "--threads", optarg, 1, 1024, &o->threads)) return -1; break;
        case 'b': if (!cli_int(CMD, "--batch", optarg, 1, 4096, &o->batch)) return -1; break;
        case 's': if (!cli_int(CMD, "--size", optarg, 8, 4096, &o->size)) return -1; break;
        case 'S': if (!cli_int(CMD, "--short-side", optarg, 8, 8192, &o->short_side)) return -1; break;
        case 'F':
            if (!cli_double(CMD, "--crop-fraction", optarg, &o->crop_fraction) || o->crop_fraction <= 0 ||
                o->crop_fraction > 1) {
                cli_error(CMD, "--crop-fraction expects a number in (0, 1]");
                return -1;
            }
            break;
        case 'p':
            o->pool_set = 1;
            if (!strcmp(optarg, "avg")) o->pool = 1;
            else if (!strcmp(optarg, "none")) o->pool = 0;
            else { cli_error(CMD, "--pool expects avg or none, got '%s'", optarg); return -1; }
            break;
        case 'P':
            if (!strcmp(optarg, "bf16")) o->bf16 = 1;
            else if (strcmp(optarg, "fp32")) { cli_error(CMD, "--precision expects fp32 or bf16"); return -1; }
            break;
        case 'r':
            if (!strcmp(optarg, "squash")) o->resize = IRB_RESIZE_SQUASH;
            else if (!strcmp(optarg, "crop")) o->resize = IRB_RESIZE_SHORT_CROP;
            else if (!strcmp(optarg, "center-fraction")) o->resize = IRB_RESIZE_CROP_FRACTION;
            else { cli_error(CMD, "--resize expects squash, crop or center-fraction, got '%s'", optarg); return -1; }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return -1;
        }
    }
    if (!o->model || !o->out) {
        cli_error(CMD, "--model and -o are required");
        return -1;
    }
    if (o->layer && o->cut) {
        cli_error(CMD, "give --layer or --cut, not both");
        return -1;
    }
    if (!o->pool_set)
        o->pool = o->layer || o->cut;
    return 1;
}

/* ==== decoding a batch on worker threads */

typedef struct job {
    const irb_preproc *pp;
    char **paths;
    int n, flip;
    size_t in_elems;       /* floats per network input */
    float *input;          /* (flip ? 2 : 1) * n inputs */
    char (*msg)[IRB_MESSAGE_MAX];
    int *ok;
    atomic_int next;
    irb_decoder_t **dec;   /* one per worker */
} job;

typedef struct worker_arg {
    job *j;
    int ith;
} worker_arg;

static void decode_one(job *j, irb_decoder_t *dec, int i)
{
    int k = j->flip ? 2 : 1;
    float *out = j->input + (size_t)i * k * j->in_elems;
    irb_image img = {0};
    irb_status s = irb_preprocess_image(dec, j->paths[i], j->pp, &img, NULL);
    if (s != IRB_OK) {
        const irb_error *e = irb_decoder_error(dec);
        snprintf(j->msg[i], sizeof j->msg[i], "%s", e && e->message[0] ? e->message : irb_status_name(s));
        j->ok[i] = 0;
        return;
    }
    irb_image_to_chw(&img, j->pp->mean, j->pp->scale, out);
    if (j->flip) {
        irb_image_flip(&img);
        irb_image_to_chw(&img, j->pp->mean, j->pp->scale, out + j->in_elems);
    }
    irb_image_release(&img);
    const irb_error *e = irb_decoder_error(dec);
    j->ok[i] = e && e->warning ? 2 : 1; /* decoded, but e.g. truncated: reported, kept */
    if (j->ok[i] == 2)
        snprintf(j->msg[i], sizeof j->msg[i], "%s", e->message);
}

static void *decode_worker(void *arg)
{
    worker_arg *w = arg;
    for (int i; (i = atomic_fetch_add(&w->j->next, 1)) < w->j->n;)
        decode_one(w->j, w->j->dec[w->ith], i);
    return NULL;
}

static void decode_batch(job *j, int threads)
{
    atomic_store(&j->next, 0);
    pthread_t tid[64];
    worker_arg wa[64];
    int started = 0;
    if (threads > 64)
        threads = 64;
    for (int t = 1; t < threads && t < j->n; t++) {
        wa[t] = (worker_arg){j, t};
        if (pthread_create(&tid[t], NULL, decode_worker, &wa[t]) == 0)
            started = t;
        else
            break;
    }
    wa[0] = (worker_arg){j, 0};
    decode_worker(&wa[0]);
    for (int t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
}

/* ==== metadata */

#define TRY(x) do { irb_status s_ = (x); if (s_ != IRB_OK) return s_; } while (0)


static irb_status write_meta(irb_featwriter_t *w, const fopts *o, const irb_net_t *net, const irb_preproc *pp)
{
    char sha[65], buf[2048];
    irb_error err = {0};
    TRY(irb_sha256_file(o->model, sha, &err));
    TRY(irb_featwriter_set_meta_str(w, "model", o->model));
    TRY(irb_featwriter_set_meta_str(w, "model_sha256", sha));
    TRY(irb_featwriter_set_meta_str(w, "layer", irb_net_output_name(net)));
    snprintf(buf, sizeof buf, "%ld", o->cut);
    TRY(irb_featwriter_set_meta(w, "cut", buf));
    TRY(irb_featwriter_set_meta_str(w, "pool", o->pool ? "avg" : "none"));
    TRY(irb_featwriter_set_meta_str(w, "precision", o->bf16 ? "bf16" : "fp32"));
    TRY(irb_featwriter_set_meta_str(w, "engine", irb_net_engine(net)));
    irb_preproc_to_json(pp, buf, sizeof buf);
    return irb_featwriter_set_meta(w, "preprocessing", buf);
}

/* ==== the run */

typedef struct run {
    fopts o;
    paths in;
    irb_model_t *model;
    irb_net_t *net;
    irb_featwriter_t *w;
    irb_preproc pp;
    job j;
    float *output;
    int failed;
} run;

static int setup(run *r)
{
    irb_error err = {0};
    const fopts *o = &r->o;
    if (irb_model_load(o->model, NULL, &r->model, &err) != IRB_OK)
        return cli_fail(CMD, &err);
    int threads = o->threads ? (int)o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    r->o.threads = threads;
    irb_engine eng = !strcmp(o->engine, "onednn") ? IRB_ENGINE_ONEDNN
                     : !strcmp(o->engine, "reference") ? IRB_ENGINE_REFERENCE
                                                       : IRB_ENGINE_AUTO;
    int rows_per_image = o->flip ? 2 : 1;
    irb_net_opts no = {.layer = o->layer, .cut = (int)o->cut, .pool = o->pool ? IRB_POOL_AVG : IRB_POOL_NONE,
                       .engine = eng, .precision = o->bf16 ? IRB_PRECISION_BF16 : IRB_PRECISION_FP32,
                       .threads = threads, .max_batch = (int)o->batch * rows_per_image};
    if (irb_net_new(r->model, &no, &r->net, &err) != IRB_OK)
        return cli_fail(CMD, &err);
    int c, h, w;
    irb_net_input_shape(r->net, &c, &h, &w);
    const irb_preprocess *mp = irb_model_preprocess(r->model);
    r->pp = irb_preproc_default(o->size ? (int)o->size : h);
    if (o->size && (o->size != h || h != w)) {
        cli_error(CMD, "--size %ld does not match the model's input %dx%d", o->size, h, w);
        return CLI_USAGE;
    }
    r->pp.mode = o->resize;
    r->pp.crop_fraction = o->crop_fraction;
    r->pp.short_side = (int)o->short_side;
    for (int k = 0; k < 3; k++)
        r->pp.mean[k] = mp->mean[k], r->pp.scale[k] = mp->std[k];
    job *j = &r->j;
    j->pp = &r->pp;
    j->flip = o->flip;
    j->in_elems = (size_t)c * h * w;
    j->input = malloc((size_t)o->batch * rows_per_image * j->in_elems * sizeof *j->input);
    j->msg = malloc((size_t)o->batch * sizeof *j->msg);
    j->ok = malloc((size_t)o->batch * sizeof *j->ok);
    j->dec = calloc((size_t)threads, sizeof *j->dec);
    r->output = malloc((size_t)o->batch * rows_per_image * irb_net_output_size(r->net) * sizeof *r->output);
    if (!j->input || !j->msg || !j->ok || !j->dec || !r->output) {
        cli_error(CMD, "out of memory");
        return CLI_FATAL;
    }
    for (int t = 0; t < threads; t++)
        if (irb_decoder_new(&j->dec[t]) != IRB_OK) {
            cli_error(CMD, "cannot create a decoder");
            return CLI_FATAL;
        }
    if (irb_featwriter_open(o->out, (int)irb_net_output_size(r->net), NULL, &r->w, &err) != IRB_OK)
        return cli_fail(CMD, &err);
    if (write_meta(r->w, o, r->net, &r->pp) != IRB_OK) {
        cli_error(CMD, "%s", irb_featwriter_error(r->w)->message);
        return CLI_FATAL;
    }
    return CLI_OK;
}

/* Decodes, runs and writes images [i0, i0 + n). */
static int do_batch(run *r, size_t i0, int n)
{
    job *j = &r->j;
    j->paths = r->in.v + i0;
    j->n = n;
    decode_batch(j, (int)r->o.threads);
    int k = j->flip ? 2 : 1, m = 0;
    /* pack the good images together */
    for (int i = 0; i < n; i++) {
        if (!j->ok[i]) {
            fprintf(stderr, "irbis %s: %s: %s\n", CMD, j->paths[i], j->msg[i]);
            r->failed++;
            continue;
        }
        if (j->ok[i] == 2)
            fprintf(stderr, "irbis %s: %s: warning: %s\n", CMD, j->paths[i], j->msg[i]);
        if (m != i)
            memmove(j->input + (size_t)m * k * j->in_elems, j->input + (size_t)i * k * j->in_elems,
                    (size_t)k * j->in_elems * sizeof *j->input);
        m++;
    }
    if (m == 0)
        return CLI_OK;
    if (irb_net_run(r->net, j->input, m * k, r->output) != IRB_OK)
        return cli_fail(CMD, irb_net_error(r->net));
    size_t d = irb_net_output_size(r->net);
    irb_error err = {0};
    for (int i = 0, row = 0; i < n; i++) {
        if (!j->ok[i])
            continue;
        for (int f = 0; f < k; f++, row++)
            if (irb_featwriter_add(r->w, j->paths[i], f, NULL, r->output + (size_t)row * d, &err) != IRB_OK)
                return cli_fail(CMD, &err);
    }
    return CLI_OK;
}

static void cleanup(run *r)
{
    irb_featwriter_free(r->w);
    for (long t = 0; r->j.dec && t < r->o.threads; t++)
        irb_decoder_free(r->j.dec[t]);
    free(r->j.dec);
    free(r->j.input);
    free(r->j.msg);
    free(r->j.ok);
    free(r->output);
    irb_net_free(r->net);
    irb_model_free(r->model);
    for (size_t i = 0; i < r->in.n; i++)
        free(r->in.v[i]);
    free(r->in.v);
}

int irb_cmd_featurize(int argc, char **argv)
{
    run r = {0};
    int rc = parse(argc, argv, &r.o);
    if (rc <= 0)
        return rc == 0 ? CLI_OK : CLI_USAGE;
    int ok = 1;
    if (r.o.list)
        ok = add_list(&r.in, r.o.list);
    for (int i = optind; ok && i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            ok = add_dir(&r.in, argv[i]);
        else
            ok = paths_add(&r.in, argv[i]);
    }
    if (!ok || r.in.n == 0) {
        if (ok)
            cli_error(CMD, "no images given");
        cleanup(&r);
        return ok ? CLI_USAGE : CLI_FATAL;
    }
    rc = setup(&r);
    for (size_t i = 0; rc == CLI_OK && i < r.in.n; i += (size_t)r.o.batch) {
        size_t left = r.in.n - i;
        rc = do_batch(&r, i, left < (size_t)r.o.batch ? (int)left : (int)r.o.batch);
    }
    if (rc == CLI_OK) {
        irb_error err = {0};
        irb_featwriter_t *w = r.w;
        r.w = NULL;
        if (irb_featwriter_close(w, &err) != IRB_OK)
            rc = cli_fail(CMD, &err);
    }
    if (rc == CLI_OK)
        fprintf(stderr, "irbis %s: %zu images, %d failed, %zu rows of %zu floats -> %s.npy\n", CMD, r.in.n,
                r.failed, (r.in.n - (size_t)r.failed) * (r.o.flip ? 2 : 1), irb_net_output_size(r.net), r.o.out);
    if (rc == CLI_OK && r.failed)
        rc = CLI_PARTIAL;
    cleanup(&r);
    return rc;
}
