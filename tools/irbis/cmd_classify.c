/* irbis classify: the production run over a survey folder (a thin layer over irb_classify_run).
 * Draws the progress the library reports: a live \r line on a terminal, plain lines otherwise. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classify_opts.h"

const char irb_cmd_classify_summary[] = "classify a survey: resumable, writes CSV, Camtrap DP, report, sorted folders";

static const char USAGE[] =
    "usage: irbis classify --pipeline P.irbis SURVEY_DIR -o OUT/ [options]\n"
    "       irbis classify --model M.onnx --classifier C.irbis SURVEY_DIR -o OUT/ [options]\n"
    "\n"
    "Scans SURVEY_DIR, classifies every image (decode on worker threads overlapped with batched\n"
    "CNN inference), averages over burst sequences and writes into OUT/: predictions.csv,\n"
    "camtrap-dp/ (Camtrap DP 1.0.2), coco-camera-traps.json, megadetector.json (MegaDetector batch\n"
    "output 1.6), report.html (+ thumbs/), sorted/ (with --sort), irbis.sqlite.\n"
    "A killed run resumes where it stopped when started again with the same command.\n"
    "\n"
    "options:\n"
    "  -P, --pipeline FILE     pipeline from `irbis train --images` or `irbis experiment --save`:\n"
    "                          every part of its recipe (sizes, mirrors, motion) is applied\n"
    "  -m, --model FILE        ONNX model (with --pipeline: default the one it records; a model\n"
    "                          with another sha256 is refused)\n"
    "  -c, --classifier FILE   or a classifier from `irbis train FEATURES` (needs --model)\n"
    "  -o, --out DIR           output folder (required)\n"
    "  -g, --gap SECONDS       sequence gap: a longer pause starts a new sequence (default 60)\n"
    "      --camera-depth K    a file's camera is its folder (default), or its first K folder\n"
    "                          components (card layouts CAM/DCIM/100RECNX: 1)\n"
    "  -p, --positive CLASS    the class --threshold applies to (default: plain argmax)\n"
    "  -t, --threshold P       label CLASS when p(CLASS) >= P, for images and sequences (default 0.5)\n"
    "      --min-confidence P  label images and sequences whose top probability is below P\n"
    "                          'uncertain' in every output (Camtrap DP: unknown; default: the\n"
    "                          pipeline's, set at training; 0: off)\n"
    "      --novelty-threshold D  with a pipeline: label images and sequences whose novelty (cosine\n"
    "                          distance to the nearest training image) is above D 'uncertain' too\n"
    "                          (novel; default: the pipeline's, set at training; 0: off)\n"
    "      --precision fp32|bf16|int8  the CNN's precision (default: the pipeline's, as trained;\n"
    "                          int8 needs a pipeline trained with --precision int8; another one\n"
    "                          than the pipeline's feeds its classifiers other features: docs/int8.md)\n"
    "  -j, --threads N         decode and CNN threads (default: all CPUs)\n"
    "  -b, --batch N           images per CNN batch and per committed transaction (default 16)\n"
    "      --sort MODE         none|copy|hardlink|symlink: OUT/sorted/<label>/<relative path>\n"
    "      --taxa MAP          class-to-taxon mapping for Camtrap DP, e.g.\n"
    "                          'snow_leopard=Panthera uncia;ibex=Capra sibirica'\n"
    "      --deployments FILE  CSV camera,latitude,longitude[,locationName][,deploymentStart,\n"
    "                          deploymentEnd] for Camtrap DP (start/end: local camera times or dates)\n"
    "      --utc-offset OFF    camera clock zone for Camtrap DP times: Z (default), +05:00, -03:30\n"
    "                          (these three, when not given: what OUT/'s outputs were last written\n"
    "                          with, by a run or irbis export, while it still fits)\n"
    "      --report-sequences N  sequences with thumbnails in report.html (default 50)\n"
    "      --restart           discard the results already in OUT/ and start over\n"
    "      --survey-moved      OUT/ holds a run on a survey whose folder is now SURVEY (a drive\n"
    "                          mounted elsewhere, a copy on another disk): go on from it (files\n"
    "                          of other bytes are classified again; renamed ones keep their\n"
    "                          results and human labels)\n"
    "      --limit N           stop after classifying N images in this run (resume later)\n"
    "  -q, --quiet             no progress, no summary\n"
    "  -h, --help              this text\n"
    "\n"
    "Files that are not still images (video clips, notes, logs: content neither JPEG nor PNG and\n"
    "a name that claims no image) are skipped: not classified, not failures, in no output file;\n"
    "the summary line counts them and irbis scan lists them. It also says when images are the same\n"
    "picture as another at another path (a card copied twice?); every copy stays in the outputs.\n"
    "exit status: 0 all images classified; 1 some images failed (listed in predictions.csv and\n"
    "report.html) or, after --limit, are still pending; 2 bad command line (also a bad option\n"
    "value, an unknown --positive class, a bad --utc-offset or deployments file); 3 could not run (missing model, another run on OUT/,\n"
    "OUT/ holds a run with other parameters, ...).\n";

typedef struct draw {
    int tty, quiet, last_len;
} draw;

static void fmt_time(double s, char *buf, size_t n)
{
    if (s < 0)
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
}

static void on_progress(void *user, const irb_progress *p)
{
    draw *d = user;
    if (d->quiet)
        return;
    char line[256], eta[32], el[32];
    fmt_time(p->eta, eta, sizeof eta);
    fmt_time(p->elapsed, el, sizeof el);
    if (p->phase == IRB_PHASE_CLASSIFY)
        snprintf(line, sizeof line, "classify %lld/%lld images  %.1f img/s  failed %lld  elapsed %s  ETA %s", p->done,
                 p->total, p->rate, p->failed, el, eta);
    else if (cli_digests_line(p, line, sizeof line))
        ;
    else if (p->phase == IRB_PHASE_SCAN)
        snprintf(line, sizeof line, "scan %lld files  elapsed %s", p->done, el);
    else
        snprintf(line, sizeof line, "%s %lld/%lld  elapsed %s", p->phase_name, p->done, p->total, el);
    if (d->tty) {
        int len = (int)strlen(line);
        fprintf(stderr, "\r%s%*s", line, d->last_len > len ? d->last_len - len : 0, "");
        d->last_len = len;
        if (p->final)
            fputc('\n', stderr), d->last_len = 0;
    } else if (p->final || p->phase == IRB_PHASE_CLASSIFY || p->phase == IRB_PHASE_DIGESTS) {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

static void usage(FILE *out) { fputs(USAGE, out); }

int irb_cmd_classify(int argc, char **argv)
{
    irb_classify_opts o;
    irb_classify_opts_default(&o);
    draw d = {.tty = isatty(2)};
    int rc = classify_parse(argc, argv, "classify", usage, &o, &d.quiet);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    o.progress = on_progress;
    o.progress_user = &d;
    o.progress_interval = d.tty ? 0.25 : 5.0;
    irb_classify_summary sum;
    irb_error err = {0};
    irb_status s = irb_classify_run(&o, &sum, &err);
    if (d.tty && d.last_len)
        fputc('\n', stderr);
    if (s != IRB_OK)
        return cli_fail_options("classify", &err);
    cli_outputs_notes("classify", &err, &sum);
    char clauses[CLI_CLAUSES_SIZE];
    if (!d.quiet)
        fprintf(stderr,
                "irbis classify: %lld images: %lld classified, %lld failed, %lld sequences%s; %lld done by an "
                "earlier run; %lld left; %.1f s (%.1f s classifying, %lld images decoded)\n"
                "irbis classify: results in %s (predictions.csv, camtrap-dp/, megadetector.json, report.html)\n",
                sum.images, sum.classified, sum.failed, sum.sequences,
                cli_summary_clauses(&sum, clauses, sizeof clauses), sum.resumed, sum.pending, sum.seconds,
                sum.classify_seconds, sum.decoded, o.out_dir);
    return sum.failed || sum.pending ? CLI_PARTIAL : CLI_OK; /* pending: stopped by --limit */
}
