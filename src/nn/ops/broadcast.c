/* Numpy broadcasting shared by Add and Mul: shapes are right-aligned; a dim of 1 stretches. */
#include "nn/ops/ops.h"

irb_status irb_broadcast_infer(const irb_node *n, const irb_tensor *const *in, irb_tensor *out, irb_error *err)
{
    IRB_TRY(irb_op_need(n, in, 0, 0, err));
    IRB_TRY(irb_op_need(n, in, 1, 0, err));
    const irb_tensor *a = in[0], *b = in[1];
    if (a->dtype != b->dtype || (a->dtype != IRB_DT_FLOAT && a->dtype != IRB_DT_INT64))
        return irb_op_fail(err, n, IRB_UNSUPPORTED, "data types %d and %d (float or int64, the same, expected)",
                           (int)a->dtype, (int)b->dtype);
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->dtype = a->dtype;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return irb_op_fail(err, n, IRB_MISMATCH, "shapes do not broadcast at axis %d (%lld vs %lld)", i,
                               (long long)da, (long long)db);
        out->dims[i] = da == 1 ? db : da;
    }
    return IRB_OK;
}

/* Element strides of t as seen from an output of rank r (0 along broadcast axes). */
static void bstrides(const irb_tensor *t, int r, const int64_t *odims, int64_t *st)
{
    int64_t s = 1;
    for (int i = r - 1; i >= 0; i--) {
        int it = i - (r - t->rank);
        int64_t d = it >= 0 ? t->dims[it] : 1;
        st[i] = (d == 1 && odims[i] != 1) ? 0 : s;
        s *= d;
    }
}

void irb_broadcast_apply(irb_binop op, const irb_tensor *a, const irb_tensor *b, irb_tensor *out)
{
    int r = out->rank;
    int64_t sa[IRB_MAX_RANK], sb[IRB_MAX_RANK], idx[IRB_MAX_RANK] = {0};
    bstrides(a, r, out->dims, sa);
    bstrides(b, r, out->dims, sb);
    int64_t count = irb_numel(r, out->dims), ia = 0, ib = 0;
    for (int64_t k = 0; k < count; k++) {
        if (out->dtype == IRB_DT_FLOAT) {
            float x = ((const float *)a->data)[ia], y = ((const float *)b->data)[ib];
            ((float *)out->data)[k] = op == IRB_BIN_ADD ? x + y : x * y;
        } else {
            int64_t x = ((const int64_t *)a->data)[ia], y = ((const int64_t *)b->data)[ib];
            ((int64_t *)out->data)[k] = op == IRB_BIN_ADD ? x + y : x * y;
        }
        /* odometer increment of the output index, moving the input offsets along */
        for (int i = r - 1; i >= 0; i--) {
            ia += sa[i];
            ib += sb[i];
            if (++idx[i] < out->dims[i])
                break;
            ia -= sa[i] * idx[i];
            ib -= sb[i] * idx[i];
            idx[i] = 0;
        }
    }
}
