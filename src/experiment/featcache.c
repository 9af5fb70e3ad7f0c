/* The experiment's feature cache: one feature set (docs/features.md) per description of the
 * features (model sha256, cut, pooling, preprocessing, flip, precision), named by the hash of
 * that description, keyed inside by image path + a stamp (size and mtime). A re-run, another
 * task or another labels file over the same images costs no CNN time; changed images are
 * recomputed. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "experiment/experiment_internal.h"
#include "irbis/learn.h"

void featmat_release(featmat *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->why && i < m->n; i++)
        irb_free(m->why[i]);
    irb_free(m->why);
    irb_free(m->x);
    irb_free(m->xf);
    irb_free(m->ok);
    memset(m, 0, sizeof *m);
}

static void file_stamp(const char *path, char *buf, size_t size)
{
    struct stat st;
    if (stat(path, &st) != 0)
        snprintf(buf, size, "missing");
    else
        snprintf(buf, size, "%lld:%lld.%09ld", (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

/* ---- rows by (path, tag): the library's string map ------------------------------------- */

typedef struct {
    irb_strmap *map; /* key: the path, a NUL, the tag's bytes */
    char *key;
    size_t cap;
} rowmap;

static int rowmap_init(rowmap *m, size_t n) { return irb_strmap_new(n, &m->map, NULL) == IRB_OK; }

static void rowmap_free(rowmap *m)
{
    irb_strmap_free(m->map);
    irb_free(m->key);
}

/* The second half of a row's key: its flip, or for motion rows (whose value depends on the
 * neighbours named in the stamp) a tag of the stamp, so that rows of one image with different
 * neighbours (the experiment's outer folds) are kept side by side. */
static int row_tag(int by_stamp, int flipped, const char *stamp)
{
    return by_stamp ? 2 + (int)(irb_strmap_hash(stamp, strlen(stamp)) & 0x3fffffff) : flipped;
}

/* The map's key of (path, tag) in m->key; its length, 0 when out of memory. */
static size_t row_key(rowmap *m, const char *path, int tag)
{
    size_t n = strlen(path), len = n + 1 + sizeof tag;
    if (len > m->cap) {
        char *k = irb_realloc(m->key, len);
        if (!k)
            return 0;
        m->key = k, m->cap = len;
    }
    memcpy(m->key, path, n + 1);
    memcpy(m->key + n + 1, &tag, sizeof tag);
    return len;
}

/* 0 when out of memory. */
static int rowmap_put(rowmap *m, const char *path, int tag, size_t row)
{
    size_t len = row_key(m, path, tag);
    return len && irb_strmap_set(m->map, m->key, len, (int64_t)row, NULL) == IRB_OK;
}

static long rowmap_get(rowmap *m, const char *path, int tag)
{
    int64_t row;
    size_t len = row_key(m, path, tag);
    return len && irb_strmap_get(m->map, m->key, len, &row) ? (long)row : -1;
}

/* ---- computing the missing rows --------------------------------------------------------- */

typedef struct {
    featmat *m;
    const size_t *index; /* extract index -> image index */
    const featcache_req *rq;
    const char *stage;
    int only_mirrors; /* extract with flip = 2: the rows are the mirrors */
    size_t done, total;
} fill_ctx;

static void fill_row(void *ctx, size_t k, int flipped, const float *row, size_t dim, const irb_error *e)
{
    fill_ctx *c = ctx;
    size_t i = c->index[k];
    if (!row) {
        c->m->ok[i] = 0;
        irb_free(c->m->why[i]);
        c->m->why[i] = irb_strdup(e && e->message[0] ? e->message : "could not be decoded");
    } else {
        float *out = (flipped ? c->m->xf : c->m->x) + i * c->m->dim;
        if (c->rq->mean_channels > 0)
            irb_map_mean(row, c->m->dim, dim / c->m->dim, out);
        else
            memcpy(out, row, dim * sizeof(float));
        c->m->ok[i] = 1;
    }
    if ((!row || flipped == c->only_mirrors) && ++c->done % 64 == 0 && c->rq->progress)
        c->rq->progress(c->rq->progress_ctx, c->stage, c->done, c->total);
}

