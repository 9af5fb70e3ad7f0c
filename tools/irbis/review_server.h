/* The HTTP side of `irbis review` (review_server.c): a libmicrohttpd server over an
 * irb_review_t. Routes, security rules and the page: docs/review.md. */
#ifndef IRBIS_REVIEW_SERVER_H
#define IRBIS_REVIEW_SERVER_H

#include "cli.h"

typedef struct review_server review_server;

typedef struct review_server_opts {
    const char *bind;  /* address to listen on (IPv4 or IPv6 literal); "127.0.0.1" by default */
    unsigned port;     /* 0: any free port */
    const char *token; /* the secret every request must carry (query, cookie or header) */
    int threads;       /* server threads (default 4) */
} review_server_opts;

/* Starts serving rv (borrowed: must outlive the server). Returns NULL with a message in err. */
review_server *review_server_start(irb_review_t *rv, const review_server_opts *o, irb_error *err);
/* The port actually listened on. */
unsigned review_server_port(const review_server *s);
/* Stops serving (waits for requests in flight) and frees s. s may be NULL. */
void review_server_stop(review_server *s);
/* Counts of requests served and refused, for the exit line. */
void review_server_counts(const review_server *s, long long *served, long long *refused);

#endif
