/* Every public call below given NULL where its header does not allow it (an out-parameter, a
 * path, a handle, data with size > 0) must return IRB_INVALID_ARG with a message, never crash;
 * getters and void calls given NULL return their neutral value or do nothing. Each function was
 * found crashing on its NULL by a hostile test; a crash here is that bug back. */
#include "check.h"

#include <irbis.h>
#include <math.h>
#include <stdint.h>

#include "core/file.h"

/* s is IRB_INVALID_ARG and err carries a message. */
#define CHECK_INVALID(call)                                                                                            \
    do {                                                                                                               \
        irb_error e_;                                                                                                  \
        irb_error_clear(&e_);                                                                                          \
        irb_status s_ = (call);                                                                                        \
        CHECK(s_ == IRB_INVALID_ARG && e_.status == IRB_INVALID_ARG && e_.message[0], "%s: status %d, message '%s'",   \
              #call, (int)s_, e_.message);                                                                             \
    } while (0)

#define ERR (&e_)

static irb_classifier_t *tiny_classifier(void)
{
    const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    const int y[4] = {0, 0, 1, 1};
    const char *const names[2] = {"a", "b"};
    irb_classifier_t *clf = NULL;
    irb_error err;
    if (irb_logreg_train(x, 4, 2, y, 2, names, NULL, &clf, NULL, &err) != IRB_OK)
        fprintf(stderr, "training the tiny classifier failed: %s\n", err.message);
    return clf;
}

static void test_out_params(const char *dir)
{
    char csv[4096], base[4096];
    snprintf(csv, sizeof csv, "%s/t.csv", dir);
    snprintf(base, sizeof base, "%s/feat", dir);
    FILE *f = fopen(csv, "w");
    if (f) {
        fputs("a,b\n1,2\n", f);
        fclose(f);
    }
    const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    const int y[4] = {0, 0, 1, 1};
    const char *const names[2] = {"a", "b"};
    const char bytes[4] = "IRBS";

    CHECK_INVALID(irb_table_load(csv, NULL, ERR));
    CHECK_INVALID(irb_strmap_new(4, NULL, ERR));
    CHECK_INVALID(irb_classifier_parse(bytes, sizeof bytes, "x", NULL, ERR));
    CHECK_INVALID(irb_classifier_load(csv, NULL, ERR));
    CHECK_INVALID(irb_logreg_train(x, 4, 2, y, 2, names, NULL, NULL, NULL, ERR));
    CHECK_INVALID(irb_featwriter_open(base, 4, NULL, NULL, ERR));
    CHECK_INVALID(irb_features_load(base, NULL, ERR));
    CHECK_INVALID(irb_features_load_index(base, NULL, ERR));
    CHECK_INVALID(irb_novelty_fit(x, 4, 2, NULL, 2, 0.9, 0, NULL, NULL, ERR));
    CHECK_INVALID(irb_pipeline_parse(bytes, sizeof bytes, "x", NULL, ERR));
    CHECK_INVALID(irb_pipeline_load(csv, NULL, ERR));
    /* a NULL err is allowed as well */
    CHECK(irb_table_load(csv, NULL, NULL) == IRB_INVALID_ARG, "irb_table_load(csv, NULL, NULL)");
    /* values out of range were taken as defaults: cv_folds -3 as 5; a NaN row gave the novelty
     * model a threshold of 1 (training refuses such rows) */
    irb_train_opts to = {.cv_folds = -3};
    irb_classifier_t *c3 = NULL;
    CHECK_INVALID(irb_logreg_train(x, 4, 2, y, 2, names, &to, &c3, NULL, ERR));
    const float xn[8] = {0, 0, 0, NAN, 1, 0, 1, 1};
    irb_novelty *nv = NULL;
    CHECK_INVALID(irb_novelty_fit(xn, 4, 2, NULL, 2, 0.9, 0, NULL, &nv, ERR));
}

static void test_paths(void)
{
    irb_classifier_t *clf = (irb_classifier_t *)1;
    irb_pipeline *p = (irb_pipeline *)1;
    irb_table *t = (irb_table *)1;
    char hex[65];
    void *buf = (void *)1;
    size_t n = 1;
    CHECK_INVALID(irb_classifier_load(NULL, &clf, ERR));
    CHECK(clf == NULL, "irb_classifier_load(NULL): *out is NULL");
    CHECK_INVALID(irb_pipeline_load(NULL, &p, ERR));
    CHECK(p == NULL, "irb_pipeline_load(NULL): *out is NULL");
    CHECK_INVALID(irb_read_file(NULL, 1024, &buf, &n, ERR));
    CHECK_INVALID(irb_sha256_file(NULL, hex, ERR));
    CHECK_INVALID(irb_image_digest(NULL, hex, hex, ERR));
    CHECK_INVALID(irb_table_load(NULL, &t, ERR));
    CHECK(t == NULL, "irb_table_load(NULL): *out is NULL");
}

static void test_handles(irb_classifier_t *clf)
{
    irb_strmap *m = NULL;
    irb_features fs = {0};
    int64_t v = 0;
    CHECK_INVALID(irb_strmap_add(NULL, "key", 3, 1, &v, ERR));
    CHECK_INVALID(irb_strmap_set(NULL, "key", 3, 1, ERR));
    if (irb_strmap_new(4, &m, NULL) == IRB_OK) {
        CHECK_INVALID(irb_strmap_add(m, NULL, 5, 1, &v, ERR));
        CHECK_INVALID(irb_strmap_set(m, NULL, 5, 1, ERR));
        CHECK(irb_strmap_count(m) == 0, "no key was added");
    }
    irb_strmap_free(m);
    CHECK_INVALID(irb_classifier_check_features(NULL, NULL, ERR));
    CHECK_INVALID(irb_classifier_check_features(NULL, &fs, ERR));
    CHECK(clf != NULL, "a tiny classifier");
    if (clf)
        CHECK_INVALID(irb_classifier_check_features(clf, NULL, ERR));
    const char *paths[1] = {"a.jpg"};
    CHECK_INVALID(irb_classify_worker_run(NULL, paths, NULL, NULL, 1, NULL, NULL, ERR));
}

static void test_data(const char *dir)
{
    irb_model_t *model = (irb_model_t *)1;
    char path[4096], hex[65];
    snprintf(path, sizeof path, "%s/t.csv", dir);
    CHECK_INVALID(irb_model_load_buffer(NULL, 100, "x", NULL, &model, ERR));
    CHECK(model == NULL, "irb_model_load_buffer(NULL, 100): *out is NULL");
    CHECK_INVALID(irb_sha256_file(path, NULL, ERR));
    CHECK_INVALID(irb_image_digest(path, NULL, hex, ERR));
    CHECK_INVALID(irb_image_digest(path, hex, NULL, ERR));
    const char *one[] = {path}, *none[] = {NULL};
    char two[1][2][65];
    CHECK_INVALID(irb_image_digests(NULL, NULL, 1, 1, two, ERR));
    CHECK_INVALID(irb_image_digests(NULL, one, 1, 1, NULL, ERR));
    CHECK_INVALID(irb_image_digests(NULL, none, 1, 1, two, ERR));
    /* the working calls still work */
    irb_error err;
    CHECK(irb_sha256_file(path, hex, &err) == IRB_OK && strlen(hex) == 64, "sha256 of t.csv");
}

static void test_getters(const char *dir)
{
    CHECK(irb_classifier_classes(NULL) == 0, "irb_classifier_classes(NULL)");
    CHECK(irb_classifier_dim(NULL) == 0, "irb_classifier_dim(NULL)");
    CHECK(irb_classifier_C(NULL) == 0, "irb_classifier_C(NULL)");
    CHECK(irb_classifier_class_name(NULL, 0) == NULL, "irb_classifier_class_name(NULL)");
    const double *w = (const double *)1, *b = (const double *)1;
    CHECK(irb_classifier_params(NULL, &w, &b, NULL, NULL, NULL) == 0 && !w && !b, "irb_classifier_params(NULL)");
    CHECK(irb_featwriter_error(NULL) == NULL, "irb_featwriter_error(NULL)");
    CHECK(irb_classify_worker_key(NULL) == NULL, "irb_classify_worker_key(NULL)");
    CHECK(irb_extract_dim(NULL, NULL) == 0, "irb_extract_dim(NULL, NULL)");
    irb_classify_opts_default(NULL);

    double out[4] = {7, 7, 7, 7};
    const double probs[4] = {0.25, 0.75, 0.5, 0.5};
    const double *parts[1] = {probs};
    irb_pipeline_combine(NULL, parts, 2, out);
    CHECK(out[0] == 7 && out[3] == 7, "irb_pipeline_combine(NULL, ...) leaves out alone");
    irb_pipeline *p = irb_pipeline_new();
    CHECK(p != NULL, "irb_pipeline_new");
    if (p) {
        p->n_classes = 2;
        p->n_parts = 1;
        p->parts[0].weight = 1;
        irb_pipeline_combine(p, NULL, 2, out);
        CHECK(out[0] == 0 && out[1] == 0 && out[2] == 0 && out[3] == 0, "combine with NULL part_probs gives zeros");
        irb_pipeline_combine(p, parts, 2, out);
        CHECK(fabs(out[1] - 0.75) < 1e-12 && fabs(out[2] - 0.5) < 1e-12, "combine of one part is that part");
        irb_pipeline_combine(p, parts, 2, NULL);
        irb_pipeline_free(p);
    }

    char csv[4096];
    snprintf(csv, sizeof csv, "%s/t.csv", dir);
    irb_table *t = NULL;
    irb_error err;
    CHECK(irb_table_load(csv, &t, &err) == IRB_OK, "load t.csv: %s", err.message);
    if (t) {
        CHECK(irb_table_column(t, NULL) == -1, "irb_table_column(t, NULL)");
        CHECK(irb_table_column(t, "b") == 1, "irb_table_column(t, \"b\")");
    }
    irb_table_free(t);

    char cam[16] = "xyz";
    irb_scan_camera(NULL, 1, cam, sizeof cam);
    CHECK(cam[0] == '\0', "irb_scan_camera(NULL) gives \"\"");
    irb_scan_camera("a/b.jpg", 1, NULL, 16);
    irb_scan_write_csv_header(NULL);
    irb_scan_row row = {.path = "a.jpg", .camera = "", .timestamp = "", .message = ""};
    irb_scan_write_csv_row(NULL, &row);
    FILE *f = tmpfile();
    if (f) {
        irb_scan_write_csv_row(f, NULL);
        irb_csv_put(f, NULL);
        CHECK(ftell(f) == 0, "NULL row and NULL field write nothing");
        fclose(f);
    }
    irb_csv_put(NULL, "x");
    float chw[3] = {7, 7, 7};
    irb_image_to_chw(NULL, NULL, NULL, chw);
    CHECK(chw[0] == 7, "irb_image_to_chw(NULL) leaves out alone");
    irb_image img = {0};
    irb_image_to_chw(&img, NULL, NULL, NULL);
    CHECK(1, "the void calls returned");
}

int main(void)
{
    const char *dir = test_tmpdir("api_nulls");
    test_out_params(dir);
    test_paths();
    irb_classifier_t *clf = tiny_classifier();
    test_handles(clf);
    irb_classifier_free(clf);
    test_data(dir);
    test_getters(dir);
    return CHECK_DONE();
}
