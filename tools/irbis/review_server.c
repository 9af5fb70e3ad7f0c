/* The HTTP server of `irbis review` (review_server.h), on libmicrohttpd.
 *
 * Security, in the order a request meets it (docs/review.md):
 *   1. Host header: only the names the server was reached by on purpose (127.0.0.1:PORT,
 *      localhost:PORT, [::1]:PORT, the --bind address): a DNS-rebinding page gets 403.
 *   2. Token: every request carries the secret of the printed URL, as ?token=, as the cookie
 *      set on the first page load (HttpOnly, SameSite=Strict), or as the X-Irbis-Token header.
 *      Compared in constant time. 403 without it. A POST, or a GET other than a navigation,
 *      from a page of another origin: 403.
 *      Both are checked when the headers are in, before any body is read.
 *   3. Routes are exact names; images are served only through irb_review_image/irb_review_thumb,
 *      which accept nothing but paths of the store's classified images inside the survey.
 * The library handle is used by one request at a time (a mutex); request bodies are capped. */
#define _GNU_SOURCE
#include "review_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The page (tools/irbis/review/, embedded at build time: gen/review_*.c). */
extern const unsigned char review_index_html[], review_app_js[], review_app_css[];
extern const size_t review_index_html_len, review_app_js_len, review_app_css_len;

/* PER_IP: connections one address may hold (a browser opens 6 per server); the rest of the
 * CONNECTIONS stay for the others, so a host that opens hundreds of idle or trickling
 * connections (slowloris) cannot lock the page's browser out. */
enum { BODY_MAX = 1 << 20, LABELS_MAX = 2000, CONNECTIONS = 512, PER_IP = 64 };

struct review_server {
    struct MHD_Daemon *d;
    irb_review_t *rv;
    pthread_mutex_t lock;
    char token[128];
    char cookie[48];     /* the cookie's name: irbis_token_PORT (cookies do not keep ports apart) */
    char hosts[40][320]; /* allowed Host header values */
    int n_hosts;
    unsigned port;
    atomic_llong served, refused;
};

typedef struct request {
    char *body;
    size_t len;
    int too_big;
    int tok; /* token_ok's answer */
} request;

/* ---- responses ---------------------------------------------------------------------------- */

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *type, const void *data,
                                size_t len, enum MHD_ResponseMemoryMode mode, const char *cookie)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer"); /* the token never leaves */
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                            "connect-src 'self'; frame-ancestors 'none'");
    if (cookie)
        MHD_add_response_header(r, "Set-Cookie", cookie);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return send_buf(c, status, "text/plain; charset=utf-8", text, strlen(text), MHD_RESPMEM_MUST_COPY, NULL);
}

static enum MHD_Result refuse(review_server *s, struct MHD_Connection *c, unsigned status, const char *why)
{
    atomic_fetch_add(&s->refused, 1);
    return send_text(c, status, why);
}

/* A library string (irb_free_string'd here) as a response. */
static enum MHD_Result send_owned(struct MHD_Connection *c, const char *type, char *text)
{
    enum MHD_Result r = send_buf(c, MHD_HTTP_OK, type, text, strlen(text), MHD_RESPMEM_MUST_COPY, NULL);
    irb_free_string(text);
    return r;
}

static enum MHD_Result send_error(struct MHD_Connection *c, irb_status st, const irb_error *err)
{
    unsigned code = st == IRB_INVALID_ARG ? MHD_HTTP_BAD_REQUEST
                    : st == IRB_NOT_FOUND ? MHD_HTTP_NOT_FOUND
                                          : MHD_HTTP_INTERNAL_SERVER_ERROR;
    return send_text(c, code, err->message[0] ? err->message : irb_status_name(st));
}

/* A failure to store (a label, the outputs): 403 with the cause on a read-only folder, where
 * nothing can be stored ("OUT is read-only: labels cannot be saved"), else as send_error. */
