/* The options and label join of `irbis train`, shared with `irbis-mpi train` (train_job.h). */
#include "train_job.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char train_usage[] =
    "usage: irbis train FEATURES_BASE --labels LABELS.csv -o MODEL.irbis [options]\n"
    "  --labels FILE         CSV with a path column and a label column\n"
    "  --label-column NAME   label column (default: label)\n"
    "  --path-column NAME    path column (default: path)\n"
    "  --root DIR            labels' paths are relative to DIR (joined as DIR/path before matching)\n"
    "  --C X                 regularisation (objective C*sum(logloss) + 0.5*||W||^2); default: choose by CV\n"
    "  --cv K                folds for choosing C (default 5); groups never split across folds\n"
    "  --group-column COL    CV groups: a labels or feature column (default: the image path)\n"
    "  --class-weight balanced   weight classes by n / (classes * count)\n"
    "  --classes a,b,...     only these classes, in this order (other rows dropped)\n"
    "  --positive CLASS      binary: CLASS vs other\n"
    "  --negative CLASS      binary: CLASS vs the rest ('empty' -> empty vs animal)\n"
    "                        (--positive/--negative match labels in any case: Empty is empty)\n"
    "  --max-iter N          L-BFGS iteration cap (default 5000)\n"
    "  -o FILE               the classifier file to write\n"
    "A feature row matches a label when its path, or a trailing part of it that starts after a '/',\n"
    "equals the label's (root-joined) path after removing './' parts and repeated '/'; the longest\n"
    "match wins. Flipped rows take their image's label. Unlabelled feature rows are skipped.\n";

/* ---- a string -> int table ------------------------------------------------------------------ */

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int map_get(const strmap *m, const char *k)
{
    if (!m->cap)
        return -1;
    for (size_t i = hash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->key[i])
            return -1;
        if (!strcmp(m->key[i], k))
            return m->val[i];
    }
}

/* Inserts k (copied) -> v unless present; returns the stored value or -2 on no memory. */
static int map_put(strmap *m, const char *k, int v)
{
    if (2 * (m->n + 1) > m->cap) {
        strmap g = {calloc(m->cap ? 2 * m->cap : 64, sizeof(char *)), calloc(m->cap ? 2 * m->cap : 64, sizeof(int)),
                    m->cap ? 2 * m->cap : 64, 0};
        if (!g.key || !g.val)
            return free(g.key), free(g.val), -2;
        for (size_t i = 0; i < m->cap; i++)
            if (m->key[i]) {
                size_t j = hash(m->key[i]) & (g.cap - 1);
                while (g.key[j])
                    j = (j + 1) & (g.cap - 1);
                g.key[j] = m->key[i], g.val[j] = m->val[i], g.n++;
            }
        free(m->key), free(m->val);
        *m = g;
    }
    size_t i = hash(k) & (m->cap - 1);
    for (; m->key[i]; i = (i + 1) & (m->cap - 1))
        if (!strcmp(m->key[i], k))
            return m->val[i];
    if (!(m->key[i] = strdup(k)))
        return -2;
    m->val[i] = v;
    m->n++;
    return v;
}

static void map_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->key[i]);
    free(m->key), free(m->val);
}

/* ---- paths ---------------------------------------------------------------------------------- */

