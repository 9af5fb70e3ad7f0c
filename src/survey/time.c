/* Local camera times: text -> seconds on the camera's own (naive, zone-less) clock.
 * Calendar arithmetic is done by hand (days from the civil date, proleptic Gregorian) so the
 * result never depends on the process's TZ or on mktime's DST guesses. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "irbis/survey.h"

/* Days since 1970-01-01 of y-m-d. Years are shifted to start in March so the leap day is the
 * last day of the shifted year; a 400-year era has 146097 days. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int month_days(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : days[m - 1];
}

/* Reads exactly n digits at *p. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return 0;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 1;
}

/* EXIF writes "0000:00:00 00:00:00" or blanks (with colons) when the clock was not set. */
static int is_unknown(const char *s)
{
    int any_nonzero = 0;
    for (; *s; s++) {
        if (isdigit((unsigned char)*s) && *s != '0')
            any_nonzero = 1;
        else if (!strchr("0: -T", *s))
            return 0;
    }
    return !any_nonzero;
}

irb_status irb_time_parse(const char *text, irb_time *out, irb_error *err)
{
    if (!text || !out)
        return irb_fail(err, IRB_INVALID_ARG, "irb_time_parse: NULL argument");
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (is_unknown(p))
        return irb_fail(err, IRB_NOT_FOUND, "time '%s': no time (empty or unset camera clock)", text);
    int y, mo, d, h, mi, s = 0;
    char sep;
    if (!digits(&p, 4, &y) || (*p != '-' && *p != ':'))
        goto bad;
    sep = *p++;
    if (!digits(&p, 2, &mo) || *p++ != sep || !digits(&p, 2, &d) || (*p != 'T' && *p != ' '))
        goto bad;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
        goto bad;
    double frac = 0;
    if (*p == ':') {
        p++;
        if (!digits(&p, 2, &s))
            goto bad;
        if (*p == '.' || *p == ',') {
            p++;
            if (!isdigit((unsigned char)*p))
                goto bad;
            double scale = 0.1;
            for (; isdigit((unsigned char)*p); p++, scale /= 10)
                frac += (*p - '0') * scale;
            if (frac >= 1)
                frac = nextafter(1.0, 0.0);
        }
    }
    if (*p == 'Z' || *p == '+' || (*p == '-' && isdigit((unsigned char)p[1])))
        return irb_fail(err, IRB_UNSUPPORTED,
                        "time '%s': has a time zone; camera times are local, give the time without it", text);
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p)
        goto bad;
    if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || s > 60)
        return irb_fail(err, IRB_CORRUPT, "time '%s': a field is out of range", text);
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    if (t >= days_from_civil(10000, 1, 1) * 86400) /* 9999-12-31T23:59:60: year 10000 has no 4-digit form */
        return irb_fail(err, IRB_CORRUPT, "time '%s': a leap second past the end of year 9999", text);
    out->seconds = t;
    out->frac = frac;
    return IRB_OK;
bad:
    return irb_fail(err, IRB_CORRUPT, "time '%s': expected YYYY-MM-DDTHH:MM:SS[.fff] or EXIF YYYY:MM:DD HH:MM:SS",
                    text);
}

/* In doubles: b.seconds - a.seconds overflows int64 for times 2^63 s apart (exact below 2^53 s). */
double irb_time_diff(irb_time a, irb_time b) { return ((double)b.seconds - (double)a.seconds) + (b.frac - a.frac); }

char *irb_time_format(irb_time t, char *buf, size_t size)
{
    /* floor division without negating (-INT64_MIN overflows) */
    int64_t days = t.seconds / 86400, sod = t.seconds % 86400;
    if (sod < 0)
        days--, sod += 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int n = snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)y, m, d, (int)(sod / 3600),
                     (int)(sod / 60 % 60), (int)(sod % 60));
    if (t.frac > 0 && t.frac < 1 && n > 0 && (size_t)n < size) {
        long us = lround(t.frac * 1e6);
        if (us > 999999)
            us = 999999;
        snprintf(buf + n, size - (size_t)n, ".%06ld", us);
    }
    return buf;
}
