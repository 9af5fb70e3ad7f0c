/* Camera times, burst sequences and ensembling: hand-made cases (times checked against Python's
 * calendar.timegm) and the shared Wakhan / hannaboe frames. */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "core/alloc.h"
#include "core/csv.h"
#include "irbis.h"

static void test_time(void)
{
    /* expected seconds from Python: calendar.timegm(datetime.fromisoformat(s).timetuple()) */
    struct {
        const char *text;
        int64_t secs;
        double frac;
    } ok[] = {
        {"2012-11-24T16:59:05", 1353776345, 0},
        {"2012:11:24 16:59:05", 1353776345, 0},
        {"2012-11-24 16:59:05", 1353776345, 0},
        {" 2012-11-24T16:59:05.25 ", 1353776345, 0.25},
        {"2012:11:24 16:59:05,5", 1353776345, 0.5},
        {"2012-11-24T16:59", 1353776340, 0},
        {"1970-01-01T00:00:00", 0, 0},
        {"1969-12-31T23:59:59", -1, 0},
        {"2000-02-29T00:00:00", 951782400, 0},
        {"1600-03-01T00:00:00", -11670912000LL, 0},
        {"2400-02-29T12:00:00", 13574606400LL, 0},
        {"2019-07-09T09:16:01", 1562663761, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        irb_time t = {0};
        irb_error err = {0};
        irb_status s = irb_time_parse(ok[i].text, &t, &err);
        CHECK(s == IRB_OK && t.seconds == ok[i].secs && fabs(t.frac - ok[i].frac) < 1e-12, "'%s' -> %d %lld %.3f (%s)",
              ok[i].text, s, (long long)t.seconds, t.frac, err.message);
    }
    struct {
        const char *text;
        irb_status st;
    } bad[] = {
        {"2001-02-29T00:00:00", IRB_CORRUPT},
        {"1900-02-29T00:00:00", IRB_CORRUPT},
        {"2012-13-01T00:00:00", IRB_CORRUPT},
        {"2012-11-24T24:00:00", IRB_CORRUPT},
        {"2012-11-24T16:60:00", IRB_CORRUPT},
        {"garbage", IRB_CORRUPT},
        {"2012-11-24", IRB_CORRUPT},
        {"2012-11:24T16:59:05", IRB_CORRUPT},
        {"2012-11-24T16:59:05x", IRB_CORRUPT},
        {"2012-11-24T16:59:05.", IRB_CORRUPT},
        {"", IRB_NOT_FOUND},
        {"0000:00:00 00:00:00", IRB_NOT_FOUND},
        {"    :  :     :  :  ", IRB_NOT_FOUND},
        {"2012-11-24T16:59:05Z", IRB_UNSUPPORTED},
        {"2012-11-24T16:59:05+02:00", IRB_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        irb_time t = {0};
        irb_error err = {0};
        irb_status s = irb_time_parse(bad[i].text, &t, &err);
        CHECK(s == bad[i].st && err.status == bad[i].st && strstr(err.message, bad[i].text), "'%s' -> %s, want %s (%s)",
              bad[i].text, irb_status_name(s), irb_status_name(bad[i].st), err.message);
    }
    char buf[64];
    irb_time t;
    irb_time_parse("1600-03-01T07:08:09.5", &t, NULL);
    CHECK(strcmp(irb_time_format(t, buf, sizeof buf), "1600-03-01T07:08:09.500000") == 0, "format %s", buf);
    irb_time_parse("2400-02-29T23:59:59", &t, NULL);
    CHECK(strcmp(irb_time_format(t, buf, sizeof buf), "2400-02-29T23:59:59") == 0, "format %s", buf);
}

/* ---- sequences ----------------------------------------------------------------------- */

typedef struct row {
    const char *path, *camera, *time, *seq;
} row;

static irb_status group(const row *rows, size_t n, double gap, irb_sequences *out)
{
    irb_seq_item items[64];
    for (size_t i = 0; i < n; i++) {
        items[i] = (irb_seq_item){.path = rows[i].path, .camera = rows[i].camera, .sequence = rows[i].seq};
        items[i].has_time = rows[i].time && irb_time_parse(rows[i].time, &items[i].time, NULL) == IRB_OK;
    }
    irb_seq_opts o = {.gap = gap};
    irb_error err = {0};
    irb_status s = irb_sequences_assign(items, n, &o, out, &err);
    CHECK(s == IRB_OK, "assign: %s", err.message);
    return s;
}

/* The id of row i's sequence. */
static const char *id_of(const irb_sequences *s, size_t i) { return s->ids[s->image_seq[i]]; }

static void test_gap_boundary(void)
{
    const row r[] = {
        {"a/1.jpg", "A", "2020-01-01T00:00:00", NULL},
        {"a/2.jpg", "A", "2020-01-01T00:01:00", NULL},   /* +60 s: same sequence */
        {"a/3.jpg", "A", "2020-01-01T00:02:01", NULL},   /* +61 s: new */
        {"a/4.jpg", "A", "2020-01-01T00:03:01.5", NULL}, /* +60.5 s: new */
        {"a/5.jpg", "A", "2020-01-01T00:04:01.5", NULL}, /* +60 s exactly with fractions: same */
    };
    irb_sequences s = {0};
    if (group(r, 5, 60, &s) != IRB_OK)
        return;
    CHECK(s.n_sequences == 3, "n_sequences %zu", s.n_sequences);
    CHECK(strcmp(id_of(&s, 0), "A#1") == 0 && strcmp(id_of(&s, 1), "A#1") == 0, "%s %s", id_of(&s, 0), id_of(&s, 1));
    CHECK(strcmp(id_of(&s, 2), "A#2") == 0, "%s", id_of(&s, 2));
    CHECK(strcmp(id_of(&s, 3), "A#3") == 0 && strcmp(id_of(&s, 4), "A#3") == 0, "%s %s", id_of(&s, 3), id_of(&s, 4));
    CHECK(s.start[0] == 0 && s.start[1] == 2 && s.start[2] == 3 && s.start[3] == 5, "start");
    CHECK(s.member[0] == 0 && s.member[1] == 1 && s.member[2] == 2 && s.member[3] == 3 && s.member[4] == 4, "member");
    irb_sequences_release(&s);
    /* gap 0: only equal times group */
    const row z[] = {{"b", "A", "2020-01-01T00:00:00", NULL},
                     {"a", "A", "2020-01-01T00:00:00", NULL},
                     {"c", "A", "2020-01-01T00:00:01", NULL}};
    if (group(z, 3, 0, &s) != IRB_OK)
        return;
    CHECK(s.n_sequences == 2 && s.image_seq[0] == s.image_seq[1] && s.image_seq[2] != s.image_seq[0], "gap 0");
    CHECK(s.member[0] == 1 && s.member[1] == 0, "ties in time ordered by path: %zu %zu", s.member[0], s.member[1]);
    irb_sequences_release(&s);
}

/* Interleaved cameras, unsorted input, missing times, explicit ids: compare to the same rows in
 * another order (the ids must not depend on it) and to hand-grouped expectations. */
static void test_mixed(void)
{
    const row r[] = {
        {"B/3.jpg", "B", "2021-05-05T10:00:30", NULL},
        {"A/2.jpg", "A", "2021-05-05T10:00:20", NULL},
        {"A/1.jpg", "A", "2021-05-05T10:00:00", NULL},
        {"B/1.jpg", "B", "2021-05-05T09:59:00", NULL},
        {"A/9.jpg", "A", NULL, NULL}, /* no time: alone */
        {"A/3.jpg", "A", "2021-05-05T10:05:00", NULL},
        {"B/2.jpg", "B", "2021-05-05T10:00:00", NULL},  /* 60 s after B/1: same */
        {"A/0.jpg", "A", NULL, NULL},                   /* no time: alone */
        {"C/x.jpg", "C", "2021-05-05T10:00:00", "ev7"}, /* explicit: with C/y despite an hour */
        {"C/y.jpg", "C", "2021-05-05T11:00:00", "ev7"},
        {"C/z.jpg", "C", "2021-05-05T10:00:10", "ev8"}, /* explicit, close in time to C/x */
        {"D/x.jpg", "D", "2021-05-05T10:00:00", "ev7"}, /* same value on another camera */
        {"C/w.jpg", "C", "2021-05-05T10:00:05", NULL},  /* grouped by time, ignores explicit rows */
        {"C/v.jpg", "C", "2021-05-05T10:00:50", NULL},
        {"E/1.jpg", NULL, "2021-05-05T10:00:00", NULL}, /* unknown camera */
    };
    const char *want[] = {"B#1",   "A#1",   "A#1", "B#1",   "A#4", "A#2", "B#1", "A#3",
                          "C:ev7", "C:ev7", "ev8", "D:ev7", "C#1", "C#1", "#1"};
    size_t n = sizeof r / sizeof r[0];
    irb_sequences s = {0};
    if (group(r, n, 60, &s) != IRB_OK)
        return;
    CHECK(s.n_sequences == 10, "n_sequences %zu", s.n_sequences);
    for (size_t i = 0; i < n; i++)
        CHECK(strcmp(id_of(&s, i), want[i]) == 0, "%s: id %s, want %s", r[i].path, id_of(&s, i), want[i]);
    /* sequence order: cameras "", A, B, C, D; within A by time, untimed last in path order */
    const char *order[] = {"#1", "A#1", "A#2", "A#3", "A#4", "B#1"};
    for (size_t g = 0; g < 6 && g < s.n_sequences; g++)
        CHECK(strcmp(s.ids[g], order[g]) == 0, "sequence %zu is %s, want %s", g, s.ids[g], order[g]);
    /* reversed input gives the same grouping */
    row rev[32];
    for (size_t i = 0; i < n; i++)
        rev[i] = r[n - 1 - i];
    irb_sequences t = {0};
    if (group(rev, n, 60, &t) == IRB_OK) {
        for (size_t i = 0; i < n; i++)
            CHECK(strcmp(id_of(&t, n - 1 - i), want[i]) == 0, "reversed %s: %s", r[i].path, id_of(&t, n - 1 - i));
        for (size_t g = 0; g < s.n_sequences; g++)
            CHECK(strcmp(s.ids[g], t.ids[g]) == 0, "order differs at %zu", g);
    }
    irb_sequences_release(&t);
    irb_sequences_release(&s);
    /* bad input */
    irb_seq_item bad = {.path = NULL};
    irb_error err = {0};
    CHECK(irb_sequences_assign(&bad, 1, NULL, &s, &err) == IRB_INVALID_ARG, "NULL path");
    irb_seq_item one = {.path = "x"};
    irb_seq_opts neg = {.gap = -1};
    CHECK(irb_sequences_assign(&one, 1, &neg, &s, &err) == IRB_INVALID_ARG && strstr(err.message, "gap"), "gap<0");
    CHECK(irb_sequences_assign(NULL, 0, NULL, &s, &err) == IRB_OK && s.n_sequences == 0, "empty");
    irb_sequences_release(&s);
}

/* ---- the shared frames ------------------------------------------------------------------ */

typedef struct manifest {
    size_t n;
    char *path[256], *camera[256], *time[256], *seq[256];
} manifest;

static int load_manifest(const char *prefix, manifest *m)
{
    const char *file = test_shared("data/camera-traps/manifest.csv");
    FILE *f = fopen(file, "rb");
    CHECK(f != NULL, "cannot open %s", file);
    if (!f)
        return 0;
    irb_csv_reader r;
    irb_error err = {0};
    irb_csv_init(&r, f, file);
    m->n = 0;
    int ok = irb_csv_read_header(&r, &err) == IRB_OK;
    int cp = irb_csv_column(&r, "path"), cc = irb_csv_column(&r, "camera"), ct = irb_csv_column(&r, "timestamp"),
        cs = irb_csv_column(&r, "sequence");
    while (ok && irb_csv_next(&r, &err) == IRB_OK && m->n < 256) {
        if (strncmp(irb_csv_field(&r, cp), prefix, strlen(prefix)) != 0)
            continue;
        m->path[m->n] = strdup(irb_csv_field(&r, cp));
        m->camera[m->n] = strdup(irb_csv_field(&r, cc));
        m->time[m->n] = strdup(irb_csv_field(&r, ct));
        m->seq[m->n] = strdup(irb_csv_field(&r, cs));
        m->n++;
    }
    irb_csv_release(&r);
    fclose(f);
    return ok;
}

static void free_manifest(manifest *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->path[i]);
        free(m->camera[i]);
        free(m->time[i]);
        free(m->seq[i]);
    }
}

