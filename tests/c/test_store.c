/* The results store and the classify driver, driven by a fake scanner and a fake engine
 * (deterministic probabilities from the path): label rule, time parsing against timegm(),
 * hand-computed sequences and their mean probabilities, the run lock, parameter checks and
 * --restart, failures listed with their cause, and resumption after SIGKILL at random moments
 * giving byte-identical predictions.csv to an uninterrupted run. */
#define _GNU_SOURCE
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/error.h"
#include "irbis/survey.h"
#include "classify/classify_internal.h"
#include "irbis/review.h"
#include <sqlite3.h>

/* ---- the fakes ---------------------------------------------------------------------------- */

#define NC 3
static const char *const CLASSES[NC] = {"empty", "snow_leopard", "ibex"};

typedef struct fake {
    int n;              /* images to scan */
    int scan_sleep_us;  /* per scanned row */
    int score_sleep_us; /* per image (engines take runs of several batches) */
    int i;
    char path[64], cam[16], ts[32];
} fake;

/* Image i: camera "cam<i % 3>", time base + 20 s * (i / 3) with a 2-minute break every 7th
 * step; every 13th image is unreadable (fails in prepare), every 29th is rejected by the scan,
 * every 31st has no timestamp. */
static void fake_row(int i, char *path, char *cam, char *ts, int *has_time, int *scan_bad, int *prep_bad)
{
    int c = i % 3, k = i / 3;
    sprintf(path, "cam%d/IMG_%04d.JPG", c, i);
    sprintf(cam, "cam%d", c);
    long t = 20L * k + 120L * (k / 7);
    *has_time = i % 31 != 5;
    if (*has_time)
        sprintf(ts, "2021-06-%02ldT%02ld:%02ld:%02ld", 1 + t / 86400, t / 3600 % 24, t / 60 % 60, t % 60);
    else
        ts[0] = '\0';
    *scan_bad = i % 29 == 7;
    *prep_bad = !*scan_bad && i % 13 == 4;
}

static irb_status fake_next(void *ctx, irb_cls_row *row, irb_error *err)
{
    (void)err;
    fake *f = ctx;
    if (f->i >= f->n)
        return IRB_NOT_FOUND;
    if (f->scan_sleep_us)
        usleep((useconds_t)f->scan_sleep_us);
    int has_time, scan_bad, prep_bad;
    fake_row(f->i++, f->path, f->cam, f->ts, &has_time, &scan_bad, &prep_bad);
    memset(row, 0, sizeof *row);
    row->path = f->path;
    row->camera = f->cam;
    row->timestamp = f->ts;
    row->width = 640, row->height = 480;
    row->status = scan_bad ? IRB_TOO_LARGE : IRB_OK;
    row->message = scan_bad ? "header says 100000 x 100000 pixels, above the limit" : NULL;
    return IRB_OK;
}

static void fake_close(void *ctx) { (void)ctx; }

static irb_status make_scanner(void *user, irb_cls_scanner *s, irb_error *err)
{
    (void)err;
    fake *f = user;
    f->i = 0;
    s->ctx = f, s->next = fake_next, s->close = fake_close;
    return IRB_OK;
}

static int path_index(const char *abs)
{
    const char *p = strstr(abs, "IMG_");
    return p ? atoi(p + 4) : -1;
}

/* Fake class probabilities of image i (softmax of three numbers from i). */
static void fake_probs(int i, double *p)
{
    double z[NC] = {sin(i * 0.7) * 2, cos(i * 0.3) * 2, sin(i * 1.3 + 1)}, s = 0;
    for (int k = 0; k < NC; k++)
        s += (p[k] = exp(z[k]));
    for (int k = 0; k < NC; k++)
        p[k] /= s;
}

/* The fake engine: image i's probabilities, or its failure when the fake says it is unreadable. */
static irb_status fake_run(void *ctx, const irb_cls_item *items, int n, double *probs, irb_status *st, irb_error *errs,
                           irb_error *err)
{
    (void)err;
    fake *f = ctx;
    if (f->score_sleep_us)
        usleep((useconds_t)f->score_sleep_us * (useconds_t)n);
    for (int j = 0; j < n; j++) {
        int i = path_index(items[j].path), has_time, scan_bad, prep_bad;
        char path[64], cam[16], ts[32];
        fake_row(i, path, cam, ts, &has_time, &scan_bad, &prep_bad);
        irb_error_clear(&errs[j]);
        st[j] = prep_bad ? irb_fail(&errs[j], IRB_CORRUPT, "%s: not a JPEG file (starts with 0x00 0x00)", items[j].path)
                         : IRB_OK;
        if (!prep_bad)
            fake_probs(i, probs + (size_t)j * NC);
    }
    return IRB_OK;
}

static void fake_free(void *ctx) { (void)ctx; }

static irb_status make_engine(void *user, irb_cls_engine *e, irb_error *err)
{
    (void)err;
    memset(e, 0, sizeof *e);
    e->ctx = user;
    e->n_classes = NC;
    e->classes = CLASSES;
    e->classified_by = "irbis test";
    e->run = fake_run, e->free = fake_free;
    return IRB_OK;
}

/* The survey folder the runs name (the fake scanner does not read it, but it must exist). */
static const char *survey_dir;

