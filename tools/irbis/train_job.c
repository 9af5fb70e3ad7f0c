/* The options and label join of `irbis train`, shared with `irbis-mpi train` (train_job.h). */
#include "train_job.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char train_options[] =
    "  --labels FILE         CSV with a path column and a label column, a Timelapse export, or a\n"
    "                        Camtrap DP package's folder (irbis labels FILE shows the labels read)\n" CLI_LABELS_HELP
    "  --root DIR            labels' paths are relative to DIR (joined as DIR/path before matching)\n"
    "  --C X                 regularisation (objective C*sum(logloss) + 0.5*||W||^2); default: choose by CV\n"
    "  --cv K                folds for choosing C (default 5); groups never split across folds\n"
    "  --group UNIT          CV groups: sequence (camera + time gap), camera, or block (contiguous\n"
    "                        runs of path order); default: sequence when any image has a time or a\n"
    "                        sequence id (labels columns camera/timestamp/sequence, else the image's\n"
    "                        folder and EXIF time), else block. An image and its flip share a group.\n"
    "  --gap S               sequence gap in seconds (default 60; a gap of exactly S stays)\n"
    "  --camera-depth K      the camera is the first K folders of the path (default: the folder)\n"
    "  --group-column COL    CV groups: the values of a labels or feature column instead\n"
    "  --class-weight balanced   weight classes by n / (classes * count)\n"
    "  --classes a,b,...     only these classes, in this order (other rows dropped)\n"
    "  --positive CLASS      binary: CLASS vs other\n"
    "  --negative CLASS      binary: CLASS vs the rest ('empty' -> empty vs animal)\n"
    "                        (--positive/--negative match labels in any case: Empty is empty)\n"
    "  --max-iter N          L-BFGS iteration cap (default 5000)\n"
    "  -o FILE               the classifier file to write\n"
    "Labels match feature rows as in evaluate and experiment (docs/evaluation.md): the same path, else\n"
    "one path is a tail of the other after a '/' (the longest wins; './' and '//' ignored, '\\' is '/';\n"
    "two labels matching one image equally well are an error). Flipped rows take their image's label.\n";

/* ---- a string -> int table (the library's irb_strmap, made on first use) ------------------- */

/* Adds k -> v unless present; returns the stored value or -2 on no memory. */
static int map_put(irb_strmap **m, const char *k, int v)
{
    int64_t stored;
    if ((!*m && irb_strmap_new(0, m, NULL) != IRB_OK) || irb_strmap_add(*m, k, strlen(k), v, &stored, NULL) != IRB_OK)
        return -2;
    return (int)stored;
}

static int map_get(const irb_strmap *m, const char *k)
{
    int64_t v;
    return m && irb_strmap_get(m, k, strlen(k), &v) ? (int)v : -1;
}

static size_t map_n(const irb_strmap *m) { return m ? irb_strmap_count(m) : 0; }

/* ---- options -------------------------------------------------------------------------------- */

