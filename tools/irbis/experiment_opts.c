/* The options of irbis experiment and irbis train --images (experiment_opts.h). */
#include <getopt.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "experiment_opts.h"
#include "featurize_opts.h"

static void usage(FILE *f)
{
    fputs("usage: irbis experiment --images ROOT --labels CSV --model M.onnx -o DIR [options]\n"
          "  --labels CSV            path,label[,camera,timestamp,sequence], a Timelapse export, or a\n"
          "                          Camtrap DP package's folder (the labels people observed); irbis\n"
          "                          labels CSV shows the labels as read\n" CLI_LABELS_HELP
          "  --task empty|species    empty vs animal (default) or one class per label\n"
          "  --positive CLASS        CLASS vs everything else (with --task empty: the empty label)\n"
          "  --folds K               outer cross-validation folds (default 5)\n"
          "  --group sequence|camera|block\n"
          "                          units folds never split (default: sequence when the labels have\n"
          "                          timestamps or sequence ids, else contiguous blocks of path order)\n"
          "  --gap SECONDS           sequence gap (default 60)\n"
          "  --camera-depth K        labels without a camera column: the camera is the image's folder\n"
          "                          (default), or its first K folder components (CAM/DCIM/100RECNX: 1);\n"
          "                          without timestamps, the EXIF time (as irbis classify's scan)\n"
          "  --C X                   fixed regularisation (default: chosen inside each training fold)\n"
          "  --crop none|auto|choose info-strip crop (default choose: decided inside each training fold)\n"
          "  --resize center|short|squash  CNN input: centre 87.5% crop (default), short side\n"
          "                          (size * 8 / 7) + centre crop (the peer), or the whole frame squashed\n"
          "  --size S[,S...]         CNN input size(s) (default: the model's); several: each training\n"
          "                          fold chooses one (with the crop) by inner cross-validation\n"
          "  --combine choose|mean   with several variants (--crop choose, several sizes): pick one\n"
          "                          per training fold (default), or average one classifier per variant\n"
          "  --decode once|each      with several sizes: every size resampled from the one decode the\n"
          "                          largest picks (default; a pipeline's classify decodes each image\n"
          "                          once), or each size at its own DCT scale (before; older caches)\n"
          "  --raw-size N            side of the raw-pixel row (default 120)\n"
          "  --rows LIST             subset of L120,RN1,RN2,RN2+A,RN2+A+E,M,RN2+A+M,RN2+A+M+E (default\n"
          "                          all; M: the change from the camera's previous and next frames;\n"
          "                          RN2+A@M, on request: RN2+A+M's RN2+A half, at M's fixed crop)\n"
          "  --limit N               only the first N labelled images in path order\n"
          "  --threads N --batch B --precision fp32|bf16|int8 --engine auto|onednn|reference\n"
          "                    (int8: calibrated on 64 of the images first, docs/int8.md)\n"
          "  --calib T[,T...]  int8: calibration tables (irbis calibrate), one per --size, used\n"
          "                    instead of recording them; saved in the pipeline either way\n"
          "  --cache DIR             feature cache (default DIR/cache)\n"
          "  --cache-every SECONDS   checkpoint the cache this often while computing features, so a\n"
          "                          killed run keeps them (default 300; 0: only at the end)\n"
          "  --quiet                 no progress on stderr\n"
          "  --save ROW|best         also train ROW (best: the most accurate deployable row) on all the\n"
          "                          labelled images and save it as a pipeline for irbis classify\n"
          "  --save-to FILE          where (default DIR/pipeline.irbis)\n",
          f);
}

static void train_usage(FILE *f)
{
    fputs("usage: irbis train --images ROOT --labels CSV --model M.onnx -o PIPELINE.irbis [options]\n"
          "  Trains a recipe on labelled images and saves it as a pipeline for irbis classify. C and\n"
          "  the info-strip crop are chosen by the experiment's inner cross-validation; the\n"
          "  recipe's cross-validated accuracy is printed, and the cross-validation's outputs go to\n"
          "  --report (default PIPELINE.train/).\n"
          "  --labels CSV            path,label[,camera,timestamp,sequence], a Timelapse export, or a\n"
          "                          Camtrap DP package's folder (the labels people observed); irbis\n"
          "                          labels CSV shows the labels as read\n" CLI_LABELS_HELP
          "  --recipe ROW            RN1, RN2, RN2+A, RN2+A+E, M, RN2+A+M (default), RN2+A+M+E\n"
          "  --task empty|species    empty vs animal (default: every label but 'empty' is an animal)\n"
          "                          or one class per label\n"
          "  --report DIR            the cross-validation's table, predictions and feature cache\n"
          "  defaults (the best recipe on the shared data): --size 224,448,576 --resize squash\n"
          "  --crop auto --combine mean. Every `irbis experiment` option applies (see its --help).\n"
          "  --precision int8: the features in int8; a calibration table per size (from 64 of the\n"
          "  training images, or --calib) is stored in the pipeline, and classify runs int8 too.\n",
          f);
}