static enum MHD_Result send_store_error(review_server *s, struct MHD_Connection *c, irb_status st, const irb_error *err)
{
    if (!irb_review_readonly(s->rv))
        return send_error(c, st, err);
    atomic_fetch_add(&s->refused, 1);
    return send_text(c, MHD_HTTP_FORBIDDEN, err->message);
}

static enum MHD_Result send_fd(struct MHD_Connection *c, int fd, int png)
{
    struct stat sb;
    struct MHD_Response *r = fstat(fd, &sb) == 0 ? MHD_create_response_from_fd((uint64_t)sb.st_size, fd) : NULL;
    if (!r) { /* from_fd closes fd only when it succeeds */
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", png ? "image/png" : "image/jpeg");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "private, max-age=3600");
    MHD_add_response_header(r, "Content-Security-Policy", "default-src 'none'");
    /* another origin's <img> gets nothing: 127.0.0.1's other ports are the same site, so the
     * cookie goes with it, and a loaded image would tell the page the path exists, and its size */
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

/* ---- checks -------------------------------------------------------------------------------- */

static int same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < lb; i++)
        diff |= (unsigned char)(a[i < la ? i : 0] ^ b[i]);
    return diff == 0;
}

static int host_ok(const review_server *s, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    for (int i = 0; h && i < s->n_hosts; i++)
        if (!strcasecmp(h, s->hosts[i]))
            return 1;
    return 0;
}

/* Only the page itself may change labels or load what the server serves: another port of
 * 127.0.0.1 is the same site, so the SameSite cookie goes with its form posts and fetches (CSRF),
 * and with its <img> and fetch GETs, whose time alone tells a path that exists (a thumbnail
 * made) from one that does not. A browser says where a request comes from (Sec-Fetch-Site,
 * Origin); a program says nothing and needs the token anyway. A link or typed URL from elsewhere
 * (a navigation) still opens the page. */
static int origin_ok(struct MHD_Connection *c, int post)
{
    const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") && strcmp(site, "none")) {
        const char *mode = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Mode");
        return !post && mode && !strcmp(mode, "navigate");
    }
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    return !post || !origin || (host && !strncasecmp(origin, "http://", 7) && !strcasecmp(origin + 7, host));
}

/* 1: the token came as ?token= (the page then sets the cookie), 2: by cookie or header, 0: none. */
static int token_ok(const review_server *s, struct MHD_Connection *c)
{
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    if (q && same_secret(q, s->token))
        return 1;
    const char *k = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, s->cookie);
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Irbis-Token");
    return (k && same_secret(k, s->token)) || (h && same_secret(h, s->token)) ? 2 : 0;
}

/* ---- routes -------------------------------------------------------------------------------- */

static const char *arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static int arg_int(struct MHD_Connection *c, const char *name)
{
    const char *v = arg(c, name);
    long x = v ? strtol(v, NULL, 10) : 0;
    return x < 0 ? 0 : x > 1000000000 ? 1000000000 : (int)x;
}

static enum MHD_Result api_sequences(review_server *s, struct MHD_Connection *c)
{
    const char *rev = arg(c, "reviewed");
    irb_review_query q = {.queue = arg(c, "queue"),
                          .cls = arg(c, "cls"),
                          .camera = arg(c, "camera"),
                          .label = arg(c, "label"),
                          .offset = arg_int(c, "offset"),
                          .limit = arg_int(c, "limit"),
                          .reviewed = rev && !strcmp(rev, "yes")  ? 1
                                      : rev && !strcmp(rev, "no") ? -1
                                                                  : 0};
    char *json = NULL;
    irb_error err = {0};
    pthread_mutex_lock(&s->lock);
    irb_status st = irb_review_list_json(s->rv, &q, &json, &err);
    pthread_mutex_unlock(&s->lock);
    return st == IRB_OK ? send_owned(c, "application/json", json) : send_error(c, st, &err);
}

static enum MHD_Result api_info(review_server *s, struct MHD_Connection *c)
{
    char *json = NULL;
    irb_error err = {0};
    pthread_mutex_lock(&s->lock);
    irb_status st = irb_review_info_json(s->rv, &json, &err);
    pthread_mutex_unlock(&s->lock);
    return st == IRB_OK ? send_owned(c, "application/json", json) : send_error(c, st, &err);
}