static irb_status run(fake *f, const char *out, double gap, int restart, irb_classify_summary *sum, irb_error *err)
{
    irb_classify_opts o;
    irb_classify_opts_default(&o);
    o.survey_dir = survey_dir;
    o.out_dir = out;
    o.sequence_gap = gap;
    o.positive = "snow_leopard";
    o.threshold = 0.4;
    o.batch = 8;
    o.restart = restart;
    o.taxa = "snow_leopard=Panthera uncia;ibex=Capra sibirica";
    return irb_classify_run_with(&o, "modelsha", "clfsha", NC, CLASSES, "irbis test", make_scanner, make_engine, f, sum,
                                 err);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n)
        n = 0;
    b[n] = '\0';
    fclose(f);
    return b;
}

/* The predictions.csv line of a path (a copy), or NULL. */
static char *line_of(const char *csv, const char *path)
{
    char key[80];
    snprintf(key, sizeof key, "\n%s,", path);
    const char *p = strstr(csv, key);
    if (!p)
        return NULL;
    p++;
    const char *e = strchr(p, '\n');
    return strndup(p, (size_t)(e - p));
}

/* Field k (0-based) of a simple CSV line (no quoted commas in our fake data). */
static void field(const char *line, int k, char *buf, size_t size)
{
    const char *p = line;
    for (int i = 0; i < k && p; i++)
        p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
    size_t n = p ? strcspn(p, ",") : 0;
    if (n >= size)
        n = size - 1;
    memcpy(buf, p ? p : "", n);
    buf[n] = '\0';
}

/* dir/name in one of a few rotating buffers. */
static const char *pj(const char *dir, const char *name)
{
    static char buf[4][8192];
    static int k;
    char *b = buf[k++ & 3];
    if (snprintf(b, sizeof buf[0], "%s/%s", dir, name) >= (int)sizeof buf[0])
        abort();
    return b;
}

static void rm_rf(const char *dir) { irb_rmtree(dir, NULL); }

/* ---- tests -------------------------------------------------------------------------------- */

static void test_label_rule(void)
{
    double a[3] = {0.5, 0.3, 0.2};
    CHECK(irb_cls_label(a, 3, -1, 0.5, 0) == 0, "argmax");
    CHECK(irb_cls_label(a, 3, 1, 0.3, 0) == 1, "p(pos) == threshold is positive");
    CHECK(irb_cls_label(a, 3, 1, 0.31, 0) == 0, "below threshold: best other");
    CHECK(irb_cls_label(a, 3, 0, 0.9, 0) == 1, "best of the others when pos is argmax but below threshold");
    double t[2] = {0.5, 0.5};
    CHECK(irb_cls_label(t, 2, -1, 0.5, 0) == 0, "tie: lowest index");
    CHECK(irb_cls_label(a, 3, -1, 0.5, 0.6) == IRB_LABEL_UNCERTAIN, "top probability below min_conf: uncertain");
    CHECK(irb_cls_label(a, 3, 1, 0.3, 0.5) == 1, "top probability at min_conf: the label rule");
    CHECK(irb_cls_label(a, 3, 1, 0.3, 0.51) == IRB_LABEL_UNCERTAIN, "uncertain also with a positive class");
}

