/* Gemm: Y = alpha * A' * B' + beta * C, A' = transA ? A^T : A (M x K), B' likewise (K x N),
 * C optional and unidirectionally broadcast to M x N. OpenBLAS sgemm. */
#include <cblas.h>
#include <string.h>

#include "nn/ops/ops.h"

static irb_status dims(const irb_node *n, const irb_tensor *const *in, int64_t *m, int64_t *k, int64_t *nn,
                       irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, IRB_DT_FLOAT, err));
    IRB_TRY(irb_op_need(n, in, 1, IRB_DT_FLOAT, err));
    const irb_tensor *a = in[0], *b = in[1];
    if (a->rank != 2 || b->rank != 2)
        return irb_op_fail(err, n, IRB_MISMATCH, "A and B must be 2-D, got ranks %d and %d", a->rank, b->rank);
    *m = n->a.trans_a ? a->dims[1] : a->dims[0];
    *k = n->a.trans_a ? a->dims[0] : a->dims[1];
    int64_t kb = n->a.trans_b ? b->dims[1] : b->dims[0];
    *nn = n->a.trans_b ? b->dims[0] : b->dims[1];
    if (kb != *k)
        return irb_op_fail(err, n, IRB_MISMATCH, "inner dimensions %lld and %lld differ", (long long)*k, (long long)kb);
    if (n->n_in > 2 && in[2]) {
        const irb_tensor *c = in[2];
        int64_t cm = c->rank >= 2 ? c->dims[c->rank - 2] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        if (c->dtype != IRB_DT_FLOAT || c->rank > 2 || (cm != 1 && cm != *m) || (cn != 1 && cn != *nn))
            return irb_op_fail(err, n, IRB_MISMATCH, "C does not broadcast to %lld x %lld", (long long)*m,
                               (long long)*nn);
    }
    return IRB_OK;
}

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    int64_t m, k, nn;
    IRB_TRY(dims(n, in, &m, &k, &nn, err));
    out->dtype = IRB_DT_FLOAT;
    out->rank = 2;
    out->dims[0] = m, out->dims[1] = nn;
    return IRB_OK;
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s;
    int64_t m, k, nn;
    IRB_TRY(dims(n, in, &m, &k, &nn, err));
    float *y = out->data, beta = 0.0f;
    if (!m || !nn)
        return IRB_OK;
    if (n->n_in > 2 && in[2] && n->a.beta != 0.0f) {
        const irb_tensor *c = in[2];
        int64_t cm = c->rank >= 2 ? c->dims[c->rank - 2] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        const float *cd = c->data;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < nn; j++)
                y[i * nn + j] = cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
        beta = n->a.beta;
    } else {
        memset(y, 0, out->nbytes);
    }
    if (!k) {
        for (int64_t i = 0; i < m * nn; i++)
            y[i] *= beta;
        return IRB_OK;
    }
    cblas_sgemm(CblasRowMajor, n->a.trans_a ? CblasTrans : CblasNoTrans, n->a.trans_b ? CblasTrans : CblasNoTrans,
                (int)m, (int)nn, (int)k, n->a.alpha, in[0]->data, (int)in[0]->dims[1], in[1]->data, (int)in[1]->dims[1],
                beta, y, (int)nn);
    return IRB_OK;
}

const irb_op_impl irb_op_gemm = {infer, NULL, exec};