/* Decodes one application/x-www-form-urlencoded field in place ('+' is a space); 0 when it holds
   a NUL byte (%00), which would cut the value short unseen. */
static int form_decode(char *v)
{
    for (char *p = v; *p; p++)
        if (*p == '+')
            *p = ' ';
    size_t n = MHD_http_unescape(v);
    return strlen(v) == n;
}

/* An iterator over the query's arguments: counts those whose name or value holds a NUL byte. */
static enum MHD_Result count_nul(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                 const char *value, size_t value_size)
{
    (void)kind;
    *(int *)cls += (key && strlen(key) != key_size) || (value && strlen(value) != value_size);
    return MHD_YES;
}

/* Body "seq=A&label=x&seq=B&label=" (form-encoded, pairs in order): one transaction. */
static enum MHD_Result api_label(review_server *s, struct MHD_Connection *c, request *rq)
{
    const char **seqs = calloc(LABELS_MAX, sizeof *seqs), **labels = calloc(LABELS_MAX, sizeof *labels);
    int n = 0, bad = !seqs || !labels;
    char *save = NULL;
    for (char *f = rq->body ? strtok_r(rq->body, "&", &save) : NULL; f && !bad; f = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(f, '=');
        if (!eq) {
            bad = 1;
            break;
        }
        *eq = '\0';
        if (!form_decode(f) || !form_decode(eq + 1)) {
            bad = 1;
            break;
        }
        if (!strcmp(f, "seq") && n < LABELS_MAX && !seqs[n])
            seqs[n] = eq + 1;
        else if (!strcmp(f, "label") && n < LABELS_MAX && seqs[n])
            labels[n++] = eq + 1;
        else
            bad = 1;
    }
    bad |= n < LABELS_MAX && seqs && seqs[n]; /* a seq without its label */
    enum MHD_Result r;
    if (bad || n == 0) {
        r = send_text(c, MHD_HTTP_BAD_REQUEST,
                      "expected a form body seq=NAME&label=CLASS[&seq=...&label=...], at "
                      "most 2000 pairs");
    } else {
        irb_error err = {0};
        pthread_mutex_lock(&s->lock);
        irb_status st = irb_review_set(s->rv, seqs, labels, n, &err);
        pthread_mutex_unlock(&s->lock);
        char ok[64];
        snprintf(ok, sizeof ok, "{\"stored\": %d}\n", n);
        r = st == IRB_OK ? send_buf(c, MHD_HTTP_OK, "application/json", ok, strlen(ok), MHD_RESPMEM_MUST_COPY, NULL)
                         : send_store_error(s, c, st, &err);
    }
    free(seqs);
    free(labels);
    return r;
}

static enum MHD_Result api_export(review_server *s, struct MHD_Connection *c)
{
    irb_error err = {0};
    pthread_mutex_lock(&s->lock);
    irb_status st = irb_review_export(s->rv, &err);
    pthread_mutex_unlock(&s->lock);
    if (st != IRB_OK)
        return send_store_error(s, c, st, &err);
    return send_text(c, MHD_HTTP_OK, err.warning ? err.message : "outputs rewritten");
}

static enum MHD_Result get_image(review_server *s, struct MHD_Connection *c, int thumb)
{
    const char *rel = arg(c, "p");
    int fd = -1;
    irb_error err = {0};
    pthread_mutex_lock(&s->lock);
    irb_status st = rel ? (thumb ? irb_review_thumb : irb_review_image)(s->rv, rel, &fd, &err) : IRB_NOT_FOUND;
    pthread_mutex_unlock(&s->lock);
    if (st == IRB_NOT_FOUND || (st != IRB_OK && !thumb)) { /* a refusal: no more said */
        atomic_fetch_add(&s->refused, 1);
        return send_text(c, MHD_HTTP_NOT_FOUND, "not an image of the survey");
    }
    if (st != IRB_OK) /* a thumbnail of a survey image that could not be made: why (a full disk...) */
        return send_error(c, st, &err);
    unsigned char m[2] = {0};
    int png = pread(fd, m, 1, 0) == 1 && m[0] == 0x89;
    return send_fd(c, fd, png);
}