static irb_status group_manifest(const manifest *m, int use_seq, irb_sequences *s)
{
    static irb_seq_item items[256];
    irb_error err = {0};
    for (size_t i = 0; i < m->n; i++) {
        items[i] = (irb_seq_item){.path = m->path[i], .camera = m->camera[i], .sequence = use_seq ? m->seq[i] : NULL};
        items[i].has_time = irb_time_parse(m->time[i], &items[i].time, &err) == IRB_OK;
        CHECK(items[i].has_time, "%s: %s", m->path[i], err.message);
    }
    irb_status st = irb_sequences_assign(items, m->n, NULL, s, &err);
    CHECK(st == IRB_OK, "%s", err.message);
    return st;
}

static void test_wakhan(void)
{
    manifest m;
    if (!load_manifest("wakhan_snowleopard/", &m))
        return;
    CHECK(m.n == 17, "wakhan frames %zu", m.n);
    irb_sequences s = {0};
    if (group_manifest(&m, 0, &s) == IRB_OK) {
        CHECK(s.n_sequences == 3, "wakhan sequences %zu", s.n_sequences);
        if (s.n_sequences == 3) {
            size_t sizes[3] = {s.start[1] - s.start[0], s.start[2] - s.start[1], s.start[3] - s.start[2]};
            CHECK(sizes[0] == 1 && sizes[1] == 12 && sizes[2] == 4, "sizes %zu %zu %zu", sizes[0], sizes[1], sizes[2]);
            CHECK(strcmp(s.ids[1], "C1_Avgarch_SL#2") == 0, "id %s", s.ids[1]);
        }
    }
    irb_sequences_release(&s);
    free_manifest(&m);
}

