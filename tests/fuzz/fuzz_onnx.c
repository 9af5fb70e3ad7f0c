/* libFuzzer target: ONNX bytes -> irb_model_load_buffer (import, checks, shape inference,
 * folding) -> irb_net_new on the reference engine for cut 0 and cut 1 with pooling. */
#include <stddef.h>
#include <stdint.h>

#include "irbis/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    irb_error err = {0};
    irb_model_t *m = NULL;
    irb_model_opts mo = {.max_tensor_bytes = (size_t)64 << 20};
    if (irb_model_load_buffer(data, size, "fuzz", &mo, &m, &err) != IRB_OK)
        return 0;
    for (int cut = 0; cut < 2; cut++) {
        irb_net_t *net = NULL;
        irb_net_opts o = {
            .cut = cut, .pool = cut ? IRB_POOL_AVG : IRB_POOL_NONE, .engine = IRB_ENGINE_REFERENCE, .max_batch = 1};
        if (irb_net_new(m, &o, &net, &err) == IRB_OK) {
            int c, h, w;
            irb_net_input_shape(net, &c, &h, &w);
            (void)irb_net_output_size(net);
        }
        irb_net_free(net);
    }
    irb_model_free(m);
    return 0;
}
