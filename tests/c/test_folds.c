/* Cross-validation folds: units never split, every image in exactly one test fold, balance
 * within the stated bound, determinism under input order, stratification, bad arguments. */
#include <stdint.h>

#include "check.h"
#include "irbis.h"

#define N 600

static char paths[N][32], units[N][16], cams[N][8];
static irb_fold_item items[N];

/* A pseudo-random survey: 7 cameras, sequences of 1..12 frames, 3 labels (sequence-constant). */
static void make_items(void)
{
    uint32_t x = 12345;
    size_t i = 0;
    for (int s = 0; i < N; s++) {
        x = x * 1664525u + 1013904223u;
        size_t len = 1 + (x >> 24) % 12;
        int cam = (int)((x >> 8) % 7), label = (int)((x >> 16) % 10 < 6 ? 0 : (x >> 16) % 10 < 9 ? 1 : 2);
        for (size_t j = 0; j < len && i < N; j++, i++) {
            snprintf(paths[i], sizeof paths[i], "c%d/IMG_%05zu.JPG", cam, i);
            snprintf(units[i], sizeof units[i], "c%d#%d", cam, s);
            snprintf(cams[i], sizeof cams[i], "c%d", cam);
            items[i] = (irb_fold_item){paths[i], cams[i], units[i], label};
        }
    }
}

/* Returns the largest unit's size; checks no unit is split. */
static size_t check_units(const int *fold, int by_camera)
{
    size_t largest = 0;
    for (size_t i = 0; i < N; i++) {
        size_t size = 0;
        for (size_t j = 0; j < N; j++) {
            int same = by_camera ? strcmp(cams[i], cams[j]) == 0 : strcmp(units[i], units[j]) == 0;
            if (same) {
                size++;
                if (fold[j] != fold[i]) {
                    CHECK(0, "unit of %s split across folds %d and %d", paths[i], fold[i], fold[j]);
                    return 0;
                }
            }
        }
        largest = size > largest ? size : largest;
    }
    return largest;
}

static void fold_sizes(const int *fold, int k, size_t *mn, size_t *mx)
{
    size_t cnt[16] = {0};
    for (size_t i = 0; i < N; i++) {
        CHECK(fold[i] >= 0 && fold[i] < k, "fold %d out of range", fold[i]);
        if (fold[i] >= 0 && fold[i] < k)
            cnt[fold[i]]++;
    }
    *mn = SIZE_MAX, *mx = 0;
    for (int f = 0; f < k; f++) {
        *mn = cnt[f] < *mn ? cnt[f] : *mn;
        *mx = cnt[f] > *mx ? cnt[f] : *mx;
    }
}

static void run_case(irb_fold_unit unit, int stratify, int k)
{
    irb_fold_opts o = {.k = k, .unit = unit, .stratify = stratify};
    int fold[N], fold_rev[N];
    irb_error err = {0};
    CHECK(irb_folds_assign(items, N, &o, fold, &err) == IRB_OK, "%s", err.message);
    size_t mn, mx;
    fold_sizes(fold, k, &mn, &mx);
    if (unit == IRB_FOLD_BLOCK) {
        CHECK(mx - mn <= 1, "block sizes %zu..%zu", mn, mx);
        /* contiguous in path order: fold never decreases along sorted paths (paths sort by camera
         * then number here, so compare by path) */
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++)
                if (strcmp(paths[i], paths[j]) < 0 && fold[i] > fold[j])
                    CHECK(0, "block folds not contiguous: %s in %d, %s in %d", paths[i], fold[i], paths[j], fold[j]);
    } else {
        size_t largest = check_units(fold, unit == IRB_FOLD_CAMERA);
        /* greedy largest-first: max - min <= the largest unit; stratified: <= labels x largest */
        size_t bound = stratify ? 3 * largest : largest;
        printf("%s stratify=%d k=%d: fold sizes %zu..%zu, largest unit %zu\n", irb_fold_unit_name(unit), stratify, k,
               mn, mx, largest);
        CHECK(mx - mn <= bound, "fold sizes %zu..%zu exceed %zu", mn, mx, bound);
    }
    /* the same items in reverse order get the same folds */
    static irb_fold_item rev[N];
    for (size_t i = 0; i < N; i++)
        rev[i] = items[N - 1 - i];
    CHECK(irb_folds_assign(rev, N, &o, fold_rev, &err) == IRB_OK, "%s", err.message);
    int same = 1;
    for (size_t i = 0; i < N; i++)
        same &= fold_rev[N - 1 - i] == fold[i];
    CHECK(same, "folds depend on input order");
    if (stratify && unit == IRB_FOLD_SEQUENCE) {
        /* every label spread: each fold holds between 1/2 and 3/2 of its share of every label */
        size_t tot[3] = {0}, per[16][3] = {{0}};
        for (size_t i = 0; i < N; i++) {
            tot[items[i].label]++;
            per[fold[i]][items[i].label]++;
        }
        for (int f = 0; f < k; f++)
            for (int l = 0; l < 3; l++)
                CHECK(per[f][l] * 2 * (size_t)k >= tot[l] && per[f][l] * 2 * (size_t)k <= 3 * tot[l],
                      "fold %d label %d: %zu of %zu", f, l, per[f][l], tot[l]);
    }
}

