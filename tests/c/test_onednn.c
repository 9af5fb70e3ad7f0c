/* The oneDNN engine on hand-built graphs, against naive loops written here: convolutions
 * (groups, asymmetric pads, stride, dilation) with fused Relu/Clip/residual Add, pooling, Gemm,
 * Softmax, standalone eltwise and broadcast Mul; batch 1 vs batch > 1; both threading schemes;
 * bf16 (cosine); conv chains in bands vs whole layers; unsupported input; allocation failures. */
#include <math.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

#include "backends/onednn/onednn.h"
#include "check.h"
#include "core/alloc.h"
#include "core/pool.h"

/* ==== a tiny graph builder */

typedef struct gb {
    irb_graph g;
    irb_value vals[64];
    irb_node nodes[64];
    unsigned seed;
} gb;

static float frand(gb *b) /* deterministic in [-1, 1] */
{
    b->seed = b->seed * 1103515245u + 12345u;
    return (float)((b->seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static int value(gb *b, const char *name, int rank, const int64_t *dims, int constant, float scale)
{
    int i = b->g.n_values++;
    irb_value *v = &b->vals[i];
    memset(v, 0, sizeof *v);
    v->name = (char *)name;
    v->dtype = IRB_DT_FLOAT;
    v->rank = rank;
    v->producer = -1;
    int64_t n = 1;
    for (int k = 0; k < rank; k++)
        n *= (v->dims[k] = dims[k]);
    if (constant) {
        float *d = malloc((size_t)n * sizeof *d);
        for (int64_t k = 0; k < n; k++)
            d[k] = scale * frand(b);
        v->data = d;
        v->nbytes = (size_t)n * sizeof *d;
    }
    return i;
}

static irb_node *node(gb *b, irb_op op, int n_in, const int *in, int out)
{
    int i = b->g.n_nodes++;
    irb_node *n = &b->nodes[i];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = (char *)"";
    n->n_in = n_in;
    for (int k = 0; k < n_in; k++)
        n->in[k] = in[k];
    n->n_out = 1;
    n->out[0] = out;
    n->a.strides[0] = n->a.strides[1] = 1;
    n->a.dilations[0] = n->a.dilations[1] = 1;
    n->a.group = 1;
    n->a.alpha = n->a.beta = 1.0f;
    b->vals[out].producer = i;
    return n;
}

static void gb_init(gb *b, unsigned seed)
{
    memset(b, 0, sizeof *b);
    b->g.values = b->vals;
    b->g.nodes = b->nodes;
    b->seed = seed;
}

static void gb_free(gb *b)
{
    for (int i = 0; i < b->g.n_values; i++)
        free(b->vals[i].data);
}

/* ==== naive references (NCHW, one image) */

static void ref_conv(const float *x, int C, int H, int W, const irb_node *n, const irb_value *w, const float *bias,
                     float *y, int OH, int OW)
{
    int OC = (int)w->dims[0], ICg = (int)w->dims[1], KH = (int)w->dims[2], KW = (int)w->dims[3];
    int G = (int)n->a.group, OCg = OC / G;
    const float *wd = w->data;
    (void)C;
    for (int oc = 0; oc < OC; oc++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double s = bias ? bias[oc] : 0;
                int g = oc / OCg;
                for (int ic = 0; ic < ICg; ic++)
                    for (int kh = 0; kh < KH; kh++)
                        for (int kw = 0; kw < KW; kw++) {
                            int ih = oh * (int)n->a.strides[0] - (int)n->a.pads[0] + kh * (int)n->a.dilations[0];
                            int iw = ow * (int)n->a.strides[1] - (int)n->a.pads[1] + kw * (int)n->a.dilations[1];
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                continue;
                            s += (double)wd[((oc * ICg + ic) * KH + kh) * KW + kw] *
                                 x[((g * ICg + ic) * H + ih) * W + iw];
                        }
                y[(oc * OH + oh) * OW + ow] = (float)s;
            }
}

static void ref_pool(const float *x, int C, int H, int W, int K, int S, int P, int is_max, float *y, int OH, int OW)
{
    for (int c = 0; c < C; c++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double m = is_max ? -INFINITY : 0;
                int cnt = 0;
                for (int kh = 0; kh < K; kh++)
                    for (int kw = 0; kw < K; kw++) {
                        int ih = oh * S - P + kh, iw = ow * S - P + kw;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                            continue;
                        float v = x[(c * H + ih) * W + iw];
                        if (is_max)
                            m = v > m ? v : m;
                        else
                            m += v;
                        cnt++;
                    }
                y[(c * OH + oh) * OW + ow] = (float)(is_max ? m : m / cnt);
            }
}

static float relu(float v) { return v > 0 ? v : 0; }
static float clip6(float v) { return v < 0 ? 0 : v > 6 ? 6 : v; }

static double max_abs_diff(const float *a, const float *b, size_t n, double *maxref)
{
    double m = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        m = d > m ? d : m;
        r = fabs(b[i]) > r ? fabs(b[i]) : r;
    }
    if (maxref)
        *maxref = r;
    return m;
}

static double cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++)
        ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / sqrt(aa * bb + 1e-30);
}

/* ==== graph 1: a small residual conv net
 *   x[3,9,9] -conv1(3->8,k3,p1)+Relu-> a[8,9,9]
 *   a -dwconv(8,k3,s2,pads 0,0,1,1)+Clip(0,6)-> b[8,4,4]... (9+1-3)/2+1 = 4
 *   b -conv3(8->8,k3,dil2,p2)-> c ; Add(c, b) -> d ; Relu -> e[8,4,4]
 *   e -MaxPool(k3,s2,p1)-> f[8,2,2] -GAP-> h[8,1,1] -Flatten-> i[8] -Gemm(transB, alpha .5, beta 2)-> j[5]
 *   -Softmax-> k[5]                                                                   */

