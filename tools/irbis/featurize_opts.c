/* Options, input listing, engine and feature set shared by irbis featurize and
 * irbis-mpi featurize (featurize_opts.h). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "featurize_opts.h"
#include "irbis/scan.h"

int paths_add(paths *p, const char *s)
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

/* Image files under dir in the survey scanner's order (irbis/scan.h: depth first, each folder's
 * entries sorted, hidden entries, classify output folders and links to folders skipped, so a
 * link cycle cannot recurse). A folder that cannot be read is reported and skipped. */
static int add_dir(paths *p, const char *cmd, const char *dir)
{
    irb_scan_opts so = {.names_only = 1};
    irb_scan_t *scan = NULL;
    irb_error err = {0};
    if (irb_scan_open(dir, &so, &scan, &err) != IRB_OK) {
        cli_error(cmd, "%s", err.message);
        return 0;
    }
    irb_scan_row row;
    int ok = 1;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    while (ok && irb_scan_next(scan, &row) == IRB_OK) {
        if (row.status == IRB_ROW_ERROR) {
            cli_error(cmd, "%s (skipped)", row.message);
            continue;
        }
        const char *base = strrchr(row.path, '/');
        if (!is_image_name(base ? base + 1 : row.path))
            continue;
        size_t n = dl + strlen(row.path) + 2;
        char *full = malloc(n);
        ok = full && snprintf(full, n, "%.*s/%s", (int)dl, dir, row.path) > 0 && paths_add(p, full);
        free(full);
    }
    if (ok && irb_scan_error(scan)->status != IRB_OK) {
        cli_error(cmd, "%s", irb_scan_error(scan)->message);
        ok = 0;
    }
    irb_scan_close(scan);
    return ok;
}