int train_parse(int argc, char **argv, const char *cmd, void (*usage)(FILE *), train_opts *o)
{
    static const struct option lo[] = {
        {"labels", 1, 0, 'l'},       CLI_LABELS_LONGOPTS,         {"root", 1, 0, 'r'},    {"C", 1, 0, 'C'},
        {"cv", 1, 0, 'k'},           {"group-column", 1, 0, 'g'}, {"group", 1, 0, 'G'},   {"gap", 1, 0, 'a'},
        {"camera-depth", 1, 0, 'd'}, {"class-weight", 1, 0, 'w'}, {"classes", 1, 0, 'c'}, {"positive", 1, 0, 'p'},
        {"negative", 1, 0, 'n'},     {"max-iter", 1, 0, 'm'},     {"help", 0, 0, 'h'},    {0, 0, 0, 0}};
    *o = (train_opts){.group = -1, .gap = -1};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        int lab = cli_labels_opt(cmd, c, optarg, &o->lo);
        if (lab < 0)
            return CLI_USAGE;
        if (lab)
            continue;
        switch (c) {
        case 'l': o->labels = optarg; break;
        case 'r': o->root = optarg; break;
        case 'C':
            if (!cli_double(cmd, "--C", optarg, &o->C))
                return CLI_USAGE;
            if (!(o->C > 0))
                return cli_error(cmd, "--C must be > 0"), CLI_USAGE;
            break;
        case 'k':
            if (!cli_int(cmd, "--cv", optarg, 2, 100, &o->cv))
                return CLI_USAGE;
            break;
        case 'm':
            if (!cli_int(cmd, "--max-iter", optarg, 1, 1000000, &o->max_iter))
                return CLI_USAGE;
            break;
        case 'g': o->group_col = optarg; break;
        case 'G':
            if ((o->group = irb_fold_unit_parse(optarg)) < 0)
                return cli_error(cmd, "--group takes sequence, camera or block, got '%s'", optarg), CLI_USAGE;
            break;
        case 'a':
            if (!cli_double_in(cmd, "--gap", optarg, 0, INFINITY, &o->gap))
                return CLI_USAGE;
            break;
        case 'd':
            if (!cli_int(cmd, "--camera-depth", optarg, 0, 100, &o->camera_depth))
                return CLI_USAGE;
            break;
        case 'w':
            if (strcmp(optarg, "balanced"))
                return cli_error(cmd, "--class-weight takes 'balanced'"), CLI_USAGE;
            o->balanced = 1;
            break;
        case 'c': o->classes = optarg; break;
        case 'p': o->positive = optarg; break;
        case 'n': o->negative = optarg; break;
        case 'o': o->out = optarg; break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (optind + 1 != argc || !o->labels || !o->out) {
        cli_error(cmd, "need FEATURES_BASE, --labels and -o");
        usage(stderr);
        return CLI_USAGE;
    }
    if (o->group_col && o->group >= 0) {
        cli_error(cmd, "--group and --group-column exclude each other");
        return CLI_USAGE;
    }
    if ((o->C > 0 && o->cv) || (o->positive && o->negative) || ((o->positive || o->negative) && o->classes)) {
        cli_error(cmd, "--C excludes --cv; --positive, --negative and --classes exclude each other");
        return CLI_USAGE;
    }
    o->features = argv[optind];
    return CLI_OK;
}

/* ---- joining labels to feature rows ------------------------------------------------------- */

void train_job_free(train_job *j)
{
    irb_features_free(j->fs);
    irb_table_free(j->t);
    irb_labels_release(&j->lab);
    free(j->match);
    irb_strmap_free(j->class_ix);
    for (int k = 0; k < j->nclass; k++)
        free(j->class_name[k]);
    free(j->class_name);
    free(j->row), free(j->x), free(j->y), free(j->group);
}

static int add_class(train_job *j, const char *name)
{
    char **c = realloc(j->class_name, (size_t)(j->nclass + 1) * sizeof *c);
    if (!c || !(c[j->nclass] = strdup(name)))
        return c ? (j->class_name = c, -2) : -2;
    j->class_name = c;
    return map_put(&j->class_ix, name, j->nclass++);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The class of a raw label under --positive/--negative, or the label itself. The class named
 * there matches labels whatever their case ('Empty' is empty, not an animal). */
static const char *mapped(const train_opts *o, const char *label, char *buf, size_t cap)
{
    if (o->positive)
        return strcasecmp(label, o->positive) ? "other" : o->positive;
    if (o->negative) {
        if (!strcasecmp(label, o->negative))
            return o->negative;
        if (!strcmp(o->negative, "empty"))
            return "animal";
        snprintf(buf, cap, "not_%s", o->negative);
        return buf;
    }
    return label;
}

/* Classes in order: --classes as given, binary [negative, positive], else sorted distinct labels. */
static int set_classes(train_job *j, const train_opts *o)
{
    char buf[512];
    if (o->classes) {
        char *list = strdup(o->classes), *save = NULL;
        for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save))
            if (add_class(j, c) < 0)
                return free(list), -1;
        free(list);
        return 0;
    }
    if (o->positive)
        return add_class(j, "other") < 0 || add_class(j, o->positive) < 0 ? -1 : 0;
    if (o->negative)
        return add_class(j, o->negative) < 0 || add_class(j, mapped(o, "", buf, sizeof buf)) < 0 ? -1 : 0;
    irb_strmap *seen = NULL;
    char **names = calloc(j->lab.n ? j->lab.n : 1, sizeof *names);
    size_t n = 0;
    int rc = names ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < j->lab.n; i++) {
        int k = map_put(&seen, j->lab.label[i], (int)n);
        if (k < 0)
            rc = -1;
        else if (k == (int)n)
            names[n++] = j->lab.label[i];
    }
    if (rc == 0)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = add_class(j, names[i]) < 0 ? -1 : 0;
    free(names);
    irb_strmap_free(seen);
    return rc;
}

