/* CNN throughput of the oneDNN engine (not a test; bench/bench_cnn.py drives it against the
 * PyTorch peer). Loads an ONNX model, runs the same passes as irb_net_new, compiles with an
 * explicit threading scheme, and times `images` images (random input) in batches after one
 * warm-up batch. Prints one line: "... cnn X img/s".
 *
 *   bench_cnn --model M.onnx [--layer NAME | --cut N] [--pool] [--precision fp32|bf16|int8]
 *             [--calib TABLE] [--batch B] [--threads T] [--threading auto|intra|per-image] [--images N]
 *             [--direct-conv] [--no-bands] [--size S]
 * --size runs the net at S x S inputs (as a pipeline's sizes do). int8 needs --calib (a table from `irbis calibrate`);
 * the input is then random too, which does not change the speed of a dense CNN.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <irbis.h>

#include "cli.h"

#include "backends/onednn/onednn.h"
#include "core/alloc.h"
#include "nn/calib.h"
#include "nn/model_internal.h"
#include "nn/passes/passes.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    cli_process_setup(); /* as the CLI: OpenBLAS's idle threads stopped */
    const char *model = NULL, *layer = NULL, *threading = "auto", *calib = NULL, *prec = "fp32";
    int cut = 0, pool = 0, batch = 16, threads = 2, images = 64, direct = 0, no_bands = 0, size = 0;
    static const struct option longs[] = {
        {"model", 1, 0, 'm'},     {"layer", 1, 0, 'l'}, {"cut", 1, 0, 'c'},         {"pool", 0, 0, 'p'},
        {"precision", 1, 0, 'P'}, {"batch", 1, 0, 'b'}, {"threads", 1, 0, 't'},     {"threading", 1, 0, 'T'},
        {"images", 1, 0, 'n'},    {"calib", 1, 0, 'C'}, {"direct-conv", 0, 0, 'D'}, {"no-bands", 0, 0, 'B'},
        {"size", 1, 0, 's'},      {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longs, NULL)) != -1;) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'l': layer = optarg; break;
        case 'c': cut = atoi(optarg); break;
        case 'p': pool = 1; break;
        case 'P': prec = optarg; break;
        case 'C': calib = optarg; break;
        case 'b': batch = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'T': threading = optarg; break;
        case 'n': images = atoi(optarg); break;
        case 'D': direct = 1; break;
        case 'B': no_bands = 1; break;
        case 's': size = atoi(optarg); break;
        default: return 2;
        }
    }
    int bf16 = !strcmp(prec, "bf16"), int8 = !strcmp(prec, "int8");
    if (!model || batch < 1 || threads < 1 || images < 1 || (int8 && !calib)) {
        fprintf(stderr, "usage: bench_cnn --model M.onnx [options]\n");
        return 2;
    }
    irb_onednn_opts eo = {.threading = !strcmp(threading, "intra")       ? IRB_ONEDNN_INTRA_OP
                                       : !strcmp(threading, "per-image") ? IRB_ONEDNN_PER_IMAGE
                                                                         : IRB_ONEDNN_AUTO,
                          .direct_conv = direct,
                          .no_bands = no_bands};
    irb_error err = {0};
    irb_model_t *m = NULL;
    irb_graph g = {0};
    void *plan = NULL;
    irb_calib_t *cal = NULL;
    float *range = NULL;
    int rc = 1;
    if (irb_model_load(model, NULL, &m, &err) != IRB_OK || irb_graph_copy(&m->g, &g, &err) != IRB_OK) {
        fprintf(stderr, "%s\n", err.message);
        goto done;
    }
    if (size > 0 && g.values[g.input].rank == 4) /* every other shape follows from the input's */
        g.values[g.input].dims[2] = g.values[g.input].dims[3] = size;
    if (irb_pass_cut(&g, layer, cut, &err) || irb_pass_prune(&g, &err) || irb_pass_infer_fold(&g, &err) ||
        irb_pass_simplify(&g, &err) || irb_pass_fold_batchnorm(&g, &err) || (pool && irb_pass_pool_avg(&g, &err)) ||
        irb_pass_prune(&g, &err)) {
        fprintf(stderr, "%s\n", err.message);
        goto done;
    }
    if (int8 &&
        (irb_calib_load(calib, &cal, &err) != IRB_OK || irb_calib_value_ranges(&g, cal, &range, &err) != IRB_OK)) {
        fprintf(stderr, "%s\n", err.message);
        goto done;
    }
    irb_exec_opts o = {.precision = bf16   ? IRB_EXEC_BF16
                                    : int8 ? IRB_EXEC_INT8
                                           : IRB_EXEC_FP32,
                       .threads = threads,
                       .max_batch = batch,
                       .range = range};
    double t0 = now();
    if (irb_onednn_compile(&g, &o, &eo, &plan, &err) != IRB_OK) {
        fprintf(stderr, "%s\n", err.message);
        goto done;
    }
    double t_compile = now() - t0;
    irb_onednn_info info;
    irb_onednn_plan_info(plan, &info);
    const irb_value *x = &g.values[g.input], *y = &g.values[g.output];
    size_t in_n = (size_t)(x->dims[1] * x->dims[2] * x->dims[3]), out_n = 1;
    for (int i = 1; i < y->rank; i++)
        out_n *= (size_t)y->dims[i];
    float *in = malloc((size_t)batch * in_n * sizeof *in), *out = malloc((size_t)batch * out_n * sizeof *out);
    if (!in || !out)
        goto done;
    srand(1);
    for (size_t i = 0; i < (size_t)batch * in_n; i++)
        in[i] = (float)rand() / RAND_MAX * 4 - 2;
    if (irb_backend_onednn.run(plan, in, batch, out, &err) != IRB_OK) { /* warm-up */
        fprintf(stderr, "%s\n", err.message);
        goto done;
    }
    int done_n = 0;
    t0 = now();
    while (done_n < images) {
        int b = images - done_n < batch ? images - done_n : batch;
        if (irb_backend_onednn.run(plan, in, b, out, &err) != IRB_OK) {
            fprintf(stderr, "%s\n", err.message);
            goto done;
        }
        done_n += b;
    }
    double t = now() - t0;
    printf(
        "irbis %s %s batch %d threads %d threading %s: %d steps (%d reorders, %d int8 convs, %d Winograd, %d chains in bands), arena %.1f MB (%.1f MB "
        "without reuse), weights %.1f MB, compile %.3f s; %d images in %.2f s  cnn %.2f img/s\n",
        model, prec, batch, threads, info.threading == IRB_ONEDNN_PER_IMAGE ? "per-image" : "intra", info.steps,
        info.reorders, info.int8_steps, info.winograd_steps, info.band_chains, info.arena_bytes / 1e6,
        info.naive_bytes / 1e6, info.weight_bytes / 1e6, t_compile, images, t, images / t);
    free(in);
    free(out);
    rc = 0;
done:
    irb_backend_onednn.destroy(plan);
    irb_calib_free(cal);
    irb_free(range);
    irb_graph_release(&g);
    irb_model_free(m);
    return rc;
}