static irb_status write_cache(const featcache_req *rq, const char *base, const char *const *paths, char **stamps,
                              const featmat *m, const irb_features *old, irb_error *err);

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Images per irb_extract call while computing, so the cache can be checkpointed between them:
 * CHUNK at most; the first call takes FIRST_CHUNK, and each next as many as the rate so far
 * computes in a third of the checkpoint interval (at least FIRST_CHUNK / 4), so a slow model
 * (ResNet-50 at 576: about 1 image/s) is checkpointed about as often as asked, not every 1,024. */
#define CHUNK       1024
#define FIRST_CHUNK 64
/* have[i]: 0 nothing, 1 every row, HAVE_ORIGINAL the original only (the mirror is to compute) */
#define HAVE_ORIGINAL 2

/* Computes the rows of the images whose have[i] == want, in chunks: want 0 all their rows,
 * want HAVE_ORIGINAL only their mirrors (extract flip = 2). Every rq->checkpoint_seconds the rows
 * so far are written to the cache (base), so a run killed later keeps them. */
static irb_status compute_group(const featcache_req *rq, const char *base, const char *const *paths, char **stamps,
                                const irb_features *old, featmat *m, const uint8_t *have, uint8_t want, double *saved,
                                irb_error *err)
{
    size_t missing = 0;
    for (size_t i = 0; i < m->n; i++)
        missing += have[i] == want;
    if (!missing)
        return IRB_OK;
    const char **sub = irb_malloc_array(missing, sizeof *sub);
    size_t *index = irb_malloc_array(missing, sizeof *index);
    if (!sub || !index) {
        irb_free(sub);
        irb_free(index);
        return irb_fail(err, IRB_NOMEM, "feature cache: out of memory");
    }
    for (size_t t = 0, k = 0; t < m->n; t++) {
        size_t i = rq->motion ? rq->motion->order[t] : t; /* motion: in neighbour order */
        if (have[i] == want) {
            sub[k] = paths[i];
            index[k++] = i;
        }
    }
    char stage[160];
    snprintf(stage, sizeof stage, "%s%s", rq->stage, want ? " (mirrors of cached images)" : "");
    irb_extract_opts eo = rq->eo;
    if (want)
        eo.flip = 2;
    fill_ctx c = {m, index, rq, stage, want != 0, 0, missing};
    irb_status s = IRB_OK;
    size_t chunk = rq->checkpoint_seconds > 0 ? FIRST_CHUNK : CHUNK;
    double t0 = now_s();
    for (size_t k0 = 0, k = 0; s == IRB_OK && k0 < missing; k0 += k) {
        k = missing - k0 < chunk ? missing - k0 : chunk;
        c.index = index + k0;
        s = rq->motion ? motion_extract(rq->net, &eo, paths, m->n, rq->motion->prev, rq->motion->next,
                                        rq->motion->channels, index + k0, k, fill_row, &c, err)
                       : irb_extract(rq->net, sub + k0, k, &eo, fill_row, &c, err);
        if (s == IRB_OK && k0 + k < missing && rq->checkpoint_seconds > 0 &&
            now_s() - *saved >= rq->checkpoint_seconds) {
            irb_error werr = {0}; /* a checkpoint that cannot be written costs time later, not results now */
            write_cache(rq, base, paths, stamps, m, old, &werr);
            *saved = now_s();
        }
        double spent = now_s() - t0, next = spent > 0 ? (double)(k0 + k) / spent * rq->checkpoint_seconds / 3 : CHUNK;
        if (rq->checkpoint_seconds > 0)
            chunk = next >= CHUNK ? CHUNK : next <= FIRST_CHUNK / 4 ? FIRST_CHUNK / 4 : (size_t)next;
    }
    m->computed += missing;
    if (rq->progress)
        rq->progress(rq->progress_ctx, stage, missing, missing);
    irb_free(sub);
    irb_free(index);
    return s;
}