typedef struct net1 {
    gb b;
    int x, a, bv, d, e, f, i, j, k;
} net1;

static void build_net1(net1 *n)
{
    gb *b = &n->b;
    gb_init(b, 7);
    int64_t dx[4] = {1, 3, 9, 9};
    n->x = value(b, "x", 4, dx, 0, 0);
    int64_t w1d[4] = {8, 3, 3, 3}, b1d[1] = {8};
    int w1 = value(b, "w1", 4, w1d, 1, 0.5f), b1 = value(b, "b1", 1, b1d, 1, 0.2f);
    int64_t da[4] = {1, 8, 9, 9};
    int c1 = value(b, "c1", 4, da, 0, 0);
    irb_node *nd = node(b, IRB_OP_CONV, 3, (int[]){n->x, w1, b1}, c1);
    nd->a.kernel[0] = nd->a.kernel[1] = 3;
    for (int k = 0; k < 4; k++)
        nd->a.pads[k] = 1;
    n->a = value(b, "a", 4, da, 0, 0);
    node(b, IRB_OP_RELU, 1, &c1, n->a);

    int64_t w2d[4] = {8, 1, 3, 3}, db[4] = {1, 8, 4, 4};
    int w2 = value(b, "w2", 4, w2d, 1, 0.7f), b2 = value(b, "b2", 1, b1d, 1, 0.2f);
    int c2 = value(b, "c2", 4, db, 0, 0);
    nd = node(b, IRB_OP_CONV, 3, (int[]){n->a, w2, b2}, c2);
    nd->a.group = 8;
    nd->a.kernel[0] = nd->a.kernel[1] = 3;
    nd->a.strides[0] = nd->a.strides[1] = 2;
    nd->a.pads[2] = nd->a.pads[3] = 1;
    n->bv = value(b, "b", 4, db, 0, 0);
    nd = node(b, IRB_OP_CLIP, 1, &c2, n->bv);
    nd->a.has_clip_min = nd->a.has_clip_max = 1;
    nd->a.clip_min = 0, nd->a.clip_max = 6;

    int64_t w3d[4] = {8, 8, 3, 3};
    int w3 = value(b, "w3", 4, w3d, 1, 0.3f);
    int c3 = value(b, "c3", 4, db, 0, 0);
    nd = node(b, IRB_OP_CONV, 2, (int[]){n->bv, w3}, c3);
    nd->a.kernel[0] = nd->a.kernel[1] = 3;
    nd->a.dilations[0] = nd->a.dilations[1] = 2;
    for (int k = 0; k < 4; k++)
        nd->a.pads[k] = 2;
    n->d = value(b, "d", 4, db, 0, 0);
    node(b, IRB_OP_ADD, 2, (int[]){c3, n->bv}, n->d);
    n->e = value(b, "e", 4, db, 0, 0);
    node(b, IRB_OP_RELU, 1, &n->d, n->e);

    int64_t df[4] = {1, 8, 2, 2}, dh[4] = {1, 8, 1, 1}, di[2] = {1, 8};
    n->f = value(b, "f", 4, df, 0, 0);
    nd = node(b, IRB_OP_MAXPOOL, 1, &n->e, n->f);
    nd->a.kernel[0] = nd->a.kernel[1] = 3;
    nd->a.strides[0] = nd->a.strides[1] = 2;
    for (int k = 0; k < 4; k++)
        nd->a.pads[k] = 1;
    int h = value(b, "h", 4, dh, 0, 0);
    node(b, IRB_OP_GLOBALAVGPOOL, 1, &n->f, h);
    n->i = value(b, "i", 2, di, 0, 0);
    node(b, IRB_OP_FLATTEN, 1, &h, n->i)->a.axis = 1;
    int64_t wgd[2] = {5, 8}, cgd[1] = {5}, dj[2] = {1, 5};
    int wg = value(b, "wg", 2, wgd, 1, 1.0f), cg = value(b, "cg", 1, cgd, 1, 1.0f);
    n->j = value(b, "j", 2, dj, 0, 0);
    nd = node(b, IRB_OP_GEMM, 3, (int[]){n->i, wg, cg}, n->j);
    nd->a.trans_b = 1;
    nd->a.alpha = 0.5f;
    nd->a.beta = 2.0f;
    n->k = value(b, "k", 2, dj, 0, 0);
    node(b, IRB_OP_SOFTMAX, 1, &n->j, n->k)->a.axis = 1;
    b->g.input = n->x;
    b->g.output = n->k;
}

/* Reference for net1 on one image: fills every intermediate. */
typedef struct ref1 {
    float a[8 * 81], b[8 * 16], e[8 * 16], f[8 * 4], i[8], j[5], k[5];
} ref1;

