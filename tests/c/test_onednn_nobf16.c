/* bf16 on a CPU without AVX512-BF16: oneDNN's ISA is capped at AVX512 (core) before any
 * primitive exists, the way it would be on such a CPU; compiling for bf16 must then be refused
 * with IRB_UNSUPPORTED and a message saying why, and fp32 must still work. */
#include <oneapi/dnnl/dnnl.h>

#include "backends/onednn/onednn.h"
#include "check.h"

int main(void)
{
    dnnl_status_t st = dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx512_core);
    if (st != dnnl_success) {
        printf("SKIPPED: cannot cap the oneDNN ISA (%d)\n", (int)st);
        return 0;
    }
    CHECK(!irb_onednn_has_bf16(), "bf16 reported unavailable under the cap");
    /* x[1,2,3,3] -> Relu -> y */
    irb_value vals[2] = {{.name = "x", .dtype = IRB_DT_FLOAT, .rank = 4, .dims = {1, 2, 3, 3}, .producer = -1},
                         {.name = "y", .dtype = IRB_DT_FLOAT, .rank = 4, .dims = {1, 2, 3, 3}, .producer = 0}};
    irb_node node = {.op = IRB_OP_RELU, .name = "relu", .n_in = 1, .n_out = 1, .in = {0}, .out = {1}};
    irb_graph g = {.values = vals, .n_values = 2, .nodes = &node, .n_nodes = 1, .input = 0, .output = 1};
    irb_error err = {0};
    void *plan = NULL;
    irb_exec_opts o = {.precision = IRB_EXEC_BF16, .threads = 1, .max_batch = 1};
    irb_status s = irb_backend_onednn.compile(&g, &o, &plan, &err);
    CHECK(s == IRB_UNSUPPORTED && strstr(err.message, "AVX512-BF16"), "bf16 refused: %d %s", s, err.message);
    o.precision = IRB_EXEC_FP32;
    s = irb_backend_onednn.compile(&g, &o, &plan, &err);
    CHECK(s == IRB_OK, "fp32 still compiles: %s", err.message);
    float x[18], y[18];
    for (int i = 0; i < 18; i++)
        x[i] = (float)i - 9;
    CHECK(s == IRB_OK && irb_backend_onednn.run(plan, x, 1, y, &err) == IRB_OK, "run: %s", err.message);
    int bad = 0;
    for (int i = 0; i < 18; i++)
        bad += y[i] != (x[i] > 0 ? x[i] : 0);
    CHECK(bad == 0, "%d wrong Relu outputs", bad);
    irb_backend_onednn.destroy(plan);
    return CHECK_DONE();
}
