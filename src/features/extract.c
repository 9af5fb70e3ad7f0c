/* Batched feature extraction: decode + preprocess on worker threads (one decoder each), then
 * one net run per batch. Used by the experiment; the same rows featurize would write. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/pool.h"
#include "irbis/experiment.h"

typedef struct {
    const char *const *paths;
    size_t first, count;          /* the images of this batch */
    const irb_preproc *pp;
    size_t in_dim;
    float *input;                 /* count x in_dim */
    irb_decoder_t **dec;
    irb_error *status;            /* count */
} decode_job;

static void decode_part(void *ctx, int ith, int nth)
{
    decode_job *j = ctx;
    for (size_t i = (size_t)ith; i < j->count; i += (size_t)nth) {
        irb_decoder_t *d = j->dec[ith];
        irb_status s = irb_preprocess_file(d, j->paths[j->first + i], j->pp, j->input + i * j->in_dim, NULL);
        irb_error_copy(&j->status[i], irb_decoder_error(d));
        j->status[i].status = s;
    }
}

/* Mirrors a CHW tensor left-right. */
static void flip_chw(const float *src, float *dst, int size)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < size; y++) {
            const float *s = src + ((size_t)c * size + y) * size;
            float *d = dst + ((size_t)c * size + y) * size;
            for (int x = 0; x < size; x++)
                d[x] = s[size - 1 - x];
        }
}

size_t irb_extract_dim(const irb_net_t *net, const irb_extract_opts *o)
{
    return net ? irb_net_output_size(net) : (size_t)3 * o->pp.size * o->pp.size;
}

typedef struct {
    irb_pool *pool;
    irb_decoder_t **dec;
    int workers;
    float *input, *packed, *output;
    irb_error *status;
    size_t *slot;                 /* packed row -> batch index */
} extract_state;

static void state_free(extract_state *st)
{
    for (int i = 0; i < st->workers; i++)
        irb_decoder_free(st->dec ? st->dec[i] : NULL);
    irb_free(st->dec);
    irb_pool_free(st->pool);
    irb_free(st->input);
    irb_free(st->packed);
    irb_free(st->output);
    irb_free(st->status);
    irb_free(st->slot);
}

static irb_status state_init(extract_state *st, const irb_net_t *net, const irb_extract_opts *o, size_t batch,
                             size_t in_dim, size_t out_dim, irb_error *err)
{
    memset(st, 0, sizeof *st);
    st->workers = o->threads > 0 ? o->threads : irb_cpu_count();
    st->pool = irb_pool_new(st->workers);
    st->dec = irb_calloc((size_t)st->workers, sizeof *st->dec);
    st->input = irb_malloc_array(batch, in_dim * sizeof(float));
    st->packed = irb_malloc_array(2 * batch, in_dim * sizeof(float));
    st->output = net ? irb_malloc_array(2 * batch, out_dim * sizeof(float)) : NULL;
    st->status = irb_calloc(batch, sizeof *st->status);
    st->slot = irb_calloc(2 * batch, sizeof *st->slot);
    if (!st->pool || !st->dec || !st->input || !st->packed || (net && !st->output) || !st->status || !st->slot)
        return irb_fail(err, IRB_NOMEM, "feature extraction: out of memory for a batch of %zu", batch);
    st->workers = irb_pool_size(st->pool);
    for (int i = 0; i < st->workers; i++)
        if (irb_decoder_new(&st->dec[i]) != IRB_OK)
            return irb_fail(err, IRB_NOMEM, "feature extraction: cannot create a decoder");
    return IRB_OK;
}

/* Runs one batch: decode, pack the good images (and their mirrors), run the net, emit rows. */
static irb_status run_batch(extract_state *st, irb_net_t *net, const char *const *paths, size_t first,
                            size_t count, const irb_extract_opts *o, size_t in_dim, size_t out_dim,
                            irb_extract_fn fn, void *ctx, irb_error *err)
{
    decode_job job = {paths, first, count, &o->pp, in_dim, st->input, st->dec, st->status};
    irb_pool_run(st->pool, decode_part, &job);
    size_t rows = 0;
    for (size_t i = 0; i < count; i++) {
        if (st->status[i].status != IRB_OK)
            continue;
        if (o->flip != 2) {
            memcpy(st->packed + rows * in_dim, st->input + i * in_dim, in_dim * sizeof(float));
            st->slot[rows++] = i;
        }
        if (o->flip) {
            flip_chw(st->input + i * in_dim, st->packed + rows * in_dim, o->pp.size);
            st->slot[rows++] = i;
        }
    }
    const float *result = st->packed;
    size_t dim = in_dim;
    if (net && rows > 0) {
        if (irb_net_run(net, st->packed, (int)rows, st->output) != IRB_OK) {
            irb_error_copy(err, irb_net_error(net));
            return err ? err->status : IRB_INTERNAL;
        }
        result = st->output;
        dim = out_dim;
    }
    size_t r = 0;
    for (size_t i = 0; i < count; i++) {
        if (st->status[i].status != IRB_OK) {
            fn(ctx, first + i, 0, NULL, dim, &st->status[i]);
            continue;
        }
        for (int f = o->flip == 2; f <= (o->flip ? 1 : 0); f++, r++)
            fn(ctx, first + i, f, result + r * dim, dim, &st->status[i]);
    }
    return IRB_OK;
}

irb_status irb_extract(irb_net_t *net, const char *const *paths, size_t n, const irb_extract_opts *o,
                       irb_extract_fn fn, void *ctx, irb_error *err)
{
    if (!paths || !o || !fn || o->pp.size <= 0)
        return irb_fail(err, IRB_INVALID_ARG, "irb_extract: missing paths, options, callback or size");
    if (o->flip < 0 || o->flip > 2)
        return irb_fail(err, IRB_INVALID_ARG, "irb_extract: flip must be 0, 1 or 2 (got %d)", o->flip);
    size_t in_dim = (size_t)3 * o->pp.size * o->pp.size;
    if (net) {
        int c, h, w;
        irb_net_input_shape(net, &c, &h, &w);
        if ((size_t)c * h * w != in_dim)
            return irb_fail(err, IRB_MISMATCH, "the net takes %dx%dx%d inputs but preprocessing makes 3x%dx%d", c,
                            h, w, o->pp.size, o->pp.size);
    }
    size_t out_dim = irb_extract_dim(net, o);
    size_t batch = o->batch > 0 ? (size_t)o->batch : 16;
    extract_state st;
    irb_status s = state_init(&st, net, o, batch, in_dim, out_dim, err);
    for (size_t first = 0; s == IRB_OK && first < n; first += batch) {
        size_t count = n - first < batch ? n - first : batch;
        s = run_batch(&st, net, paths, first, count, o, in_dim, out_dim, fn, ctx, err);
    }
    state_free(&st);
    return s;
}