static void run_ref1(const net1 *n, const float *x, ref1 *r)
{
    const irb_graph *g = &n->b.g;
    const irb_value *v = g->values;
    ref_conv(x, 3, 9, 9, &g->nodes[0], &v[g->nodes[0].in[1]], v[g->nodes[0].in[2]].data, r->a, 9, 9);
    for (int q = 0; q < 8 * 81; q++)
        r->a[q] = relu(r->a[q]);
    ref_conv(r->a, 8, 9, 9, &g->nodes[2], &v[g->nodes[2].in[1]], v[g->nodes[2].in[2]].data, r->b, 4, 4);
    for (int q = 0; q < 8 * 16; q++)
        r->b[q] = clip6(r->b[q]);
    ref_conv(r->b, 8, 4, 4, &g->nodes[4], &v[g->nodes[4].in[1]], NULL, r->e, 4, 4);
    for (int q = 0; q < 8 * 16; q++)
        r->e[q] = relu(r->e[q] + r->b[q]);
    ref_pool(r->e, 8, 4, 4, 3, 2, 1, 1, r->f, 2, 2);
    for (int c = 0; c < 8; c++)
        r->i[c] = (r->f[c * 4] + r->f[c * 4 + 1] + r->f[c * 4 + 2] + r->f[c * 4 + 3]) / 4;
    const float *wg = v[g->nodes[10].in[1]].data, *cg = v[g->nodes[10].in[2]].data;
    double mx = -INFINITY, sum = 0;
    for (int o = 0; o < 5; o++) {
        double s = 2.0 * cg[o];
        for (int c = 0; c < 8; c++)
            s += 0.5 * wg[o * 8 + c] * r->i[c];
        r->j[o] = (float)s;
        mx = s > mx ? s : mx;
    }
    for (int o = 0; o < 5; o++)
        sum += exp(r->j[o] - mx);
    for (int o = 0; o < 5; o++)
        r->k[o] = (float)(exp(r->j[o] - mx) / sum);
}

static irb_status run_engine(const irb_graph *g, irb_exec_precision prec, irb_onednn_threading t, int threads,
                             int max_batch, const float *in, int batch, float *out, irb_error *err)
{
    irb_exec_opts o = {.precision = prec, .threads = threads, .max_batch = max_batch};
    void *plan = NULL;
    irb_onednn_opts eo = {.threading = t};
    irb_status s = irb_onednn_compile(g, &o, &eo, &plan, err);
    if (s == IRB_OK)
        s = irb_backend_onednn.run(plan, in, batch, out, err);
    irb_backend_onednn.destroy(plan);
    return s;
}

static void test_net1(void)
{
    net1 n;
    build_net1(&n);
    enum { B = 5 };
    static float x[B][3 * 81];
    static ref1 r[B];
    for (int i = 0; i < B; i++) {
        for (int q = 0; q < 3 * 81; q++)
            x[i][q] = 2 * frand(&n.b);
        run_ref1(&n, x[i], &r[i]);
    }
    struct {
        int v;
        size_t size;
        size_t off;
    } cuts[] = {
        {n.a, 8 * 81, offsetof(ref1, a)}, {n.bv, 8 * 16, offsetof(ref1, b)}, {n.e, 8 * 16, offsetof(ref1, e)},
        {n.f, 8 * 4, offsetof(ref1, f)},  {n.i, 8, offsetof(ref1, i)},       {n.j, 5, offsetof(ref1, j)},
        {n.k, 5, offsetof(ref1, k)},
    };
    static float out[B * 8 * 81];
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        n.b.g.output = cuts[c].v;
        irb_error err = {0};
        for (int t = 1; t <= 2; t++) {
            irb_status s = run_engine(&n.b.g, IRB_EXEC_FP32, t, 2, 4, &x[0][0], B == 5 ? 4 : B, out, &err);
            CHECK(s == IRB_OK, "cut %s threading %d: %s", n.b.vals[cuts[c].v].name, t, err.message);
            double worst = 0;
            for (int i = 0; i < 4; i++) {
                const float *ref = (const float *)((const char *)&r[i] + cuts[c].off);
                double d = max_abs_diff(out + (size_t)i * cuts[c].size, ref, cuts[c].size, NULL);
                worst = d > worst ? d : worst;
            }
            CHECK(worst <= 1e-4, "cut %s threading %d: max abs diff %g", n.b.vals[cuts[c].v].name, t, worst);
        }
    }
    /* batch 3 on a max_batch 2 intra-op plan (one full batch + remainder), and batch 1 */
    n.b.g.output = n.k;
    irb_error err = {0};
    static float o3[3 * 5], o1[5];
    CHECK(run_engine(&n.b.g, IRB_EXEC_FP32, IRB_ONEDNN_INTRA_OP, 2, 3, &x[1][0], 3, o3, &err) == IRB_OK, "%s",
          err.message);
    CHECK(run_engine(&n.b.g, IRB_EXEC_FP32, IRB_ONEDNN_AUTO, 1, 1, &x[3][0], 1, o1, &err) == IRB_OK, "%s", err.message);
    for (int i = 0; i < 3; i++)
        CHECK(max_abs_diff(o3 + i * 5, r[1 + i].k, 5, NULL) <= 1e-5, "batch-3 row %d", i);
    CHECK(max_abs_diff(o1, r[3].k, 5, NULL) <= 1e-5, "batch-1");
    /* intra-op with max_batch 2, batch 3: the remainder goes through the batch-1 variant */
    CHECK(run_engine(&n.b.g, IRB_EXEC_FP32, IRB_ONEDNN_INTRA_OP, 2, 2, &x[1][0], 2, o3, &err) == IRB_OK, "%s",
          err.message);
    CHECK(max_abs_diff(o3 + 5, r[2].k, 5, NULL) <= 1e-5, "intra max_batch 2 row 1");

    /* bf16: cosine to the fp32 reference on the residual block output */
    if (irb_onednn_has_bf16()) {
        n.b.g.output = n.e;
        CHECK(run_engine(&n.b.g, IRB_EXEC_BF16, IRB_ONEDNN_AUTO, 2, 4, &x[0][0], 4, out, &err) == IRB_OK, "%s",
              err.message);
        for (int i = 0; i < 4; i++) {
            double cs = cosine(out + i * 128, r[i].e, 128);
            CHECK(cs >= 0.999, "bf16 cosine %f", cs);
        }
    } else {
        n.b.g.output = n.e;
        irb_status s = run_engine(&n.b.g, IRB_EXEC_BF16, IRB_ONEDNN_AUTO, 1, 1, &x[0][0], 1, out, &err);
        CHECK(s == IRB_UNSUPPORTED && strstr(err.message, "bf16"), "bf16 refused: %s", err.message);
    }

    /* batch larger than compiled: refused */
    n.b.g.output = n.k;
    {
        irb_exec_opts o = {.precision = IRB_EXEC_FP32, .threads = 1, .max_batch = 2};
        void *plan = NULL;
        CHECK(irb_backend_onednn.compile(&n.b.g, &o, &plan, &err) == IRB_OK, "%s", err.message);
        CHECK(irb_backend_onednn.run(plan, &x[0][0], 3, out, &err) == IRB_INVALID_ARG, "batch 3 > 2 refused");
        irb_backend_onednn.destroy(plan);
    }
    /* allocation failure anywhere in compile: a clean error, no leak (ASan) */
    for (long k = 1; k < 400; k += 7) {
        irb_exec_opts o = {.precision = IRB_EXEC_FP32, .threads = 2, .max_batch = 2};
        void *plan = NULL;
        irb_alloc_fail_after(k);
        irb_status s = irb_backend_onednn.compile(&n.b.g, &o, &plan, &err);
        irb_alloc_fail_after(0);
        CHECK(s == IRB_OK || s == IRB_NOMEM, "alloc fail %ld: %s", k, err.message);
        irb_backend_onednn.destroy(s == IRB_OK ? plan : NULL);
    }
    gb_free(&n.b);
}