/* The source's own Reconyx event ids are the ground truth: the 60 s gap grouping must give the
 * same partition (measured: 157 of 157 groups identical; 200 images). */
static void test_hannaboe(void)
{
    manifest m;
    if (!load_manifest("hannaboe_smallmammal/", &m))
        return;
    CHECK(m.n == 200, "hannaboe frames %zu", m.n);
    irb_sequences s = {0};
    if (group_manifest(&m, 0, &s) != IRB_OK)
        return;
    size_t pairs = 0, agree = 0, same_ours = 0, same_src = 0;
    for (size_t i = 0; i < m.n; i++)
        for (size_t j = i + 1; j < m.n; j++) {
            int a = s.image_seq[i] == s.image_seq[j], b = strcmp(m.seq[i], m.seq[j]) == 0;
            pairs++;
            agree += a == b;
            same_ours += a;
            same_src += b;
        }
    size_t nsrc = 0;
    for (size_t i = 0; i < m.n; i++) {
        size_t j = 0;
        while (j < i && strcmp(m.seq[j], m.seq[i]) != 0)
            j++;
        nsrc += j == i;
    }
    printf("hannaboe: %zu images, %zu sequences (source: %zu events), pair agreement %zu/%zu\n", m.n, s.n_sequences,
           nsrc, agree, pairs);
    CHECK(s.n_sequences == nsrc && agree == pairs, "grouping differs from the source's event ids");
    CHECK(same_ours == same_src && same_src > 0, "same-sequence pairs %zu vs %zu", same_ours, same_src);
    irb_sequences_release(&s);
    /* the explicit column reproduces the source's events exactly, ids verbatim */
    if (group_manifest(&m, 1, &s) == IRB_OK) {
        CHECK(s.n_sequences == nsrc, "explicit: %zu", s.n_sequences);
        for (size_t i = 0; i < m.n; i++)
            CHECK(strcmp(id_of(&s, i), m.seq[i]) == 0, "explicit id %s vs %s", id_of(&s, i), m.seq[i]);
    }
    irb_sequences_release(&s);
    free_manifest(&m);
}