static irb_status compute_missing(const featcache_req *rq, const char *base, const char *const *paths, char **stamps,
                                  const irb_features *old, featmat *m, const uint8_t *have, irb_error *err)
{
    double t0 = now_s(), saved = t0;
    m->computed = 0;
    irb_status s = compute_group(rq, base, paths, stamps, old, m, have, 0, &saved, err);
    if (s == IRB_OK && m->xf)
        s = compute_group(rq, base, paths, stamps, old, m, have, HAVE_ORIGINAL, &saved, err);
    m->seconds = m->computed ? now_s() - t0 : 0;
    return s;
}

/* ---- writing the cache back -------------------------------------------------------------- */

static irb_status write_cache(const featcache_req *rq, const char *base, const char *const *paths, char **stamps,
                              const featmat *m, const irb_features *old, irb_error *err)
{
    const char *extra[] = {"stamp", NULL};
    irb_featwriter_t *w = NULL;
    IRB_TRY(irb_featwriter_open(base, (int)m->dim, extra, &w, err));
    irb_featwriter_set_meta_str(w, "irbis_cache_key", rq->key);
    irb_status s = IRB_OK;
    rowmap cur = {0};
    if (!rowmap_init(&cur, m->n))
        s = irb_fail(err, IRB_NOMEM, "feature cache: out of memory");
    int by_stamp = rq->motion != NULL;
    for (size_t i = 0; s == IRB_OK && i < m->n; i++) {
        if (!rowmap_put(&cur, paths[i], row_tag(by_stamp, 0, stamps[i]), i)) {
            s = irb_fail(err, IRB_NOMEM, "feature cache: out of memory");
            break;
        }
        if (!m->ok[i])
            continue;
        const char *ev[] = {stamps[i]};
        s = irb_featwriter_add(w, paths[i], 0, ev, m->x + i * m->dim, err);
        if (s == IRB_OK && m->xf)
            s = irb_featwriter_add(w, paths[i], 1, ev, m->xf + i * m->dim, err);
    }
    /* keep the rows of images this run did not ask for (motion: with other neighbours) */
    char *const *old_stamp = old ? irb_features_column(old, "stamp") : NULL;
    for (size_t r = 0; s == IRB_OK && old && old_stamp && r < old->n; r++)
        if (rowmap_get(&cur, old->path[r], row_tag(by_stamp, 0, old_stamp[r])) < 0) {
            const char *ev[] = {old_stamp[r]};
            s = irb_featwriter_add(w, old->path[r], old->flipped[r], ev, old->x + r * (size_t)old->dim, err);
        }
    rowmap_free(&cur);
    if (s != IRB_OK) {
        irb_featwriter_free(w);
        return s;
    }
    return irb_featwriter_close(w, err);
}

/* ---- the entry point ---------------------------------------------------------------------- */

static irb_status alloc_mat(featmat *m, size_t n, size_t dim, int flip, irb_error *err)
{
    memset(m, 0, sizeof *m);
    m->n = n;
    m->dim = dim;
    m->x = irb_malloc_array(n, dim * sizeof(float));
    m->xf = flip ? irb_malloc_array(n, dim * sizeof(float)) : NULL;
    m->ok = irb_calloc(n, 1);
    m->why = irb_calloc(n, sizeof *m->why);
    if (!m->x || (flip && !m->xf) || !m->ok || !m->why)
        return irb_fail(err, IRB_NOMEM, "feature cache: out of memory for %zu x %zu features", n, dim);
    return IRB_OK;
}

/* 1 when the cached row holds only finite values: a row poisoned by a damaged or hand-edited cache
 * file is computed again, not fed to the trainer. */
static int row_finite(const float *x, size_t dim)
{
    for (size_t j = 0; j < dim; j++)
        if (!isfinite(x[j]))
            return 0;
    return 1;
}

/* Copies the cached rows of the requested images not had yet into m; have[i] = 1 for each found.
 * originals_only (old holds unflipped features, m wants flips too): only the originals are
 * copied and have[i] = HAVE_ORIGINAL, so that only the mirrors are computed. */
