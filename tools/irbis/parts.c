#include "parts.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char MAGIC[8] = {'I', 'R', 'B', 'P', 'A', 'R', 'T', '2'};
static const char END[8] = {'I', 'R', 'B', 'P', 'E', 'N', 'D', '\n'};

static irb_status io_fail(irb_error *err, const char *path, const char *what)
{
    if (err) {
        err->status = IRB_IO;
        err->warning = 0;
        snprintf(err->message, sizeof err->message, "%s: %s: %s", path, what, strerror(errno ? errno : EIO));
    }
    return IRB_IO;
}

void part_path(const char *dir, const char *camera, char *buf, size_t cap)
{
    char hex[65];
    irb_sha256_buffer(camera, strlen(camera), hex);
    snprintf(buf, cap, "%s/%s.part", dir, hex);
}

/* ---- writing ------------------------------------------------------------------------------- */

static int put(part_writer *w, const void *p, size_t n)
{
    if (w->failed || fwrite(p, 1, n, w->af.f) != n)
        return w->failed = 1, 0;
    return 1;
}

static int put_str(part_writer *w, const char *s)
{
    uint32_t n = (uint32_t)strlen(s ? s : "");
    return put(w, &n, 4) && put(w, s ? s : "", n);
}

irb_status part_create(part_writer *w, const char *path, const char *key, const char *camera, int dim, irb_error *err)
{
    memset(w, 0, sizeof *w);
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
    irb_status s = irb_atomic_open_as(&w->af, path, suffix, err);
    if (s != IRB_OK)
        return s;
    uint32_t d = (uint32_t)dim;
    uint64_t zero = 0;
    w->dim = dim;
    put(w, MAGIC, 8), put_str(w, key), put_str(w, camera), put(w, &d, 4);
    w->rows_at = ftell(w->af.f);
    put(w, &zero, 8);
    if (w->failed) {
        s = io_fail(err, w->af.tmp, "cannot write");
        part_abort(w);
        return s;
    }
    return IRB_OK;
}

irb_status part_add(part_writer *w, int kind, irb_status status, const char *path, const char *message,
                    const char (*digest)[65], const float *row, irb_error *err)
{
    int32_t k = kind, st = (int32_t)status;
    char both[129] = "";
    if (digest && strlen(digest[0]) == 64 && strlen(digest[1]) == 64)
        snprintf(both, sizeof both, "%s%s", digest[0], digest[1]);
    put(w, &k, 4), put(w, &st, 4), put_str(w, path), put_str(w, message), put_str(w, both);
    if (kind != PART_FAIL)
        put(w, row, sizeof(float) * (size_t)w->dim);
    if (w->failed)
        return io_fail(err, w->af.tmp, "cannot write");
    w->rows++;
    return IRB_OK;
}

void part_abort(part_writer *w)
{
    irb_atomic_abort(&w->af);
    memset(w, 0, sizeof *w);
}

irb_status part_commit(part_writer *w, irb_error *err)
{
    /* the row count sits in the header: patch it, then recompute the CRC over the whole file */
    FILE *f = w->af.f;
    if (!w->failed && (fseek(f, w->rows_at, SEEK_SET) != 0 || fwrite(&w->rows, 8, 1, f) != 1 || fflush(f) != 0 ||
                       fseek(f, 0, SEEK_SET) != 0))
        w->failed = 1;
    uint32_t crc = 0;
    char buf[1 << 16];
    size_t got;
    while (!w->failed && (got = fread(buf, 1, sizeof buf, f)) > 0)
        crc = irb_crc32(crc, buf, got);
    if (!w->failed && (fseek(f, 0, SEEK_END) != 0 || fwrite(&crc, 4, 1, f) != 1 || fwrite(END, 8, 1, f) != 1))
        w->failed = 1;
    if (w->failed) {
        irb_status s = io_fail(err, w->af.tmp, "cannot write");
        part_abort(w);
        return s;
    }
    irb_status s = irb_atomic_close(&w->af, err); /* fsync, rename into place, fsync of the folder */
    memset(w, 0, sizeof *w);
    return s;
}

