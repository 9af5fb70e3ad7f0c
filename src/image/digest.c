/* An image file's content digest (irbis/image.h): SHA-256 of its metadata segments apart from
 * SHA-256 of the rest, in one streaming pass, so that the results store can tell a file of the
 * same bytes (both digests), and the same picture with its metadata edited (the second one), from
 * another picture, whatever the file's name or time. */
#include <string.h>

#include "core/alloc.h"

#include "core/error.h"
#include "core/file.h"
#include "core/pool.h"
#include "core/sha256.h"
#include "irbis/image.h"

/* A JPEG's segments are walked up to the first SOS; APPn (but APP14, Adobe's colour transform,
 * which the decode reads) and COM segments go to head, every other byte to data. */
typedef struct digest_walk {
    irb_sha256_ctx head, data;
    enum { W_SOI, W_SEGMENT, W_PAYLOAD, W_REST } phase;
    uint8_t hdr[4]; /* a segment's marker and length, or the first two bytes */
    size_t have;    /* bytes of hdr collected */
    size_t left;    /* payload bytes left */
    int meta;       /* the payload is metadata */
} digest_walk;

static int is_meta(int m) { return (m >= 0xE0 && m <= 0xEF && m != 0xEE) || m == 0xFE; }

/* The segment header in w->hdr: where its bytes and its payload go. Anything but a segment with a
 * length (SOS, a fill byte, a stray marker, a damaged length) ends the walk: the rest is data. */
static void segment(digest_walk *w)
{
    int m = w->hdr[1];
    size_t len = (size_t)w->hdr[2] << 8 | w->hdr[3];
    if (w->hdr[0] != 0xFF || m == 0xDA || m == 0xFF || m == 0xD9 || (m >= 0xD0 && m <= 0xD8) || m == 0x01 || len < 2) {
        irb_sha256_update(&w->data, w->hdr, 4);
        w->phase = W_REST;
        return;
    }
    w->meta = is_meta(m);
    irb_sha256_update(w->meta ? &w->head : &w->data, w->hdr, 4);
    w->left = len - 2;
    w->phase = w->left ? W_PAYLOAD : W_SEGMENT;
}

static void walk_feed(void *ctx, const void *bytes, size_t n)
{
    digest_walk *w = ctx;
    const uint8_t *p = bytes;
    while (n) {
        if (w->phase == W_REST) {
            irb_sha256_update(&w->data, p, n);
            return;
        }
        if (w->phase == W_PAYLOAD) {
            size_t k = n < w->left ? n : w->left;
            irb_sha256_update(w->meta ? &w->head : &w->data, p, k);
            p += k, n -= k, w->left -= k;
            if (!w->left)
                w->phase = W_SEGMENT;
            continue;
        }
        size_t want = w->phase == W_SOI ? 2 : 4, k = want - w->have < n ? want - w->have : n;
        memcpy(w->hdr + w->have, p, k);
        p += k, n -= k, w->have += k;
        if (w->have < want)
            return;
        w->have = 0;
        if (w->phase == W_SEGMENT) {
            segment(w);
            continue;
        }
        irb_sha256_update(&w->data, w->hdr, 2);
        w->phase = w->hdr[0] == 0xFF && w->hdr[1] == 0xD8 ? W_SEGMENT : W_REST;
    }
}

irb_status irb_image_digest(const char *path, char head[65], char data[65], irb_error *err)
{
    if (!path || !head || !data)
        return irb_fail(err, IRB_INVALID_ARG, "irb_image_digest: NULL argument");
    digest_walk w = {.phase = W_SOI};
    irb_sha256_init(&w.head);
    irb_sha256_init(&w.data);
    IRB_TRY(irb_read_chunks(path, walk_feed, &w, err));
    if (w.have) /* a file shorter than its first header: its bytes are data */
        irb_sha256_update(&w.data, w.hdr, w.have);
    irb_sha256_final(&w.head, head);
    irb_sha256_final(&w.data, data);
    return IRB_OK;
}

/* ---- many files on a pool ---------------------------------------------------------------- */

typedef struct digest_job {
    const char *root;
    const char *const *paths;
    size_t n;
    char (*out)[2][65];
} digest_job;

/* Worker ith of nth: every nth file from the ith. */
static void digest_part(void *ctx, int ith, int nth)
{
    const digest_job *j = ctx;
    for (size_t i = (size_t)ith; i < j->n; i += (size_t)nth) {
        char *joined = NULL;
        if (j->root && (joined = irb_malloc(strlen(j->root) + strlen(j->paths[i]) + 2)))
            strcat(strcat(strcpy(joined, j->root), "/"), j->paths[i]);
        const char *path = j->root ? joined : j->paths[i];
        if (!path || irb_image_digest(path, j->out[i][0], j->out[i][1], NULL) != IRB_OK)
            j->out[i][0][0] = j->out[i][1][0] = '\0';
        irb_free(joined);
    }
}

irb_status irb_image_digests(const char *root, const char *const *paths, size_t n, int threads, char (*digests)[2][65],
                             irb_error *err)
{
    if (n && (!paths || !digests))
        return irb_fail(err, IRB_INVALID_ARG, "irb_image_digests: NULL %s", !paths ? "paths" : "digests");
    for (size_t i = 0; i < n; i++)
        if (!paths[i])
            return irb_fail(err, IRB_INVALID_ARG, "irb_image_digests: file %zu has no path", i);
    digest_job j = {root, paths, n, digests};
    size_t t = threads > 0 ? (size_t)threads : (size_t)irb_cpu_count();
    irb_pool *pool = t > 1 && n > 1 ? irb_pool_new((int)(t < n ? t : n)) : NULL; /* none: this thread */
    if (pool)
        irb_pool_run(pool, digest_part, &j);
    else
        digest_part(&j, 0, 1);
    irb_pool_free(pool);
    return IRB_OK;
}
