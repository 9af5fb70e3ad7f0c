/* irbis experiment: the reference transfer-learning experiment (docs/experiment.md). */
#include "experiment_opts.h"

const char irb_cmd_experiment_summary[] =
    "run L120 / RN1 / RN2 / RN2+A / RN2+A+E (+ motion rows) with cross-validation";

int irb_cmd_experiment(int argc, char **argv)
{
    const char *cmd = "experiment";
    exp_cli x;
    int rc = experiment_parse(argc, argv, cmd, 0, &x);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    irb_experiment_result r;
    irb_error err = {0};
    if (irb_experiment_run(&x.o, &r, &err) != IRB_OK)
        return cli_fail(cmd, &err);
    if (err.warning) /* the labels' (irb_labels_match): shared names, rows that match no file */
        cli_error(cmd, "warning: %s", err.message);
    experiment_print_table(&r);
    printf("\nwritten: %s/{table.csv,table.md,results.json,roc.svg,report.html,predictions_*.csv,failed.csv}\n",
           x.o.out_dir);
    if (r.saved_row[0]) {
        printf("pipeline: %s (row %s, trained on all %zu images)\n", r.saved_path, r.saved_row, r.n_images);
        experiment_print_uncertain(&r);
        experiment_print_precision(&x.o);
    }
    return r.n_failed ? CLI_PARTIAL : CLI_OK;
}