/* Hand case: units of 5, 4, 3, 3, 1 into 2 folds: greedy gives {5, 3} = 8 and {4, 3, 1} = 8. */
static void test_hand(void)
{
    const char *u[] = {"a", "a", "a", "a", "a", "b", "b", "b", "b", "c", "c", "c", "d", "d", "d", "e"};
    irb_fold_item it[16];
    char p[16][8];
    for (int i = 0; i < 16; i++) {
        snprintf(p[i], sizeof p[i], "%02d", i);
        it[i] = (irb_fold_item){p[i], NULL, u[i], -1};
    }
    int fold[16];
    irb_fold_opts o = {.k = 2, .unit = IRB_FOLD_SEQUENCE, .stratify = 0};
    CHECK(irb_folds_assign(it, 16, &o, fold, NULL) == IRB_OK, "hand");
    CHECK(fold[0] == 0 && fold[5] == 1 && fold[9] == 1 && fold[12] == 0 && fold[15] == 1, "hand folds %d %d %d %d %d",
          fold[0], fold[5], fold[9], fold[12], fold[15]);
    /* empty unit names: each image is its own unit */
    for (int i = 0; i < 16; i++)
        it[i].unit = NULL;
    o.k = 16;
    CHECK(irb_folds_assign(it, 16, &o, fold, NULL) == IRB_OK, "singletons");
    /* errors */
    irb_error err = {0};
    o.k = 1;
    CHECK(irb_folds_assign(it, 16, &o, fold, &err) == IRB_INVALID_ARG && strstr(err.message, "k must"), "k=1");
    o.k = 3;
    o.unit = IRB_FOLD_CAMERA; /* all cameras unknown: one unit */
    CHECK(irb_folds_assign(it, 16, &o, fold, &err) == IRB_INVALID_ARG && strstr(err.message, "only 1 camera"),
          "too few units: %s", err.message);
    CHECK(irb_fold_unit_parse("camera") == IRB_FOLD_CAMERA && irb_fold_unit_parse("x") == -1, "parse");
}

/* More classes than folds (12 species, 3 folds; a bug once sized the label counts by the folds
 * and overran them, seen by ASan): stratified, each fold gets one of each class's 3 units. */
static void test_many_classes(void)
{
    enum { CLASSES = 12, PER = 3, M = CLASSES * PER * 2 };
    static char p[M][16], u[M][16];
    irb_fold_item it[M];
    for (int i = 0; i < M; i++) {
        int unit = i / 2; /* units of 2 images, PER units per class */
        snprintf(p[i], sizeof p[i], "img%03d", i);
        snprintf(u[i], sizeof u[i], "u%02d", unit);
        it[i] = (irb_fold_item){p[i], NULL, u[i], unit / PER};
    }
    int fold[M];
    irb_fold_opts o = {.k = 3, .unit = IRB_FOLD_SEQUENCE, .stratify = 1};
    CHECK(irb_folds_assign(it, M, &o, fold, NULL) == IRB_OK, "many classes");
    int per[CLASSES][3] = {{0}};
    for (int i = 0; i < M; i++)
        per[it[i].label][fold[i]]++;
    int even = 1;
    for (int c = 0; c < CLASSES; c++)
        for (int f = 0; f < 3; f++)
            even &= per[c][f] == 2;
    CHECK(even, "each fold holds one unit (2 images) of each of the 12 classes");
}

int main(void)
{
    make_items();
    test_hand();
    test_many_classes();
    run_case(IRB_FOLD_SEQUENCE, 0, 5);
    run_case(IRB_FOLD_SEQUENCE, 1, 5);
    run_case(IRB_FOLD_CAMERA, 0, 3);
    run_case(IRB_FOLD_CAMERA, 1, 3);
    run_case(IRB_FOLD_BLOCK, 0, 5);
    run_case(IRB_FOLD_BLOCK, 0, 7);
    return CHECK_DONE();
}
