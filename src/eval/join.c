/* Joining predictions with labels: image-level and sequence-level samples for irb_evaluate. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "irbis/eval.h"
#include "irbis/files.h"

void irb_joined_release(irb_joined *j)
{
    if (!j)
        return;
    if (j->classes)
        for (size_t c = 0; c < j->n_classes; c++)
            irb_free(j->classes[c]);
    if (j->seq_ids)
        for (size_t s = 0; s < j->n_seq; s++)
            irb_free(j->seq_ids[s]);
    irb_free(j->classes);
    irb_free(j->seq_ids);
    irb_free(j->row);
    irb_free(j->probs);
    irb_free(j->truth);
    irb_free(j->seq_probs);
    irb_free(j->seq_truth);
    memset(j, 0, sizeof *j);
}

/* The index of class `name` among the predictions' classes, or -1. */
static int pred_class(const irb_predictions *p, const char *name)
{
    for (size_t c = 0; c < p->n_classes; c++)
        if (!strcmp(p->classes[c], name))
            return (int)c;
    return -1;
}

/* An empty-vs-animal classifier (classes exactly empty and animal, as train and experiment name
 * them) is judged by the task's rule: a label that is no class is an animal unless it is 'empty'
 * in any case. The labels it was trained from say 'bobcat', and each counted as an error. */
static int empty_task_class(const irb_predictions *p, const char *label, size_t *mapped, const char **example)
{
    int e = pred_class(p, "empty"), a = pred_class(p, "animal");
    if (p->n_classes != 2 || e < 0 || a < 0 || pred_class(p, label) >= 0)
        return -1;
    ++*mapped;
    if (!*example && strcasecmp(label, "empty") != 0)
        *example = label;
    return strcasecmp(label, "empty") ? a : e;
}

/* The class list: prediction classes, then labels not among them; cls[i] receives the class of
 * prediction row i's label (-1: unlabelled). */
static irb_status build_classes(const irb_predictions *p, const irb_labels *l, const long *match, irb_joined *j,
                                int *cls, irb_error *err)
{
    size_t mapped = 0;
    const char *example = NULL;
    irb_strmap *ix = NULL; /* class name -> index */
    j->classes = irb_calloc(p->n_classes + l->n + 1, sizeof *j->classes);
    irb_status st = j->classes ? irb_strmap_new(p->n_classes + 16, &ix, NULL) : IRB_NOMEM;
    for (size_t c = 0; st == IRB_OK && c < p->n_classes; c++) {
        if (!(j->classes[c] = irb_strdup(p->classes[c])))
            st = IRB_NOMEM;
        else
            st = irb_strmap_add(ix, p->classes[c], strlen(p->classes[c]), (int64_t)c, NULL, NULL);
        j->n_classes += st == IRB_OK;
    }
    for (size_t i = 0; st == IRB_OK && i < p->n; i++) {
        cls[i] = -1;
        if (match[i] < 0)
            continue;
        const char *name = l->label[match[i]];
        int64_t k = empty_task_class(p, name, &mapped, &example);
        if (k >= 0) {
            cls[i] = (int)k;
            continue;
        }
        if ((st = irb_strmap_add(ix, name, strlen(name), (int64_t)j->n_classes, &k, NULL)) != IRB_OK)
            break;
        if ((size_t)k == j->n_classes) {
            if (!(j->classes[j->n_classes] = irb_strdup(name))) {
                st = IRB_NOMEM;
                break;
            }
            j->n_classes++;
            j->n_extra_classes++;
        }
        cls[i] = (int)k;
    }
    irb_strmap_free(ix);
    if (st == IRB_OK && mapped)
        irb_warn_more(err,
                      "%zu label(s) that are not the classifier's classes judged by its task, empty vs animal "
                      "(every label but 'empty' is an animal), e.g. '%s'",
                      mapped, example ? example : "Empty");
    return st;
}

static irb_status image_level(const irb_predictions *p, const int *cls, irb_joined *j)
{
    size_t k = j->n_classes;
    j->row = irb_malloc_array(p->n, sizeof *j->row);
    j->truth = irb_malloc_array(p->n, sizeof *j->truth);
    j->probs = irb_calloc(p->n, k * sizeof *j->probs);
    if (!j->row || !j->truth || !j->probs)
        return IRB_NOMEM;
    for (size_t i = 0; i < p->n; i++) {
        if (cls[i] < 0) {
            j->n_unlabelled++;
            continue;
        }
        j->row[j->n] = (long)i;
        j->truth[j->n] = cls[i];
        memcpy(j->probs + j->n * k, p->probs + i * p->n_classes, p->n_classes * sizeof *p->probs);
        j->n++;
    }
    return IRB_OK;
}

