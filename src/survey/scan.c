/* Walking a survey: depth-first, each folder's entries sorted, one row per file from a
 * header-only read. State is the stack of open folders (their sorted names) and a few path
 * buffers; nothing grows with the number of files already seen. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/csv.h"
#include "core/error.h"
#include "image/internal.h"
#include "irbis/scan.h"

typedef struct {
    char **names;
    int n, next;
    size_t rel_len; /* length of scan->rel when this folder is on top ("a/b/") */
} level;

struct irb_scan {
    char *root;
    irb_scan_opts opts;
    level *stack;
    int depth, cap;
    char *rel, *full, *camera; /* path buffers, all of capacity buf_cap */
    size_t buf_cap;
    irb_decoder_t *dec;
    irb_image_info info;
    irb_error err;
};

const char *irb_scan_status_name(irb_scan_status s)
{
    return s == IRB_ROW_OK ? "ok" : s == IRB_ROW_WARNING ? "warning" : s == IRB_ROW_SKIPPED ? "skipped" : "error";
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void level_free(level *l)
{
    for (int i = 0; i < l->n; i++)
        irb_free(l->names[i]);
    irb_free(l->names);
    memset(l, 0, sizeof *l);
}

/* 1 for the files and folders an operating system leaves on a card or drive, which no camera
 * wrote: Windows' thumbnail caches and folder settings, and the folders it makes at a drive's
 * root (a card formatted or opened on Windows holds "System Volume Information"). */
static int os_litter(const char *name)
{
    static const char *const names[] = {"Thumbs.db",    "ehthumbs.db", "desktop.ini", "System Volume Information",
                                        "$RECYCLE.BIN", "RECYCLER"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcasecmp(name, names[i]))
            return 1;
    return 0;
}

/* Reads and sorts the visible entries of dir (hidden names and os_litter skipped). Returns 0
 * and sets errno on failure. */
static int read_names(const char *dir, level *l)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int cap = 0, ok = 1;
    struct dirent *e;
    errno = 0;
    while (ok && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || os_litter(e->d_name))
            continue;
        if (l->n == cap) {
            char **p = irb_realloc_array(l->names, cap ? (size_t)cap * 2 : 32, sizeof *p);
            ok = p != NULL;
            if (ok) {
                l->names = p;
                cap = cap ? cap * 2 : 32;
            }
        }
        if (ok && !(l->names[l->n] = irb_strdup(e->d_name)))
            ok = 0;
        if (ok)
            l->n++;
    }
    closedir(d);
    if (!ok) {
        level_free(l);
        errno = ENOMEM;
        return 0;
    }
    if (l->n > 1)
        qsort(l->names, (size_t)l->n, sizeof *l->names, cmp_names);
    return 1;
}

static int fit(irb_scan_t *s, size_t need)
{
    if (need <= s->buf_cap)
        return 1;
    size_t cap = need * 2;
    char *a = irb_realloc(s->rel, cap), *b = a ? irb_realloc(s->full, cap) : NULL;
    if (a)
        s->rel = a;
    if (b)
        s->full = b;
    char *c = b ? irb_realloc(s->camera, cap) : NULL;
    if (c)
        s->camera = c;
    if (!a || !b || !c)
        return 0;
    s->buf_cap = cap;
    return 1;
}

static irb_status push(irb_scan_t *s, level *l)
{
    if (s->depth == s->cap) {
        level *p = irb_realloc_array(s->stack, s->cap ? (size_t)s->cap * 2 : 8, sizeof *p);
        if (!p) {
            level_free(l);
            return irb_fail(&s->err, IRB_NOMEM, "scan %s: out of memory", s->root);
        }
        s->stack = p;
        s->cap = s->cap ? s->cap * 2 : 8;
    }
    s->stack[s->depth++] = *l;
    return IRB_OK;
}

irb_status irb_scan_open(const char *root, const irb_scan_opts *opts, irb_scan_t **out, irb_error *err)
{
    if (out)
        *out = NULL;
    if (!root || !out)
        return irb_fail(err, IRB_INVALID_ARG, "scan: NULL root or result");
    if (opts && (opts->camera_depth < 0 || opts->max_pixels < 0)) /* not taken as 0: the defaults */
        return irb_fail(err, IRB_INVALID_ARG, "scan: camera depth %d and pixel limit %lld must be >= 0",
                        opts->camera_depth, opts->max_pixels);
    irb_scan_t *s = irb_calloc(1, sizeof *s);
    if (!s || !(s->root = irb_strdup(root)) || !fit(s, strlen(root) + 256) || irb_decoder_new(&s->dec) != IRB_OK) {
        irb_scan_close(s);
        return irb_fail(err, IRB_NOMEM, "scan %s: out of memory", root);
    }
    size_t n = strlen(s->root);
    while (n > 1 && s->root[n - 1] == '/')
        s->root[--n] = '\0';
    if (opts)
        s->opts = *opts;
    s->rel[0] = '\0';
    level l = {0};
    if (!read_names(s->root, &l)) {
        int e = errno;
        irb_scan_close(s);
        return irb_fail(err,
                        e == ENOENT   ? IRB_NOT_FOUND
                        : e == ENOMEM ? IRB_NOMEM
                                      : IRB_IO,
                        "scan %s: cannot open the folder: %s", root, strerror(e));
    }
    irb_status st = push(s, &l);
    if (st != IRB_OK) {
        irb_error_copy(err, &s->err);
        irb_scan_close(s);
        return st;
    }
    *out = s;
    return IRB_OK;
}