/* Labels joined to feature rows by the library's one rule (irb_labels_match). */
static int match_labels(train_job *j, const train_opts *o, irb_error *err)
{
    if (irb_labels_from_table(j->t, "path", "label", o->root, o->labels, &j->lab, err) != IRB_OK)
        return -1;
    if (!(j->match = malloc((j->fs->n ? j->fs->n : 1) * sizeof *j->match)))
        return irb_error_clear(err), -2;
    return irb_labels_match(&j->lab, (const char *const *)j->fs->path, j->fs->n, j->match, err) == IRB_OK ? 0 : -1;
}

/* ---- cross-validation groups ------------------------------------------------------------- */

/* A labels column's value for label row r, else the feature set's column for feature row i,
 * else "". */
static const char *column_of(const train_job *j, const char *name, long r, size_t i)
{
    int c = irb_table_column(j->t, name);
    if (c >= 0 && j->t->cell[j->lab.row[r]][c][0])
        return j->t->cell[j->lab.row[r]][c];
    char *const *fc = irb_features_column(j->fs, name);
    return fc ? fc[i] : "";
}

/* The experiment's units over the selected images (one item per distinct path: an image and
 * its flip are one): camera (labels or feature column, else the image's folder), time (column,
 * else its EXIF time), explicit sequence ids; sequences by the library's burst rule, or
 * contiguous blocks of path order when no image has a time or a sequence id. *unit_out gets
 * each image's unit; returns the number of units, or -1 (out of memory). */
static long image_units(train_job *j, const train_opts *o, const size_t *first_row, size_t n_img, int *unit_out,
                        const char **what)
{
    irb_seq_item *it = calloc(n_img ? n_img : 1, sizeof *it);
    char(*cam)[512] = malloc((n_img ? n_img : 1) * sizeof *cam);
    char(*stamp)[64] = malloc((n_img ? n_img : 1) * sizeof *stamp);
    irb_decoder_t *dec = NULL;
    long n_units = -1;
    int timed = 0;
    if (!it || !cam || !stamp)
        goto done;
    for (size_t m = 0; m < n_img; m++) {
        size_t s = first_row[m], i = j->row[s];
        long r = j->match[i];
        const char *c = column_of(j, "camera", r, i), *t = column_of(j, "timestamp", r, i);
        if (c[0])
            snprintf(cam[m], sizeof cam[m], "%s", c);
        else
            irb_scan_camera(j->fs->path[i], o->camera_depth, cam[m], sizeof cam[m]);
        irb_image_info info;
        snprintf(stamp[m], sizeof stamp[m], "%s", t);
        if (!t[0] && (dec || irb_decoder_new(&dec) == IRB_OK) &&
            irb_read_header(dec, j->fs->path[i], NULL, &info) == IRB_OK)
            snprintf(stamp[m], sizeof stamp[m], "%s", info.datetime);
        it[m] = (irb_seq_item){.path = j->fs->path[i], .camera = cam[m], .sequence = column_of(j, "sequence", r, i)};
        it[m].has_time = stamp[m][0] && irb_time_parse(stamp[m], &it[m].time, NULL) == IRB_OK;
        timed |= it[m].has_time || it[m].sequence[0];
    }
    int unit = o->group >= 0 ? o->group : timed ? IRB_FOLD_SEQUENCE : IRB_FOLD_BLOCK;
    if (unit == IRB_FOLD_CAMERA) {
        irb_strmap *ids = NULL;
        for (size_t m = 0; m < n_img && (unit_out[m] = map_put(&ids, cam[m], (int)map_n(ids))) >= 0; m++)
            ;
        n_units = n_img && unit_out[n_img - 1] < 0 ? -1 : (long)map_n(ids);
        irb_strmap_free(ids);
        *what = "cameras";
        if (n_units >= 0 && n_units < 2) {
            j->group_note = "one camera only: grouped by sequences instead";
            unit = timed ? IRB_FOLD_SEQUENCE : IRB_FOLD_BLOCK;
        } else if (n_units >= 0 && n_units < j->cv) {
            j->group_note = "fewer cameras than --cv folds: one fold per camera";
            j->cv = (int)n_units;
        }
    }
    if (unit == IRB_FOLD_SEQUENCE) {
        irb_sequences seq = {0};
        irb_seq_opts so = irb_seq_opts_default();
        if (o->gap >= 0)
            so.gap = o->gap;
        if (irb_sequences_assign(it, n_img, &so, &seq, NULL) == IRB_OK) {
            for (size_t m = 0; m < n_img; m++)
                unit_out[m] = (int)seq.image_seq[m];
            n_units = (long)seq.n_sequences;
        }
        irb_sequences_release(&seq);
        *what = "sequences (camera and time)";
    } else if (unit == IRB_FOLD_BLOCK) { /* blocks of path order, one per fold: the experiment's block folds */
        irb_fold_item *fi = calloc(n_img ? n_img : 1, sizeof *fi);
        irb_fold_opts fo = irb_fold_opts_default();
        fo.k = j->cv;
        fo.unit = IRB_FOLD_BLOCK;
        for (size_t m = 0; fi && m < n_img; m++)
            fi[m] = (irb_fold_item){.path = it[m].path, .label = -1};
        if (fi && irb_folds_assign(fi, n_img, &fo, unit_out, NULL) == IRB_OK)
            n_units = fo.k;
        else if (fi && n_img < (size_t)fo.k) { /* too few images (or none): said by the caller or the CV */
            for (size_t m = 0; m < n_img; m++)
                unit_out[m] = (int)m;
            n_units = (long)n_img;
        }
        free(fi);
        *what = "blocks of path order (no times or sequence ids)";
    }
done:
    irb_decoder_free(dec);
    free(it), free(cam), free(stamp);
    return n_units;
}

