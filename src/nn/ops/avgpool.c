/* AveragePool, 2-D: kernel, strides, pads or auto_pad, ceil_mode, count_include_pad. The
 * divisor counts the window's cells inside the input (count_include_pad = 0) or inside the
 * padded input (1); with ceil_mode, cells past the end padding never count. */
#include "nn/ops/pool2d.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    irb_pool_geo q;
    IRB_TRY(irb_pool_geometry(n, in, &q, out, err));
    if (q.dh != 1 || q.dw != 1)
        return irb_op_fail(err, n, IRB_UNSUPPORTED, "dilations are not supported for AveragePool");
    return IRB_OK;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s;
    irb_pool_geo q;
    IRB_TRY(irb_pool_geometry(n, in, &q, NULL, err));
    int incl = n->a.count_include_pad;
    for (int64_t c = 0; c < q.nc; c++) {
        const float *x = (const float *)in[0]->data + c * q.h * q.w;
        float *y = (float *)out->data + c * q.oh * q.ow;
        for (int64_t oy = 0; oy < q.oh; oy++)
            for (int64_t ox = 0; ox < q.ow; ox++) {
                int64_t y0 = oy * q.sh - q.pt, x0 = ox * q.sw - q.pl;
                int64_t y1 = y0 + q.kh, x1 = x0 + q.kw;
                int64_t iy0 = clamp(y0, 0, q.h), iy1 = clamp(y1, 0, q.h);
                int64_t ix0 = clamp(x0, 0, q.w), ix1 = clamp(x1, 0, q.w);
                float acc = 0.0f;
                for (int64_t yy = iy0; yy < iy1; yy++)
                    for (int64_t xx = ix0; xx < ix1; xx++)
                        acc += x[yy * q.w + xx];
                int64_t cnt;
                if (incl)
                    cnt = (clamp(y1, -q.pt, q.h + q.pb) - clamp(y0, -q.pt, q.h + q.pb)) *
                          (clamp(x1, -q.pl, q.w + q.pr) - clamp(x0, -q.pl, q.w + q.pr));
                else
                    cnt = (iy1 - iy0) * (ix1 - ix0);
                y[oy * q.ow + ox] = cnt > 0 ? acc / (float)cnt : 0.0f;
            }
    }
    return IRB_OK;
}

const irb_op_impl irb_op_avgpool = {infer, NULL, exec};