/* ---- reading ------------------------------------------------------------------------------- */

static int get(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n; }

/* Reads a length-prefixed string into *buf (grown as needed). */
static int get_str(FILE *f, char **buf, size_t *cap)
{
    uint32_t n;
    if (!get(f, &n, 4) || n > (1u << 24))
        return 0;
    if (n + 1 > *cap) {
        char *b = realloc(*buf, n + 1);
        if (!b)
            return 0;
        *buf = b, *cap = n + 1;
    }
    if (!get(f, *buf, n))
        return 0;
    (*buf)[n] = 0;
    return 1;
}

int part_complete(const char *path, const char *key, const char *camera, int dim, long long rows)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    int ok = 0;
    char head[8], *s = NULL;
    size_t cap = 0;
    uint32_t d;
    uint64_t n;
    if (get(f, head, 8) && !memcmp(head, MAGIC, 8) && get_str(f, &s, &cap) && !strcmp(s, key) && get_str(f, &s, &cap) &&
        !strcmp(s, camera) && get(f, &d, 4) && (int)d == dim && get(f, &n, 8) && (rows < 0 || n == (uint64_t)rows) &&
        fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        char tail[12];
        if (size >= 12 && fseek(f, size - 12, SEEK_SET) == 0 && get(f, tail, 12) && !memcmp(tail + 4, END, 8) &&
            fseek(f, 0, SEEK_SET) == 0) {
            uint32_t want, crc = 0;
            memcpy(&want, tail, 4);
            char buf[1 << 16];
            long left = size - 12;
            while (left > 0) {
                size_t k = left > (long)sizeof buf ? sizeof buf : (size_t)left;
                if (!get(f, buf, k))
                    break;
                crc = irb_crc32(crc, buf, k);
                left -= (long)k;
            }
            ok = left == 0 && crc == want;
        }
    }
    free(s);
    fclose(f);
    return ok;
}

irb_status part_open(part_reader *r, const char *path, irb_error *err)
{
    memset(r, 0, sizeof *r);
    errno = 0;
    if (!(r->f = fopen(path, "rb")))
        return io_fail(err, path, "cannot open");
    char head[8], *key = NULL;
    size_t kc = 0, cc = 0;
    uint32_t d;
    int ok = get(r->f, head, 8) && !memcmp(head, MAGIC, 8) && get_str(r->f, &key, &kc) &&
             get_str(r->f, &r->camera, &cc) && get(r->f, &d, 4) && get(r->f, &r->rows, 8) && d < (1u << 24);
    free(key);
    if (ok) {
        r->dim = (int)d;
        ok = (r->row = malloc(sizeof(float) * (d ? d : 1))) != NULL;
    }
    if (!ok) {
        part_close(r);
        if (err) {
            err->status = IRB_CORRUPT;
            snprintf(err->message, sizeof err->message, "%s: not a complete irbis part file", path);
        }
        return IRB_CORRUPT;
    }
    return IRB_OK;
}

irb_status part_next(part_reader *r, irb_error *err)
{
    if (r->next >= r->rows)
        return IRB_NOT_FOUND;
    int32_t k, st;
    uint32_t dn = 0;
    int ok = get(r->f, &k, 4) && get(r->f, &st, 4) && get_str(r->f, &r->path, &r->path_cap) &&
             get_str(r->f, &r->message, &r->msg_cap) && get(r->f, &dn, 4) && (dn == 0 || dn == 128) &&
             get(r->f, r->digest[0], dn / 2) && get(r->f, r->digest[1], dn / 2) && k >= PART_OK && k <= PART_FAIL &&
             (k == PART_FAIL || get(r->f, r->row, sizeof(float) * (size_t)r->dim));
    r->digest[0][dn / 2] = r->digest[1][dn / 2] = '\0';
    if (!ok) {
        if (err) {
            err->status = IRB_CORRUPT;
            snprintf(err->message, sizeof err->message, "part of camera '%s': row %llu is truncated",
                     r->camera ? r->camera : "?", (unsigned long long)r->next);
        }
        return IRB_CORRUPT;
    }
    r->kind = k;
    r->status = (irb_status)st;
    r->next++;
    return IRB_OK;
}

