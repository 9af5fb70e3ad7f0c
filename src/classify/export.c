/* The survey outputs written from the results store: by `irbis classify` at the end of a run,
 * and by `irbis export` (irb_export) later, without classifying again, e.g. to complete the
 * Camtrap DP package with the cameras' coordinates. The run records the output options it used
 * in the store's state (keys "out.*"), so an export needs only what changes. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "classify/classify_internal.h"

/* ---- the recorded output options ---------------------------------------------------------- */

static const char *const KEYS[] = {"out.survey",
                                   "out.classes",
                                   "out.classified_by",
                                   "out.positive",
                                   "out.threshold",
                                   "out.gap",
                                   "out.taxa",
                                   "out.deployments",
                                   "out.utc_offset",
                                   "out.report_sequences",
                                   "out.max_sequence_images",
                                   "out.min_confidence"};
enum { K_SURVEY, K_CLASSES, K_BY, K_POS, K_THR, K_GAP, K_TAXA, K_DEPLOY, K_UTC, K_REPORT, K_MAXIMG, K_MINC, K_N };

/* An absolute path when it resolves (so a later export works from any folder), else a copy. */
static char *absolute(const char *path)
{
    char buf[PATH_MAX];
    return irb_strdup(path && realpath(path, buf) ? buf : path ? path : "");
}

static const char *const SORT_NAMES[] = {"none", "copy", "hardlink", "symlink"};

static irb_status record(irb_store *st, const irb_outputs_opts *o, irb_error *err)
{
    char pos[32], thr[64], gap[64], rep[32], maxi[32], minc[64];
    snprintf(minc, sizeof minc, "%.17g", o->min_confidence);
    snprintf(pos, sizeof pos, "%d", o->pos);
    snprintf(thr, sizeof thr, "%.17g", o->threshold);
    snprintf(gap, sizeof gap, "%.17g", o->gap);
    snprintf(rep, sizeof rep, "%d", o->report_sequences);
    snprintf(maxi, sizeof maxi, "%d", o->max_sequence_images);
    size_t n = 1;
    for (int k = 0; k < o->n_classes; k++)
        n += strlen(o->classes[k]) + 1;
    char *classes = irb_malloc(n), *survey = absolute(o->survey_dir), *deploy = absolute(o->deployments);
    irb_status s = classes && survey && deploy ? IRB_OK : irb_fail(err, IRB_NOMEM, "out of memory");
    if (s == IRB_OK) {
        classes[0] = '\0';
        for (int k = 0; k < o->n_classes; k++) /* '\n'-separated: class names may hold commas */
            strcat(strcat(classes, k ? "\n" : ""), o->classes[k]);
        const char *vals[K_N] = {
            survey, classes, o->classified_by, pos, thr, gap, o->taxa ? o->taxa : "", deploy, o->utc_offset, rep,
            maxi,   minc};
        s = irb_store_begin(st, err);
        for (int i = 0; i < K_N && s == IRB_OK; i++)
            s = irb_store_set_state(st, KEYS[i], vals[i], err);
        if (s == IRB_OK) /* optional (older stores lack it): an export keeps sorted/ in step with reviews */
            s = irb_store_set_state(st, "out.sort", SORT_NAMES[o->sort], err);
        if (s == IRB_OK)
            s = irb_store_commit(st, err);
        else
            irb_store_rollback(st);
    }
    char nov[64]; /* a key of its own, not in KEYS: stores of earlier versions lack it */
    snprintf(nov, sizeof nov, "%.17g", o->novelty_threshold);
    if (s == IRB_OK)
        s = irb_store_set_state(st, "out.novelty_threshold", nov, err);
    irb_free(classes), irb_free(survey), irb_free(deploy);
    return s;
}

void irb_outputs_recalled_free(irb_outputs_recalled *r)
{
    for (int i = 0; i < K_N; i++)
        irb_free(r->v[i]);
    irb_free(r->classes);
    irb_free(r->sort);
    memset(r, 0, sizeof *r);
}