static enum MHD_Result route(review_server *s, struct MHD_Connection *c, const char *url, int post, request *rq,
                             int by_query)
{
    if (post) {
        if (!strcmp(url, "/api/label"))
            return api_label(s, c, rq);
        if (!strcmp(url, "/api/export"))
            return api_export(s, c);
        return send_text(c, MHD_HTTP_NOT_FOUND, "no such page");
    }
    if (!strcmp(url, "/favicon.ico")) /* asked by every browser: nothing, and no error */
        return send_buf(c, MHD_HTTP_NO_CONTENT, "image/x-icon", "", 0, MHD_RESPMEM_PERSISTENT, NULL);
    if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
        char cookie[256];
        snprintf(cookie, sizeof cookie, "%s=%s; HttpOnly; SameSite=Strict; Path=/", s->cookie, s->token);
        return send_buf(c, MHD_HTTP_OK, "text/html; charset=utf-8", review_index_html, review_index_html_len,
                        MHD_RESPMEM_PERSISTENT, by_query ? cookie : NULL);
    }
    if (!strcmp(url, "/app.js"))
        return send_buf(c, MHD_HTTP_OK, "text/javascript; charset=utf-8", review_app_js, review_app_js_len,
                        MHD_RESPMEM_PERSISTENT, NULL);
    if (!strcmp(url, "/app.css"))
        return send_buf(c, MHD_HTTP_OK, "text/css; charset=utf-8", review_app_css, review_app_css_len,
                        MHD_RESPMEM_PERSISTENT, NULL);
    if (!strcmp(url, "/api/info"))
        return api_info(s, c);
    if (!strcmp(url, "/api/sequences"))
        return api_sequences(s, c);
    if (!strcmp(url, "/img"))
        return get_image(s, c, 0);
    if (!strcmp(url, "/thumb"))
        return get_image(s, c, 1);
    return send_text(c, MHD_HTTP_NOT_FOUND, "no such page");
}

/* The checks a request's headers must pass before any of its body is read: an unknown Host,
 * a NUL byte or a missing token is refused at once (MHD then drops the body and closes), so
 * nobody without the token makes the server hold a body. MHD_YES: go on. */