/* ==== graph 2: the residual is still read after the Add (copy path), the residual is the graph
 * input, standalone eltwise ops after a pool, broadcast Mul with an activation and a constant. */
static void test_net2(void)
{
    gb bb, *b = &bb;
    gb_init(b, 11);
    int64_t dx[4] = {1, 4, 6, 6}, w1d[4] = {4, 4, 1, 1}, dc[1] = {4};
    int x = value(b, "x", 4, dx, 0, 0);
    int w1 = value(b, "w1", 4, w1d, 1, 0.5f), b1 = value(b, "b1", 1, dc, 1, 0.5f);
    int c1 = value(b, "c1", 4, dx, 0, 0), s1 = value(b, "s1", 4, dx, 0, 0);
    node(b, IRB_OP_CONV, 3, (int[]){x, w1, b1}, c1);
    node(b, IRB_OP_ADD, 2, (int[]){x, c1}, s1); /* residual = graph input */
    int w2 = value(b, "w2", 4, w1d, 1, 0.5f);
    int c2 = value(b, "c2", 4, dx, 0, 0), s2 = value(b, "s2", 4, dx, 0, 0), m = value(b, "m", 4, dx, 0, 0);
    node(b, IRB_OP_CONV, 2, (int[]){s1, w2}, c2);
    node(b, IRB_OP_ADD, 2, (int[]){c2, s1}, s2); /* s1 is read again below */
    node(b, IRB_OP_MUL, 2, (int[]){s2, s1}, m);
    int64_t dp[4] = {1, 4, 3, 3}, dg[4] = {1, 4, 1, 1};
    int p = value(b, "p", 4, dp, 0, 0), hs = value(b, "hs", 4, dp, 0, 0), hg = value(b, "hg", 4, dp, 0, 0);
    irb_node *nd = node(b, IRB_OP_AVGPOOL, 1, &m, p);
    nd->a.kernel[0] = nd->a.kernel[1] = 2;
    nd->a.strides[0] = nd->a.strides[1] = 2;
    node(b, IRB_OP_HARDSWISH, 1, &p, hs);
    nd = node(b, IRB_OP_HARDSIGMOID, 1, &hs, hg);
    nd->a.alpha = 0.2f, nd->a.beta = 0.5f;
    int gp = value(b, "gp", 4, dg, 0, 0), sg = value(b, "sg", 4, dg, 0, 0), y = value(b, "y", 4, dp, 0, 0);
    node(b, IRB_OP_GLOBALAVGPOOL, 1, &hg, gp);
    node(b, IRB_OP_SIGMOID, 1, &gp, sg);
    node(b, IRB_OP_MUL, 2, (int[]){hg, sg}, y); /* squeeze-excite style [1,4,3,3] * [1,4,1,1] */
    int cst = value(b, "cst", 1, dc + 0, 1, 1.0f);
    b->vals[cst].dims[0] = 3; /* broadcast over W */
    int z = value(b, "z", 4, dp, 0, 0);
    node(b, IRB_OP_ADD, 2, (int[]){cst, y}, z);
    b->g.input = x;
    b->g.output = z;

    enum { B = 3 };
    static float in[B][144], ref[B][36], out[B * 36];
    for (int i = 0; i < B; i++) {
        for (int q = 0; q < 144; q++)
            in[i][q] = 2 * frand(b);
        float t1[144], t2[144], mm[144], pp[36], gg[4];
        ref_conv(in[i], 4, 6, 6, &b->nodes[0], &b->vals[w1], b->vals[b1].data, t1, 6, 6);
        for (int q = 0; q < 144; q++)
            t1[q] += in[i][q];
        ref_conv(t1, 4, 6, 6, &b->nodes[2], &b->vals[w2], NULL, t2, 6, 6);
        for (int q = 0; q < 144; q++)
            mm[q] = (t2[q] + t1[q]) * t1[q];
        ref_pool(mm, 4, 6, 6, 2, 2, 0, 0, pp, 3, 3);
        for (int q = 0; q < 36; q++) {
            float v = pp[q];
            v = v * fminf(fmaxf(v + 3, 0), 6) / 6;
            pp[q] = fminf(fmaxf(0.2f * v + 0.5f, 0), 1);
        }
        for (int c = 0; c < 4; c++) {
            double s = 0;
            for (int q = 0; q < 9; q++)
                s += pp[c * 9 + q];
            gg[c] = (float)(1 / (1 + exp(-s / 9)));
        }
        const float *cv = b->vals[cst].data;
        for (int q = 0; q < 36; q++)
            ref[i][q] = pp[q] * gg[q / 9] + cv[q % 3];
    }
    for (int t = 1; t <= 2; t++) {
        irb_error err = {0};
        irb_status s = run_engine(&b->g, IRB_EXEC_FP32, t, 2, B, &in[0][0], B, out, &err);
        CHECK(s == IRB_OK, "net2 threading %d: %s", t, err.message);
        CHECK(max_abs_diff(out, &ref[0][0], B * 36, NULL) <= 1e-4, "net2 threading %d: diff %g", t,
              max_abs_diff(out, &ref[0][0], B * 36, NULL));
    }
    /* an op the engine cannot run: refused with a message naming the node and the op */
    b->nodes[b->g.n_nodes - 1].op = IRB_OP_GATHER;
    CHECK(!irb_backend_onednn.supports(&b->g, b->g.n_nodes - 1), "Gather unsupported");
    irb_error err = {0};
    void *plan = NULL;
    irb_exec_opts o = {.precision = IRB_EXEC_FP32, .threads = 1, .max_batch = 1};
    CHECK(irb_backend_onednn.compile(&b->g, &o, &plan, &err) == IRB_UNSUPPORTED && strstr(err.message, "Gather"),
          "unsupported: %s", err.message);
    /* regression: a Concat of more inputs than a step has argument slots is refused, not overrun */
    irb_node *last = &b->nodes[b->g.n_nodes - 1];
    last->op = IRB_OP_CONCAT;
    last->n_in = 12;
    for (int k = 0; k < 12; k++)
        last->in[k] = y;
    CHECK(!irb_backend_onednn.supports(&b->g, b->g.n_nodes - 1), "Concat of 12 refused");
    last->n_in = 2;
    CHECK(irb_backend_onednn.supports(&b->g, b->g.n_nodes - 1), "Concat of 2 supported");
    gb_free(b);
}

