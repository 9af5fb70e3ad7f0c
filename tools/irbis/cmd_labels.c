/* irbis labels SOURCE [-o labels.csv]: the labels train, evaluate and experiment read from a
 * labels CSV, a Timelapse export or a Camtrap DP package, written as CSV (irb_labels_table_load). */
#include <getopt.h>
#include <string.h>

#include "cli.h"

const char irb_cmd_labels_summary[] =
    "show or convert labels (a CSV, a Timelapse export, a Camtrap DP package) as train reads them";

static void usage(FILE *f)
{
    fputs("usage: irbis labels SOURCE [options] [-o labels.csv]\n\n"
          "Writes the labels that irbis train, evaluate and experiment read from SOURCE (their --labels,\n"
          "with the same options) as a CSV whose path and label columns come first when they were named\n"
          "otherwise. SOURCE is\n"
          "- a labels CSV: path,label,... or any column names given with --path-column/--label-column;\n"
          "- a Timelapse export (File and RelativePath columns): path is RelativePath/File, timestamp\n"
          "  its DateTime (or Date and Time), rows marked DeleteFlag are left out; name the label column\n"
          "  (--label-column Species: Timelapse has no standard one);\n"
          "- a Camtrap DP package (its folder or its datapackage.json: Agouti, Trapper, Wildlife\n"
          "  Insights, irbis classify's camtrap-dp/). Each media file gets the label of the observations\n"
          "  people made: one of the file itself, else those of its deployment's events whose span holds\n"
          "  its time; an animal is its scientificName (animal without one), a blank is empty; machine,\n"
          "  unknown and unclassified observations give none; a file with two different labels is left\n"
          "  out. Columns: path,label,camera,timestamp,sequence,mediaID (camera = deploymentID,\n"
          "  sequence = eventID, path = filePath, or fileName when filePath is a URL).\n"
          "What was left out is said.\n\n" CLI_LABELS_HELP
          "  -o, --output FILE     write the CSV to FILE (replaced whole) instead of standard output\n"
          "exit status: 0 done, 2 usage, 3 could not read SOURCE or write FILE\n",
          f);
}

static irb_status write_table(const irb_table *t, FILE *f)
{
    for (int j = 0; j < t->ncol; j++) {
        if (j)
            fputc(',', f);
        irb_csv_put(f, t->name[j]);
    }
    fputc('\n', f);
    for (size_t i = 0; i < t->nrow; i++) {
        for (int j = 0; j < t->ncol; j++) {
            if (j)
                fputc(',', f);
            irb_csv_put(f, t->cell[i][j]);
        }
        fputc('\n', f);
    }
    return ferror(f) ? IRB_IO : IRB_OK;
}

int irb_cmd_labels(int argc, char **argv)
{
    static const struct option longs[] = {
        {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, CLI_LABELS_LONGOPTS, {0, 0, 0, 0}};
    const char *out = NULL;
    irb_labels_opts lo = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        int lab = cli_labels_opt("labels", c, optarg, &lo);
        if (lab < 0)
            return CLI_USAGE;
        if (lab)
            continue;
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return CLI_OK;
        default: usage(stderr); return CLI_USAGE;
        }
    }
    if (optind + 1 != argc)
        return usage(stderr), CLI_USAGE;
    irb_error err = {0};
    irb_table *t = NULL;
    if (irb_labels_table_load(argv[optind], &lo, &t, &err) != IRB_OK)
        return cli_fail("labels", &err);
    if (err.warning)
        cli_error("labels", "warning: %s", err.message);
    int label = irb_table_column(t, "label");
    size_t n = 0;
    for (size_t i = 0; i < t->nrow; i++)
        n += label >= 0 && t->cell[i][label][0];
    int rc = CLI_OK;
    if (out) {
        irb_atomic_file af;
        irb_error werr = {0};
        if (irb_atomic_open(&af, out, &werr) != IRB_OK)
            rc = cli_fail("labels", &werr);
        else if ((void)write_table(t, af.f), irb_atomic_close(&af, &werr) != IRB_OK) /* close says a failed write */
            rc = cli_fail("labels", &werr);
    } else if (write_table(t, stdout) != IRB_OK || fflush(stdout) != 0) {
        cli_error("labels", "cannot write to standard output");
        rc = CLI_FATAL;
    }
    if (rc == CLI_OK)
        fprintf(stderr, "irbis labels: %zu labelled file(s) from %s%s%s\n", n, argv[optind], out ? " in " : "",
                out ? out : "");
    irb_table_free(t);
    return rc;
}