static void progress(void *ctx, const char *stage, size_t done, size_t total)
{
    exp_progress *p = ctx;
    if (p->quiet)
        return;
    if (p->tty) {
        fprintf(stderr, "\r  %-40s %6zu / %-6zu", stage, done, total);
        if (done == total)
            fputc('\n', stderr);
    } else if (strcmp(p->last, stage) != 0 || done == total) {
        fprintf(stderr, "  %s: %zu / %zu\n", stage, done, total);
    }
    snprintf(p->last, sizeof p->last, "%s", stage);
}

static int parse_choice(const char *cmd, const char *opt, const char *v, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) {
            *out = i;
            return 1;
        }
    cli_error(cmd, "unknown %s '%s'", opt, v);
    return 0;
}

/* "224,576" -> sizes[] (at most IRB_EXPERIMENT_MAX_SIZES, distinct) */
static int parse_sizes(const char *cmd, const char *arg, int *sizes)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        long v;
        if (n == IRB_EXPERIMENT_MAX_SIZES) {
            cli_error(cmd, "--size takes at most %d sizes", IRB_EXPERIMENT_MAX_SIZES);
            return 0;
        }
        if (!cli_int(cmd, "--size", t, 32, IRB_NET_MAX_INPUT_SIZE, &v))
            return 0;
        for (int k = 0; k < n; k++)
            if (sizes[k] == v) {
                cli_error(cmd, "--size lists %ld twice", v);
                return 0;
            }
        sizes[n++] = (int)v;
    }
    if (!n)
        cli_error(cmd, "--size expects sizes such as 224 or 224,576");
    return n > 0;
}

void experiment_print_uncertain(const irb_experiment_result *r)
{
    printf("uncertain: top probability below %.4g (default --min-confidence)", r->saved_min_confidence);
    if (r->saved_novelty >= 0)
        printf(", or novel: distance to the nearest training image above %.4g", r->saved_novelty);
    printf("\n");
}

void experiment_print_table(const irb_experiment_result *r)
{
    printf("\n%zu images (%zu failed), %zu sequences, %d classes, %d folds over %s units%s%s\n\n", r->n_images,
           r->n_failed, r->n_sequences, r->n_classes, r->folds, r->unit, r->positive[0] ? ", positive: " : "",
           r->positive);
    printf("%-9s %8s %9s %9s %7s %13s %7s %7s %8s  %s\n", "row", "features", "accuracy", "balanced", "AUC",
           "folds min-max", "seq acc", "log10C", "train s", "input size");
    for (int i = 0; i < r->n_rows; i++) {
        const irb_experiment_row *w = &r->rows[i];
        char seq[16] = "-", auc[16] = "-"; /* undefined (a species task has no positive class): "-" */
        if (!isnan(w->seq_accuracy))
            snprintf(seq, sizeof seq, "%.1f%%", 100 * w->seq_accuracy);
        if (!isnan(w->auc))
            snprintf(auc, sizeof auc, "%.3f", w->auc);
        printf("%-9s %8d %8.1f%% %8.1f%% %7s %5.1f-%5.1f%% %7s %7.1f %8.1f  %s\n", w->name, w->features,
               100 * w->accuracy, 100 * w->balanced_accuracy, auc, 100 * w->fold_acc_min, 100 * w->fold_acc_max, seq,
               w->mean_log10_C, w->train_seconds, w->sizes[0] ? w->sizes : "-");
    }
}

/* --calib T1,T2: one table per --size (the model's size when none), int8 only. */
static int split_calib(const char *cmd, exp_cli *x)
{
    irb_experiment_opts *o = &x->o;
    int n_sizes = 0, n = 0;
    while (n_sizes < IRB_EXPERIMENT_MAX_SIZES && o->sizes[n_sizes] > 0)
        n_sizes++;
    n_sizes += n_sizes == 0;
    if (o->precision != IRB_PRECISION_INT8)
        return cli_error(cmd, "--calib goes with --precision int8"), 0;
    for (char *t = x->calib, *next; t; t = next) {
        next = strchr(t, ',');
        if (next)
            *next++ = '\0';
        if (n == n_sizes || !*t)
            return cli_error(cmd, "--calib needs one table per --size (%d)", n_sizes), 0;
        o->calib[n++] = t;
    }
    if (n != n_sizes)
        return cli_error(cmd, "--calib needs one table per --size (%d), got %d", n_sizes, n), 0;
    return 1;
}

