/* The ONNX conformance runner (test_onnx_conformance.c) on the oneDNN engine; skips with a
 * message while that engine is not built or offers no general eval(). */
#define CONFORMANCE_ENGINE "onednn"
#include "test_onnx_conformance.c"
