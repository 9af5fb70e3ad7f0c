#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_quiet;

/* The length of the UTF-8 sequence at p (2..4), or 0 when it is not one (a file name's bytes
 * need not be UTF-8; a terminal and a UTF-8 reader of stderr must not get them raw). */
static int utf8_seq(const unsigned char *p)
{
    int n = p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 && p[0] < 0xE0 ? 2 : 0;
    for (int k = 1; k < n; k++)
        if ((p[k] & 0xC0) != 0x80)
            return 0;
    if ((n == 3 && p[0] == 0xE0 && p[1] < 0xA0) || (n == 3 && p[0] == 0xED && p[1] >= 0xA0) ||
        (n == 4 && p[0] == 0xF0 && p[1] < 0x90) || (n == 4 && p[0] == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

/* Rewrites s in place with the bytes a terminal would act on (C0 controls but tab, DEL, and the
 * UTF-8 form of the C1 controls) and bytes that are not UTF-8 shown as '?': a file named
 * "\033[2J.jpg" must not clear the screen. Nothing grows, so the text never overtakes itself. */
static void make_safe(char *s)
{
    char *o = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int n = *p >= 0x80 ? utf8_seq(p) : 1;
        if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
            *o++ = '?', p++;
        else if (n == 0)
            *o++ = '?';
        else if (n > 1)
            memmove(o, p, (size_t)n), o += n, p += n - 1;
        else if ((*p < 0x20 && *p != '\t') || *p == 0x7F)
            *o++ = '?';
        else
            *o++ = (char)*p;
    }
    *o = 0;
}

/* The line goes out as one fprintf, which glibc writes in one write(2) on the unbuffered
 * stderr: a byte at a time was one system call each (hundreds per message on a survey of many
 * bad files), and lines from several processes on one stderr (irbis-mpi's ranks) could mix
 * within a line. */
void cli_error(const char *cmd, const char *fmt, ...)
{
    if (cli_quiet)
        return;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    char small[2048], *msg = small;
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small && (msg = malloc((size_t)n + 1)) != NULL)
        vsnprintf(msg, (size_t)n + 1, fmt, again);
    char *text = msg ? msg : small;
    make_safe(text);
    fprintf(stderr, "irbis %s: %s\n", cmd, text);
    if (msg != small)
        free(msg);
    va_end(again);
    va_end(ap);
}

int cli_fail(const char *cmd, const irb_error *err)
{
    cli_error(cmd, "%s", err->message[0] ? err->message : irb_status_name(err->status));
    return CLI_FATAL;
}

int cli_fail_options(const char *cmd, const irb_error *err)
{
    int rc = cli_fail(cmd, err);
    return err->status == IRB_INVALID_ARG ? CLI_USAGE : rc;
}

const char *cli_summary_clauses(const irb_classify_summary *sum, char *buf, size_t size)
{
    long long n = sum->skipped, v = sum->skipped_videos;
    char videos[64] = "";
    if (v > 0)
        snprintf(videos, sizeof videos, " (%lld %s)", v, v == 1 ? "video" : "videos");
    int len = 0;
    buf[0] = '\0';
    if (n > 0)
        len = snprintf(buf, size, "; skipped %lld %s%s", n,
                       n == 1 ? "file that is not a still image" : "files that are not still images", videos);
    if (sum->copies > 0 && len >= 0 && (size_t)len < size) /* said once: each copy still counts in every output */
        snprintf(buf + len, size - (size_t)len,
                 "; %lld images are the same picture as another (%lld %s, e.g. '%s' = '%s'): a card copied twice? "
                 "every copy is in the outputs",
                 sum->copies, sum->copy_groups, sum->copy_groups == 1 ? "picture" : "pictures", sum->first_copy[0],
                 sum->first_copy[1]);
    make_safe(buf); /* file names */
    return buf;
}

void cli_outputs_notes(const char *cmd, const irb_error *err, const irb_classify_summary *sum)
{
    static const irb_classify_summary none;
    sum = sum ? sum : &none;
    if (sum->store_aside[0]) /* said even with --quiet: the old results are no longer read */
        cli_error(cmd, "warning: the results store was damaged: moved to %s, and the run started over",
                  sum->store_aside);
    if (sum->reviews_dropped) /* a person's work: said even with --quiet */
        cli_error(cmd,
                  "warning: %lld image(s) with a human label (irbis review) are no longer in the survey: their labels "
                  "are kept in the store and used again if the files come back to their paths",
                  sum->reviews_dropped);
    if (sum->reviews_retired)
        cli_error(cmd,
                  "warning: %lld reviewed image(s) are now another picture (the file's picture changed: a card "
                  "refilled?), so their human labels no longer apply: they are the machine's again, the old labels "
                  "stay in the review history (the first: %s)",
                  sum->reviews_retired, sum->first_review_retired);
    if (cli_quiet)
        return;
    if (sum->changed)
        cli_error(cmd,
                  "%lld image(s) changed since they were classified: the new files' results replace the old "
                  "(the first: %s)",
                  sum->changed, sum->first_changed);
    if (sum->retried)
        cli_error(cmd, "%lld image(s) that an earlier run could not read were tried again", sum->retried);
    if (sum->dropped)
        cli_error(cmd, "%lld image(s) are no longer in the survey and were dropped from the results (the first: %s)",
                  sum->dropped, sum->first_dropped);
    if (sum->found)
        cli_error(cmd,
                  "%lld image(s) were found under another path with the same bytes (renamed or moved): their "
                  "results were kept (the first: %s)",
                  sum->found, sum->first_found);
    if (sum->reviews_moved)
        cli_error(cmd, "%lld human label(s) followed their image to its new path (the first: %s)", sum->reviews_moved,
                  sum->first_review_moved);
    if (sum->digested)
        cli_error(cmd,
                  "recorded the content digests of %lld image(s) classified by an earlier irbis (read once): moved "
                  "or renamed, they keep their results and human labels",
                  sum->digested);
    long long untimed = sum->untimed;
    if (err->warning)
        cli_error(cmd, "warning: %s", err->message); /* file names in it: escapes made safe */
    if (untimed)
        cli_error(cmd,
                  "%lld classified image(s) have no time: they are in predictions.csv but not in camtrap-dp/ "
                  "(Camtrap DP needs a timestamp)",
                  untimed);
}

int cli_digests_line(const irb_progress *p, char *line, size_t size)
{
    if (p->phase != IRB_PHASE_DIGESTS)
        return 0;
    snprintf(line, size,
             "recording content digests of %lld images classified by an earlier irbis: %lld read  "
             "elapsed %.0fs",
             p->total, p->done, p->elapsed);
    return 1;
}

int cli_int(const char *cmd, const char *opt, const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        cli_error(cmd, "%s expects a whole number from %ld to %ld, got '%s'", opt, lo, hi, text);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_double(const char *cmd, const char *opt, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end) {
        cli_error(cmd, "%s expects a number, got '%s'", opt, text);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_double_in(const char *cmd, const char *opt, const char *text, double lo, double hi, double *out)
{
    double v;
    if (!cli_double(cmd, opt, text, &v))
        return 0;
    if (!(v >= lo && v <= hi) || isinf(v)) {
        if (isinf(hi))
            cli_error(cmd, "%s expects a number >= %g, got '%s'", opt, lo, text);
        else
            cli_error(cmd, "%s expects a number from %g to %g, got '%s'", opt, lo, hi, text);
        return 0;
    }
    *out = v;
    return 1;
}

void cli_file_message(const char *cmd, const char *path, const char *msg, int warning)
{
    size_t n = strlen(path);
    if (!strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2))
        msg += n + 2; /* "PATH: cause": the path is printed once, below */
    if (strstr(msg, path))
        cli_error(cmd, "%s%s", warning ? "warning: " : "", msg);
    else
        cli_error(cmd, "%s: %s%s", path, warning ? "warning: " : "", msg);
}

/* OpenBLAS (pthreads build): joins its server threads; the next threaded BLAS call starts them */
extern int blas_thread_shutdown_(void) __attribute__((weak));

void cli_process_setup(void)
{
    if (blas_thread_shutdown_)
        blas_thread_shutdown_();
}

int cli_labels_opt(const char *cmd, int c, const char *arg, irb_labels_opts *o)
{
    switch (c) {
    case CLI_OPT_PATH_COLUMN: o->path_column = arg; return 1;
    case CLI_OPT_LABEL_COLUMN: o->label_column = arg; return 1;
    case CLI_OPT_BLANK_LABEL:
        if (!arg[0]) { /* it read as no option: blank cells stayed rows without a label */
            cli_error(cmd, "--blank-label needs a label (e.g. --blank-label empty), not an empty value");
            return -1;
        }
        o->blank_label = arg;
        return 1;
    default: return 0;
    }
}