irb_status irb_outputs_recall(irb_store *st, irb_outputs_recalled *r, irb_outputs_opts *o, irb_error *err)
{
    _Static_assert(sizeof r->v / sizeof r->v[0] >= K_N, "irb_outputs_recalled holds every recorded option");
    memset(r, 0, sizeof *r);
    for (int i = 0; i < K_N; i++)
        IRB_TRY(irb_store_get_state(st, KEYS[i], &r->v[i], err));
    for (int i = 0; i < K_N; i++)
        if (!r->v[i])
            return irb_fail(err, IRB_NOT_FOUND,
                            "%s: no outputs recorded in irbis.sqlite (run irbis classify to the end first)",
                            irb_store_dir(st));
    r->n = 1;
    for (const char *p = r->v[K_CLASSES]; *p; p++)
        r->n += *p == '\n';
    if (!(r->classes = irb_malloc_array((size_t)r->n, sizeof *r->classes)))
        return irb_fail(err, IRB_NOMEM, "out of memory");
    char *p = r->v[K_CLASSES];
    for (int k = 0; k < r->n; k++) {
        r->classes[k] = p;
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0', p = nl + 1;
    }
    *o = (irb_outputs_opts){
        .survey_dir = r->v[K_SURVEY],
        .n_classes = r->n,
        .classes = (const char *const *)r->classes,
        .pos = atoi(r->v[K_POS]),
        .threshold = strtod(r->v[K_THR], NULL),
        .gap = strtod(r->v[K_GAP], NULL),
        .classified_by = r->v[K_BY],
        .taxa = r->v[K_TAXA][0] ? r->v[K_TAXA] : NULL,
        .deployments = r->v[K_DEPLOY][0] ? r->v[K_DEPLOY] : NULL,
        .utc_offset = r->v[K_UTC],
        .sort = IRB_SORT_NONE,
        .report_sequences = atoi(r->v[K_REPORT]),
        .max_sequence_images = atoi(r->v[K_MAXIMG]),
        .min_confidence = strtod(r->v[K_MINC], NULL),
    };
    char *nov = NULL;
    IRB_TRY(irb_store_get_state(st, "out.novelty_threshold", &nov, err));
    o->novelty_threshold = nov ? strtod(nov, NULL) : 0;
    irb_free(nov);
    IRB_TRY(irb_store_get_state(st, "out.sort", &r->sort, err));
    for (int m = 0; r->sort && m < (int)(sizeof SORT_NAMES / sizeof *SORT_NAMES); m++)
        if (!strcmp(r->sort, SORT_NAMES[m]))
            o->sort = (irb_sort_mode)m;
    if (o->pos >= o->n_classes)
        return irb_fail(err, IRB_CORRUPT, "%s/irbis.sqlite: recorded positive class %d of %d classes",
                        irb_store_dir(st), o->pos, o->n_classes);
    return IRB_OK;
}

/* ---- writing ------------------------------------------------------------------------------ */

static void step(irb_progress_tracker *pt, int done, int total)
{
    if (pt)
        irb_progress_update(pt, done, total, pt->p.failed, 1);
}

irb_status irb_write_outputs(irb_store *st, const irb_outputs_opts *o, irb_progress_tracker *pt, irb_error *err)
{
    enum { STEPS = 6 };
    IRB_TRY(record(st, o, err));
    IRB_TRY(irb_reviews_apply(st, o, err));
    irb_error keep = *err; /* the warnings of the reviews and of Camtrap DP survive the later steps */
    irb_error_clear(err);
    if (pt)
        irb_progress_phase(pt, IRB_PHASE_OUTPUTS, 0, STEPS);
    IRB_TRY(irb_write_predictions(st, o, err));
    step(pt, 1, STEPS);
    IRB_TRY(irb_write_camtrapdp(st, o, err));
    step(pt, 2, STEPS);
    if (err->warning)
        irb_warn_more(&keep, "%s", err->message);
    irb_error_clear(err);
    IRB_TRY(irb_write_cct(st, o, err));
    step(pt, 3, STEPS);
    IRB_TRY(irb_write_md(st, o, err));
    step(pt, 4, STEPS);
    IRB_TRY(irb_write_sorted(st, o, err));
    step(pt, 5, STEPS);
    IRB_TRY(irb_write_report(st, o, err));
    step(pt, 6, STEPS);
    if (pt)
        irb_progress_end_phase(pt);
    if (err->warning)
        irb_warn_more(&keep, "%s", err->message);
    *err = keep;
    return IRB_OK;
}

irb_status irb_export(const irb_export_opts *e, irb_classify_summary *sum, irb_error *err)
{
    irb_classify_summary dummy;
    sum = sum ? sum : &dummy;
    memset(sum, 0, sizeof *sum);
    if (!e || !e->out_dir)
        return irb_fail(err, IRB_INVALID_ARG, "export needs the output folder of an irbis classify run");
    IRB_TRY(irb_camtrapdp_check(e->deployments, e->utc_offset, err));
    if (!irb_store_exists(e->out_dir))
        return irb_fail(err, IRB_NOT_FOUND, "%s: no irbis.sqlite here: not the output folder of irbis classify",
                        e->out_dir);
    double t0 = irb_now();
    irb_store *st = NULL;
    IRB_TRY(irb_store_open(e->out_dir, &st, err));
    irb_outputs_recalled r;
    irb_outputs_opts o;
    irb_status s = irb_outputs_recall(st, &r, &o, err);
    if (s == IRB_OK) {
        o.deployments = e->deployments ? e->deployments : o.deployments;
        o.utc_offset = e->utc_offset ? e->utc_offset : o.utc_offset;
        o.taxa = e->taxa ? e->taxa : o.taxa;
        s = irb_taxa_check(o.taxa, o.classes, o.n_classes, err);
        if (s == IRB_OK)
            s = irb_write_outputs(st, &o, NULL, err);
    }
    irb_store_counts c = {0};
    if (s == IRB_OK)
        s = irb_store_counts_get(st, &c, err);
    if (s == IRB_OK)
        s = irb_store_copies_count(st, sum, err);
    irb_store_close(st);
    irb_outputs_recalled_free(&r);
    irb_classify_summary copies = *sum;
    *sum = (irb_classify_summary){.images = c.total,
                                  .classified = c.ok,
                                  .failed = c.failed,
                                  .sequences = c.sequences,
                                  .pending = c.pending,
                                  .untimed = c.untimed,
                                  .skipped = c.skipped,
                                  .skipped_videos = c.skipped_videos,
                                  .seconds = irb_now() - t0,
                                  .copies = copies.copies,
                                  .copy_groups = copies.copy_groups};
    memcpy(sum->first_copy, copies.first_copy, sizeof sum->first_copy);
    return s;
}
