/* Burst sequences: per camera, images sorted by (time, path) are cut where the gap to the
 * previous image exceeds the limit. Explicit sequence values override the time grouping. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "irbis/survey.h"

typedef struct ref {
    const irb_seq_item *it;
    size_t idx;
} ref;

static const char *str_or_empty(const char *s) { return s ? s : ""; }

static int has_seq(const irb_seq_item *it) { return it->sequence && it->sequence[0]; }

static int cmp_time(irb_time a, irb_time b)
{
    if (a.seconds != b.seconds)
        return a.seconds < b.seconds ? -1 : 1;
    return (a.frac > b.frac) - (a.frac < b.frac);
}

int irb_seq_order(const irb_seq_item *a, const irb_seq_item *b)
{
    int c = strcmp(str_or_empty(a->camera), str_or_empty(b->camera));
    if (c)
        return c;
    if (a->has_time != b->has_time)
        return a->has_time ? -1 : 1;
    if (a->has_time && (c = cmp_time(a->time, b->time)))
        return c;
    return strcmp(a->path, b->path);
}

/* burst order, then input index (equal rows stay ordered) */
static int cmp_camera_time(const void *pa, const void *pb)
{
    const ref *a = pa, *b = pb;
    int c = irb_seq_order(a->it, b->it);
    return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

/* ---- the burst rule, streamed ----------------------------------------------------------------- */

irb_status irb_seq_stream_init(irb_seq_stream *s, double gap, irb_error *err)
{
    if (!s)
        return irb_fail(err, IRB_INVALID_ARG, "sequences: NULL stream");
    memset(s, 0, sizeof *s);
    if (!(gap >= 0))
        return irb_fail(err, IRB_INVALID_ARG, "sequences: the gap must be a number >= 0 seconds, got %g", gap);
    s->gap = gap;
    return IRB_OK;
}

irb_status irb_seq_stream_next(irb_seq_stream *s, const char *camera, int has_time, irb_time t, int *starts,
                               irb_error *err)
{
    if (!s || !starts)
        return irb_fail(err, IRB_INVALID_ARG, "sequences: NULL stream or result");
    camera = str_or_empty(camera);
    int same_cam = s->camera && strcmp(s->camera, camera) == 0;
    *starts = !(same_cam && has_time && s->prev_timed && irb_time_diff(s->prev, t) <= s->gap);
    if (!same_cam) {
        char *c = irb_strdup(camera);
        if (!c)
            return irb_fail(err, IRB_NOMEM, "sequences: out of memory");
        irb_free(s->camera);
        s->camera = c;
        s->k = 0;
    }
    if (*starts) {
        s->k++;
        snprintf(s->name, sizeof s->name, "%s#%zu", camera, s->k);
    }
    s->prev_timed = has_time;
    s->prev = t;
    return IRB_OK;
}

const char *irb_seq_stream_name(const irb_seq_stream *s) { return s ? s->name : ""; }

void irb_seq_stream_release(irb_seq_stream *s)
{
    if (!s)
        return;
    irb_free(s->camera);
    memset(s, 0, sizeof *s);
}

static int cmp_value_camera(const void *pa, const void *pb)
{
    const ref *a = pa, *b = pb;
    int c = strcmp(a->it->sequence, b->it->sequence);
    if (c)
        return c;
    if ((c = strcmp(str_or_empty(a->it->camera), str_or_empty(b->it->camera))))
        return c;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

irb_seq_opts irb_seq_opts_default(void) { return (irb_seq_opts){.gap = IRB_SEQ_GAP_DEFAULT}; }

void irb_sequences_release(irb_sequences *s)
{
    if (!s)
        return;
    if (s->ids)
        for (size_t i = 0; i < s->n_sequences; i++)
            irb_free(s->ids[i]);
    irb_free(s->ids);
    irb_free(s->image_seq);
    irb_free(s->start);
    irb_free(s->member);
    memset(s, 0, sizeof *s);
}

/* Explicit sequences: class number per explicit image (same camera + value = same class), and
 * whether the value occurs on more than one camera (then the id is qualified by the camera). */
static size_t explicit_classes(ref *byval, size_t ne, size_t *cls_of, unsigned char *shared)
{
    qsort(byval, ne, sizeof *byval, cmp_value_camera);
    size_t ncls = 0;
    for (size_t i = 0; i < ne;) {
        size_t j = i; /* [i, j) = one value */
        int many_cams = 0;
        while (j < ne && strcmp(byval[j].it->sequence, byval[i].it->sequence) == 0) {
            if (j > i && strcmp(str_or_empty(byval[j - 1].it->camera), str_or_empty(byval[j].it->camera)) != 0) {
                many_cams = 1;
                ncls++;
            } else if (j == i) {
                ncls++;
            }
            cls_of[byval[j].idx] = ncls - 1;
            j++;
        }
        for (size_t t = i; t < j; t++)
            shared[byval[t].idx] = (unsigned char)many_cams;
        i = j;
    }
    return ncls;
}

/* The id of an explicit sequence: its value, qualified by the camera when the value occurs on
 * several cameras. */
static char *make_id(const irb_seq_item *it, int shared)
{
    const char *cam = str_or_empty(it->camera);
    size_t len = strlen(cam) + strlen(it->sequence) + 4;
    char *id = irb_malloc(len);
    if (id)
        snprintf(id, len, shared ? "%s:%s" : "%s%s", shared ? cam : "", it->sequence);
    return id;
}

irb_status irb_sequences_assign(const irb_seq_item *items, size_t n, const irb_seq_opts *opts, irb_sequences *out,
                                irb_error *err)
{
    if (!out || (n && !items))
        return irb_fail(err, IRB_INVALID_ARG, "irb_sequences_assign: NULL argument");
    memset(out, 0, sizeof *out);
    IRB_TRY(irb_check_rows(n, 1, sizeof *items, "sequences", err));
    double gap = opts ? opts->gap : IRB_SEQ_GAP_DEFAULT;
    if (!(gap >= 0))
        return irb_fail(err, IRB_INVALID_ARG, "sequences: the gap must be a number >= 0 seconds, got %g", gap);
    for (size_t i = 0; i < n; i++)
        if (!items[i].path)
            return irb_fail(err, IRB_INVALID_ARG, "sequences: image %zu has no path", i);

    irb_status st = IRB_NOMEM;
    ref *ord = irb_malloc_array(n ? n : 1, sizeof *ord);
    ref *byval = irb_malloc_array(n ? n : 1, sizeof *byval);
    size_t *cls_of = irb_calloc(n ? n : 1, sizeof *cls_of);
    size_t *cls_group = NULL, *count = NULL;
    unsigned char *shared = irb_calloc(n ? n : 1, 1);
    out->image_seq = irb_malloc_array(n ? n : 1, sizeof *out->image_seq);
    out->member = irb_malloc_array(n ? n : 1, sizeof *out->member);
    if (!ord || !byval || !cls_of || !shared || !out->image_seq || !out->member)
        goto cleanup;

    size_t ne = 0;
    for (size_t i = 0; i < n; i++) {
        ord[i] = (ref){&items[i], i};
        if (has_seq(&items[i]))
            byval[ne++] = (ref){&items[i], i};
    }
    qsort(ord, n, sizeof *ord, cmp_camera_time);
    size_t ncls = explicit_classes(byval, ne, cls_of, shared);
    cls_group = irb_malloc_array(ncls ? ncls : 1, sizeof *cls_group);
    if (!cls_group)
        goto cleanup;
    for (size_t c = 0; c < ncls; c++)
        cls_group[c] = SIZE_MAX;

    /* Walk in burst order; groups are numbered at their first member, which orders them by
     * (camera, first time, first path) with untimed singletons last. The images of no explicit
     * sequence go through the burst rule (irb_seq_stream); explicit ones do not break it. */
    size_t ng = 0, cur = 0, r = 0;
    irb_seq_stream bs;
    out->ids = irb_calloc(n ? n : 1, sizeof *out->ids);
    if (!out->ids || irb_seq_stream_init(&bs, gap, NULL) != IRB_OK)
        goto cleanup;
    for (; r < n; r++) {
        const irb_seq_item *it = ord[r].it;
        size_t i = ord[r].idx;
        int starts = 0;
        if (has_seq(it)) {
            if (cls_group[cls_of[i]] == SIZE_MAX && !(out->ids[ng] = make_id(it, shared[i])))
                break;
            if (cls_group[cls_of[i]] == SIZE_MAX)
                cls_group[cls_of[i]] = ng++;
            out->image_seq[i] = cls_group[cls_of[i]];
            continue;
        }
        if (irb_seq_stream_next(&bs, it->camera, it->has_time, it->time, &starts, NULL) != IRB_OK ||
            (starts && !(out->ids[ng] = irb_strdup(irb_seq_stream_name(&bs)))))
            break;
        if (starts)
            cur = ng++;
        out->image_seq[i] = cur;
    }
    irb_seq_stream_release(&bs);
    out->n_images = n;
    out->n_sequences = ng;
    out->start = irb_calloc(ng + 1, sizeof *out->start);
    count = irb_calloc(ng ? ng : 1, sizeof *count);
    if (r < n || !out->start || !count) /* the walk stopped: out of memory */
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        out->start[out->image_seq[i] + 1]++;
    for (size_t g = 0; g < ng; g++)
        out->start[g + 1] += out->start[g];
    for (r = 0; r < n; r++) { /* members in walk order */
        size_t i = ord[r].idx, g = out->image_seq[i];
        out->member[out->start[g] + count[g]++] = i;
    }
    st = IRB_OK;
cleanup:
    irb_free(ord);
    irb_free(byval);
    irb_free(cls_of);
    irb_free(cls_group);
    irb_free(count);
    irb_free(shared);
    if (st != IRB_OK) {
        irb_sequences_release(out);
        return irb_fail(err, st, "sequences: out of memory grouping %zu images", n);
    }
    return IRB_OK;
}