/* Winograd: a ResNet-style 3x3 stride-1 convolution (32 -> 32 channels, pad 1, bias, fused Relu
 * and residual Add) runs on oneDNN's Winograd kernel by default where the CPU has one (AVX-512),
 * and direct with direct_conv; both against the naive loops, a stride-2 conv never Winograd. */
static void test_winograd(void)
{
    gb bb, *b = &bb;
    gb_init(b, 23);
    enum { C = 32, H = 14, B = 2, N = C * H * H };
    int64_t dx[4] = {1, C, H, H}, wd[4] = {C, C, 3, 3}, dc[1] = {C};
    int x = value(b, "x", 4, dx, 0, 0), w = value(b, "w", 4, wd, 1, 0.2f), bias = value(b, "b", 1, dc, 1, 0.5f);
    int c = value(b, "c", 4, dx, 0, 0), r = value(b, "r", 4, dx, 0, 0), y = value(b, "y", 4, dx, 0, 0);
    irb_node *cv = node(b, IRB_OP_CONV, 3, (int[]){x, w, bias}, c);
    for (int k = 0; k < 4; k++)
        cv->a.pads[k] = 1;
    cv->a.kernel[0] = cv->a.kernel[1] = 3;
    node(b, IRB_OP_RELU, 1, &c, r);
    node(b, IRB_OP_ADD, 2, (int[]){r, x}, y);
    b->g.input = x;
    b->g.output = y;
    static float in[B][N], ref[B][N], out[B * N];
    for (int i = 0; i < B; i++) {
        for (int q = 0; q < N; q++)
            in[i][q] = 2 * frand(b);
        ref_conv(in[i], C, H, H, cv, &b->vals[w], b->vals[bias].data, ref[i], H, H);
        for (int q = 0; q < N; q++)
            ref[i][q] = relu(ref[i][q]) + in[i][q];
    }
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa(), core = (unsigned)dnnl_cpu_isa_avx512_core;
    int avx512 = (isa & core) == core;
    for (int direct = 0; direct <= 1; direct++)
        for (int t = IRB_ONEDNN_INTRA_OP; t <= IRB_ONEDNN_PER_IMAGE; t++) {
            irb_exec_opts o = {.precision = IRB_EXEC_FP32, .threads = 2, .max_batch = B};
            irb_onednn_opts eo = {.threading = t, .direct_conv = direct};
            irb_error err = {0};
            void *plan = NULL;
            irb_status s = irb_onednn_compile(&b->g, &o, &eo, &plan, &err);
            CHECK(s == IRB_OK, "winograd net direct %d threading %d: %s", direct, t, err.message);
            if (s != IRB_OK)
                continue;
            irb_onednn_info info;
            irb_onednn_plan_info(plan, &info);
            CHECK(info.winograd_steps == (!direct && avx512), "direct %d threading %d: %d Winograd steps (avx512 %d)",
                  direct, t, info.winograd_steps, avx512);
            s = irb_backend_onednn.run(plan, &in[0][0], B, out, &err);
            CHECK(s == IRB_OK, "%s", err.message);
            double d = max_abs_diff(out, &ref[0][0], (size_t)B * N, NULL);
            CHECK(d <= 1e-4, "direct %d threading %d: max abs diff %g", direct, t, d);
            irb_backend_onednn.destroy(plan);
        }
    cv->a.strides[0] = cv->a.strides[1] = 2; /* stride 2: direct only */
    int64_t dh[4] = {1, C, H / 2, H / 2};
    memcpy(b->vals[c].dims, dh, sizeof dh);
    memcpy(b->vals[r].dims, dh, sizeof dh);
    b->g.output = r;
    irb_exec_opts o = {.precision = IRB_EXEC_FP32, .threads = 1, .max_batch = 1};
    irb_error err = {0};
    void *plan = NULL;
    CHECK(irb_onednn_compile(&b->g, &o, NULL, &plan, &err) == IRB_OK, "stride 2: %s", err.message);
    irb_onednn_info info = {0};
    if (plan)
        irb_onednn_plan_info(plan, &info);
    CHECK(plan && info.winograd_steps == 0, "stride 2: %d Winograd steps", info.winograd_steps);
    irb_backend_onednn.destroy(plan);
    gb_free(b);
}