/* ---- ensembling ------------------------------------------------------------------------- */

static void test_ensemble(void)
{
    const row r[] = {{"1", "A", "2020-01-01T00:00:00", NULL},
                     {"2", "A", "2020-01-01T00:00:10", NULL},
                     {"3", "A", "2020-01-01T05:00:00", NULL}};
    double p[] = {0.9, 0.1, 0.0, /**/ 0.2, 0.4, 0.4, /**/ 0.1, 0.3, 0.6};
    irb_sequences s = {0};
    if (group(r, 3, 60, &s) != IRB_OK)
        return;
    double sp[6], ip[9];
    int sl[2], il[3];
    irb_error err = {0};
    /* mean: (0.55, 0.25, 0.2) */
    CHECK(irb_ensemble_sequences(&s, p, 3, IRB_ENSEMBLE_MEAN, sp, sl, ip, il, &err) == IRB_OK, "%s", err.message);
    CHECK(fabs(sp[0] - 0.55) < 1e-12 && fabs(sp[1] - 0.25) < 1e-12 && fabs(sp[2] - 0.2) < 1e-12, "mean");
    CHECK(sl[0] == 0 && sl[1] == 2 && il[0] == 0 && il[1] == 0 && il[2] == 2, "labels");
    CHECK(ip[3] == sp[0] && ip[6] == sp[3] && ip[8] == sp[5], "image probs");
    /* max: (0.9, 0.4, 0.4) / 1.7 */
    irb_ensemble_sequences(&s, p, 3, IRB_ENSEMBLE_MAX, sp, sl, NULL, NULL, &err);
    CHECK(fabs(sp[0] - 0.9 / 1.7) < 1e-12 && fabs(sp[2] - 0.4 / 1.7) < 1e-12, "max %g %g", sp[0], sp[2]);
    /* geomean: sqrt(.18), sqrt(.04), sqrt(1e-12 * .4), renormalised */
    irb_ensemble_sequences(&s, p, 3, IRB_ENSEMBLE_GEOMEAN, sp, sl, NULL, NULL, &err);
    double g[3] = {sqrt(0.18), sqrt(0.04), sqrt(0.4e-12)}, gs = g[0] + g[1] + g[2];
    CHECK(fabs(sp[0] - g[0] / gs) < 1e-12 && fabs(sp[2] - g[2] / gs) < 1e-12, "geomean %g %g", sp[0], sp[2]);
    CHECK(fabs(sp[3] - 0.1) < 1e-12 && fabs(sp[5] - 0.6) < 1e-12, "singleton geomean unchanged");
    CHECK(irb_ensemble_parse("geomean") == IRB_ENSEMBLE_GEOMEAN && irb_ensemble_parse("avg") == -1, "parse");
    double badp[9] = {0.5, NAN, 0.5};
    CHECK(irb_ensemble_sequences(&s, badp, 3, IRB_ENSEMBLE_MEAN, sp, NULL, NULL, NULL, &err) == IRB_INVALID_ARG,
          "NaN probability refused");
    irb_sequences_release(&s);
}

