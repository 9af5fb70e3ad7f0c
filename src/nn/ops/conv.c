/* Conv, 2-D (NCHW input, MxC/group x kH x kW weights, optional bias): groups, depthwise,
 * dilations, asymmetric pads, auto_pad. Dense groups run as im2col + OpenBLAS sgemm; depthwise
 * (group == C == M) runs a direct loop; 1x1 stride-1 unpadded convolutions skip im2col. */
#include <cblas.h>
#include <string.h>

#include "nn/ops/ops.h"

typedef struct geo {
    int64_t n, c, h, w, m, kh, kw, oh, ow, g;
    int64_t pt, pl, pb, pr;
} geo;

static irb_status geometry(const irb_node *n, const irb_tensor *const *in, geo *q, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, IRB_DT_FLOAT, err));
    IRB_TRY(irb_op_need(n, in, 1, IRB_DT_FLOAT, err));
    const irb_tensor *x = in[0], *w = in[1];
    if (x->rank != 4 || w->rank != 4)
        return irb_op_fail(err, n, IRB_UNSUPPORTED,
                           "only 2-D convolution (rank-4 input and weights) is "
                           "supported, got input rank %d, weight rank %d",
                           x->rank, w->rank);
    const irb_attrs *a = &n->a;
    q->n = x->dims[0], q->c = x->dims[1], q->h = x->dims[2], q->w = x->dims[3];
    q->m = w->dims[0], q->kh = w->dims[2], q->kw = w->dims[3], q->g = a->group;
    if (q->g < 1 || q->c % q->g || q->m % q->g || w->dims[1] != q->c / q->g)
        return irb_op_fail(err, n, IRB_MISMATCH,
                           "%lld input channels, group %lld and weights %lldx%lld "
                           "do not agree",
                           (long long)q->c, (long long)q->g, (long long)w->dims[0], (long long)w->dims[1]);
    if ((a->kernel[0] && a->kernel[0] != q->kh) || (a->kernel[1] && a->kernel[1] != q->kw))
        return irb_op_fail(err, n, IRB_MISMATCH, "kernel_shape does not match the weights");
    if (n->n_in > 2 && in[2] && (in[2]->dtype != IRB_DT_FLOAT || irb_numel(in[2]->rank, in[2]->dims) != q->m))
        return irb_op_fail(err, n, IRB_MISMATCH, "bias must hold %lld floats", (long long)q->m);
    IRB_TRY(irb_window(n, 0, q->h, q->kh, a->strides[0], a->dilations[0], 0, &q->oh, &q->pt, &q->pb, err));
    IRB_TRY(irb_window(n, 1, q->w, q->kw, a->strides[1], a->dilations[1], 0, &q->ow, &q->pl, &q->pr, err));
    return IRB_OK;
}

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    geo q;
    IRB_TRY(geometry(n, in, &q, err));
    out->dtype = IRB_DT_FLOAT;
    out->rank = 4;
    out->dims[0] = q.n, out->dims[1] = q.m, out->dims[2] = q.oh, out->dims[3] = q.ow;
    return IRB_OK;
}

static int direct_1x1(const irb_node *n, const geo *q)
{
    return q->kh == 1 && q->kw == 1 && n->a.strides[0] == 1 && n->a.strides[1] == 1 && !q->pt && !q->pl && !q->pb &&
           !q->pr;
}

static int depthwise(const geo *q) { return q->g == q->c && q->m == q->c && q->g > 1; }

static size_t scratch(const irb_node *n, const irb_tensor *const *in, const irb_tensor *out)
{
    geo q;
    if (geometry(n, in, &q, NULL) != IRB_OK || direct_1x1(n, &q) || depthwise(&q))
        return 0;
    (void)out;
    return (size_t)(q.c / q.g * q.kh * q.kw * q.oh * q.ow) * sizeof(float);
}