static void test_time(void)
{
    static const char *const cases[] = {"2012-11-24T16:59:05", "1970-01-01T00:00:00", "2000-02-29 23:59:59",
                                        "2012:11:24 16:59:05", "1969-12-31T23:59:59", "2100-03-01T12:00:00"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct tm tm = {0};
        sscanf(cases[i], "%d%*c%d%*c%d%*c%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec);
        tm.tm_year -= 1900, tm.tm_mon -= 1;
        int64_t sec;
        double frac;
        CHECK(irb_cls_parse_time(cases[i], &sec, &frac) && sec == (int64_t)timegm(&tm), "time %s", cases[i]);
    }
    int64_t sec;
    double frac;
    CHECK(irb_cls_parse_time("2012-11-24T16:59:05.25", &sec, &frac) && fabs(frac - 0.25) < 1e-12, "fraction");
    CHECK(!irb_cls_parse_time("", &sec, &frac) && !irb_cls_parse_time("2012-13-01T00:00:00", &sec, &frac) &&
              !irb_cls_parse_time("yesterday", &sec, &frac),
          "invalid times refused");
}

static void test_lock(const char *dir)
{
    irb_store *a = NULL, *b = NULL;
    irb_error err = {0};
    CHECK(irb_store_open(dir, &a, &err) == IRB_OK, "open: %s", err.message);
    irb_status s = irb_store_open(dir, &b, &err);
    CHECK(s == IRB_BUSY && strstr(err.message, ".lock") && strstr(err.message, "another"), "second open refused: %s %s",
          irb_status_name(s), err.message);
    irb_store_close(a);
    CHECK(irb_store_open(dir, &b, &err) == IRB_OK, "open after release: %s", err.message);
    irb_store_close(b);
}

/* Expected sequences computed here from the fake's definition (not from the store). */
static void test_full_run(const char *out)
{
    fake f = {.n = 120};
    irb_classify_summary sum;
    irb_error err = {0};
    irb_status s = run(&f, out, 60, 0, &sum, &err);
    CHECK(s == IRB_OK, "run: %s", err.message);
    int n_scan_bad = 0, n_prep_bad = 0;
    for (int i = 0; i < f.n; i++) {
        int ht, sb, pb;
        char p[64], c[16], t[32];
        fake_row(i, p, c, t, &ht, &sb, &pb);
        n_scan_bad += sb, n_prep_bad += pb;
    }
    CHECK(sum.images == f.n && sum.failed == n_scan_bad + n_prep_bad && sum.classified == f.n - sum.failed,
          "summary %lld/%lld/%lld", sum.images, sum.classified, sum.failed);
    const char *path = pj(out, "predictions.csv");
    char *csv = slurp(path);
    CHECK(csv != NULL, "predictions.csv written");
    if (!csv)
        return;
    CHECK(!strncmp(csv,
                   "path,camera,timestamp,sequence,p_empty,p_snow_leopard,p_ibex,label,seq_p_empty,"
                   "seq_p_snow_leopard,seq_p_ibex,seq_label,status,message,method\n",
                   141),
          "header");
    /* cam0 holds images 0,3,6,...: k = i/3, t = 20k + 120*(k/7): steps 20 s, every 7th step a
     * 140 s gap. Sequences of cam0 (gap 60): k 0..6, 7..13, ... minus failed/untimed ones. */
    for (int i = 0; i < f.n; i++) {
        int ht, sb, pb;
        char p[64], c[16], t[32];
        fake_row(i, p, c, t, &ht, &sb, &pb);
        char *line = line_of(csv, p), buf[256];
        CHECK(line != NULL, "row for %s", p);
        if (!line)
            continue;
        field(line, 12, buf, sizeof buf);
        if (sb || pb) {
            CHECK(!strcmp(buf, sb ? "too_large" : "corrupt"), "%s status %s", p, buf);
            field(line, 13, buf, sizeof buf);
            CHECK(strlen(buf) > 10, "%s has a cause", p);
            free(line);
            continue;
        }
        CHECK(!strcmp(buf, "ok"), "%s ok", p);
        double pr[NC];
        fake_probs(i, pr);
        field(line, 4, buf, sizeof buf);
        CHECK(fabs(atof(buf) - pr[0]) < 1e-6, "%s p_empty %s vs %f", p, buf, pr[0]);
        /* expected sequence mean: members = same camera, timed, ok, same 7-step block */
        double m[NC] = {0};
        int cnt = 0;
        for (int j = i % 3; j < f.n; j += 3) {
            int ht2, sb2, pb2;
            char p2[64], c2[16], t2[32];
            fake_row(j, p2, c2, t2, &ht2, &sb2, &pb2);
            int same = ht ? (ht2 && (j / 3) / 7 == (i / 3) / 7) : j == i;
            if (!same || sb2 || pb2)
                continue;
            double q[NC];
            fake_probs(j, q);
            for (int k = 0; k < NC; k++)
                m[k] += q[k];
            cnt++;
        }
        for (int k = 0; k < NC; k++) {
            field(line, 8 + k, buf, sizeof buf);
            CHECK(fabs(atof(buf) - m[k] / cnt) < 2e-6, "%s seq_p[%d] %s vs %f (n %d)", p, k, buf, m[k] / cnt, cnt);
        }
        int want = m[1] / cnt >= 0.4 ? 1 : (m[0] >= m[2] ? 0 : 2);
        field(line, 11, buf, sizeof buf);
        CHECK(!strcmp(buf, CLASSES[want]), "%s seq_label %s vs %s", p, buf, CLASSES[want]);
        free(line);
    }
    /* the sequence ids of two images 20 s apart match; across a 140 s gap they differ */
    char *l0 = line_of(csv, "cam0/IMG_0000.JPG"), *l1 = line_of(csv, "cam0/IMG_0003.JPG"),
         *l7 = line_of(csv, "cam0/IMG_0021.JPG");
    char s0[64], s1[64], s7[64];
    field(l0, 3, s0, sizeof s0), field(l1, 3, s1, sizeof s1), field(l7, 3, s7, sizeof s7);
    CHECK(!strcmp(s0, s1) && strcmp(s0, s7) && !strcmp(s0, "cam0#1") && !strcmp(s7, "cam0#2"), "seq ids %s %s %s", s0,
          s1, s7);
    free(l0), free(l1), free(l7);
    free(csv);

    /* a rerun is a no-op that changes nothing */
    char *before = slurp(path);
    s = run(&f, out, 60, 0, &sum, &err);
    char *after = slurp(path);
    CHECK(s == IRB_OK && sum.resumed == f.n && before && after && !strcmp(before, after), "rerun identical");
    free(before), free(after);

    /* different parameters are refused, --restart accepts them */
    s = run(&f, out, 30, 0, &sum, &err);
    CHECK(s == IRB_MISMATCH && strstr(err.message, "classified with --gap 60; this run has --gap 30") &&
              strstr(err.message, "--restart"),
          "gap change refused: %s", err.message);
    s = run(&f, out, 30, 1, &sum, &err);
    CHECK(s == IRB_OK && sum.resumed == 0 && sum.images == f.n, "restart: %s", err.message);
}

/* Kills runs with SIGKILL at random moments, resumes, and compares with an uninterrupted run. */
static void test_kill_resume(const char *ref, const char *out)
{
    fake f = {.n = 300, .scan_sleep_us = 30, .score_sleep_us = 300};
    irb_classify_summary sum;
    irb_error err = {0};
    rm_rf(ref);
    double t0 = irb_now();
    CHECK(run(&f, ref, 60, 0, &sum, &err) == IRB_OK, "reference run: %s", err.message);
    double t_run = irb_now() - t0;
    printf("uninterrupted run: %.3f s\n", t_run);
    rm_rf(out);
    srand((unsigned)time(NULL));
    int kills = 0, partial = 0;
    /* at least 8 kills, and go on (up to 40) until two of them landed mid-classification: where
     * a random kill lands depends on the host's load, so the count is reached, not assumed. A
     * round that let the run finish starts the chain again from an empty output. */
    for (int round = 0; round < 40 && (round < 8 || partial < 2); round++) {
        pid_t pid = fork();
        if (pid == 0) {
            irb_error e = {0};
            _exit(run(&f, out, 60, 0, NULL, &e) == IRB_OK ? 0 : 1);
        }
        /* anywhere in the first 40 % of a run: each round leaves work for the next */
        usleep((useconds_t)(1000 + (double)rand() / RAND_MAX * t_run * 0.4e6));
        if (kill(pid, SIGKILL) == 0)
            kills++;
        int st;
        waitpid(pid, &st, 0);
        irb_store *store = NULL;
        irb_store_counts c = {0};
        if (irb_store_open(out, &store, &err) == IRB_OK && irb_store_counts_get(store, &c, &err) == IRB_OK &&
            c.pending > 0 && c.pending < c.total)
            partial++;
        int finished = store && c.total > 0 && c.pending == 0;
        irb_store_close(store);
        if (finished && partial < 2)
            rm_rf(out);
    }
    CHECK(kills >= 4, "killed %d runs", kills);
    CHECK(partial >= 2, "only %d kills hit the classification phase", partial);
    irb_status s = run(&f, out, 60, 0, &sum, &err);
    CHECK(s == IRB_OK && sum.images == f.n, "final resume: %s (%lld images, %lld resumed)", err.message, sum.images,
          sum.resumed);
    printf("kill/resume: %d kills (%d mid-classification), final run resumed %lld of %lld images\n", kills, partial,
           sum.resumed, sum.images);
    char *x = slurp(pj(ref, "predictions.csv")), *y = slurp(pj(out, "predictions.csv"));
    CHECK(x && y && !strcmp(x, y), "predictions identical to the uninterrupted run");
    int lines = 0;
    for (char *p = y; p && *p; p++)
        lines += *p == '\n';
    CHECK(lines == f.n + 1, "%d lines for %d images", lines, f.n);
    free(x), free(y);
}

/* Regression (issue 15, item 3): a re-run after more images were copied into the survey skipped
 * the scan ("0 left") and never classified the new ones. It must end as a straight run over
 * the grown survey does. */
static void test_new_images(const char *ref, const char *out)
{
    rm_rf(ref), rm_rf(out);
    fake f = {.n = 40};
    irb_classify_summary sum;
    irb_error err = {0};
    CHECK(run(&f, out, 60, 0, &sum, &err) == IRB_OK && sum.images == 40, "first run: %s", err.message);
    f.n = 60;
    irb_status s = run(&f, out, 60, 0, &sum, &err);
    CHECK(s == IRB_OK && sum.images == 60 && sum.pending == 0 && sum.resumed == 40,
          "re-run with 20 new images: %s, %lld images, %lld pending, %lld resumed", err.message, sum.images,
          sum.pending, sum.resumed);
    fake g = {.n = 60};
    CHECK(run(&g, ref, 60, 0, &sum, &err) == IRB_OK, "straight run: %s", err.message);
    char *x = slurp(pj(ref, "predictions.csv")), *y = slurp(pj(out, "predictions.csv"));
    CHECK(x && y && !strcmp(x, y), "predictions after the re-run equal a straight run's");
    free(x), free(y);
}

/* Regression (issue 15, item 5): the survey was recorded as typed. `s`, `./s/` and the absolute
 * path must resume one run; the same relative name typed in another folder names another
 * survey and is refused; a mistyped survey is refused before the output folder is created,
 * so the corrected command still runs; a store recording an older spelling of the same folder
 * is accepted. */
static void test_survey_spelling(const char *tmp)
{
    char here[4096], abs[8192], out[8192], other[8192], typo[8192];
    if (!getcwd(here, sizeof here))
        return;
    snprintf(abs, sizeof abs, "%s/%s", tmp, "spell");
    snprintf(out, sizeof out, "%s/%s", tmp, "spell_out");
    snprintf(other, sizeof other, "%s/%s", tmp, "spell_other");
    snprintf(typo, sizeof typo, "%s/%s", tmp, "spell_typo");
    rm_rf(abs), rm_rf(out), rm_rf(other), rm_rf(typo);
    mkdir(abs, 0777), mkdir(other, 0777), mkdir(pj(other, "spell"), 0777);
    const char *keep = survey_dir;
    fake f = {.n = 20};
    irb_classify_summary sum;
    irb_error err = {0};
    survey_dir = abs;
    CHECK(run(&f, out, 60, 0, &sum, &err) == IRB_OK, "first run: %s", err.message);
    static const char *const spellings[] = {"spell", "./spell/", "spell//", "../store/spell"};
    CHECK(chdir(tmp) == 0, "cd %s", tmp);
    for (size_t i = 0; i < sizeof spellings / sizeof *spellings; i++) {
        survey_dir = spellings[i];
        irb_status s = run(&f, out, 60, 0, &sum, &err);
        CHECK(s == IRB_OK && sum.resumed == 20, "'%s' resumes the run: %s", spellings[i], err.message);
    }
    CHECK(chdir(other) == 0, "cd %s", other);
    survey_dir = "spell"; /* another folder of that name */
    irb_status s = run(&f, out, 60, 0, &sum, &err);
    CHECK(s == IRB_MISMATCH && strstr(err.message, "survey"), "another 'spell' refused: %s", err.message);
    survey_dir = "/nonexistent-survey-typo";
    s = run(&f, typo, 60, 0, &sum, &err);
    struct stat stt;
    CHECK(s == IRB_NOT_FOUND && stat(typo, &stt) != 0, "a missing survey is refused before OUT is made: %s %s",
          irb_status_name(s), err.message);
    survey_dir = abs;
    CHECK(run(&f, typo, 60, 0, &sum, &err) == IRB_OK, "the corrected command runs: %s", err.message);
    irb_store *st = NULL; /* a store as written before: the survey as typed ("./spell/" from tmp) */
    CHECK(chdir(tmp) == 0 && irb_store_open(out, &st, &err) == IRB_OK &&
              irb_store_set_param(st, "survey", "./spell/", &err) == IRB_OK,
          "legacy spelling recorded: %s", err.message);
    irb_store_close(st);
    s = run(&f, out, 60, 0, &sum, &err);
    CHECK(s == IRB_OK && sum.resumed == 20, "legacy spelling of the same folder accepted: %s", err.message);
    CHECK(chdir(here) == 0, "cd back");
    survey_dir = keep;
}

/* Regression (issue 15, item 15): an empty survey (or one made only of links to camera
 * folders, which are not followed) gave exit 0 and empty outputs with no word said. */
/* ---- the store's sequences equal irb_sequences_assign's ---------------------------------- */

/* Two cameras interleaved in scan order, a camera of root-level files (""), ties in time, a gap
 * of exactly 60 s (with and without fractions), 60.5 s, untimed images between timed ones. */
static const char *const SEQ_ROWS[][2] = {
    {"camA", "2021-06-01T00:00:00"},   {"camB", "2021-06-01T00:00:30"},
    {"camA", "2021-06-01T00:00:00"},   {"camB", ""},
    {"camA", "2021-06-01T00:01:00"},   {"camB", "2021-06-01T00:01:31"},
    {"camA", "2021-06-01T00:02:00.5"}, {"camA", ""},
    {"camB", "2021-06-01T00:00:30"},   {"camA", ""},
    {"camA", "2021-06-01T00:03:00.5"}, {"", "2021-06-01T00:00:00"},
    {"", "2021-06-01T00:00:59"},       {"camB", "2021-06-01T00:02:31"},
    {"camA", "2021-06-01T00:04:01"},
};
#define SEQ_N (int)(sizeof SEQ_ROWS / sizeof SEQ_ROWS[0])

static void seq_path(int i, char *buf, size_t size)
{
    if (SEQ_ROWS[i][0][0])
        snprintf(buf, size, "%s/IMG_%04d.JPG", SEQ_ROWS[i][0], i);
    else
        snprintf(buf, size, "IMG_%04d.JPG", i);
}

static irb_status table_next(void *ctx, irb_cls_row *row, irb_error *err)
{
    (void)err;
    fake *f = ctx;
    if (f->i >= SEQ_N)
        return IRB_NOT_FOUND;
    seq_path(f->i, f->path, sizeof f->path);
    memset(row, 0, sizeof *row);
    row->path = f->path;
    row->camera = SEQ_ROWS[f->i][0];
    row->timestamp = SEQ_ROWS[f->i++][1];
    return IRB_OK;
}

static irb_status table_scanner(void *user, irb_cls_scanner *s, irb_error *err)
{
    (void)err;
    fake *f = user;
    f->i = 0;
    s->ctx = f, s->next = table_next, s->close = fake_close;
    return IRB_OK;
}

/* The table's images all classify (the fake's every-13th failure would drop image 13). */
static irb_status table_run(void *ctx, const irb_cls_item *items, int n, double *probs, irb_status *st, irb_error *errs,
                            irb_error *err)
{
    (void)ctx, (void)err;
    for (int j = 0; j < n; j++) {
        irb_error_clear(&errs[j]);
        st[j] = IRB_OK;
        fake_probs(path_index(items[j].path), probs + (size_t)j * NC);
    }
    return IRB_OK;
}

static irb_status table_engine(void *user, irb_cls_engine *e, irb_error *err)
{
    irb_status s = make_engine(user, e, err);
    e->run = table_run;
    return s;
}

static void test_store_sequences(const char *out)
{
    fake f = {0};
    irb_classify_opts o;
    irb_classify_opts_default(&o);
    o.survey_dir = survey_dir;
    o.out_dir = out;
    o.sequence_gap = 60;
    irb_classify_summary sum;
    irb_error err = {0};
    irb_status s = irb_classify_run_with(&o, "modelsha", "clfsha", NC, CLASSES, "irbis test", table_scanner,
                                         table_engine, &f, &sum, &err);
    CHECK(s == IRB_OK && sum.classified == SEQ_N, "table run: %s (%lld classified)", err.message, sum.classified);
    irb_seq_item items[SEQ_N];
    char paths[SEQ_N][64];
    for (int i = 0; i < SEQ_N; i++) {
        seq_path(i, paths[i], sizeof paths[i]);
        items[i] = (irb_seq_item){.path = paths[i], .camera = SEQ_ROWS[i][0]};
        items[i].has_time = SEQ_ROWS[i][1][0] && irb_time_parse(SEQ_ROWS[i][1], &items[i].time, NULL) == IRB_OK;
    }
    irb_seq_opts so = {.gap = 60};
    irb_sequences seq = {0};
    CHECK(irb_sequences_assign(items, SEQ_N, &so, &seq, &err) == IRB_OK, "assign: %s", err.message);
    char *csv = slurp(pj(out, "predictions.csv"));
    CHECK(csv != NULL, "predictions.csv of the table run");
    for (int i = 0; csv && seq.ids && i < SEQ_N; i++) {
        char *line = line_of(csv, paths[i]), got[128];
        field(line ? line : "", 3, got, sizeof got);
        CHECK(line && strcmp(got, seq.ids[seq.image_seq[i]]) == 0, "%s: store sequence '%s', sequences.c '%s'",
              paths[i], got, seq.ids[seq.image_seq[i]]);
        free(line);
    }
    /* the hand-made expectation, so that both cannot be wrong alike: camA 0,2 (tie),4 (== 60 s)
     * | 6,10 (60 s with fractions) | 14 (60.5 s) | 7 | 9; camB 1,8 (tie) | 5 (61 s),13 (60 s) | 3;
     * "" 11,12 (59 s) */
    static const char *const want[SEQ_N] = {"camA#1", "camB#1", "camA#1", "camB#3", "camA#1",
                                            "camB#2", "camA#2", "camA#4", "camB#1", "camA#5",
                                            "camA#2", "#1",     "#1",     "camB#2", "camA#3"};
    for (int i = 0; seq.ids && i < SEQ_N; i++)
        CHECK(strcmp(seq.ids[seq.image_seq[i]], want[i]) == 0, "%s: sequence %s, want %s", paths[i],
              seq.ids[seq.image_seq[i]], want[i]);
    irb_sequences_release(&seq);
    free(csv);
}

static void test_empty_survey(const char *out)
{
    rm_rf(out);
    fake f = {.n = 0};
    irb_classify_summary sum;
    irb_error err = {0};
    irb_status s = run(&f, out, 60, 0, &sum, &err);
    CHECK(s == IRB_NOT_FOUND && strstr(err.message, "no files") && strstr(err.message, survey_dir),
          "empty survey refused: %s %s", irb_status_name(s), err.message);
    /* regression: the refused run left a store naming the empty folder, which refused the
     * corrected command (another survey folder, the same OUT) */
    struct stat st;
    CHECK(lstat(pj(out, "irbis.sqlite"), &st) != 0, "nothing left in OUT by the refused run");
    char other[8192];
    snprintf(other, sizeof other, "%s_other_survey", out);
    mkdir(other, 0777);
    fake g = {.n = 12};
    irb_classify_opts o;
    irb_classify_opts_default(&o);
    o.survey_dir = other;
    o.out_dir = out;
    irb_error_clear(&err);
    s = irb_classify_run_with(&o, "modelsha", "clfsha", NC, CLASSES, "irbis test", make_scanner, make_engine, &g, &sum,
                              &err);
    CHECK(s == IRB_OK && sum.images == 12, "the corrected command runs into the same OUT: %s %s (%lld images)",
          irb_status_name(s), err.message, sum.images);
}

/* Human labels (irbis/review.h) over a fake run: the uncertain queue starts at the sequence with
 * the lowest top probability (computed here from the store's sequence probabilities), a label
 * reaches predictions.csv (label, seq_label, method human) for every member, bad labels and
 * names store nothing, removing a label gives the machine label back (the label rule on the
 * printed probabilities), and a run with --restart keeps the human label. */
static void member_labels(const char *out, const char *seq, const char *want, const char *method, int *n)
{
    char *csv = slurp(pj(out, "predictions.csv"));
    *n = 0;
    for (const char *l = csv ? strchr(csv, '\n') : NULL; l && l[1]; l = strchr(l + 1, '\n')) {
        char *line = strndup(l + 1, strcspn(l + 1, "\n")), f[64], lab[64], slab[64], m[16], pr[3][32];
        field(line, 3, f, sizeof f);
        if (!strcmp(f, seq)) {
            field(line, 7, lab, sizeof lab), field(line, 11, slab, sizeof slab), field(line, 14, m, sizeof m);
            double p[NC];
            for (int k = 0; k < NC; k++)
                field(line, 4 + k, pr[k], sizeof pr[k]), p[k] = atof(pr[k]);
            const char *w = want ? want : CLASSES[irb_cls_label(p, NC, 1, 0.4, 0)];
            CHECK(!strcmp(lab, w) && (!want || !strcmp(slab, w)) && !strcmp(m, method),
                  "%s: label %s seq %s %s, want %s %s", line, lab, slab, m, w, method);
            (*n)++;
        }
        free(line);
    }
    free(csv);
}

static void test_reviews(const char *dir)
{
    char out[8192]; /* dir is one of pj's rotating buffers */
    snprintf(out, sizeof out, "%s", dir);
    rm_rf(out);
    fake f = {.n = 60};
    irb_error err = {0};
    CHECK(run(&f, out, 60, 0, NULL, &err) == IRB_OK, "run: %s", err.message);
    sqlite3 *db = NULL;
    sqlite3_open(pj(out, "irbis.sqlite"), &db);
    sqlite3_stmt *q = NULL;
    sqlite3_prepare_v2(db, "SELECT name, probs FROM sequences ORDER BY id", -1, &q, NULL);
    double low = 2;
    char lowest[64] = "";
    while (sqlite3_step(q) == SQLITE_ROW) {
        const double *p = sqlite3_column_blob(q, 1);
        double top = fmax(p[0], fmax(p[1], p[2]));
        if (top < low)
            low = top, snprintf(lowest, sizeof lowest, "%s", (const char *)sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    irb_review_t *rv = NULL;
    CHECK(irb_review_open(out, &rv, &err) == IRB_OK, "review open: %s", err.message);
    if (!rv)
        return;
    char *json = NULL, want[128];
    CHECK(irb_review_list_json(rv, &(irb_review_query){.queue = "uncertain", .limit = 1}, &json, &err) == IRB_OK,
          "list: %s", err.message);
    snprintf(want, sizeof want, "{\"name\": \"%s\"", lowest);
    CHECK(json && strstr(json, want), "the uncertain queue starts with %s (top %.4f): %.200s", lowest, low, json);
    irb_free_string(json);
    const char *seq = lowest, *lab = "ibex", *bad_seq[2] = {lowest, "cam9#1"}, *bad_lab[2] = {"ibex", "ibex"},
               *cat = "cat";
    CHECK(irb_review_set(rv, bad_seq, bad_lab, 2, &err) == IRB_INVALID_ARG && strstr(err.message, "cam9#1"),
          "an unknown sequence refused: %s", err.message);
    CHECK(irb_review_set(rv, &seq, &cat, 1, &err) == IRB_INVALID_ARG && strstr(err.message, "'cat'"),
          "an unknown class refused: %s", err.message);
    CHECK(irb_review_set(rv, &seq, &lab, 1, &err) == IRB_OK && irb_review_export(rv, &err) == IRB_OK, "set: %s",
          err.message);
    int n = 0;
    member_labels(out, seq, "ibex", "human", &n);
    CHECK(n > 0, "%d members of %s labelled ibex by a person", n, seq);
    const char *none = "";
    CHECK(irb_review_set(rv, &seq, &none, 1, &err) == IRB_OK && irb_review_export(rv, &err) == IRB_OK, "clear: %s",
          err.message);
    member_labels(out, seq, NULL, "machine", &n);
    CHECK(irb_review_set(rv, &seq, &lab, 1, &err) == IRB_OK, "set again: %s", err.message);
    irb_review_close(rv);
    CHECK(run(&f, out, 60, 1, NULL, &err) == IRB_OK, "run --restart: %s", err.message);
    member_labels(out, seq, "ibex", "human", &n);
    CHECK(n > 0, "after --restart: %d members still ibex by a person", n);
}

/* The store's cursors and counts (store_query.c) on the run of test_full_run (120 images), against
 * what fake_row says of each image and against predictions.csv: per camera its images, failures,
 * classified and timed images; labels per class; every sequence's members name it; a cursor read
 * as another kind of row fails with IRB_INTERNAL. */
static void test_cursors(const char *out)
{
    irb_store *st = NULL;
    irb_error err = {0};
    CHECK(irb_store_open(out, &st, &err) == IRB_OK, "open %s: %s", out, err.message);
    char *csv = slurp(pj(out, "predictions.csv"));
    if (!st || !csv) {
        irb_store_close(st);
        free(csv);
        return;
    }
    long long want[3][4] = {{0}}; /* per camera: images, failed, classified, timed */
    for (int i = 0; i < 120; i++) {
        int ht, sb, pb;
        char p[64], c[16], t[32];
        fake_row(i, p, c, t, &ht, &sb, &pb);
        long long *w = want[i % 3];
        w[0]++, w[1] += sb || pb, w[2] += !(sb || pb), w[3] += ht && !(sb || pb);
    }
    irb_store_iter *it = NULL;
    CHECK(irb_store_cameras_begin(st, &it, &err) == IRB_OK, "cameras: %s", err.message);
    irb_camera_row cr;
    int nc = 0;
    while (irb_store_cameras_next(it, &cr)) {
        char name[16];
        snprintf(name, sizeof name, "cam%d", nc);
        const long long *w = want[nc < 3 ? nc : 0];
        CHECK(!strcmp(cr.camera, name) && cr.images == w[0] && cr.failed == w[1] && cr.classified == w[2] &&
                  cr.timed == w[3] && cr.tmin <= cr.tmax,
              "camera %s: %lld images %lld failed %lld classified %lld timed, want %s %lld %lld %lld %lld", cr.camera,
              cr.images, cr.failed, cr.classified, cr.timed, name, w[0], w[1], w[2], w[3]);
        nc++;
    }
    CHECK(irb_store_iter_end(it, &err) == IRB_OK && nc == 3, "3 cameras, got %d: %s", nc, err.message);
    /* labels per class (index 3: uncertain) against predictions.csv's label column */
    long long images[NC + 1], seqs[NC + 1], csv_images[NC + 1] = {0};
    for (const char *l = strchr(csv, '\n'); l && l[1]; l = strchr(l + 1, '\n')) {
        char lab[32], status[16];
        field(l + 1, 7, lab, sizeof lab), field(l + 1, 12, status, sizeof status);
        for (int k = 0; k < NC && !strcmp(status, "ok"); k++)
            csv_images[k] += !strcmp(lab, CLASSES[k]);
    }
    CHECK(irb_store_label_counts(st, NULL, NC, images, seqs, &err) == IRB_OK, "label counts: %s", err.message);
    for (int k = 0; k < NC; k++)
        CHECK(images[k] == csv_images[k], "class %s: %lld images, predictions.csv %lld", CLASSES[k], images[k],
              csv_images[k]);
    CHECK(images[NC] == 0 && seqs[NC] == 0, "no uncertain labels without a min-confidence");
    /* every sequence's members name it in predictions.csv, and they number s.n */
    long long members = 0, in_seqs = 0, seq_total = 0;
    CHECK(irb_store_seqs_begin(st, IRB_SEQS_ALL, NC, &it, &err) == IRB_OK, "sequences: %s", err.message);
    irb_seq_row sr;
    while (irb_store_seqs_next(it, &sr)) {
        irb_store_iter *m = NULL;
        CHECK(irb_store_members_begin(st, sr.id, NC, &m, &err) == IRB_OK, "members: %s", err.message);
        irb_img_row ir;
        long long n = 0;
        while (irb_store_images_next(m, &ir)) {
            char *line = line_of(csv, ir.path), seq[64] = "";
            if (line)
                field(line, 3, seq, sizeof seq);
            CHECK(line && !strcmp(seq, sr.name) && ir.state == IRB_IMG_OK && ir.probs, "%s in sequence %s (csv: %s)",
                  ir.path, sr.name, seq);
            free(line);
            n++;
        }
        CHECK(irb_store_iter_end(m, &err) == IRB_OK && n == sr.n, "sequence %s: %lld members, n %lld", sr.name, n,
              sr.n);
        members += n, in_seqs += sr.n, seq_total += sr.label >= 0 && sr.label < NC;
    }
    CHECK(irb_store_iter_end(it, &err) == IRB_OK, "sequences read: %s", err.message);
    long long csv_seqs = 0;
    for (int k = 0; k < NC; k++)
        csv_seqs += seqs[k];
    CHECK(members == want[0][2] + want[1][2] + want[2][2] && members == in_seqs && seq_total == csv_seqs,
          "every classified image in one sequence: %lld members, %lld classified; %lld sequences, counted %lld",
          members, want[0][2] + want[1][2] + want[2][2], seq_total, csv_seqs);
    /* a cursor read as another kind of row */
    CHECK(irb_store_cameras_begin(st, &it, &err) == IRB_OK, "cameras again");
    CHECK(!irb_store_images_next(it, &(irb_img_row){0}), "a camera cursor gives no image rows");
    CHECK(irb_store_iter_end(it, &err) == IRB_INTERNAL, "and ends with IRB_INTERNAL: %s", err.message);
    CHECK(irb_store_iter_end(NULL, &err) == IRB_OK, "ending no cursor");
    irb_store_close(st);
    free(csv);
}

int main(void)
{
    const char *tmp = test_tmpdir("store");
    rm_rf(pj(tmp, "lock")), rm_rf(pj(tmp, "full"));
    static char survey[8192];
    snprintf(survey, sizeof survey, "%s", pj(tmp, "survey"));
    mkdir(survey, 0777);
    survey_dir = survey;
    test_label_rule();
    test_time();
    test_lock(pj(tmp, "lock"));
    test_full_run(pj(tmp, "full"));
    test_cursors(pj(tmp, "full"));
    char ref[8192], killed[8192];
    snprintf(ref, sizeof ref, "%s", pj(tmp, "ref"));
    snprintf(killed, sizeof killed, "%s", pj(tmp, "killed"));
    test_kill_resume(ref, killed);
    test_new_images(pj(tmp, "grow_ref"), pj(tmp, "grow"));
    test_survey_spelling(tmp);
    test_empty_survey(pj(tmp, "empty"));
    rm_rf(pj(tmp, "seqtable"));
    test_store_sequences(pj(tmp, "seqtable"));
    test_reviews(pj(tmp, "reviews"));
    return CHECK_DONE();
}