/* CV groups of the selected rows: the --group-column value (labels, then features), else the
 * units of image_units. Returns 0, -1 (out of memory). */
static int set_groups(train_job *j, const train_opts *o)
{
    irb_strmap *ids = NULL;
    if (o->group_col || o->C > 0) {
        int gc = o->group_col ? irb_table_column(j->t, o->group_col) : -1;
        char *const *fc = o->group_col ? irb_features_column(j->fs, o->group_col) : NULL;
        for (size_t s = 0; s < j->n; s++) {
            const char *g = !o->group_col ? ""
                            : gc >= 0     ? j->t->cell[j->lab.row[j->match[j->row[s]]]][gc]
                                          : fc[j->row[s]];
            if ((j->group[s] = map_put(&ids, g, (int)map_n(ids))) < 0)
                return irb_strmap_free(ids), -1;
        }
        j->n_groups = map_n(ids);
        j->group_what = o->group_col ? "values of --group-column" : "none (--C given)";
        irb_strmap_free(ids);
        return 0;
    }
    size_t *first_row = malloc((j->n ? j->n : 1) * sizeof *first_row), n_img = 0;
    int *img = malloc((j->n ? j->n : 1) * sizeof *img), *unit = malloc((j->n ? j->n : 1) * sizeof *unit);
    int rc = first_row && img && unit ? 0 : -1;
    for (size_t s = 0; rc == 0 && s < j->n; s++) {
        int m = map_put(&ids, j->fs->path[j->row[s]], (int)n_img);
        if (m < 0)
            rc = -1;
        else if ((size_t)m == n_img)
            first_row[n_img++] = s;
        img[s] = m;
    }
    long nu = rc == 0 ? image_units(j, o, first_row, n_img, unit, &j->group_what) : -1;
    for (size_t s = 0; nu >= 0 && s < j->n; s++)
        j->group[s] = unit[img[s]];
    j->n_groups = nu >= 0 ? (size_t)nu : 0;
    irb_strmap_free(ids);
    free(first_row), free(img), free(unit);
    return nu >= 0 ? 0 : -1;
}

static int select_rows(train_job *j, const train_opts *o)
{
    size_t N = j->fs->n;
    j->row = malloc((N ? N : 1) * sizeof *j->row);
    j->y = malloc((N ? N : 1) * sizeof *j->y);
    j->group = malloc((N ? N : 1) * sizeof *j->group);
    if (!j->row || !j->y || !j->group)
        return -1;
    char buf[512];
    for (size_t i = 0; i < N; i++) {
        long r = j->match[i];
        if (r < 0) {
            j->skipped_unlabelled++;
            continue;
        }
        int k = map_get(j->class_ix, mapped(o, j->lab.label[r], buf, sizeof buf));
        if (k < 0) {
            j->skipped_class++;
            continue;
        }
        j->row[j->n] = i;
        j->y[j->n++] = k;
    }
    return set_groups(j, o);
}

