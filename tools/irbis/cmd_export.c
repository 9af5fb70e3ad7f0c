/* irbis export: rewrites the survey outputs of a classify run from its results store, without
 * classifying again (a thin layer over irb_export), e.g. to complete the Camtrap DP package with
 * the cameras' coordinates. */
#include <getopt.h>
#include <string.h>

#include "cli.h"

const char irb_cmd_export_summary[] = "rewrite a classify run's outputs (e.g. Camtrap DP with coordinates) without "
                                      "classifying again";

static const char USAGE[] =
    "usage: irbis export OUT/ [--deployments cams.csv] [--utc-offset +05:00] [--taxa MAP] [-q]\n"
    "\n"
    "Rewrites predictions.csv, camtrap-dp/, coco-camera-traps.json, megadetector.json and\n"
    "report.html in OUT/ (the output folder of `irbis classify`) from OUT/irbis.sqlite, without\n"
    "classifying again. Options not given keep the values the run (or the last export) used.\n"
    "\n"
    "options:\n"
    "      --deployments FILE  CSV camera,latitude,longitude[,locationName][,deploymentStart,\n"
    "                          deploymentEnd] for Camtrap DP (start/end: local camera times or dates)\n"
    "      --utc-offset OFF    camera clock zone for Camtrap DP times: Z, +05:00, -03:30\n"
    "      --taxa MAP          class-to-taxon mapping, e.g. 'snow_leopard=Panthera uncia;ibex=Capra sibirica'\n"
    "  -q, --quiet             no summary\n"
    "  -h, --help              this text\n"
    "\n"
    "exit status: 0 done; 2 bad command line (also a bad --utc-offset or deployments file);\n"
    "3 could not run (OUT/ holds no classify run, another run is using it, ...).\n";

enum { OPT_DEPLOY = 256, OPT_UTC, OPT_TAXA };

static int parse(int argc, char **argv, irb_export_opts *o, int *quiet)
{
    static const struct option longs[] = {{"deployments", required_argument, 0, OPT_DEPLOY},
                                          {"utc-offset", required_argument, 0, OPT_UTC},
                                          {"taxa", required_argument, 0, OPT_TAXA},
                                          {"quiet", no_argument, 0, 'q'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longs, NULL)) != -1) {
        switch (c) {
        case OPT_DEPLOY: o->deployments = optarg; break;
        case OPT_UTC: o->utc_offset = optarg; break;
        case OPT_TAXA: o->taxa = optarg; break;
        case 'q': *quiet = 1; break;
        case 'h': fputs(USAGE, stdout); return -1;
        default: fputs(USAGE, stderr); return CLI_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error("export", "needs one OUT folder (see --help)");
        return CLI_USAGE;
    }
    o->out_dir = argv[optind];
    irb_error err = {0};
    if (irb_camtrapdp_check(o->deployments, o->utc_offset, &err) != IRB_OK) {
        cli_error("export", "%s", err.message);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int irb_cmd_export(int argc, char **argv)
{
    irb_export_opts o = {0};
    int quiet = 0;
    int rc = parse(argc, argv, &o, &quiet);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    irb_classify_summary sum;
    irb_error err = {0};
    if (irb_export(&o, &sum, &err) != IRB_OK)
        return cli_fail("export", &err);
    cli_outputs_notes("export", &err, &sum);
    char clauses[CLI_CLAUSES_SIZE];
    if (!quiet)
        fprintf(stderr,
                "irbis export: %lld images (%lld classified, %lld failed, %lld not yet), %lld sequences%s: "
                "outputs rewritten in %s\n",
                sum.images, sum.classified, sum.failed, sum.pending, sum.sequences,
                cli_summary_clauses(&sum, clauses, sizeof clauses), o.out_dir);
    return CLI_OK;
}