static void take_cached(const irb_features *old, const char *const *paths, char **stamps, featmat *m, uint8_t *have,
                        int originals_only, int by_stamp)
{
    char *const *old_stamp = irb_features_column(old, "stamp");
    rowmap map = {0};
    if (!old_stamp || (size_t)old->dim != m->dim || !rowmap_init(&map, old->n)) {
        rowmap_free(&map);
        return;
    }
    for (size_t r = 0; r < old->n; r++)
        if (!rowmap_put(&map, old->path[r], row_tag(by_stamp, old->flipped[r], old_stamp[r]), r)) {
            rowmap_free(&map); /* out of memory: nothing is taken from the cache, all is computed */
            return;
        }
    for (size_t i = 0; i < m->n; i++) {
        if (have[i])
            continue;
        long a = rowmap_get(&map, paths[i], row_tag(by_stamp, 0, stamps[i]));
        long b = m->xf && !originals_only ? rowmap_get(&map, paths[i], 1) : 0;
        if (a < 0 || b < 0 || strcmp(old_stamp[a], stamps[i]) != 0 ||
            !row_finite(old->x + (size_t)a * m->dim, m->dim) ||
            (m->xf && !originals_only && !row_finite(old->x + (size_t)b * m->dim, m->dim)))
            continue;
        memcpy(m->x + i * m->dim, old->x + (size_t)a * m->dim, m->dim * sizeof(float));
        if (originals_only) {
            have[i] = HAVE_ORIGINAL;
            continue;
        }
        if (m->xf)
            memcpy(m->xf + i * m->dim, old->x + (size_t)b * m->dim, m->dim * sizeof(float));
        m->ok[i] = have[i] = 1;
    }
    rowmap_free(&map);
}

static void cache_base(const featcache_req *rq, const char *key, char *base, size_t size)
{
    char hex[65];
    irb_sha256_buffer(key, strlen(key), hex);
    hex[16] = '\0';
    snprintf(base, size, "%s/%s", rq->cache_dir, hex);
}

/* Rows of the same features cached with the other flip setting: an unflipped request takes the
 * unflipped rows of the set with flips (RN2 after RN2+A); a request with flips takes the rows
 * of the set without as its originals, and only the mirrors are computed (RN2+A after RN2). */
static void take_from_other(const featcache_req *rq, const char *const *paths, char **stamps, featmat *m, uint8_t *have)
{
    size_t missing = 0;
    for (size_t i = 0; i < m->n; i++)
        missing += !have[i];
    char base[4096];
    irb_features *f = NULL;
    if (!missing || !rq->other_key)
        return;
    cache_base(rq, rq->other_key, base, sizeof base);
    if (irb_features_load(base, &f, NULL) == IRB_OK) {
        const char *k = irb_features_meta(f, "irbis_cache_key");
        if (k && !strcmp(k, rq->other_key))
            take_cached(f, paths, stamps, m, have, m->xf != NULL, 0);
    }
    irb_features_free(f);
}

/* A motion row depends on the image and its neighbours: its stamp names them (path and file
 * stamp, hashed), so a row is reused only while they are the same files. */
static irb_status add_neighbours(const motion_plan *mp, const char *const *paths, char **stamps, size_t n,
                                 irb_error *err)
{
    char **ext = irb_calloc(n ? n : 1, sizeof *ext);
    irb_status s = ext ? IRB_OK : irb_fail(err, IRB_NOMEM, "feature cache: out of memory");
    for (size_t i = 0; s == IRB_OK && i < n; i++) {
        const long nb[2] = {mp->prev[i], mp->next[i]};
        const char *part[4];
        size_t len = 4;
        for (int j = 0; j < 2; j++) {
            part[2 * j] = nb[j] >= 0 ? paths[nb[j]] : "-";
            part[2 * j + 1] = nb[j] >= 0 ? stamps[nb[j]] : "-";
            len += strlen(part[2 * j]) + strlen(part[2 * j + 1]);
        }
        char *all = irb_malloc(len + 1), hex[65], buf[200];
        if (!all) {
            s = irb_fail(err, IRB_NOMEM, "feature cache: out of memory");
            break;
        }
        snprintf(all, len + 1, "%s\n%s\n%s\n%s\n", part[0], part[1], part[2], part[3]);
        irb_sha256_buffer(all, strlen(all), hex);
        irb_free(all);
        hex[16] = '\0';
        snprintf(buf, sizeof buf, "%s n=%s", stamps[i], hex);
        if (!(ext[i] = irb_strdup(buf)))
            s = irb_fail(err, IRB_NOMEM, "feature cache: out of memory");
    }
    for (size_t i = 0; ext && i < n; i++) {
        if (s == IRB_OK) {
            irb_free(stamps[i]);
            stamps[i] = ext[i];
        } else {
            irb_free(ext[i]);
        }
    }
    irb_free(ext);
    return s;
}