/* col[(ci*kh + i)*kw + j][oy*ow + ox] = x[ci][oy*s - pt + i*d][ox*s - pl + j*d] (0 outside). */
static void im2col(const irb_node *n, const geo *q, const float *x, int64_t cin, float *col)
{
    int64_t sh = n->a.strides[0], sw = n->a.strides[1], dh = n->a.dilations[0], dw = n->a.dilations[1];
    for (int64_t ci = 0; ci < cin; ci++)
        for (int64_t i = 0; i < q->kh; i++)
            for (int64_t j = 0; j < q->kw; j++) {
                float *row = col + ((ci * q->kh + i) * q->kw + j) * q->oh * q->ow;
                for (int64_t oy = 0; oy < q->oh; oy++) {
                    int64_t y = oy * sh - q->pt + i * dh;
                    float *r = row + oy * q->ow;
                    if (y < 0 || y >= q->h) {
                        memset(r, 0, (size_t)q->ow * sizeof(float));
                        continue;
                    }
                    const float *xr = x + (ci * q->h + y) * q->w;
                    for (int64_t ox = 0; ox < q->ow; ox++) {
                        int64_t xx = ox * sw - q->pl + j * dw;
                        r[ox] = (xx >= 0 && xx < q->w) ? xr[xx] : 0.0f;
                    }
                }
            }
}

static void run_depthwise(const irb_node *n, const geo *q, const float *x, const float *w, float *y)
{
    int64_t sh = n->a.strides[0], sw = n->a.strides[1], dh = n->a.dilations[0], dw = n->a.dilations[1];
    for (int64_t c = 0; c < q->c; c++) {
        const float *xc = x + c * q->h * q->w, *wc = w + c * q->kh * q->kw;
        float *yc = y + c * q->oh * q->ow;
        for (int64_t oy = 0; oy < q->oh; oy++)
            for (int64_t ox = 0; ox < q->ow; ox++) {
                float acc = 0.0f;
                for (int64_t i = 0; i < q->kh; i++) {
                    int64_t yy = oy * sh - q->pt + i * dh;
                    if (yy < 0 || yy >= q->h)
                        continue;
                    for (int64_t j = 0; j < q->kw; j++) {
                        int64_t xx = ox * sw - q->pl + j * dw;
                        if (xx >= 0 && xx < q->w)
                            acc += xc[yy * q->w + xx] * wc[i * q->kw + j];
                    }
                }
                yc[oy * q->ow + ox] = acc;
            }
    }
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    geo q;
    IRB_TRY(geometry(n, in, &q, err));
    const float *w = in[1]->data, *bias = (n->n_in > 2 && in[2]) ? in[2]->data : NULL;
    int64_t cin = q.c / q.g, mg = q.m / q.g, kk = cin * q.kh * q.kw, sp = q.oh * q.ow;
    if (!sp || !mg || !kk || !q.n)
        return IRB_OK; /* empty output (BLAS would reject the zero leading dimensions) */
    for (int64_t b = 0; b < q.n; b++) {
        const float *x = (const float *)in[0]->data + b * q.c * q.h * q.w;
        float *y = (float *)out->data + b * q.m * sp;
        if (depthwise(&q)) {
            run_depthwise(n, &q, x, w, y);
        } else {
            for (int64_t g = 0; g < q.g; g++) {
                const float *xg = x + g * cin * q.h * q.w, *col = xg;
                if (!direct_1x1(n, &q)) {
                    im2col(n, &q, xg, cin, s);
                    col = s;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mg, (int)sp, (int)kk, 1.0f, w + g * mg * kk,
                            (int)kk, col, (int)sp, 0.0f, y + g * mg * sp, (int)sp);
            }
        }
        if (bias)
            for (int64_t m = 0; m < q.m; m++)
                for (int64_t k = 0; k < sp; k++)
                    y[m * sp + k] += bias[m];
    }
    return IRB_OK;
}

const irb_op_impl irb_op_conv = {infer, scratch, exec};