/* The length of the camera part of a folder path dir[0..end) (relative, no trailing '/'): all
 * of it, or its first depth components. */
static size_t camera_len(const char *dir, size_t end, int depth)
{
    int k = 0;
    for (size_t i = 0; depth > 0 && i < end; i++)
        if (dir[i] == '/' && ++k == depth)
            return i;
    return end;
}

/* The camera of a file whose folder (relative, ending in '/', or "") is dir. */
static void camera_of(irb_scan_t *s, const char *dir, size_t len)
{
    size_t end = camera_len(dir, len ? len - 1 : 0, s->opts.camera_depth); /* drop the trailing '/' */
    memcpy(s->camera, dir, end);
    s->camera[end] = '\0';
}

void irb_scan_camera(const char *rel_path, int depth, char *buf, size_t size)
{
    if (!buf || !size)
        return;
    if (!rel_path) {
        buf[0] = '\0';
        return;
    }
    const char *slash = strrchr(rel_path, '/');
    size_t end = camera_len(rel_path, slash ? (size_t)(slash - rel_path) : 0, depth);
    snprintf(buf, size, "%.*s", (int)end, rel_path);
}

static void row_error(irb_scan_t *s, irb_scan_row *row, irb_status st, const char *fmt, const char *a, const char *b)
{
    irb_message_format(s->err.message, sizeof s->err.message, fmt, a, b);
    s->err.status = IRB_OK;
    row->status = IRB_ROW_ERROR;
    row->error = st;
    row->message = s->err.message;
}

/* 1 when the extension of path (any case) is one of names[0..n). */
static int has_extension(const char *path, const char *const *names, size_t n)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(slash ? slash : path, '.');
    for (size_t i = 0; dot && i < n; i++)
        if (!strcasecmp(dot + 1, names[i]))
            return 1;
    return 0;
}

/* The names that claim a still image (irbis/scan.h, IRB_ROW_SKIPPED): such a file that cannot be
 * read is an error, never skipped. */
static int image_name(const char *path)
{
    static const char *const ext[] = {"jpg", "jpeg", "jpe",  "jfif", "png", "tif", "tiff", "bmp",
                                      "gif", "webp", "heic", "heif", "dng", "cr2", "nef",  "arw"};
    return has_extension(path, ext, sizeof ext / sizeof *ext);
}

/* The videos a camera or a phone writes, by name (an empty or cut clip has no magic bytes). */
static int video_name(const char *path)
{
    static const char *const ext[] = {"mp4",  "m4v", "mov", "qt",   "avi", "mkv", "webm", "mts",
                                      "m2ts", "ts",  "mpg", "mpeg", "wmv", "asf", "3gp",  "flv"};
    return has_extension(path, ext, sizeof ext / sizeof *ext);
}

/* After a failed header read of s->full (or instead of one: names_only): a regular file whose name does not claim an
 * image and whose first bytes are neither JPEG nor PNG is not a still image: 1 (*video set), else 0 (an error row:
 * unreadable, or a damaged image). */
