/* MatMul with numpy semantics: 1-D operands are promoted (and the added axis dropped again),
 * leading (batch) axes broadcast. One sgemm per batch matrix. */
#include <cblas.h>
#include <string.h>

#include "nn/ops/ops.h"

typedef struct mm {
    int64_t m, k, n, batch;
    int rank; /* rank of the broadcast batch part */
    int64_t bdims[IRB_MAX_RANK], sa[IRB_MAX_RANK], sb[IRB_MAX_RANK];
} mm;

static irb_status plan(const irb_node *nd, const irb_tensor *const *in, mm *p, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(nd, in, 0, IRB_DT_FLOAT, err));
    IRB_TRY(irb_op_need(nd, in, 1, IRB_DT_FLOAT, err));
    const irb_tensor *a = in[0], *b = in[1];
    if (a->rank < 1 || b->rank < 1)
        return irb_op_fail(err, nd, IRB_MISMATCH, "operands must have rank >= 1");
    p->m = a->rank == 1 ? 1 : a->dims[a->rank - 2];
    p->k = a->dims[a->rank - 1];
    int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    p->n = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    if (kb != p->k)
        return irb_op_fail(err, nd, IRB_MISMATCH, "inner dimensions %lld and %lld differ", (long long)p->k,
                           (long long)kb);
    int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0;
    p->rank = ra > rb ? ra : rb;
    int64_t stra = p->m * p->k, strb = p->k * p->n;
    for (int i = p->rank - 1; i >= 0; i--) {
        int ia = i - (p->rank - ra), ib = i - (p->rank - rb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return irb_op_fail(err, nd, IRB_MISMATCH, "batch dimensions %lld and %lld do not broadcast", (long long)da,
                               (long long)db);
        p->bdims[i] = da == 1 ? db : da;
        p->sa[i] = da == 1 ? 0 : stra;
        p->sb[i] = db == 1 ? 0 : strb;
        stra *= da, strb *= db;
    }
    p->batch = irb_numel(p->rank, p->bdims);
    if (out) {
        out->dtype = IRB_DT_FLOAT;
        out->rank = 0;
        for (int i = 0; i < p->rank; i++)
            out->dims[out->rank++] = p->bdims[i];
        if (a->rank > 1)
            out->dims[out->rank++] = p->m;
        if (b->rank > 1)
            out->dims[out->rank++] = p->n;
    }
    return IRB_OK;
}

static irb_status infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    mm p;
    return plan(n, in, &p, out, err);
}

static irb_status exec(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, void *s, irb_error *err)
{
    (void)s;
    mm p;
    IRB_TRY(plan(n, in, &p, NULL, err));
    if (!p.m || !p.n || !p.batch)
        return IRB_OK;
    if (!p.k) {
        memset(out->data, 0, out->nbytes);
        return IRB_OK;
    }
    int64_t idx[IRB_MAX_RANK] = {0};
    for (int64_t t = 0; t < p.batch; t++) {
        int64_t oa = 0, ob = 0, r = t;
        for (int i = p.rank - 1; i >= 0; i--) {
            idx[i] = r % p.bdims[i];
            r /= p.bdims[i];
            oa += idx[i] * p.sa[i];
            ob += idx[i] * p.sb[i];
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p.m, (int)p.n, (int)p.k, 1.0f,
                    (const float *)in[0]->data + oa, (int)p.k, (const float *)in[1]->data + ob, (int)p.n, 0.0f,
                    (float *)out->data + t * p.m * p.n, (int)p.n);
    }
    return IRB_OK;
}

const irb_op_impl irb_op_matmul = {infer, NULL, exec};