/* ==== conv chains in bands of rows (docs/engine.md, "Bands")
 * Three MobileNetV2-style chains on a map large enough to run in bands:
 *   A: x[3,322,322] -conv(3->64,k3,s2,p1)+Clip-> [64,161,161] -dw(k3,p1)+Clip-> -conv1x1(64->16)-> a[16,161,161]
 *   B: a -conv1x1(16->64)+Clip-> -dw(k3,dil2,p2)+Clip-> -conv1x1(64->16), Add(a) -> c  (residual, in place)
 *   C: c -conv1x1(16->64)+Clip-> -dw(k3,s2,pads 0,0,1,1)+Clip-> [64,80,80] -conv1x1(64->24)-> y[24,80,80]
 * 161 rows are 20 bands of 8 and a last band of 1; the first chain's E is a strided 3x3 conv
 * whose bands read overlapping rows of the image; B's depthwise conv is dilated (4 rows carried),
 * C's padded at the bottom only (TensorFlow's SAME). Against the naive loops (fp32), and banded
 * against whole layers (fp32: the same bits; bf16: cosine), both threadings, batch 1 and 2 (per-image
 * workers run each image in bands; an intra-op batch of 2 runs whole layers). */

typedef struct chain_net {
    gb b;
    int x, y;
    irb_node *conv[9];
    int w[9], bias[9], clip[9], res; /* clip: 1 when a Clip(0, 6) follows conv i */
} chain_net;

/* Conv i of the chains: pads pt (top, left) and pb (bottom, right), dilation dil. */
static int chain_conv(chain_net *n, int i, int in, int ic, int oc, int k, int s, int group, int64_t h, int clip, int pt,
                      int pb, int dil)
{
    gb *b = &n->b;
    int64_t oh = (h + pt + pb - ((k - 1) * dil + 1)) / s + 1;
    int64_t wd[4] = {oc, ic / group, k, k}, bd[1] = {oc}, od[4] = {1, oc, oh, oh};
    n->w[i] = value(b, "w", 4, wd, 1, 1.5f / sqrtf((float)(ic / group * k * k)));
    n->bias[i] = value(b, "b", 1, bd, 1, 0.2f);
    int out = value(b, "c", 4, od, 0, 0);
    irb_node *c = node(b, IRB_OP_CONV, 3, (int[]){in, n->w[i], n->bias[i]}, out);
    c->a.kernel[0] = c->a.kernel[1] = k;
    c->a.strides[0] = c->a.strides[1] = s;
    c->a.dilations[0] = c->a.dilations[1] = dil;
    c->a.group = group;
    c->a.pads[0] = c->a.pads[1] = pt;
    c->a.pads[2] = c->a.pads[3] = pb;
    n->conv[i] = c;
    n->clip[i] = clip;
    if (!clip)
        return out;
    int r = value(b, "r", 4, od, 0, 0);
    irb_node *cl = node(b, IRB_OP_CLIP, 1, &out, r);
    cl->a.has_clip_min = cl->a.has_clip_max = 1;
    cl->a.clip_min = 0, cl->a.clip_max = 6;
    return r;
}

static void build_chains(chain_net *n)
{
    gb *b = &n->b;
    gb_init(b, 41);
    int64_t dx[4] = {1, 3, 322, 322};
    n->x = value(b, "x", 4, dx, 0, 0);
    int v = chain_conv(n, 0, n->x, 3, 64, 3, 2, 1, 322, 1, 1, 1, 1);
    v = chain_conv(n, 1, v, 64, 64, 3, 1, 64, 161, 1, 1, 1, 1);
    int a = chain_conv(n, 2, v, 64, 16, 1, 1, 1, 161, 0, 0, 0, 1);
    v = chain_conv(n, 3, a, 16, 64, 1, 1, 1, 161, 1, 0, 0, 1);
    v = chain_conv(n, 4, v, 64, 64, 3, 1, 64, 161, 1, 2, 2, 2);
    int p = chain_conv(n, 5, v, 64, 16, 1, 1, 1, 161, 0, 0, 0, 1);
    int64_t da[4] = {1, 16, 161, 161};
    n->res = value(b, "s", 4, da, 0, 0);
    node(b, IRB_OP_ADD, 2, (int[]){p, a}, n->res);
    v = chain_conv(n, 6, n->res, 16, 64, 1, 1, 1, 161, 1, 0, 0, 1);
    v = chain_conv(n, 7, v, 64, 64, 3, 2, 64, 161, 1, 0, 1, 1);
    n->y = chain_conv(n, 8, v, 64, 24, 1, 1, 1, 80, 0, 0, 0, 1);
    b->g.input = n->x;
    b->g.output = n->y;
}

