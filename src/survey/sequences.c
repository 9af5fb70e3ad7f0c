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

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static int has_seq(const irb_seq_item *it)
{
    return it->sequence && it->sequence[0];
}

static int cmp_time(irb_time a, irb_time b)
{
    if (a.seconds != b.seconds)
        return a.seconds < b.seconds ? -1 : 1;
    return (a.frac > b.frac) - (a.frac < b.frac);
}

/* camera, timed before untimed, time, path (then input index, so equal rows stay ordered). */
static int cmp_camera_time(const void *pa, const void *pb)
{
    const ref *a = pa, *b = pb;
    int c = strcmp(str_or_empty(a->it->camera), str_or_empty(b->it->camera));
    if (c)
        return c;
    if (a->it->has_time != b->it->has_time)
        return a->it->has_time ? -1 : 1;
    if (a->it->has_time && (c = cmp_time(a->it->time, b->it->time)))
        return c;
    if ((c = strcmp(a->it->path, b->it->path)))
        return c;
    return (a->idx > b->idx) - (a->idx < b->idx);
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

irb_seq_opts irb_seq_opts_default(void)
{
    return (irb_seq_opts){.gap = IRB_SEQ_GAP_DEFAULT};
}

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

static char *make_id(const irb_seq_item *it, int shared, size_t k)
{
    const char *cam = str_or_empty(it->camera);
    size_t len = strlen(cam) + (has_seq(it) ? strlen(it->sequence) : 24) + 4;
    char *id = irb_malloc(len);
    if (!id)
        return NULL;
    if (!has_seq(it))
        snprintf(id, len, "%s#%zu", cam, k);
    else if (shared)
        snprintf(id, len, "%s:%s", cam, it->sequence);
    else
        snprintf(id, len, "%s", it->sequence);
    return id;
}

irb_status irb_sequences_assign(const irb_seq_item *items, size_t n, const irb_seq_opts *opts,
                                irb_sequences *out, irb_error *err)
{
    if (!out || (n && !items))
        return irb_fail(err, IRB_INVALID_ARG, "irb_sequences_assign: NULL argument");
    memset(out, 0, sizeof *out);
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

    /* Walk in (camera, time, path) order; groups are numbered at their first member, which
     * orders them by (camera, first time, first path) with untimed singletons last. */
    size_t ng = 0;
    const irb_seq_item *prev = NULL; /* previous grouped-by-time image of this camera */
    for (size_t r = 0; r < n; r++) {
        const irb_seq_item *it = ord[r].it;
        size_t i = ord[r].idx;
        if (prev && strcmp(str_or_empty(prev->camera), str_or_empty(it->camera)) != 0)
            prev = NULL;
        if (has_seq(it)) {
            if (cls_group[cls_of[i]] == SIZE_MAX)
                cls_group[cls_of[i]] = ng++;
            out->image_seq[i] = cls_group[cls_of[i]];
        } else if (it->has_time && prev && irb_time_diff(prev->time, it->time) <= gap) {
            out->image_seq[i] = out->image_seq[prev - items];
            prev = it;
        } else {
            out->image_seq[i] = ng++;
            prev = it->has_time ? it : NULL;
        }
    }
    out->n_images = n;
    out->n_sequences = ng;
    out->start = irb_calloc(ng + 1, sizeof *out->start);
    out->ids = irb_calloc(ng ? ng : 1, sizeof *out->ids);
    count = irb_calloc(ng ? ng : 1, sizeof *count);
    if (!out->start || !out->ids || !count)
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        out->start[out->image_seq[i] + 1]++;
    for (size_t g = 0; g < ng; g++)
        out->start[g + 1] += out->start[g];
    /* members in walk order; ids from each group's first member */
    const char *cam = NULL;
    size_t k = 0;
    for (size_t r = 0; r < n; r++) {
        size_t i = ord[r].idx, g = out->image_seq[i];
        out->member[out->start[g] + count[g]++] = i;
        if (count[g] > 1)
            continue;
        if (!cam || strcmp(cam, str_or_empty(items[i].camera)) != 0) {
            cam = str_or_empty(items[i].camera);
            k = 0;
        }
        if (!has_seq(&items[i]))
            k++;
        if (!(out->ids[g] = make_id(&items[i], shared[i], k)))
            goto cleanup;
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