static int not_still_image(irb_scan_t *s, int *video)
{
    if (image_name(s->rel))
        return 0;
    int fd = open(s->full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return 0;
    uint8_t head[IRB_VIDEO_SNIFF_BYTES];
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? pread(fd, head, sizeof head, 0) : -1;
    close(fd);
    if (n < 0 || irb__sniff(head, (size_t)n) != IRB_FORMAT_UNKNOWN)
        return 0;
    *video = irb__video_sniff(head, (size_t)n) || video_name(s->rel);
    return 1;
}

static void skipped_row(irb_scan_t *s, irb_scan_row *row)
{
    irb_message_format(s->err.message, sizeof s->err.message, "%s: %s", s->full,
                       row->video ? "a video (irbis classifies still images)" : "not an image");
    row->status = IRB_ROW_SKIPPED;
    row->message = s->err.message;
}

static void file_row(irb_scan_t *s, irb_scan_row *row)
{
    irb_decode_opts o = {.max_pixels = s->opts.max_pixels};
    irb_status st = irb_read_header(s->dec, s->full, &o, &s->info);
    const irb_error *e = irb_decoder_error(s->dec);
    if (st != IRB_OK && st != IRB_NOMEM && not_still_image(s, &row->video)) {
        skipped_row(s, row);
        return;
    }
    if (st != IRB_OK) {
        row_error(s, row, st, "%s%s", e->message, "");
        return;
    }
    row->timestamp = s->info.datetime;
    row->width = s->info.width;
    row->height = s->info.height;
    if (e->warning) {
        row->status = IRB_ROW_WARNING;
        snprintf(s->err.message, sizeof s->err.message, "%s", e->message);
        row->message = s->err.message;
    }
}

/* An irbis classify output folder (it holds irbis.sqlite) inside the survey is not part of it:
 * scanning it would list the store as failed rows and, on the next run, the sorted copies and
 * thumbnails of the last run as camera images. s->full is the folder. */
static int is_output_folder(irb_scan_t *s)
{
    size_t n = strlen(s->full);
    if (!fit(s, n + sizeof "/irbis.sqlite"))
        return 0;
    memcpy(s->full + n, "/irbis.sqlite", sizeof "/irbis.sqlite");
    struct stat st;
    int yes = lstat(s->full, &st) == 0 && S_ISREG(st.st_mode);
    s->full[n] = '\0';
    return yes;
}

irb_status irb_scan_next(irb_scan_t *s, irb_scan_row *row)
{
    if (!s)
        return IRB_INVALID_ARG;
    if (!row)
        return irb_fail(&s->err, IRB_INVALID_ARG, "scan %s: NULL row", s->root);
    while (s->depth > 0) {
        level *top = &s->stack[s->depth - 1];
        if (top->next >= top->n) {
            level_free(top);
            s->depth--;
            if (s->depth > 0)
                s->rel[s->stack[s->depth - 1].rel_len] = '\0';
            continue;
        }
        const char *name = top->names[top->next++];
        size_t rl = top->rel_len, nl = strlen(name);
        if (!fit(s, strlen(s->root) + rl + nl + 4))
            return irb_fail(&s->err, IRB_NOMEM, "scan %s: out of memory", s->root);
        memcpy(s->rel + rl, name, nl + 1);
        snprintf(s->full, s->buf_cap, "%s/%s", s->root, s->rel);
        memset(row, 0, sizeof *row);
        row->path = s->rel;
        row->camera = s->camera;
        row->timestamp = "";
        row->message = "";
        row->info = &s->info;
        memset(&s->info, 0, sizeof s->info);
        camera_of(s, s->rel, rl);
        struct stat st;
        if (lstat(s->full, &st) != 0) {
            row_error(s, row, IRB_IO, "%s: %s", s->full, strerror(errno));
            return IRB_OK;
        }
        if (S_ISLNK(st.st_mode) && stat(s->full, &st) == 0 && S_ISDIR(st.st_mode))
            continue;                      /* links to folders are not followed (no cycles) */
        row->size = (long long)st.st_size; /* a link's target's, when it has one */
        row->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        if (S_ISDIR(st.st_mode) && is_output_folder(s))
            continue;
        if (S_ISDIR(st.st_mode)) {
            level l = {.rel_len = rl + nl + 1};
            if (!read_names(s->full, &l)) {
                if (errno == ENOMEM)
                    return irb_fail(&s->err, IRB_NOMEM, "scan %s: out of memory", s->root);
                row_error(s, row, IRB_IO, "%s: cannot open the folder: %s", s->full, strerror(errno));
                s->rel[rl + nl] = '/'; /* the row names the folder; its parent stays on top */
                s->rel[rl + nl + 1] = '\0';
                return IRB_OK;
            }
            s->rel[rl + nl] = '/';
            s->rel[rl + nl + 1] = '\0';
            IRB_TRY(push(s, &l));
            continue;
        }
        if (!s->opts.names_only)
            file_row(s, row);
        else if (not_still_image(s, &row->video)) /* its first bytes only, and only when its name claims no image */
            skipped_row(s, row);
        return IRB_OK;
    }
    return IRB_NOT_FOUND;
}

const irb_error *irb_scan_error(const irb_scan_t *s)
{
    static const irb_error none = {IRB_INVALID_ARG, 0, "no scan (NULL)"};
    return s ? &s->err : &none;
}

void irb_scan_close(irb_scan_t *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->depth; i++)
        level_free(&s->stack[i]);
    irb_free(s->stack);
    irb_free(s->root);
    irb_free(s->rel);
    irb_free(s->full);
    irb_free(s->camera);
    irb_decoder_free(s->dec);
    irb_free(s);
}

void irb_scan_write_csv_header(FILE *f)
{
    if (f)
        fputs("path,camera,timestamp,width,height,status,message\n", f);
}

void irb_scan_write_csv_row(FILE *f, const irb_scan_row *r)
{
    if (!f || !r)
        return;
    irb_csv_put(f, r->path);
    fputc(',', f);
    irb_csv_put(f, r->camera);
    fputc(',', f);
    irb_csv_put(f, r->timestamp);
    if (r->width > 0 && r->height > 0)
        fprintf(f, ",%d,%d,", r->width, r->height);
    else
        fputs(",,,", f);
    fputs(irb_scan_status_name(r->status), f);
    fputc(',', f);
    irb_csv_put(f, r->message);
    fputc('\n', f);
}
