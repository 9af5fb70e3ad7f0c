/* MaxPool, 2-D: kernel, strides, dilations, pads or auto_pad, ceil_mode. Padding never wins. */
#include <math.h>

#include "nn/ops/pool2d.h"

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    irb_pool_geo q;
    return irb_pool_geometry(n, in, &q, out, err);
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s;
    irb_pool_geo q;
    IRB_TRY(irb_pool_geometry(n, in, &q, NULL, err));
    for (int64_t c = 0; c < q.nc; c++) {
        const float *x = (const float *)in[0]->data + c * q.h * q.w;
        float *y = (float *)out->data + c * q.oh * q.ow;
        for (int64_t oy = 0; oy < q.oh; oy++)
            for (int64_t ox = 0; ox < q.ow; ox++) {
                float m = -INFINITY;
                for (int64_t i = 0; i < q.kh; i++) {
                    int64_t yy = oy * q.sh - q.pt + i * q.dh;
                    if (yy < 0 || yy >= q.h)
                        continue;
                    for (int64_t j = 0; j < q.kw; j++) {
                        int64_t xx = ox * q.sw - q.pl + j * q.dw;
                        if (xx >= 0 && xx < q.w && x[yy * q.w + xx] > m)
                            m = x[yy * q.w + xx];
                    }
                }
                y[oy * q.ow + ox] = m;
            }
    }
    return IRB_OK;
}

const irb_op_impl irb_op_maxpool = {infer, NULL, exec};