irb_status featcache_get(const featcache_req *rq, const char *const *paths, size_t n, featmat *out, irb_error *err)
{
    char base[4096];
    cache_base(rq, rq->key, base, sizeof base);
    mkdir(rq->cache_dir, 0777);

    size_t dim = rq->motion              ? MOTION_DIM
                 : rq->mean_channels > 0 ? (size_t)rq->mean_channels
                                         : irb_extract_dim(rq->net, &rq->eo);
    irb_status s = alloc_mat(out, n, dim, rq->eo.flip, err);
    uint8_t *have = irb_calloc(n ? n : 1, 1);
    char **stamps = irb_calloc(n ? n : 1, sizeof *stamps);
    if (s == IRB_OK && (!have || !stamps))
        s = irb_fail(err, IRB_NOMEM, "feature cache: out of memory");
    for (size_t i = 0; s == IRB_OK && i < n; i++) {
        char st[96];
        file_stamp(paths[i], st, sizeof st);
        if (!(stamps[i] = irb_strdup(st)))
            s = irb_fail(err, IRB_NOMEM, "feature cache: out of memory");
    }
    if (s == IRB_OK && rq->motion)
        s = add_neighbours(rq->motion, paths, stamps, n, err);
    irb_features *old = NULL;
    if (s == IRB_OK && irb_features_load(base, &old, NULL) == IRB_OK) {
        const char *k = irb_features_meta(old, "irbis_cache_key");
        if (k && !strcmp(k, rq->key))
            take_cached(old, paths, stamps, out, have, 0, rq->motion != NULL);
    }
    if (s == IRB_OK)
        take_from_other(rq, paths, stamps, out, have);
    if (s == IRB_OK)
        s = compute_missing(rq, base, paths, stamps, old, out, have, err);
    if (s == IRB_OK && out->computed > 0) {
        irb_error werr = {0};
        /* a cache that cannot be written costs time later, not results now: said, not fatal */
        if (write_cache(rq, base, paths, stamps, out, old, &werr) != IRB_OK)
            irb_warn_more(err, "the feature cache was not written (%s): the next run computes these features again",
                          werr.message);
    }
    irb_features_free(old);
    for (size_t i = 0; stamps && i < n; i++)
        irb_free(stamps[i]);
    irb_free(stamps);
    irb_free(have);
    if (s != IRB_OK)
        featmat_release(out);
    return s;
}

/* ---- int8 calibration tables ----------------------------------------------------------- */

/* A table is recorded from a sample spread over the whole list, so its name hashes the
 * description with every path and file stamp, in order: another list, order or file records a
 * new table. 128 bits of sha256 name the file; the table's own text has no room for the key. */
irb_status featcache_calib_path(const char *cache_dir, const char *desc, const char *const *paths, size_t n, char *out,
                                size_t size, irb_error *err)
{
    size_t len = strlen(desc) + 2;
    for (size_t i = 0; i < n; i++)
        len += strlen(paths[i]) + 100;
    char *all = irb_malloc(len);
    if (!all)
        return irb_fail(err, IRB_NOMEM, "calibration cache: out of memory");
    size_t k = (size_t)snprintf(all, len, "%s\n", desc);
    for (size_t i = 0; i < n; i++) {
        char st[96];
        file_stamp(paths[i], st, sizeof st);
        k += (size_t)snprintf(all + k, len - k, "%s\t%s\n", paths[i], st);
    }
    char hex[65];
    irb_sha256_buffer(all, k, hex);
    irb_free(all);
    hex[32] = '\0';
    mkdir(cache_dir, 0777);
    if ((size_t)snprintf(out, size, "%s/calib-%s.calib", cache_dir, hex) >= size)
        return irb_fail(err, IRB_INVALID_ARG, "calibration cache: folder name too long: %s", cache_dir);
    return IRB_OK;
}
