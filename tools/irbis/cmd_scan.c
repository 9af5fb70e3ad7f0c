/* irbis scan SURVEY_DIR [--camera-depth K] [-o out.csv]: one CSV row of metadata per file. */
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <time.h>

#include "cli.h"

const char irb_cmd_scan_summary[] = "list a survey's images with camera, EXIF time and size (CSV)";

static void usage(FILE *f)
{
    fputs("usage: irbis scan SURVEY_DIR [--camera-depth K] [-o out.csv]\n\n"
          "Walks SURVEY_DIR (sorted, depth-first; hidden files, irbis classify output folders and\n"
          "what Windows leaves on a card, Thumbs.db, desktop.ini, System Volume Information/,\n"
          "$RECYCLE.BIN/, skipped) and writes one CSV row per file:\n"
          "  path,camera,timestamp,width,height,status,message\n"
          "Only image headers are read. camera is the file's folder relative to SURVEY_DIR, or with\n"
          "--camera-depth K its first K folder components (camtrapR's Station/Species/ layout: K = 1).\n"
          "status is ok, warning, error (unreadable, damaged, a format irbis does not read...) or\n"
          "skipped: not a still image (content neither JPEG nor PNG, and a name that claims no image:\n"
          "a video clip, notes, logs); message says \"a video (irbis classifies still images)\" or\n"
          "\"not an image\".\n\n"
          "  -o, --output FILE     write the CSV to FILE instead of standard output\n"
          "  -k, --camera-depth K  camera = the first K folders of the path\n"
          "exit status: 0 all ok, warnings or skipped, 1 some files are errors, 2 usage, 3 could not run\n",
          f);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

int irb_cmd_scan(int argc, char **argv)
{
    static const struct option longs[] = {{"output", required_argument, 0, 'o'},
                                          {"camera-depth", required_argument, 0, 'k'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    const char *out_path = NULL;
    irb_scan_opts opts = {0};
    long k;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:k:h", longs, NULL)) != -1) {
        if (c == 'o') {
            out_path = optarg;
        } else if (c == 'k') {
            if (!cli_int("scan", "--camera-depth", optarg, 0, 1000, &k))
                return CLI_USAGE;
            opts.camera_depth = (int)k;
        } else if (c == 'h') {
            usage(stdout);
            return CLI_OK;
        } else {
            usage(stderr);
            return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return CLI_USAGE;
    }
    irb_error err = {0};
    irb_scan_t *scan = NULL;
    if (irb_scan_open(argv[optind], &opts, &scan, &err) != IRB_OK)
        return cli_fail("scan", &err);
    FILE *out = out_path ? fopen(out_path, "w") : stdout;
    if (!out) {
        cli_error("scan", "cannot write %s: %s", out_path, strerror(errno));
        irb_scan_close(scan);
        return CLI_FATAL;
    }
    double t0 = now();
    long counts[4] = {0}; /* by irb_scan_status */
    irb_scan_row row;
    irb_status s;
    irb_scan_write_csv_header(out);
    while ((s = irb_scan_next(scan, &row)) == IRB_OK) {
        irb_scan_write_csv_row(out, &row);
        counts[row.status]++;
    }
    int rc =
        s == IRB_NOT_FOUND ? (counts[IRB_ROW_ERROR] ? CLI_PARTIAL : CLI_OK) : cli_fail("scan", irb_scan_error(scan));
    irb_scan_close(scan);
    if ((out != stdout && fclose(out) != 0) || (out == stdout && fflush(out) != 0)) {
        cli_error("scan", "cannot write %s: %s", out_path ? out_path : "standard output", strerror(errno));
        return CLI_FATAL;
    }
    double dt = now() - t0;
    long total = counts[0] + counts[1] + counts[2] + counts[3];
    fprintf(stderr,
            "irbis scan: %ld files in %.2f s (%.0f files/s): %ld ok, %ld warnings, %ld errors, %ld skipped (not still "
            "images)\n",
            total, dt, dt > 0 ? total / dt : 0.0, counts[IRB_ROW_OK], counts[IRB_ROW_WARNING], counts[IRB_ROW_ERROR],
            counts[IRB_ROW_SKIPPED]);
    return rc;
}