static int add_list(paths *p, const char *cmd, const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        cli_error(cmd, "%s: cannot open list", file);
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

void paths_free(paths *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    memset(p, 0, sizeof *p);
}

int collect_inputs(paths *p, const char *cmd, const char *list, int n, char **operands)
{
    int ok = 1;
    if (list)
        ok = add_list(p, cmd, list);
    for (int i = 0; ok && i < n; i++) {
        struct stat st;
        ok = stat(operands[i], &st) == 0 && S_ISDIR(st.st_mode) ? add_dir(p, cmd, operands[i])
                                                                : paths_add(p, operands[i]);
    }
    if (!ok)
        cli_error(cmd, "could not list the inputs");
    else if (p->n == 0) {
        cli_error(cmd, "no images given");
        return -1;
    }
    return ok;
}

int parse_resize(const char *cmd, const char *text, irb_resize_mode old_crop, irb_resize_mode *out)
{
    static const char *const names[] = {"center", "short", "squash"}; /* irb_resize_mode order */
    for (int m = 0; m < 3; m++)
        if (!strcmp(text, names[m])) {
            *out = (irb_resize_mode)m;
            return 1;
        }
    if (!strcmp(text, "center-fraction")) { /* featurize's old name, unambiguous */
        *out = IRB_RESIZE_CROP_FRACTION;
        return 1;
    }
    if (!strcmp(text, "crop")) { /* an old name that meant short in featurize, center in experiment */
        *out = old_crop;
        fprintf(stderr, "irbis %s: note: --resize crop is an old name; here it means --resize %s\n", cmd,
                names[old_crop]);
        return 1;
    }
    cli_error(cmd, "--resize expects center, short or squash, got '%s'", text);
    return 0;
}

const fopts featurize_defaults = {
    .batch = 16, .crop_fraction = 0.875, .resize = IRB_RESIZE_CROP_FRACTION, .engine = "auto"};

int featurize_take(const char *CMD, int c, fopts *o)
{
    switch (c) {
    case 'm': o->model = optarg; break;
    case 'l': o->layer = optarg; break;
    case 'o': o->out = optarg; break;
    case 'L': o->list = optarg; break;
    case 'C': o->calib = optarg; break;
    case 'e': o->engine = optarg; break;
    case 'f': o->flip = 1; break;
    case 'c': return cli_int(CMD, "--cut", optarg, 0, 100000, &o->cut);
    case 't': return cli_int(CMD, "--threads", optarg, 1, 1024, &o->threads);
    case 'b': return cli_int(CMD, "--batch", optarg, 1, 4096, &o->batch);
    case 's': return cli_int(CMD, "--size", optarg, 8, 4096, &o->size);
    case 'S': return cli_int(CMD, "--short-side", optarg, 8, 8192, &o->short_side);
    case 'D': return cli_int(CMD, "--decode-size", optarg, 8, 4096, &o->decode_size);
    case 'F':
        if (!cli_double(CMD, "--crop-fraction", optarg, &o->crop_fraction) || o->crop_fraction <= 0 ||
            o->crop_fraction > 1)
            return cli_error(CMD, "--crop-fraction expects a number in (0, 1]"), 0;
        break;
    case 'p':
        o->pool_set = 1;
        if (!strcmp(optarg, "avg"))
            o->pool = 1;
        else if (!strcmp(optarg, "none"))
            o->pool = 0;
        else
            return cli_error(CMD, "--pool expects avg or none, got '%s'", optarg), 0;
        break;
    case 'P':
        o->bf16 = !strcmp(optarg, "bf16");
        o->int8 = !strcmp(optarg, "int8");
        if (!o->bf16 && !o->int8 && strcmp(optarg, "fp32"))
            return cli_error(CMD, "--precision expects fp32, bf16 or int8"), 0;
        break;
    case 'r': return parse_resize(CMD, optarg, IRB_RESIZE_SHORT_CROP, &o->resize);
    default: return -1;
    }
    return 1;
}

int featurize_need_model_out(const char *CMD, const fopts *o)
{
    if (!o->model || !o->out)
        return cli_error(CMD, "--model and -o are required"), 0;
    return 1;
}

int featurize_parse(int argc, char **argv, const char *CMD, void (*usage)(FILE *), fopts *o)
{
    static const struct option longs[] = {
        {"model", 1, 0, 'm'},   {"layer", 1, 0, 'l'},         {"cut", 1, 0, 'c'},
        {"pool", 1, 0, 'p'},    {"flip", 0, 0, 'f'},          {"precision", 1, 0, 'P'},
        {"threads", 1, 0, 't'}, {"batch", 1, 0, 'b'},         {"size", 1, 0, 's'},
        {"resize", 1, 0, 'r'},  {"crop-fraction", 1, 0, 'F'}, {"short-side", 1, 0, 'S'},
        {"list", 1, 0, 'L'},    {"engine", 1, 0, 'e'},        {"help", 0, 0, 'h'},
        {"calib", 1, 0, 'C'},   {"decode-size", 1, 0, 'D'},   {0, 0, 0, 0}};
    *o = featurize_defaults;
    int c, took;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        if (c == 'h')
            return usage(stdout), 0;
        if ((took = featurize_take(CMD, c, o)) < 0)
            usage(stderr);
        if (took <= 0)
            return -1;
    }
    if (!featurize_need_model_out(CMD, o))
        return -1;
    if (o->int8 != (o->calib != NULL)) {
        cli_error(CMD, "--precision int8 needs --calib TABLE (irbis calibrate), and --calib needs int8");
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

irb_preproc featurize_preproc(const fopts *o, const irb_model_t *m, int input_size)
{
    const irb_preprocess *mp = irb_model_preprocess(m);
    irb_preproc pp = irb_preproc_default(o->size ? (int)o->size : input_size);
    pp.mode = o->resize;
    pp.crop_fraction = o->crop_fraction;
    if (o->short_side > 0)
        pp.short_side = (int)o->short_side;
    pp.decode_size = (int)o->decode_size;
    for (int k = 0; k < 3; k++)
        pp.mean[k] = mp->mean[k], pp.scale[k] = mp->std[k];
    return pp;
}

irb_status featurize_net(const fopts *o, const irb_model_t *m, int threads, irb_net_t **net, irb_error *err)
{
    irb_engine eng = !strcmp(o->engine, "onednn")      ? IRB_ENGINE_ONEDNN
                     : !strcmp(o->engine, "reference") ? IRB_ENGINE_REFERENCE
                                                       : IRB_ENGINE_AUTO;
    irb_calib_t *cal = NULL;
    if (o->int8) {
        irb_status s = irb_calib_load(o->calib, &cal, err);
        if (s != IRB_OK)
            return s;
    }
    irb_net_opts no = {.layer = o->layer,
                       .cut = (int)o->cut,
                       .pool = o->pool ? IRB_POOL_AVG : IRB_POOL_NONE,
                       .engine = eng,
                       .precision = o->bf16   ? IRB_PRECISION_BF16
                                    : o->int8 ? IRB_PRECISION_INT8
                                              : IRB_PRECISION_FP32,
                       .threads = threads,
                       .max_batch = (int)o->batch * (o->flip ? 2 : 1),
                       .input_size = (int)o->size,
                       .calib = cal};
    irb_status s = irb_net_new(m, &no, net, err);
    irb_calib_free(cal);
    return s;
}

irb_status featurize_write_meta(irb_featwriter_t *w, const fopts *o, const char *model_sha, const irb_net_t *net,
                                const irb_preproc *pp)
{
    char buf[2048];
    CLI_TRY(irb_featwriter_set_meta_str(w, "model", o->model));
    CLI_TRY(irb_featwriter_set_meta_str(w, "model_sha256", model_sha));
    CLI_TRY(irb_featwriter_set_meta_str(w, "layer", irb_net_output_name(net)));
    snprintf(buf, sizeof buf, "%ld", o->cut);
    CLI_TRY(irb_featwriter_set_meta(w, "cut", buf));
    CLI_TRY(irb_featwriter_set_meta_str(w, "pool", o->pool ? "avg" : "none"));
    CLI_TRY(irb_featwriter_set_meta_str(w, "precision", o->bf16 ? "bf16" : o->int8 ? "int8" : "fp32"));
    CLI_TRY(irb_featwriter_set_meta_str(w, "engine", irb_net_engine(net)));
    irb_preproc_to_json(pp, buf, sizeof buf);
    return irb_featwriter_set_meta(w, "preprocessing", buf);
}

char *featurize_key(const fopts *o, const char *model_sha, const irb_net_t *net, const irb_preproc *pp)
{
    char buf[8192], ppj[2048];
    irb_preproc_to_json(pp, ppj, sizeof ppj);
    snprintf(buf, sizeof buf, "featurize|model=%s|layer=%s|cut=%ld|pool=%d|bf16=%d|engine=%s|pp=%s|crop=%.17g|flip=%d",
             model_sha, irb_net_output_name(net), o->cut, o->pool, o->bf16, irb_net_engine(net), ppj, pp->crop_fraction,
             o->flip);
    if (o->int8) /* appended, so fp32/bf16 keys stay as they were */
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "|int8=%s", o->calib);
    return strdup(buf);
}

int featurize_engine_new(featurize_engine *e, const fopts *o, int threads, const char *cmd)
{
    irb_error err = {0};
    memset(e, 0, sizeof *e);
    if (irb_model_load(o->model, NULL, &e->model, &err) != IRB_OK ||
        featurize_net(o, e->model, threads, &e->net, &err) != IRB_OK)
        return cli_fail(cmd, &err);
    int c, h, w;
    irb_net_input_shape(e->net, &c, &h, &w);
    e->pp = featurize_preproc(o, e->model, h);
    e->dim = irb_net_output_size(e->net);
    e->k = o->flip ? 2 : 1;
    irb_feat_input in = {.net = e->net, .pp = e->pp, .flip = o->flip, .all = 1};
    irb_featurizer_opts fo = {.threads = threads, .batch = (int)o->batch};
    if (irb_featurizer_new(&in, 1, &fo, &e->fz, &err) != IRB_OK)
        return cli_fail(cmd, &err);
    if (!(e->rows = malloc((size_t)e->k * e->dim * sizeof *e->rows)))
        return cli_error(cmd, "out of memory"), CLI_FATAL;
    return CLI_OK;
}

int featurize_engine_key(featurize_engine *e, const fopts *o, char **key, const char *cmd)
{
    snprintf(e->sha, sizeof e->sha, "%s", irb_model_info_get(e->model)->sha256);
    if (!(*key = featurize_key(o, e->sha, e->net, &e->pp)))
        return cli_error(cmd, "out of memory"), CLI_FATAL;
    return CLI_OK;
}

void featurize_engine_free(featurize_engine *e)
{
    irb_featurizer_free(e->fz);
    free(e->rows);
    irb_net_free(e->net);
    irb_model_free(e->model);
    memset(e, 0, sizeof *e);
}

int featurize_open_set(irb_featwriter_t **w, const fopts *o, const featurize_engine *e, const char *cmd)
{
    irb_error err = {0};
    if (irb_featwriter_open(o->out, (int)e->dim, NULL, w, &err) != IRB_OK)
        return cli_fail(cmd, &err);
    if (featurize_write_meta(*w, o, e->sha, e->net, &e->pp) != IRB_OK)
        return cli_error(cmd, "%s", irb_featwriter_error(*w)->message), CLI_FATAL;
    return CLI_OK;
}

int featurize_replay_row(irb_featwriter_t *w, const part_reader *rd, const featurize_engine *e, int *failed,
                         const char *cmd)
{
    if (rd->kind == PART_FAIL) {
        cli_file_message(cmd, rd->path, rd->message, 0);
        ++*failed;
        return CLI_OK;
    }
    if (rd->kind == PART_WARN)
        cli_file_message(cmd, rd->path, rd->message, 1);
    irb_error err = {0};
    for (int f = 0; f < e->k; f++)
        if (irb_featwriter_add(w, rd->path, f, NULL, rd->row + (size_t)f * e->dim, &err) != IRB_OK)
            return cli_fail(cmd, &err);
    return CLI_OK;
}

void featurize_summary(const char *cmd, size_t images, int failed, const featurize_engine *e, const char *out)
{
    fprintf(stderr, "irbis %s: %zu images, %d failed, %zu rows of %zu floats -> %s.npy\n", cmd, images, failed,
            (images - (size_t)failed) * (size_t)e->k, e->dim, out);
}
