/* The options of `irbis classify` and `irbis-mpi classify` (classify_opts.h). */
#include "classify_opts.h"

#include <getopt.h>
#include <math.h>
#include <string.h>

enum {
    OPT_SORT = 256,
    OPT_TAXA,
    OPT_DEPLOY,
    OPT_UTC,
    OPT_RESTART,
    OPT_LIMIT,
    OPT_REPORT,
    OPT_MINCONF,
    OPT_NOVELTY,
    OPT_PRECISION,
    OPT_DEPTH,
    OPT_MOVED
};

static const struct option LONGS[] = {{"model", required_argument, 0, 'm'},
                                      {"classifier", required_argument, 0, 'c'},
                                      {"pipeline", required_argument, 0, 'P'},
                                      {"camera-depth", required_argument, 0, OPT_DEPTH},
                                      {"out", required_argument, 0, 'o'},
                                      {"gap", required_argument, 0, 'g'},
                                      {"positive", required_argument, 0, 'p'},
                                      {"threshold", required_argument, 0, 't'},
                                      {"threads", required_argument, 0, 'j'},
                                      {"batch", required_argument, 0, 'b'},
                                      {"sort", required_argument, 0, OPT_SORT},
                                      {"taxa", required_argument, 0, OPT_TAXA},
                                      {"deployments", required_argument, 0, OPT_DEPLOY},
                                      {"utc-offset", required_argument, 0, OPT_UTC},
                                      {"restart", no_argument, 0, OPT_RESTART},
                                      {"survey-moved", no_argument, 0, OPT_MOVED},
                                      {"limit", required_argument, 0, OPT_LIMIT},
                                      {"report-sequences", required_argument, 0, OPT_REPORT},
                                      {"min-confidence", required_argument, 0, OPT_MINCONF},
                                      {"novelty-threshold", required_argument, 0, OPT_NOVELTY},
                                      {"precision", required_argument, 0, OPT_PRECISION},
                                      {"quiet", no_argument, 0, 'q'},
                                      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};

/* One option's value into o: 1, or 0 after a message. */
static int take(const char *cmd, int c, irb_classify_opts *o)
{
    long v;
    switch (c) {
    case 'm': o->model_path = optarg; return 1;
    case 'c': o->classifier_path = optarg; return 1;
    case 'P': o->pipeline_path = optarg; return 1;
    case 'o': o->out_dir = optarg; return 1;
    case 'p': o->positive = optarg; return 1;
    case OPT_TAXA: o->taxa = optarg; return 1;
    case OPT_DEPLOY: o->deployments = optarg; return 1;
    case OPT_UTC: o->utc_offset = optarg; return 1;
    case OPT_RESTART: o->restart = 1; return 1;
    case OPT_MOVED: o->survey_moved = 1; return 1;
    case OPT_DEPTH:
        if (!cli_int(cmd, "--camera-depth", optarg, 0, 64, &v))
            return 0;
        o->camera_depth = (int)v;
        return 1;
    case 'g': return cli_double_in(cmd, "--gap", optarg, 0, INFINITY, &o->sequence_gap);
    case 't': return cli_double_in(cmd, "--threshold", optarg, 0, 1, &o->threshold);
    case 'j': return cli_int(cmd, "--threads", optarg, 1, 1024, &v) ? (o->threads = (int)v, 1) : 0;
    case 'b': return cli_int(cmd, "--batch", optarg, 1, 256, &v) ? (o->batch = (int)v, 1) : 0;
    case OPT_LIMIT: return cli_int(cmd, "--limit", optarg, 1, 1L << 40, &v) ? (o->limit = v, 1) : 0;
    case OPT_REPORT:
        return cli_int(cmd, "--report-sequences", optarg, 1, 100000, &v) ? (o->report_sequences = (int)v, 1) : 0;
    case OPT_SORT:
        if ((v = irb_sort_mode_parse(optarg)) < 0)
            return cli_error(cmd, "--sort expects none, copy, hardlink or symlink, got '%s'", optarg), 0;
        o->sort = (irb_sort_mode)v;
        return 1;
    case OPT_MINCONF:
        if (!cli_double(cmd, "--min-confidence", optarg, &o->min_confidence) || !(o->min_confidence >= 0) ||
            o->min_confidence > 1)
            return cli_error(cmd, "--min-confidence expects a probability in [0, 1], got '%s'", optarg), 0;
        return 1;
    case OPT_NOVELTY:
        if (!cli_double(cmd, "--novelty-threshold", optarg, &o->novelty_threshold) ||
            !(o->novelty_threshold >= 0 && o->novelty_threshold <= 2))
            return cli_error(cmd, "--novelty-threshold expects a distance in [0, 2], got '%s'", optarg), 0;
        return 1;
    case OPT_PRECISION:
        for (v = 0; v < 3 && strcmp(optarg, irb_precision_name((irb_precision)v)) != 0; v++)
            ;
        if (v == 3)
            return cli_error(cmd, "--precision expects fp32, bf16 or int8, got '%s'", optarg), 0;
        o->precision = (int)v;
        return 1;
    default: return 0;
    }
}

int classify_parse(int argc, char **argv, const char *cmd, void (*usage)(FILE *), irb_classify_opts *o, int *quiet)
{
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:c:P:o:g:p:t:j:b:qh", LONGS, NULL)) != -1) {
        if (c == 'q') {
            *quiet = 1;
        } else if (c == 'h') {
            usage(stdout);
            return -1;
        } else if (c == '?' || c == ':') {
            usage(stderr);
            return CLI_USAGE;
        } else if (!take(cmd, c, o)) {
            return CLI_USAGE;
        }
    }
    int engine_ok = o->pipeline_path ? !o->classifier_path : o->model_path && o->classifier_path;
    if (optind + 1 != argc || !engine_ok || !o->out_dir) {
        cli_error(cmd, "needs --pipeline (or --model and --classifier), -o OUT and one SURVEY_DIR (see --help)");
        return CLI_USAGE;
    }
    o->survey_dir = argv[optind];
    irb_error err = {0};
    if (irb_camtrapdp_check(o->deployments, o->utc_offset, &err) != IRB_OK) {
        cli_error(cmd, "%s", err.message);
        return CLI_USAGE;
    }
    return CLI_OK;
}
