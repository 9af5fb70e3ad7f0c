/* Fuzz target: the labels and predictions CSV readers and what `irbis evaluate` does with them.
 * The input is one file read both as a labels file (irb_labels_read: as it is, and as a
 * Timelapse export would be read, with --label-column Species --blank-label empty, which reaches
 * its RelativePath/File paths, DeleteFlag and DateTime or Date + Time) and as a predictions file
 * (irb_predictions_read): a header such as path,label,p_deer,p_fox,sequence,seq_p_deer,
 * seq_p_fox,status serves both. Then labels are matched to fixed paths and to their own paths,
 * and predictions are joined with labels and evaluated. Whatever the bytes: a status with a
 * message, never a crash, an out-of-bounds read or a leak; every label path matches its own row. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_files.h"
#include "irbis/eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failure must say why. FUZZ_VERBOSE=1 prints each message (to see what a seed reaches). */
static void failed_with_message(irb_status s, const irb_error *err)
{
    if (s != IRB_OK && getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "status %d: %s\n", (int)s, err->message);
    if (s != IRB_OK && !err->message[0])
        abort();
}

static void match_fixed(const irb_labels *l)
{
    static const char *const q[] = {"IMG_0001.JPG",
                                    "cam1/IMG_0001.JPG",
                                    "/data/survey/cam1/IMG_0001.JPG",
                                    "./cam1//./IMG_0001.JPG",
                                    "cam2/a.jpg",
                                    "",
                                    "/",
                                    "a/b/c/d/e/f"};
    size_t n = sizeof q / sizeof *q;
    long match[sizeof q / sizeof *q];
    irb_error err = {0};
    irb_status s = irb_labels_match(l, q, n, match, &err);
    failed_with_message(s, &err);
    if (s != IRB_OK)
        return;
    for (size_t i = 0; i < n; i++)
        if (match[i] < -1 || match[i] >= (long)l->n)
            abort();
    long ex;
    if (irb_labels_unmatched(l, match, n, &ex) > l->n)
        abort();
}

/* Every label row's own path matches that row (paths are unique once read). */
static void match_self(const irb_labels *l)
{
    long *match = malloc((l->n ? l->n : 1) * sizeof *match);
    if (!match)
        return;
    irb_error err = {0};
    irb_status s = irb_labels_match(l, (const char *const *)l->path, l->n, match, &err);
    if (s != IRB_OK && s != IRB_NOMEM)
        abort();
    for (size_t i = 0; s == IRB_OK && i < l->n; i++)
        if (match[i] != (long)i)
            abort();
    free(match);
}

static void evaluate(const irb_joined *j, const double *probs, const int *truth, size_t n)
{
    irb_evaluation e = {0};
    irb_error err = {0};
    irb_status s = irb_evaluate(probs, truth, n, j->n_classes, (const char *const *)j->classes, 0, 0.5, &e, &err);
    failed_with_message(s, &err);
    irb_evaluation_release(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128];
    fuzz_write("in.csv", data, size, path, sizeof path);
    irb_labels l = {0};
    irb_predictions p = {0};
    irb_error err = {0};
    static const irb_labels_opts timelapse = {.label_column = "Species", .blank_label = "empty"};
    irb_status sl = irb_labels_read(path, &timelapse, &l, &err);
    failed_with_message(sl, &err);
    if (sl == IRB_OK)
        match_self(&l);
    irb_labels_release(&l);
    irb_error_clear(&err);
    sl = irb_labels_read(path, NULL, &l, &err);
    failed_with_message(sl, &err);
    if (sl == IRB_OK) {
        match_fixed(&l);
        match_self(&l);
    }
    irb_error_clear(&err);
    irb_status sp = irb_predictions_read(path, &p, &err);
    failed_with_message(sp, &err);
    if (sl == IRB_OK && sp == IRB_OK) {
        irb_joined j = {0};
        irb_error_clear(&err);
        irb_status s = irb_join_labels(&p, &l, &j, &err);
        failed_with_message(s, &err);
        if (s == IRB_OK && j.n)
            evaluate(&j, j.probs, j.truth, j.n);
        if (s == IRB_OK && j.n_seq)
            evaluate(&j, j.seq_probs, j.seq_truth, j.n_seq);
        irb_joined_release(&j);
    }
    irb_predictions_release(&p);
    irb_labels_release(&l);
    return 0;
}