typedef struct srow {
    const char *key;
    size_t row;
} srow;

static int cmp_srow(const void *pa, const void *pb)
{
    const srow *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    return c ? c : (a->row > b->row) - (a->row < b->row);
}

/* One sequence = the run [a, b) of key-sorted rows. */
static irb_status one_sequence(const irb_predictions *p, const int *cls, const srow *r, size_t a, size_t b,
                               size_t *votes, irb_joined *j)
{
    size_t k = j->n_classes, pk = p->n_classes;
    memset(votes, 0, k * sizeof *votes);
    size_t labelled = 0;
    for (size_t t = a; t < b; t++)
        if (cls[r[t].row] >= 0) {
            votes[cls[r[t].row]]++;
            labelled++;
        }
    if (!labelled)
        return IRB_OK;
    size_t best = 0;
    for (size_t c = 1; c < k; c++)
        if (votes[c] > votes[best])
            best = c;
    double *sp = j->seq_probs + j->n_seq * k;
    memset(sp, 0, k * sizeof *sp);
    if (p->seq_probs) {
        memcpy(sp, p->seq_probs + r[a].row * pk, pk * sizeof *sp);
    } else {
        /* sum, then divide once: equal members give exactly their own value, and equal
         * sequences tie exactly (dividing each term first broke ROC ties) */
        for (size_t t = a; t < b; t++)
            for (size_t c = 0; c < pk; c++)
                sp[c] += p->probs[r[t].row * pk + c];
        for (size_t c = 0; c < pk; c++)
            sp[c] /= (double)(b - a);
    }
    j->seq_truth[j->n_seq] = (int)best;
    if (!(j->seq_ids[j->n_seq] = irb_strdup(r[a].key[0] ? r[a].key : p->path[r[a].row])))
        return IRB_NOMEM;
    j->n_seq++;
    return IRB_OK;
}

static irb_status sequence_level(const irb_predictions *p, const int *cls, irb_joined *j)
{
    size_t k = j->n_classes;
    srow *r = irb_malloc_array(p->n, sizeof *r);
    size_t *votes = irb_malloc_array(k, sizeof *votes);
    j->seq_ids = irb_calloc(p->n, sizeof *j->seq_ids);
    j->seq_probs = irb_malloc_array(p->n, k * sizeof *j->seq_probs);
    j->seq_truth = irb_malloc_array(p->n, sizeof *j->seq_truth);
    irb_status st = IRB_NOMEM;
    if (!r || !votes || !j->seq_ids || !j->seq_probs || !j->seq_truth)
        goto done;
    for (size_t i = 0; i < p->n; i++)
        r[i] = (srow){p->sequence[i], i};
    /* rows in file order within a sequence, so "its first row" is the first in the file */
    qsort(r, p->n, sizeof *r, cmp_srow);
    st = IRB_OK;
    for (size_t a = 0; a < p->n && st == IRB_OK;) {
        size_t b = a + 1;
        if (r[a].key[0])
            while (b < p->n && strcmp(r[b].key, r[a].key) == 0)
                b++;
        st = one_sequence(p, cls, r, a, b, votes, j);
        a = b;
    }
done:
    irb_free(r);
    irb_free(votes);
    return st;
}

irb_status irb_join_labels(const irb_predictions *p, const irb_labels *l, irb_joined *out, irb_error *err)
{
    if (!p || !l || !out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_join_labels: NULL argument");
    memset(out, 0, sizeof *out);
    long *match = irb_malloc_array(p->n ? p->n : 1, sizeof *match);
    int *cls = irb_malloc_array(p->n ? p->n : 1, sizeof *cls);
    if (!match || !cls) {
        irb_free(match), irb_free(cls);
        return irb_fail(err, IRB_NOMEM, "join: out of memory");
    }
    irb_status st = irb_labels_match(l, (const char *const *)p->path, p->n, match, err);
    if (st == IRB_OK)
        out->n_labels_unmatched = irb_labels_unmatched(l, match, p->n, &out->unmatched_example);
    if (st == IRB_OK && (st = build_classes(p, l, match, out, cls, err)) == IRB_OK &&
        (st = image_level(p, cls, out)) == IRB_OK && p->sequence)
        st = sequence_level(p, cls, out);
    irb_free(match);
    irb_free(cls);
    if (st == IRB_NOMEM)
        irb_fail(err, st, "join: out of memory joining %zu predictions with %zu labels", p->n, l->n);
    if (st != IRB_OK)
        irb_joined_release(out);
    return st;
}
