#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "featurize_opts.h"

#define CMD "calibrate"

const char irb_cmd_calibrate_summary[] = "record an int8 calibration table from sample images";

static void usage(FILE *f)
{
    fprintf(f, "usage: irbis calibrate --model M.onnx -o TABLE [options] IMAGES...|DIR...|--list FILE\n\n"
               "Runs the fp32 net on sample images and records the range of every activation, the table\n"
               "--precision int8 quantizes with (docs/int8.md). One table serves every cut of the model;\n"
               "record it at the input size the int8 runs use.\n\n"
               "  --size N            input size (default: the model's)\n"
               "  --resize center|short|squash   as featurize (default center)\n"
               "  --count N           at most N images, evenly spread over the inputs (default 64)\n"
               "  --threads T\n"
               "  --list FILE         read image paths from FILE, one per line\n");
}

typedef struct copts {
    fopts f; /* featurize's: --model, -o, --list, --size, --threads, --resize */
    long count;
} copts;

static int parse(int argc, char **argv, copts *o)
{
    static const struct option longs[] = {
        {"model", 1, 0, 'm'},   {"size", 1, 0, 's'}, {"resize", 1, 0, 'r'}, {"count", 1, 0, 'n'},
        {"threads", 1, 0, 't'}, {"list", 1, 0, 'L'}, {"help", 0, 0, 'h'},   {0, 0, 0, 0}};
    *o = (copts){.f = featurize_defaults, .count = 64};
    for (int c, took; (c = getopt_long(argc, argv, "o:h", longs, NULL)) != -1;) {
        if (c == 'h')
            return usage(stdout), 0;
        if (c == 'n')
            took = cli_int(CMD, "--count", optarg, 1, 1000000, &o->count);
        else if ((took = featurize_take(CMD, c, &o->f)) < 0)
            usage(stderr);
        if (took <= 0)
            return -1;
    }
    return featurize_need_model_out(CMD, &o->f) ? 1 : -1;
}

static void on_bad(void *ctx, size_t index, const irb_error *e)
{
    const paths *in = ctx;
    cli_file_message(CMD, in->v[index], e->message, e->warning);
}

/* Records the table over the chosen images; a bad image is named and skipped. */
static int record(const copts *o, irb_model_t *m, const paths *in, irb_calib_t *cal)
{
    irb_error err = {0};
    irb_net_opts no = {.threads = (int)o->f.threads, .input_size = (int)o->f.size};
    irb_preproc pp = featurize_preproc(&o->f, m, irb_model_preprocess(m)->input_size);
    if (irb_calibrate_files(m, &no, &pp, (const char *const *)in->v, in->n, (size_t)o->count, cal, on_bad, (void *)in,
                            &err) != IRB_OK)
        return cli_fail(CMD, &err);
    return CLI_OK;
}

int irb_cmd_calibrate(int argc, char **argv)
{
    copts o;
    int p = parse(argc, argv, &o);
    if (p <= 0)
        return p == 0 ? CLI_OK : CLI_USAGE;
    paths in = {0};
    int ok = collect_inputs(&in, CMD, o.f.list, argc - optind, argv + optind);
    if (ok <= 0) {
        paths_free(&in);
        return ok < 0 ? CLI_USAGE : CLI_FATAL;
    }
    irb_error err = {0};
    irb_model_t *m = NULL;
    irb_calib_t *cal = NULL;
    int rc = CLI_OK;
    if (irb_model_load(o.f.model, NULL, &m, &err) != IRB_OK || irb_calib_new(&cal, &err) != IRB_OK)
        rc = cli_fail(CMD, &err);
    if (rc == CLI_OK)
        rc = record(&o, m, &in, cal);
    if (rc == CLI_OK && irb_calib_save(cal, o.f.out, &err) != IRB_OK)
        rc = cli_fail(CMD, &err);
    if (rc == CLI_OK)
        printf("%s: %d tensors from %ld images\n", o.f.out, irb_calib_tensors(cal), irb_calib_images(cal));
    irb_calib_free(cal);
    irb_model_free(m);
    paths_free(&in);
    return rc;
}
