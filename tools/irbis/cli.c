#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>

int cli_quiet;

void cli_error(const char *cmd, const char *fmt, ...)
{
    if (cli_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "irbis %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_fail(const char *cmd, const irb_error *err)
{
    cli_error(cmd, "%s", err->message[0] ? err->message : irb_status_name(err->status));
    return err->status == IRB_INVALID_ARG ? CLI_USAGE : CLI_FATAL; /* an option value refused */
}

void cli_outputs_notes(const char *cmd, const irb_error *err, long long untimed)
{
    if (cli_quiet)
        return;
    if (err->warning)
        fprintf(stderr, "irbis %s: warning: %s\n", cmd, err->message);
    if (untimed)
        fprintf(stderr, "irbis %s: %lld classified image(s) have no time: they are in predictions.csv but not in "
                        "camtrap-dp/ (Camtrap DP needs a timestamp)\n",
                cmd, untimed);
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