/* Every allocation failing in turn: NOMEM with a message, nothing leaked (ASan build). */
static void test_alloc_failures(void)
{
    irb_seq_item it[4] = {{"b", "A", 1, {10, 0}, NULL},
                          {"a", "A", 1, {0, 0}, NULL},
                          {"c", "B", 0, {0, 0}, "e1"},
                          {"d", "C", 0, {0, 0}, "e1"}};
    int ok_seen = 0;
    for (long k = 1; k < 40 && !ok_seen; k++) {
        irb_sequences s = {0};
        irb_error err = {0};
        irb_alloc_fail_after(k);
        irb_status st = irb_sequences_assign(it, 4, NULL, &s, &err);
        irb_alloc_fail_after(0);
        CHECK(st == IRB_OK || (st == IRB_NOMEM && strstr(err.message, "memory") && s.ids == NULL), "alloc %ld: %s", k,
              err.message);
        ok_seen = st == IRB_OK;
        irb_sequences_release(&s);
    }
    CHECK(ok_seen, "sequences never succeeded under injection");
    irb_fold_item f[4] = {{"a", "A", "u1", 0}, {"b", "A", "u1", 0}, {"c", "B", "u2", 1}, {"d", "C", "u3", 1}};
    int fold[4];
    ok_seen = 0;
    for (long k = 1; k < 20 && !ok_seen; k++) {
        irb_error err = {0};
        irb_alloc_fail_after(k);
        irb_status st = irb_folds_assign(f, 4, &(irb_fold_opts){.k = 2, .stratify = 1}, fold, &err);
        irb_alloc_fail_after(0);
        CHECK(st == IRB_OK || st == IRB_NOMEM, "folds alloc %ld: %s", k, err.message);
        ok_seen = st == IRB_OK;
    }
    CHECK(ok_seen, "folds never succeeded under injection");
}

int main(void)
{
    test_alloc_failures();
    test_time();
    test_gap_boundary();
    test_mixed();
    test_wakhan();
    test_hannaboe();
    test_ensemble();
    return CHECK_DONE();
}