/* The chains by the naive loops, one image (NCHW). */
static void ref_chains(const chain_net *n, const float *x, float *y)
{
    static float t[2][64 * 161 * 161], a[16 * 161 * 161];
    const gb *b = &n->b;
    const float *in = x;
    int64_t c = 3, h = 322;
    float *out = NULL;
    for (int i = 0; i < 9; i++) {
        const irb_node *cv = n->conv[i];
        const irb_value *w = &b->vals[n->w[i]];
        int64_t oc = w->dims[0], keff = (w->dims[2] - 1) * cv->a.dilations[0] + 1;
        int64_t oh = (h + cv->a.pads[0] + cv->a.pads[2] - keff) / cv->a.strides[0] + 1;
        out = i == 8 ? y : i == 2 ? a : t[i & 1];
        ref_conv(in, (int)c, (int)h, (int)h, cv, w, b->vals[n->bias[i]].data, out, (int)oh, (int)oh);
        size_t m = (size_t)(oc * oh * oh);
        for (size_t q = 0; n->clip[i] && q < m; q++)
            out[q] = clip6(out[q]);
        if (i == 5)
            for (size_t q = 0; q < m; q++)
                out[q] += a[q];
        in = out, c = oc, h = oh;
    }
}

static void test_bands(void)
{
    static chain_net net;
    chain_net *n = &net;
    build_chains(n);
    enum { B = 2, IN = 3 * 322 * 322, OUT = 24 * 80 * 80 };
    static float x[B * IN], ref[B * OUT], out[2][B * OUT];
    for (int q = 0; q < B * IN; q++)
        x[q] = 1.5f * frand(&n->b);
    for (int i = 0; i < B; i++)
        ref_chains(n, x + (size_t)i * IN, ref + (size_t)i * OUT);
    double maxref = 0;
    max_abs_diff(ref, ref, (size_t)B * OUT, &maxref);
    for (int prec = 0; prec < 2; prec++) {
        if (prec == 1 && !irb_onednn_has_bf16())
            continue;
        for (int t = IRB_ONEDNN_INTRA_OP; t <= IRB_ONEDNN_PER_IMAGE; t++)
            for (int batch = 1; batch <= B; batch++) {
                for (int no_bands = 0; no_bands <= 1; no_bands++) {
                    irb_exec_opts o = {.precision = prec ? IRB_EXEC_BF16 : IRB_EXEC_FP32, .threads = 2, .max_batch = B};
                    irb_onednn_opts eo = {.threading = t, .no_bands = no_bands};
                    irb_error err = {0};
                    void *plan = NULL;
                    irb_status s = irb_onednn_compile(&n->b.g, &o, &eo, &plan, &err);
                    CHECK(s == IRB_OK, "bands %d prec %d threading %d: %s", !no_bands, prec, t, err.message);
                    if (s != IRB_OK)
                        continue;
                    irb_onednn_info info;
                    irb_onednn_plan_info(plan, &info);
                    CHECK(info.band_chains == (no_bands ? 0 : 3), "no_bands %d: %d chains in bands", no_bands,
                          info.band_chains);
                    memset(out[no_bands], 0, sizeof out[no_bands]);
                    s = irb_backend_onednn.run(plan, x, batch, out[no_bands], &err);
                    CHECK(s == IRB_OK, "%s", err.message);
                    irb_backend_onednn.destroy(plan);
                    size_t m = (size_t)batch * OUT;
                    double d = max_abs_diff(out[no_bands], ref, m, NULL), cs = cosine(out[no_bands], ref, m);
                    if (prec == 0)
                        CHECK(d <= 1e-4 * maxref, "fp32 bands %d threading %d batch %d: max abs diff %g of %g",
                              !no_bands, t, batch, d, maxref);
                    else
                        CHECK(cs >= 0.999, "bf16 bands %d threading %d batch %d: cosine %.6f", !no_bands, t, batch, cs);
                }
                size_t m = (size_t)batch * OUT;
                if (prec == 0)
                    CHECK(memcmp(out[0], out[1], m * sizeof(float)) == 0,
                          "fp32 threading %d batch %d: bands and whole layers differ by %g", t, batch,
                          max_abs_diff(out[0], out[1], m, NULL));
                else
                    CHECK(cosine(out[0], out[1], m) >= 0.9999, "bf16 threading %d batch %d: bands vs whole cosine %.6f",
                          t, batch, cosine(out[0], out[1], m));
            }
    }
    gb_free(&n->b);
}

/* Regression: irb_pool_new used to fill a worker's argument after starting its thread, so a
 * fast-starting worker read garbage (segfault in the per-image engine). Many short-lived pools. */
/* Activation blocks shared across plans: a large and a small net (conv 3x3 + Relu, conv 3x3 +
 * residual: the Relu's output lives in the arena) at 56 and 28 pixels. One thread, small, large,
 * small, large: the large net drops the small one's block for a bigger one, the small net then
 * runs in that block (its memory objects rebound to it; the outputs check the offsets), and
 * one free block of the large one's size stays. Two threads (per-image workers and intra-op), the
 * nets in turn: contexts that get another context's block rebind to it. Every run against the
 * naive loops; the blocks go with the last plan. */