int train_prepare(train_job *j, const train_opts *o, const char *cmd)
{
    irb_error err = {0};
    if (irb_features_load_index(o->features, &j->fs, &err) != IRB_OK ||
        irb_labels_table_load(o->labels, &o->lo, &j->t, &err) != IRB_OK)
        return cli_fail(cmd, &err);
    if (o->group_col && irb_table_column(j->t, o->group_col) < 0 && !irb_features_column(j->fs, o->group_col)) {
        cli_error(cmd, "--group-column %s: neither %s nor %s.csv has it", o->group_col, o->labels, o->features);
        return CLI_FATAL;
    }
    int ix = match_labels(j, o, &err);
    if (ix == -1)
        return cli_fail(cmd, &err);
    if (err.warning)
        cli_error(cmd, "warning: %s", err.message);
    if (j->lab.n_empty)
        cli_error(cmd, "warning: %s: %zu row(s) with an empty label skipped (the first: row %zu)", o->labels,
                  j->lab.n_empty, j->lab.first_empty + 1);
    j->cv = o->cv > 0 ? (int)o->cv : 5;
    if (ix || set_classes(j, o) || select_rows(j, o)) {
        cli_error(cmd, "out of memory");
        return CLI_FATAL;
    }
    long ex;
    if ((j->labels_unmatched = irb_labels_unmatched(&j->lab, j->match, j->fs->n, &ex)) > 0)
        j->unmatched_example = j->lab.path[ex];
    if (j->n == 0) {
        cli_error(cmd, "no feature row of %s matched a label in %s (check --root)", o->features, o->labels);
        return CLI_FATAL;
    }
    int present = 0, one = -1;
    for (int k = 0; k < j->nclass; k++) {
        int any = 0;
        for (size_t i = 0; i < j->n && !any; i++)
            any = j->y[i] == k;
        present += any;
        one = any && one < 0 ? k : one;
    }
    size_t a, b;
    if (!o->classes && !o->positive && !o->negative &&
        irb_labels_lookalike((const char *const *)j->class_name, (size_t)j->nclass, &a, &b))
        cli_error(cmd,
                  "warning: %s: the labels '%s' and '%s' differ only in case, spaces, '_' or '-': they are two "
                  "classes here (write them alike if they are one)",
                  o->labels, j->class_name[a], j->class_name[b]);
    if (present < 2) {
        cli_error(cmd, "the %zu labelled rows are all of one class (%s): training needs two classes or more", j->n,
                  one >= 0 ? j->class_name[one] : "?");
        return CLI_FATAL;
    }
    return CLI_OK;
}

int train_load_rows(train_job *j, const train_opts *o, size_t first, size_t n, const char *cmd)
{
    irb_error err = {0};
    size_t D = (size_t)j->fs->dim;
    free(j->x);
    j->x_first = first;
    j->x_n = 0;
    if (first > j->n || n > j->n - first) {
        cli_error(cmd, "rows %zu..%zu of %zu", first, first + n, j->n);
        return CLI_FATAL;
    }
    if (!(j->x = malloc((n ? n : 1) * D * sizeof *j->x))) {
        cli_error(cmd, "out of memory for %zu rows of %zu features", n, D);
        return CLI_FATAL;
    }
    if (irb_features_read_rows(o->features, j->fs, j->row + first, n, j->x, &err) != IRB_OK)
        return cli_fail(cmd, &err);
    j->x_n = n;
    return CLI_OK;
}

/* ---- copies of one picture ------------------------------------------------------------------- */

/* A row's digest and its index: sorted, equal digests sit side by side. */
typedef struct row_key {
    const char *digest;
    size_t row;
} row_key;