static enum MHD_Result gate(review_server *s, struct MHD_Connection *c, request *rq, int post)
{
    if (!host_ok(s, c))
        return refuse(s, c, MHD_HTTP_FORBIDDEN, "Host not allowed (irbis review answers only the address it printed)");
    int nul = 0;
    MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, count_nul, &nul);
    if (nul) /* "cam%00x" would be read as "cam": refused, not shortened */
        return refuse(s, c, MHD_HTTP_BAD_REQUEST, "a query parameter holds a NUL byte (%00)");
    if (!(rq->tok = token_ok(s, c)))
        return refuse(s, c, MHD_HTTP_FORBIDDEN, "missing or wrong token: open the URL irbis review printed");
    if (!origin_ok(c, post))
        return refuse(s, c, MHD_HTTP_FORBIDDEN, "a request from a page of another origin is refused");
    return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
    (void)version;
    review_server *s = cls;
    int post = !strcmp(method, MHD_HTTP_METHOD_POST);
    if (!*req_cls) { /* the headers are in: check them before reading any body */
        request *rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        *req_cls = rq;
        return gate(s, c, rq, post);
    }
    request *rq = *req_cls;
    if (*upload_size) { /* another method's body (PUT, PATCH) is read and dropped: its 405 comes after it */
        if (post && rq->len + *upload_size > BODY_MAX)
            rq->too_big = 1;
        else if (post) {
            char *b = realloc(rq->body, rq->len + *upload_size + 1);
            if (!b)
                return MHD_NO;
            memcpy(b + rq->len, upload, *upload_size);
            rq->body = b;
            rq->len += *upload_size;
            b[rq->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (!post && strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        return refuse(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    if (rq->too_big)
        return refuse(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
    atomic_fetch_add(&s->served, 1);
    return route(s, c, url, post, rq, rq->tok == 1);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    request *rq = *req_cls;
    if (rq) {
        free(rq->body);
        free(rq);
    }
    *req_cls = NULL;
}

/* ---- start / stop ---------------------------------------------------------------------------- */

static void allow_hosts(review_server *s, const char *bind, int v6)
{
    s->n_hosts = 0;
    snprintf(s->hosts[s->n_hosts++], sizeof s->hosts[0], "localhost:%u", s->port);
    snprintf(s->hosts[s->n_hosts++], sizeof s->hosts[0], "127.0.0.1:%u", s->port);
    snprintf(s->hosts[s->n_hosts++], sizeof s->hosts[0], "[::1]:%u", s->port);
    if (strcmp(bind, "127.0.0.1") && strcmp(bind, "::1"))
        snprintf(s->hosts[s->n_hosts++], sizeof s->hosts[0], v6 ? "[%s]:%u" : "%s:%u", bind, s->port);
    if (strcmp(bind, "0.0.0.0") && strcmp(bind, "::"))
        return;
    /* every interface: the machine's own addresses and its name, as another machine types them */
    char name[256];
    if (gethostname(name, sizeof name) == 0 && name[0]) {
        name[sizeof name - 1] = '\0';
        snprintf(s->hosts[s->n_hosts++], sizeof s->hosts[0], "%s:%u", name, s->port);
    }
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return;
    for (struct ifaddrs *i = ifs; i && s->n_hosts < (int)(sizeof s->hosts / sizeof *s->hosts); i = i->ifa_next) {
        char ip[INET6_ADDRSTRLEN];
        int fam = i->ifa_addr ? i->ifa_addr->sa_family : AF_UNSPEC;
        if (fam == AF_INET && inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, ip, sizeof ip))
            snprintf(s->hosts[s->n_hosts++], sizeof s->hosts[0], "%s:%u", ip, s->port);
        else if (fam == AF_INET6 &&
                 inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, ip, sizeof ip))
            snprintf(s->hosts[s->n_hosts++], sizeof s->hosts[0], "[%s]:%u", ip, s->port);
    }
    freeifaddrs(ifs);
}

review_server *review_server_start(irb_review_t *rv, const review_server_opts *o, irb_error *err)
{
    const char *bind = o->bind && *o->bind ? o->bind : "127.0.0.1";
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    int v6 = 0;
    if (inet_pton(AF_INET, bind, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)o->port);
    } else if (inet_pton(AF_INET6, bind, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)o->port);
        v6 = 1;
    } else {
        snprintf(err->message, sizeof err->message, "--bind %s: not an IPv4 or IPv6 address", bind);
        err->status = IRB_INVALID_ARG;
        return NULL;
    }
    review_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err->message, sizeof err->message, "out of memory");
        err->status = IRB_NOMEM;
        return NULL;
    }
    s->rv = rv;
    snprintf(s->token, sizeof s->token, "%s", o->token);
    pthread_mutex_init(&s->lock, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | (v6 ? MHD_USE_IPv6 : 0);
    s->d = MHD_start_daemon(
        flags, (uint16_t)o->port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads > 0 ? o->threads : 4), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_IP, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err->message, sizeof err->message, "cannot listen on %s port %u: %s", bind, o->port, strerror(errno));
        err->status = IRB_IO;
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : o->port;
    /* a browser sends a cookie of 127.0.0.1 to every port of it: one name per server, or a
     * second irbis review's token replaces the first's, whose page then gets 403 */
    snprintf(s->cookie, sizeof s->cookie, "irbis_token_%u", s->port);
    allow_hosts(s, bind, v6);
    return s;
}

unsigned review_server_port(const review_server *s) { return s->port; }

void review_server_counts(const review_server *s, long long *served, long long *refused)
{
    *served = atomic_load(&s->served);
    *refused = atomic_load(&s->refused);
}

void review_server_stop(review_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
