/* irbis review: a local web app to check and correct a classify run (review_server.c serves it;
 * the labels are stored by the library's irb_review_*). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cli.h"
#include "review_server.h"

const char irb_cmd_review_summary[] = "check and correct a classify run's labels in the browser (local web app)";

static const char USAGE[] =
    "usage: irbis review OUT/ [--port N] [--bind ADDR] [--no-export]\n"
    "       irbis review OUT/ --write-labels FILE.csv\n"
    "\n"
    "Serves a page on http://127.0.0.1:PORT/?token=... (the URL is printed) to check the labels\n"
    "of OUT/ (the output folder of `irbis classify`) sequence by sequence and correct them. Every\n"
    "correction is stored in OUT/irbis.sqlite the moment it is made (method human). On exit\n"
    "(Ctrl-C) the outputs (predictions.csv, camtrap-dp/, megadetector.json, ..., sorted/) are\n"
    "rewritten with them; `irbis export OUT/` does the same at any time. A read-only OUT/ (a\n"
    "read-only share, a DVD, another user's folder) is served for browsing: labels cannot be saved\n"
    "there, and the outputs are not rewritten; --write-labels works on it.\n"
    "\n"
    "options:\n"
    "      --port N            port (default 0: any free port)\n"
    "      --bind ADDR         listen on ADDR instead of 127.0.0.1 (other machines can then reach\n"
    "                          the page: they still need the token)\n"
    "      --no-export         do not rewrite the outputs on exit\n"
    "      --write-labels FILE write the human labels as CSV path,label,time,method (paths\n"
    "                          relative to the survey) and exit; `irbis train --labels OUT/` reads\n"
    "                          them directly\n"
    "  -h, --help              this text\n"
    "\n"
    "keys on the page: 1-9 the classes, e empty, arrows move, Enter full size, u undo,\n"
    "a accept the page's labels, [ ] previous / next page.\n"
    "exit status: 0 done; 2 bad command line; 3 could not run (OUT/ holds no classify run, a run is\n"
    "using it, the port is taken, ...).\n";

enum { OPT_PORT = 256, OPT_BIND, OPT_NO_EXPORT, OPT_LABELS };

typedef struct review_cli {
    const char *out, *bind, *labels;
    long port;
    int no_export;
} review_cli;

static int parse(int argc, char **argv, review_cli *o)
{
    static const struct option longs[] = {{"port", required_argument, 0, OPT_PORT},
                                          {"bind", required_argument, 0, OPT_BIND},
                                          {"no-export", no_argument, 0, OPT_NO_EXPORT},
                                          {"write-labels", required_argument, 0, OPT_LABELS},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case OPT_PORT:
            if (!cli_int("review", "--port", optarg, 0, 65535, &o->port))
                return CLI_USAGE;
            break;
        case OPT_BIND: o->bind = optarg; break;
        case OPT_NO_EXPORT: o->no_export = 1; break;
        case OPT_LABELS: o->labels = optarg; break;
        case 'h': fputs(USAGE, stdout); return -1;
        default: fputs(USAGE, stderr); return CLI_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error("review", "needs one OUT folder (see --help)");
        return CLI_USAGE;
    }
    o->out = argv[optind];
    return CLI_OK;
}

static int stop_pipe[2] = {-1, -1};

static void on_stop(int sig)
{
    (void)sig;
    int e = errno;
    if (write(stop_pipe[1], "", 1) < 0) {
        /* the pipe holds a byte already: the main thread wakes anyway */
    }
    errno = e;
}

/* 32 random hex digits, as Jupyter's token. */
static int make_token(char *buf, size_t size)
{
    unsigned char r[16];
    if (size < 2 * sizeof r + 1 || getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return 0;
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(buf + 2 * i, 3, "%02x", r[i]);
    return 1;
}

static int serve(irb_review_t *rv, const review_cli *o)
{
    char token[40];
    if (!make_token(token, sizeof token)) {
        cli_error("review", "cannot read random bytes for the token");
        return CLI_FATAL;
    }
    /* SIGINT/SIGTERM may land on any thread (the server's, or those BLAS starts before main):
     * the handler only writes to a pipe, which the main thread reads */
    if (pipe2(stop_pipe, O_CLOEXEC) != 0) {
        cli_error("review", "cannot create a pipe: %s", strerror(errno));
        return CLI_FATAL;
    }
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    irb_error err = {0};
    review_server_opts so = {.bind = o->bind, .port = (unsigned)o->port, .token = token};
    review_server *s = review_server_start(rv, &so, &err);
    if (!s)
        return err.status == IRB_INVALID_ARG ? (cli_error("review", "%s", err.message), CLI_USAGE)
                                             : cli_fail("review", &err);
    const char *host = o->bind && *o->bind ? o->bind : "127.0.0.1";
    char name[256];
    if ((!strcmp(host, "0.0.0.0") || !strcmp(host, "::")) && gethostname(name, sizeof name) == 0 && name[0]) {
        name[sizeof name - 1] = '\0';
        host = name; /* every interface: the machine's name, which the server accepts as Host */
    }
    int v6 = strchr(host, ':') != NULL;
    printf("irbis review: %s (survey %s)\n", o->out, irb_review_survey(rv));
    printf("    http://%s%s%s:%u/?token=%s\n", v6 ? "[" : "", host, v6 ? "]" : "", review_server_port(s), token);
    int ro = irb_review_readonly(rv);
    if (ro)
        printf("%s is read-only: browsing only, labels cannot be saved.\n", o->out);
    printf("Open the URL above in a browser; Ctrl-C stops%s.\n",
           o->no_export || ro ? "" : " and rewrites the outputs with the corrections");
    fflush(stdout);
    char byte;
    while (read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR)
        ;
    long long served, refused;
    review_server_counts(s, &served, &refused);
    review_server_stop(s);
    fprintf(stderr, "irbis review: stopped (%lld requests served, %lld refused)\n", served, refused);
    if (o->no_export)
        return CLI_OK;
    if (ro) {
        fprintf(stderr, "irbis review: %s is read-only: the outputs were not rewritten (nothing was changed)\n",
                o->out);
        return CLI_OK;
    }
    if (irb_review_export(rv, &err) != IRB_OK)
        return cli_fail("review", &err);
    cli_outputs_notes("review", &err, NULL);
    fprintf(stderr, "irbis review: outputs rewritten in %s\n", o->out);
    return CLI_OK;
}

int irb_cmd_review(int argc, char **argv)
{
    review_cli o = {0};
    int rc = parse(argc, argv, &o);
    if (rc != CLI_OK)
        return rc < 0 ? CLI_OK : rc;
    irb_review_t *rv = NULL;
    irb_error err = {0};
    if (irb_review_open(o.out, &rv, &err) != IRB_OK)
        return cli_fail("review", &err);
    if (o.labels) {
        long long n = 0;
        rc = irb_review_write_labels(rv, o.labels, &n, &err) == IRB_OK ? CLI_OK : cli_fail("review", &err);
        if (rc == CLI_OK)
            fprintf(stderr, "irbis review: %lld human labels written to %s\n", n, o.labels);
    } else {
        rc = serve(rv, &o);
    }
    irb_review_close(rv);
    return rc;
}