void part_close(part_reader *r)
{
    if (r->f)
        fclose(r->f);
    free(r->camera), free(r->path), free(r->message), free(r->row);
    memset(r, 0, sizeof *r);
}

/* ---- is a part still current? -------------------------------------------------------------- */

static int later(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

static const char *image_at(const char *const *paths, const size_t *idx, size_t k) { return paths[idx ? idx[k] : k]; }

/* 1 when an image changed after the part was written (its time: part). */
static int changed_since(const struct stat *part, const char *root, const char *const *paths, const size_t *idx,
                         size_t n)
{
    for (size_t k = 0; k < n; k++) {
        char img[8192];
        struct stat sb, lb;
        snprintf(img, sizeof img, "%s%s%s", root ? root : "", root ? "/" : "", image_at(paths, idx, k));
        if ((stat(img, &sb) == 0 && later(&sb.st_ctim, &part->st_mtim)) ||
            (lstat(img, &lb) == 0 && later(&lb.st_ctim, &part->st_mtim)))
            return 1;
    }
    return 0;
}

int part_current(const char *path, const char *root, const char *const *paths, const size_t *idx, size_t n,
                 int superset)
{
    struct stat ps;
    part_reader rd;
    if (stat(path, &ps) != 0 || changed_since(&ps, root, paths, idx, n) || part_open(&rd, path, NULL) != IRB_OK)
        return 0;
    size_t k = 0;
    int ok = 1;
    while (ok && k < n && part_next(&rd, NULL) == IRB_OK)
        if (!strcmp(rd.path, image_at(paths, idx, k)))
            k++;
        else
            ok = superset;
    ok = ok && k == n && (superset || rd.next == rd.rows);
    part_close(&rd);
    return ok;
}

/* ---- reading units in input order ------------------------------------------------------- */

int part_cursor_init(part_cursor *c, const char *dir, size_t units)
{
    *c = (part_cursor){.dir = dir,
                       .offset = calloc(units ? units : 1, sizeof(long)),
                       .next = calloc(units ? units : 1, sizeof(uint64_t))};
    if (!c->offset || !c->next)
        return part_cursor_free(c), -1;
    return 0;
}

irb_status part_cursor_seek(part_cursor *c, size_t u, const char *name, irb_error *err)
{
    if (c->rd.f && c->open == u)
        return IRB_OK;
    if (c->rd.f) {
        c->offset[c->open] = ftell(c->rd.f);
        c->next[c->open] = c->rd.next;
        part_close(&c->rd);
    }
    char path[8192];
    part_path(c->dir, name, path, sizeof path);
    irb_status s = part_open(&c->rd, path, err);
    if (s != IRB_OK)
        return s;
    c->open = u;
    if (c->offset[u]) {
        fseek(c->rd.f, c->offset[u], SEEK_SET);
        c->rd.next = c->next[u];
    }
    return IRB_OK;
}

void part_cursor_free(part_cursor *c)
{
    part_close(&c->rd);
    free(c->offset), free(c->next);
    memset(c, 0, sizeof *c);
}

/* ---- folders ------------------------------------------------------------------------------- */

int part_mkdirs(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return -1;
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return free(p), -1;
            *s = '/';
        }
    int rc = mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

void part_remove_all(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char buf[4096];
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".part")) {
            snprintf(buf, sizeof buf, "%s/%s", dir, e->d_name);
            unlink(buf);
        }
    closedir(d);
    rmdir(dir);
}
