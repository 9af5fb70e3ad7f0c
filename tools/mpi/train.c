/* irbis-mpi train: data-parallel logistic regression. Every rank reads the feature set and the
 * labels (shared file system), joins them as `irbis train` does, keeps its block of the
 * selected rows, and trains with irb_logreg_train_dist: per L-BFGS evaluation one allreduce of
 * the loss and gradient. Rank 0 writes the classifier. C must be given (--C). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "work.h"

static const char *const CMD = "train";

static const char USAGE[] =
    "usage: mpirun -np N irbis-mpi train FEATURES_BASE --labels LABELS.csv --C X -o MODEL.irbis [options]\n"
    "  --labels FILE, --label-column NAME, --path-column NAME, --root DIR, --classes a,b,...,\n"
    "  --class-weight balanced, --max-iter N: as `irbis train`. --C is required (choose it with\n"
    "  `irbis train` on a sample); --cv, --positive, --negative, --group-column are not offered.\n";

typedef struct topts {
    const char *features, *labels, *label_col, *path_col, *root, *classes, *out;
    double C;
    long max_iter;
    int balanced;
} topts;

static int parse(int argc, char **argv, topts *o)
{
    static const struct option lo[] = {
        {"labels", 1, 0, 'l'}, {"label-column", 1, 0, 'L'}, {"path-column", 1, 0, 'P'}, {"root", 1, 0, 'r'},
        {"C", 1, 0, 'C'}, {"class-weight", 1, 0, 'w'}, {"classes", 1, 0, 'c'}, {"max-iter", 1, 0, 'm'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    *o = (topts){.label_col = "label", .path_col = "path"};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'l': o->labels = optarg; break;
        case 'L': o->label_col = optarg; break;
        case 'P': o->path_col = optarg; break;
        case 'r': o->root = optarg; break;
        case 'c': o->classes = optarg; break;
        case 'o': o->out = optarg; break;
        case 'C':
            if (!cli_double(CMD, "--C", optarg, &o->C) || !(o->C > 0))
                return root_error(CMD, "--C must be a number > 0"), CLI_USAGE;
            break;
        case 'm': if (!cli_int(CMD, "--max-iter", optarg, 1, 1000000, &o->max_iter)) return CLI_USAGE; break;
        case 'w':
            if (strcmp(optarg, "balanced")) return root_error(CMD, "--class-weight takes 'balanced'"), CLI_USAGE;
            o->balanced = 1;
            break;
        case 'h': if (comm_rank() == 0) fputs(USAGE, stdout); return -1;
        default: if (comm_rank() == 0) fputs(USAGE, stderr); return CLI_USAGE;
        }
    }
    if (optind + 1 != argc || !o->labels || !o->out || !(o->C > 0)) {
        root_error(CMD, "needs FEATURES_BASE, --labels, --C and -o");
        return CLI_USAGE;
    }
    o->features = argv[optind];
    return CLI_OK;
}

/* ---- the label join (the rules of irbis train: './' and '//' removed, whole path or a suffix
 * after a '/', longest match first) ------------------------------------------------------------ */

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

typedef struct entry {
    char *key;
    int row;
} entry;

static int by_key(const void *a, const void *b) { return strcmp(((const entry *)a)->key, ((const entry *)b)->key); }

static int lookup(const entry *e, size_t n, const char *k)
{
    entry q = {(char *)k, 0};
    const entry *f = n ? bsearch(&q, e, n, sizeof *e, by_key) : NULL;
    return f ? f->row : -1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct job {
    irb_features *fs;
    irb_table *t;
    entry *lab;
    size_t nlab;
    char **cls;
    int ncls;
    float *x;
    int *y;
    size_t n, n_all;
} job;

static int class_index(const job *j, const char *name)
{
    for (int k = 0; k < j->ncls; k++)
        if (!strcmp(j->cls[k], name))
            return k;
    return -1;
}

static int set_classes(job *j, const topts *o, int lcol)
{
    j->cls = calloc(j->t->nrow + 64, sizeof *j->cls);
    if (!j->cls)
        return -1;
    if (o->classes) {
        char *list = strdup(o->classes), *save = NULL;
        for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save))
            j->cls[j->ncls++] = strdup(c);
        free(list);
        return 0;
    }
    char **all = malloc((j->t->nrow + 1) * sizeof *all);
    size_t n = 0;
    for (size_t i = 0; all && i < j->t->nrow; i++)
        if (j->t->cell[i][lcol][0])
            all[n++] = j->t->cell[i][lcol];
    if (!all)
        return -1;
    qsort(all, n, sizeof *all, cmp_str);
    for (size_t i = 0; i < n; i++)
        if (!i || strcmp(all[i], all[i - 1]))
            j->cls[j->ncls++] = strdup(all[i]);
    free(all);
    return 0;
}