/* Removes "./" components and repeated slashes, in place. */
static void normalise(char *p)
{
    char *w = p;
    const char *r = p;
    while (*r) {
        if ((r == p || r[-1] == '/') && r[0] == '.' && (r[1] == '/' || !r[1])) {
            r += r[1] ? 2 : 1;
            continue;
        }
        if (*r == '/' && w > p && w[-1] == '/') {
            r++;
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
}

static char *joined(const char *root, const char *path)
{
    size_t n = (root ? strlen(root) + 1 : 0) + strlen(path) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    if (root && path[0] != '/')
        snprintf(s, n, "%s/%s", root, path);
    else
        snprintf(s, n, "%s", path);
    normalise(s);
    return s;
}

/* The label index of feature path f: the whole path, then each suffix after a '/'. */
static int match(const strmap *labels, const char *f)
{
    char *p = joined(NULL, f);
    int v = -1;
    if (!p)
        return -1;
    for (const char *s = p; s && v < 0; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL)
        v = map_get(labels, s);
    free(p);
    return v;
}

/* ---- options -------------------------------------------------------------------------------- */


int train_parse(int argc, char **argv, const char *cmd, train_opts *o)
{
    static const struct option lo[] = {
        {"labels", 1, 0, 'l'}, {"label-column", 1, 0, 'L'}, {"path-column", 1, 0, 'P'}, {"root", 1, 0, 'r'},
        {"C", 1, 0, 'C'}, {"cv", 1, 0, 'k'}, {"group-column", 1, 0, 'g'}, {"class-weight", 1, 0, 'w'},
        {"classes", 1, 0, 'c'}, {"positive", 1, 0, 'p'}, {"negative", 1, 0, 'n'}, {"max-iter", 1, 0, 'm'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    *o = (train_opts){.label_col = "label", .path_col = "path"};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'l': o->labels = optarg; break;
        case 'L': o->label_col = optarg; break;
        case 'P': o->path_col = optarg; break;
        case 'r': o->root = optarg; break;
        case 'C':
            if (!cli_double(cmd, "--C", optarg, &o->C)) return CLI_USAGE;
            if (!(o->C > 0)) return cli_error(cmd, "--C must be > 0"), CLI_USAGE;
            break;
        case 'k': if (!cli_int(cmd, "--cv", optarg, 2, 100, &o->cv)) return CLI_USAGE; break;
        case 'm': if (!cli_int(cmd, "--max-iter", optarg, 1, 1000000, &o->max_iter)) return CLI_USAGE; break;
        case 'g': o->group_col = optarg; break;
        case 'w':
            if (strcmp(optarg, "balanced")) return cli_error(cmd, "--class-weight takes 'balanced'"), CLI_USAGE;
            o->balanced = 1;
            break;
        case 'c': o->classes = optarg; break;
        case 'p': o->positive = optarg; break;
        case 'n': o->negative = optarg; break;
        case 'o': o->out = optarg; break;
        case 'h': fputs(train_usage, stdout); return -1;
        default: fputs(train_usage, stderr); return CLI_USAGE;
        }
    }
    if (optind + 1 != argc || !o->labels || !o->out) {
        cli_error(cmd, "need FEATURES_BASE, --labels and -o");
        fputs(train_usage, stderr);
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
    map_free(&j->label_of);
    map_free(&j->class_ix);
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
static int set_classes(train_job *j, const train_opts *o, int lcol)
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
    strmap seen = {0};
    for (size_t i = 0; i < j->t->nrow; i++)
        if (j->t->cell[i][lcol][0] && map_put(&seen, j->t->cell[i][lcol], 0) == -2)
            return map_free(&seen), -1;
    char **names = calloc(seen.n ? seen.n : 1, sizeof *names);
    size_t n = 0;
    for (size_t i = 0; names && i < seen.cap; i++)
        if (seen.key[i])
            names[n++] = seen.key[i];
    if (names)
        qsort(names, n, sizeof *names, cmp_str);
    int rc = names ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = add_class(j, names[i]) < 0 ? -1 : 0;
    free(names);
    map_free(&seen);
    return rc;
}

/* Path -> labels row. A path given twice with two different labels is refused (-3, said here):
 * keeping the first silently trained on whichever came first. */
static int index_labels(train_job *j, const train_opts *o, int pcol, int lcol, const char *cmd)
{
    for (size_t i = 0; i < j->t->nrow; i++) {
        char *p = joined(o->root, j->t->cell[i][pcol]);
        int r = p ? map_put(&j->label_of, p, (int)i) : -2;
        if (r >= 0 && (size_t)r != i && strcmp(j->t->cell[r][lcol], j->t->cell[i][lcol]) != 0) {
            cli_error(cmd, "%s: '%s' has two labels: '%s' and '%s' (rows %d and %zu)", o->labels, p,
                      j->t->cell[r][lcol], j->t->cell[i][lcol], r + 1, i + 1);
            free(p);
            return -3;
        }
        free(p);
        if (r == -2)
            return -1;
    }
    return 0;
}

/* Group id of selected feature row i: the --group-column value (labels, then features), or
 * the image path (an image and its flip share a group). */
static int group_of(train_job *j, strmap *gids, const char *gname, int trow, size_t frow)
{
    const char *g = j->fs->path[frow];
    if (gname) {
        int gc = irb_table_column(j->t, gname);
        char *const *fc = irb_features_column(j->fs, gname);
        g = gc >= 0 ? j->t->cell[trow][gc] : fc[frow];
    }
    return map_put(gids, g, (int)gids->n);
}

static int select_rows(train_job *j, const train_opts *o, int pcol, int lcol, const char *cmd)
{
    size_t N = j->fs->n;
    j->row = malloc((N ? N : 1) * sizeof *j->row);
    j->y = malloc((N ? N : 1) * sizeof *j->y);
    j->group = malloc((N ? N : 1) * sizeof *j->group);
    strmap gids = {0};
    if (!j->row || !j->y || !j->group)
        return -1;
    char buf[512];
    long *first = malloc((j->t->nrow ? j->t->nrow : 1) * sizeof *first); /* feature row that matched */
    size_t shared = 0, ex_a = 0, ex_b = 0;
    int ex_r = -1;
    for (size_t r = 0; first && r < j->t->nrow; r++)
        first[r] = -1;
    for (size_t i = 0; i < N; i++) {
        int r = match(&j->label_of, j->fs->path[i]);
        if (r < 0 || !j->t->cell[r][lcol][0]) {
            j->skipped_unlabelled++;
            continue;
        }
        if (first && first[r] < 0)
            first[r] = (long)i;
        else if (first && first[r] >= 0 && strcmp(j->fs->path[first[r]], j->fs->path[i]) != 0) {
            if (ex_r < 0)
                ex_r = r, ex_a = (size_t)first[r], ex_b = i;
            first[r] = -2; /* counted */
            shared++;
        }
        int k = map_get(&j->class_ix, mapped(o, j->t->cell[r][lcol], buf, sizeof buf));
        if (k < 0) {
            j->skipped_class++;
            continue;
        }
        int g = group_of(j, &gids, o->group_col, r, i);
        if (g == -2)
            return map_free(&gids), free(first), -1;
        j->row[j->n] = i;
        j->y[j->n] = k;
        j->group[j->n++] = g;
    }
    if (shared) /* a bare file name takes that name in every camera folder: allowed, but said */
        cli_error(cmd, "warning: %zu label path(s) match images in several folders, e.g. '%s' matches '%s' and "
                          "'%s' (each gets that label; give the folder in the labels file if they differ)",
                  shared, j->t->cell[ex_r][pcol], j->fs->path[ex_a], j->fs->path[ex_b]);
    free(first);
    map_free(&gids);
    return 0;
}

int train_prepare(train_job *j, const train_opts *o, const char *cmd)
{
    irb_error err = {0};
    if (irb_features_load_index(o->features, &j->fs, &err) != IRB_OK ||
        irb_table_load(o->labels, &j->t, &err) != IRB_OK)
        return cli_fail(cmd, &err);
    int pcol = irb_table_column(j->t, o->path_col), lcol = irb_table_column(j->t, o->label_col);
    if (pcol < 0 || lcol < 0) {
        cli_error(cmd, "%s: no column '%s'", o->labels, pcol < 0 ? o->path_col : o->label_col);
        return CLI_FATAL;
    }
    if (o->group_col && irb_table_column(j->t, o->group_col) < 0 && !irb_features_column(j->fs, o->group_col)) {
        cli_error(cmd, "--group-column %s: neither %s nor %s.csv has it", o->group_col, o->labels, o->features);
        return CLI_FATAL;
    }
    int ix = index_labels(j, o, pcol, lcol, cmd);
    if (ix == -3)
        return CLI_FATAL;
    if (ix || set_classes(j, o, lcol) || select_rows(j, o, pcol, lcol, cmd)) {
        cli_error(cmd, "out of memory");
        return CLI_FATAL;
    }
    if (j->n == 0) {
        cli_error(cmd, "no feature row of %s matched a label in %s (check --root)", o->features, o->labels);
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
    for (int c = 0; c < r->grid_n; c++)
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
    if (s == IRB_OK) s = irb_classifier_set_meta(c, "flip_augmentation", flipped ? "yes" : "no");
    if (s == IRB_OK) s = irb_classifier_set_meta(c, "train_rows", buf);
    if (s == IRB_OK) s = irb_classifier_set_meta(c, "features", o->features);
    if (s == IRB_OK) s = irb_classifier_set_meta(c, "labels", o->labels);
    if (s == IRB_OK && o->balanced) s = irb_classifier_set_meta(c, "class_weight", "balanced");
    return s == IRB_OK ? 0 : -1;
}