static void test_shared_blocks(void)
{
    enum { C = 16, B = 4, NET = 2 };
    static const int side[NET] = {56, 28};
    gb g[NET];
    float *in[NET], *ref[NET], *tmp = malloc(sizeof(float) * C * 56 * 56),
                               *out = malloc(sizeof(float) * B * C * 56 * 56);
    void *plan[NET][3] = {{NULL}}; /* one thread; two, per-image; two, intra-op */
    size_t n[NET];
    for (int k = 0; k < NET; k++) {
        gb *b = &g[k];
        gb_init(b, 31 + (unsigned)k);
        int H = side[k];
        n[k] = (size_t)C * H * H;
        int64_t dx[4] = {1, C, H, H}, wd[4] = {C, C, 3, 3}, dc[1] = {C};
        int x = value(b, "x", 4, dx, 0, 0), w1 = value(b, "w1", 4, wd, 1, 0.2f), b1 = value(b, "b1", 1, dc, 1, 0.5f);
        int w2 = value(b, "w2", 4, wd, 1, 0.2f), b2 = value(b, "b2", 1, dc, 1, 0.5f);
        int c = value(b, "c", 4, dx, 0, 0), r = value(b, "r", 4, dx, 0, 0), d = value(b, "d", 4, dx, 0, 0);
        int y = value(b, "y", 4, dx, 0, 0);
        irb_node *cv1 = node(b, IRB_OP_CONV, 3, (int[]){x, w1, b1}, c);
        node(b, IRB_OP_RELU, 1, &c, r);
        irb_node *cv2 = node(b, IRB_OP_CONV, 3, (int[]){r, w2, b2}, d);
        node(b, IRB_OP_ADD, 2, (int[]){d, x}, y);
        for (int q = 0; q < 4; q++)
            cv1->a.pads[q] = cv2->a.pads[q] = 1;
        cv1->a.kernel[0] = cv1->a.kernel[1] = cv2->a.kernel[0] = cv2->a.kernel[1] = 3;
        b->g.input = x;
        b->g.output = y;
        in[k] = malloc(sizeof(float) * B * n[k]);
        ref[k] = malloc(sizeof(float) * B * n[k]);
        for (int i = 0; i < B; i++) {
            float *xi = in[k] + (size_t)i * n[k], *ri = ref[k] + (size_t)i * n[k];
            for (size_t q = 0; q < n[k]; q++)
                xi[q] = 2 * frand(b);
            ref_conv(xi, C, H, H, cv1, &b->vals[w1], b->vals[b1].data, tmp, H, H);
            for (size_t q = 0; q < n[k]; q++)
                tmp[q] = relu(tmp[q]);
            ref_conv(tmp, C, H, H, cv2, &b->vals[w2], b->vals[b2].data, ri, H, H);
            for (size_t q = 0; q < n[k]; q++)
                ri[q] += xi[q];
        }
        for (int t = 0; t < 3; t++) {
            irb_exec_opts o = {.precision = IRB_EXEC_FP32, .threads = t ? 2 : 1, .max_batch = B};
            irb_onednn_opts eo = {.threading = t == 1 ? IRB_ONEDNN_PER_IMAGE : IRB_ONEDNN_INTRA_OP};
            irb_error err = {0};
            CHECK(irb_onednn_compile(&b->g, &o, &eo, &plan[k][t], &err) == IRB_OK, "net %d plan %d: %s", k, t,
                  err.message);
        }
    }
    int bad = 0, blocks[4] = {0};
    size_t bytes[4] = {0};
    for (int round = 0; round < 16; round++) {
        /* rounds 0-3: one thread, small, large, small, large; then two threads, the nets and
         * the schemes in turn */
        int k = round < 4 ? 1 - round % 2 : round % NET, t = round < 4 ? 0 : 1 + (round / NET) % 2;
        int imgs = round % 3 == 2 ? 1 : B;
        if (!plan[k][t])
            continue;
        irb_error err = {0};
        memset(out, 0, sizeof(float) * B * n[k]);
        irb_status s = irb_backend_onednn.run(plan[k][t], in[k], imgs, out, &err);
        double dd = s == IRB_OK ? max_abs_diff(out, ref[k], (size_t)imgs * n[k], NULL) : 1e9;
        if (dd > 1e-4) {
            bad++;
            fprintf(stderr, "  round %d (net %d, plan %d): %s max abs diff %g\n", round, k, t, err.message, dd);
        }
        if (round < 4)
            blocks[round] = irb_onednn_free_blocks(&bytes[round]);
    }
    CHECK(bad == 0, "shared blocks: %d runs differ from the naive loops", bad);
    CHECK(blocks[0] == 1 && blocks[1] == 1 && blocks[2] == 1 && blocks[3] == 1 && bytes[1] > bytes[0] &&
              bytes[2] == bytes[1] && bytes[3] == bytes[1],
          "one thread: the small net runs in the large one's block: blocks %d %d %d %d, bytes %zu %zu %zu %zu",
          blocks[0], blocks[1], blocks[2], blocks[3], bytes[0], bytes[1], bytes[2], bytes[3]);
    for (int k = 0; k < NET; k++) {
        for (int t = 0; t < 3; t++)
            irb_backend_onednn.destroy(plan[k][t]);
        free(in[k]), free(ref[k]);
        gb_free(&g[k]);
    }
    CHECK(irb_onednn_free_blocks(NULL) == 0, "blocks freed with the last plan: %d left", irb_onednn_free_blocks(NULL));
    free(out), free(tmp);
}

static void count_fn(void *ctx, int ith, int nth)
{
    (void)nth;
    __atomic_fetch_add((int *)ctx, ith + 1, __ATOMIC_RELAXED);
}

static void test_pool_start(void)
{
    int bad = 0;
    for (int k = 0; k < 200; k++) {
        irb_pool *p = irb_pool_new(4);
        int sum = 0;
        irb_pool_run(p, count_fn, &sum);
        bad += sum != 1 + 2 + 3 + 4;
        irb_pool_free(p);
    }
    CHECK(bad == 0, "%d of 200 pool runs missed a worker", bad);
}

int main(void)
{
    test_pool_start();
    test_net1();
    test_net2();
    test_winograd();
    test_bands();
    test_shared_blocks();
    return CHECK_DONE();
}