int experiment_parse(int argc, char **argv, const char *cmd, int train, exp_cli *x)
{
    irb_experiment_opts *o = &x->o;
    memset(x, 0, sizeof *x);
    o->unit = -1;
    o->crop = IRB_CROP_CHOOSE;
    o->resize = IRB_RESIZE_CROP_FRACTION;
    x->ps.tty = isatty(2);
    const char *report = NULL;
    if (train) {
        static const char recipe[] = "RN2+A+M";
        o->rows = o->save = recipe;
        o->sizes[0] = 224, o->sizes[1] = 448, o->sizes[2] = 576;
        o->resize = IRB_RESIZE_SQUASH;
        o->crop = IRB_CROP_AUTO;
        o->combine = IRB_COMBINE_MEAN;
    }
    static const struct option opts[] = {
        {"images", 1, 0, 'i'},      {"labels", 1, 0, 'l'}, {"model", 1, 0, 'm'},        {"task", 1, 0, 't'},
        {"positive", 1, 0, 'p'},    {"folds", 1, 0, 'k'},  {"group", 1, 0, 'g'},        {"gap", 1, 0, 'G'},
        {"C", 1, 0, 'C'},           {"crop", 1, 0, 'c'},   {"resize", 1, 0, 'r'},       {"raw-size", 1, 0, 'R'},
        {"rows", 1, 0, 'w'},        {"limit", 1, 0, 'L'},  {"threads", 1, 0, 'T'},      {"batch", 1, 0, 'b'},
        {"precision", 1, 0, 'P'},   {"engine", 1, 0, 'e'}, {"cache", 1, 0, 'x'},        {"quiet", 0, 0, 'q'},
        {"cache-every", 1, 0, 'E'}, {"size", 1, 0, 'z'},   {"combine", 1, 0, 'M'},      {"decode", 1, 0, 'd'},
        {"output", 1, 0, 'o'},      {"help", 0, 0, 'h'},   {"save", 1, 0, 'S'},         {"save-to", 1, 0, 'O'},
        {"recipe", 1, 0, 'y'},      {"report", 1, 0, 'Y'}, {"camera-depth", 1, 0, 'D'}, {"calib", 1, 0, 'K'},
        CLI_LABELS_LONGOPTS,        {0, 0, 0, 0}};
    static const char *const tasks[] = {"empty", "species", "positive"};
    static const char *const crops[] = {"none", "auto", "choose"};
    static const char *const combines[] = {"choose", "mean"};
    static const char *const decodes[] = {"once", "each"};
    static const char *const precisions[] = {"fp32", "bf16", "int8"};
    static const char *const engines[] = {"auto", "reference", "onednn"};
    int c, v, task_set = 0;
    long l;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        int lab = cli_labels_opt(cmd, c, optarg, &o->labels_opts);
        if (lab < 0)
            return CLI_USAGE;
        if (lab)
            continue;
        switch (c) {
        case 'i': o->images = optarg; break;
        case 'l': o->labels = optarg; break;
        case 'm': o->model = optarg; break;
        case 'o': *(train ? &o->save_path : &o->out_dir) = optarg; break;
        case 'S': o->save = optarg; break;
        case 'O': o->save_path = optarg; break;
        case 'y': o->rows = o->save = optarg; break;
        case 'Y': report = optarg; break;
        case 'D':
            if (!cli_int(cmd, "--camera-depth", optarg, 0, 64, &l))
                return CLI_USAGE;
            o->camera_depth = (int)l;
            break;
        case 'K': snprintf(x->calib, sizeof x->calib, "%s", optarg); break;
        case 'x': o->cache_dir = optarg; break;
        case 'E': {
            double sec;
            if (!cli_double(cmd, "--cache-every", optarg, &sec) || sec < 0)
                return cli_error(cmd, "--cache-every takes seconds >= 0"), CLI_USAGE;
            o->cache_every = sec > 0 ? sec : -1;
            break;
        }
        case 'w': o->rows = optarg; break;
        case 'p': o->positive = optarg; break;
        case 'q': x->ps.quiet = 1; break;
        case 'h': (train ? train_usage : usage)(stdout); return -1;
        case 't':
            if (!parse_choice(cmd, "--task", optarg, tasks, 3, &v))
                return CLI_USAGE;
            o->task = (irb_task)v;
            task_set = 1;
            break;
        case 'g':
            if ((o->unit = irb_fold_unit_parse(optarg)) < 0) {
                cli_error(cmd, "unknown --group '%s' (sequence, camera or block)", optarg);
                return CLI_USAGE;
            }
            break;
        case 'c':
            if (!parse_choice(cmd, "--crop", optarg, crops, 3, &v))
                return CLI_USAGE;
            o->crop = (irb_crop_choice)v;
            break;
        case 'r':
            if (!parse_resize(cmd, optarg, IRB_RESIZE_CROP_FRACTION, &o->resize))
                return CLI_USAGE;
            break;
        case 'P':
            if (!parse_choice(cmd, "--precision", optarg, precisions, 3, &v))
                return CLI_USAGE;
            o->precision = (irb_precision)v;
            break;
        case 'e':
            if (!parse_choice(cmd, "--engine", optarg, engines, 3, &v))
                return CLI_USAGE;
            o->engine = (irb_engine)v;
            break;
        case 'G':
            if (!cli_double_in(cmd, "--gap", optarg, 0, INFINITY, &o->gap))
                return CLI_USAGE;
            break;
        case 'C':
            if (!cli_double(cmd, "--C", optarg, &o->C) || o->C <= 0) {
                cli_error(cmd, "--C must be a positive number");
                return CLI_USAGE;
            }
            break;
        case 'k':
            if (!cli_int(cmd, "--folds", optarg, 2, 100, &l))
                return CLI_USAGE;
            o->folds = (int)l;
            break;
        case 'R':
            if (!cli_int(cmd, "--raw-size", optarg, 8, 1024, &l))
                return CLI_USAGE;
            o->raw_size = (int)l;
            break;
        case 'M':
            if (!parse_choice(cmd, "--combine", optarg, combines, 2, &v))
                return CLI_USAGE;
            o->combine = (irb_combine)v;
            break;
        case 'd':
            if (!parse_choice(cmd, "--decode", optarg, decodes, 2, &v))
                return CLI_USAGE;
            o->decode_each = v;
            break;
        case 'z':
            memset(o->sizes, 0, sizeof o->sizes); /* replaces the defaults */
            if (!parse_sizes(cmd, optarg, o->sizes))
                return CLI_USAGE;
            break;
        case 'L':
            if (!cli_int(cmd, "--limit", optarg, 10, 1L << 40, &l))
                return CLI_USAGE;
            o->limit = (size_t)l;
            break;
        case 'T':
            if (!cli_int(cmd, "--threads", optarg, 1, 1024, &l))
                return CLI_USAGE;
            o->threads = (int)l;
            break;
        case 'b':
            if (!cli_int(cmd, "--batch", optarg, 1, 1024, &l))
                return CLI_USAGE;
            o->batch = (int)l;
            break;
        default: (train ? train_usage : usage)(stderr); return CLI_USAGE;
        }
    }
    if (!task_set && o->positive && o->task == IRB_TASK_EMPTY && strcmp(o->positive, "empty") != 0)
        o->task = IRB_TASK_POSITIVE; /* --positive CLASS alone means CLASS vs rest */
    if (train && o->save_path) {
        /* the cross-validation's outputs beside the pipeline: empty.irbis -> empty.train/ */
        size_t n = strlen(o->save_path);
        const char *dot = n > 6 && !strcmp(o->save_path + n - 6, ".irbis") ? o->save_path + n - 6 : o->save_path + n;
        if (report)
            snprintf(x->out_dir, sizeof x->out_dir, "%s", report);
        else
            snprintf(x->out_dir, sizeof x->out_dir, "%.*s.train", (int)(dot - o->save_path), o->save_path);
        o->out_dir = x->out_dir;
    }
    if (!o->labels || !o->model || !o->out_dir || optind != argc || (train && !o->images)) {
        (train ? train_usage : usage)(stderr);
        return CLI_USAGE;
    }
    if (x->calib[0] && !split_calib(cmd, x))
        return CLI_USAGE;
    irb_error err = {0};
    if (irb_experiment_check(o, &err) != IRB_OK) /* --rows, --save / --recipe: bad values exit 2 */
        return cli_fail_options(cmd, &err);
    o->progress = progress;
    o->progress_ctx = &x->ps;
    return CLI_OK;
}

void experiment_print_precision(const irb_experiment_opts *o)
{
    if (o->precision == IRB_PRECISION_INT8)
        printf("precision: int8, a calibration table per input size stored in the pipeline (%s); classify runs "
               "int8\n",
               o->calib[0] ? "given with --calib" : "from 64 of the images");
    else if (o->precision != IRB_PRECISION_FP32)
        printf("precision: %s; classify runs it\n", irb_precision_name(o->precision));
}