/* Joins labels to feature rows; keeps this rank's contiguous block of the selected rows. */
static int prepare(job *j, const topts *o)
{
    irb_error err = {0};
    if (irb_features_load(o->features, &j->fs, &err) != IRB_OK || irb_table_load(o->labels, &j->t, &err) != IRB_OK)
        return root_error(CMD, "%s", err.message), CLI_FATAL;
    int pcol = irb_table_column(j->t, o->path_col), lcol = irb_table_column(j->t, o->label_col);
    if (pcol < 0 || lcol < 0)
        return root_error(CMD, "%s: no column '%s'", o->labels, pcol < 0 ? o->path_col : o->label_col), CLI_FATAL;
    j->lab = calloc(j->t->nrow + 1, sizeof *j->lab);
    if (!j->lab || set_classes(j, o, lcol))
        return root_error(CMD, "out of memory"), CLI_FATAL;
    char buf[8192];
    for (size_t i = 0; i < j->t->nrow; i++) {
        const char *p = j->t->cell[i][pcol];
        if (o->root && p[0] != '/')
            snprintf(buf, sizeof buf, "%s/%s", o->root, p);
        else
            snprintf(buf, sizeof buf, "%s", p);
        normalise(buf);
        j->lab[j->nlab++] = (entry){strdup(buf), (int)i};
    }
    qsort(j->lab, j->nlab, sizeof *j->lab, by_key);
    /* duplicates: the first row of the file wins, as irbis train's map keeps the first */
    size_t N = j->fs->n, D = (size_t)j->fs->dim, *sel = malloc((N ? N : 1) * sizeof *sel);
    int *ysel = malloc((N ? N : 1) * sizeof *ysel);
    if (!sel || !ysel)
        return free(sel), free(ysel), root_error(CMD, "out of memory"), CLI_FATAL;
    for (size_t i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "%s", j->fs->path[i]);
        normalise(buf);
        int r = -1;
        for (const char *s = buf; s && r < 0; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL)
            r = lookup(j->lab, j->nlab, s);
        if (r < 0 || !j->t->cell[r][lcol][0])
            continue;
        int k = class_index(j, j->t->cell[r][lcol]);
        if (k < 0)
            continue;
        ysel[j->n_all] = k;
        sel[j->n_all++] = i;
    }
    int rank = comm_rank(), size = comm_size();
    size_t lo = j->n_all * (size_t)rank / (size_t)size, hi = j->n_all * (size_t)(rank + 1) / (size_t)size;
    j->x = malloc(((hi - lo) ? (hi - lo) : 1) * D * sizeof *j->x);
    j->y = malloc(((hi - lo) ? (hi - lo) : 1) * sizeof *j->y);
    for (size_t i = lo; j->x && j->y && i < hi; i++, j->n++) {
        memcpy(j->x + j->n * D, j->fs->x + sel[i] * D, D * sizeof *j->x);
        j->y[j->n] = ysel[i];
    }
    free(sel), free(ysel);
    if (!j->x || !j->y)
        return root_error(CMD, "out of memory"), CLI_FATAL;
    if (j->n_all == 0)
        return root_error(CMD, "no feature row of %s matched a label in %s (check --root)", o->features, o->labels),
               CLI_FATAL;
    return CLI_OK;
}

static void job_free(job *j)
{
    irb_features_free(j->fs);
    irb_table_free(j->t);
    for (size_t i = 0; i < j->nlab; i++)
        free(j->lab[i].key);
    free(j->lab);
    for (int k = 0; k < j->ncls; k++)
        free(j->cls[k]);
    free(j->cls), free(j->x), free(j->y);
}

static int record_provenance(irb_classifier_t *c, const job *j, const topts *o)
{
    char buf[64];
    int flipped = 0;
    for (size_t i = 0; i < j->fs->n; i++)
        flipped |= j->fs->flipped[i];
    snprintf(buf, sizeof buf, "%zu", j->n_all);
    irb_status s = irb_classifier_set_provenance(c, j->fs);
    if (s == IRB_OK) s = irb_classifier_set_meta(c, "flip_augmentation", flipped ? "yes" : "no");
    if (s == IRB_OK) s = irb_classifier_set_meta(c, "train_rows", buf);
    if (s == IRB_OK) s = irb_classifier_set_meta(c, "features", o->features);
    if (s == IRB_OK) s = irb_classifier_set_meta(c, "labels", o->labels);
    if (s == IRB_OK && o->balanced) s = irb_classifier_set_meta(c, "class_weight", "balanced");
    return s == IRB_OK ? 0 : -1;
}

int mpi_train(int argc, char **argv)
{
    topts o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    job j = {0};
    irb_classifier_t *clf = NULL;
    irb_error err = {0};
    rc = comm_max_int(prepare(&j, &o));
    if (rc == CLI_OK) {
        irb_train_opts to = {.C = o.C, .balanced = o.balanced, .max_iter = (int)o.max_iter};
        irb_train_report rep;
        double t0 = comm_wtime();
        irb_status s = irb_logreg_train_dist(j.x, j.n, j.fs->dim, j.y, j.ncls, (const char *const *)j.cls, &to,
                                             comm_allreduce_sum, NULL, &clf, &rep, &err);
        if (s != IRB_OK) {
            fprintf(stderr, "irbis %s (rank %d): %s\n", CMD, comm_rank(), err.message);
            rc = CLI_FATAL;
        } else if (comm_rank() == 0) {
            if (record_provenance(clf, &j, &o))
                rc = (cli_error(CMD, "out of memory"), CLI_FATAL);
            else if (irb_classifier_save(clf, o.out, &err) != IRB_OK)
                rc = cli_fail(CMD, &err);
            else
                printf("rows: %zu used over %d ranks\nC %.6g, train accuracy %.4f, objective %.6g, %d iterations "
                       "(L-BFGS status %d), %.2f s\nwrote %s\n",
                       j.n_all, comm_size(), rep.C, rep.train_accuracy, rep.objective, rep.iterations,
                       rep.lbfgs_status, comm_wtime() - t0, o.out);
        }
        rc = comm_max_int(rc);
    }
    irb_classifier_free(clf);
    job_free(&j);
    return rc;
}