static int cmp_keys(const void *a, const void *b)
{
    const row_key *x = a, *y = b;
    int c = memcmp(x->digest, y->digest, TRAIN_DIGEST);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

static int root_of(int *parent, int g)
{
    while (parent[g] != g)
        g = parent[g] = parent[parent[g]];
    return g;
}

void train_row_digests(const train_job *j, char *out)
{
    size_t bytes = (size_t)j->fs->dim * sizeof *j->x;
    for (size_t i = 0; i < j->x_n; i++)
        irb_sha256_buffer(j->x + i * (size_t)j->fs->dim, bytes, out + i * TRAIN_DIGEST);
}

int train_merge_copies(train_job *j, const char *digests, const char *cmd)
{
    if (j->n < 2 || !j->n_groups || (!digests && (j->x_first != 0 || j->x_n != j->n)))
        return CLI_OK;
    char *own = digests ? NULL : malloc(j->n * TRAIN_DIGEST);
    row_key *ord = malloc(j->n * sizeof *ord);
    int *parent = malloc(j->n_groups * sizeof *parent), *seen = calloc(j->n_groups, sizeof *seen);
    if ((!digests && !own) || !ord || !parent || !seen) {
        free(own), free(ord), free(parent), free(seen);
        cli_error(cmd, "out of memory");
        return CLI_FATAL;
    }
    if (own)
        train_row_digests(j, own), digests = own;
    for (size_t s = 0; s < j->n; s++)
        ord[s] = (row_key){digests + s * TRAIN_DIGEST, s};
    for (size_t g = 0; g < j->n_groups; g++)
        parent[g] = (int)g;
    qsort(ord, j->n, sizeof *ord, cmp_keys);
    size_t merged = 0, ex_a = 0, ex_b = 0;
    for (size_t t = 1; t < j->n; t++) {
        size_t a = ord[t - 1].row, b = ord[t].row;
        if (memcmp(ord[t - 1].digest, ord[t].digest, TRAIN_DIGEST))
            continue;
        int ga = root_of(parent, j->group[a]), gb = root_of(parent, j->group[b]);
        if (ga == gb)
            continue;
        parent[gb > ga ? gb : ga] = gb > ga ? ga : gb;
        if (!merged++)
            ex_a = a, ex_b = b;
    }
    size_t n_groups = 0;
    for (size_t s = 0; s < j->n; s++) {
        j->group[s] = root_of(parent, j->group[s]);
        n_groups += !seen[j->group[s]]++;
    }
    if (merged) {
        j->n_groups = n_groups;
        cli_error(cmd,
                  "warning: %zu feature row(s) are the same values as a row of another CV group (one picture under "
                  "two paths, e.g. '%s' and '%s'): their groups were merged, so no picture is on both sides of a fold",
                  merged, j->fs->path[j->row[ex_a]], j->fs->path[j->row[ex_b]]);
    }
    free(own), free(ord), free(parent), free(seen);
    return CLI_OK;
}

/* ---- training and the summary --------------------------------------------------------------- */

void train_summary(const train_job *j, const irb_train_report *r, const char *out)
{
    size_t *count = calloc((size_t)j->nclass, sizeof *count);
    for (size_t i = 0; count && i < j->n; i++)
        count[j->y[i]]++;
    printf("rows: %zu used, %zu without a label, %zu of other classes\n", j->n, j->skipped_unlabelled,
           j->skipped_class);
    for (int k = 0; count && k < j->nclass; k++)
        printf("class %-24s %zu\n", j->class_name[k], count[k]);
    if (j->labels_unmatched)
        printf("labels: %zu row(s) match no feature row, e.g. '%s'\n", j->labels_unmatched, j->unmatched_example);
    if (r->grid_n > 1)
        printf("cv groups: %zu %s, %d folds%s%s\n", j->n_groups, j->group_what, j->cv, j->group_note ? "; " : "",
               j->group_note ? j->group_note : "");
    for (int c = 0; c < r->grid_n; c++)
        if (isnan(r->cv_logloss[c])) /* the search stopped past the minimum (irb_train_opts.cv_patience) */
            printf("cv C=%-10.4g not fitted (held-out loss past its minimum)\n", r->grid[c]);
        else
            printf("cv C=%-10.4g mean held-out log-loss %.5f%s\n", r->grid[c], r->cv_logloss[c],
                   r->grid[c] == r->C ? "  <- chosen" : "");
    printf("C %.6g, train accuracy %.4f, objective %.6g, %d iterations (L-BFGS status %d), %.2f s\n", r->C,
           r->train_accuracy, r->objective, r->iterations, r->lbfgs_status, r->seconds);
    printf("wrote %s\n", out);
    free(count);
}

int train_provenance(irb_classifier_t *c, const train_job *j, const train_opts *o)
{
    char buf[64];
    int flipped = 0;
    for (size_t i = 0; i < j->fs->n; i++)
        flipped |= j->fs->flipped[i];
    snprintf(buf, sizeof buf, "%zu", j->n);
    irb_status s = irb_classifier_set_provenance(c, j->fs);
    if (s == IRB_OK)
        s = irb_classifier_set_meta(c, "flip_augmentation", flipped ? "yes" : "no");
    if (s == IRB_OK)
        s = irb_classifier_set_meta(c, "train_rows", buf);
    if (s == IRB_OK)
        s = irb_classifier_set_meta(c, "features", o->features);
    if (s == IRB_OK)
        s = irb_classifier_set_meta(c, "labels", o->labels);
    if (s == IRB_OK && o->balanced)
        s = irb_classifier_set_meta(c, "class_weight", "balanced");
    return s == IRB_OK ? 0 : -1;
}
