"""Malformed and unsupported ONNX files through `irbis model-info`: each must fail with exit
status 3 and a message naming the cause (and the node/tensor), never crash. Models are built
with onnx.helper into $IRBIS_TMP; truncations cut the shared MobileNetV2."""
import hashlib
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BIN = os.environ["IRBIS_BIN"]
TMP = os.path.join(os.environ.get("IRBIS_TMP", "/tmp/irbis-test"), "nn_malformed")
SHARED = os.environ.get("IRBIS_SHARED", "../shared")
os.makedirs(TMP, exist_ok=True)
failures = 0


def conv_model(nodes=None, inputs=None, inits=None, outputs=None):
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = nodes if nodes is not None else [helper.make_node("Conv", ["x", "w"], ["c"], name="conv1"),
                                             helper.make_node("Relu", ["c"], ["y"], name="relu1")]
    g = helper.make_graph(nodes, "g", inputs if inputs is not None else [x], outputs or [y],
                          inits if inits is not None else [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def check(name, data, status, *words):
    global failures
    path = os.path.join(TMP, name + ".onnx")
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.SerializeToString())
    r = subprocess.run([BIN, "model-info", path], capture_output=True, text=True, timeout=60)
    ok = r.returncode == status and all(w in r.stderr + r.stdout for w in words)
    print("%-22s exit %d %s" % (name, r.returncode, (r.stderr.strip() or r.stdout.splitlines()[0])[:150]))
    if not ok:
        failures += 1
        print("  FAILED: expected exit %d and %s" % (status, words))


valid = conv_model()
# the model's sha256 is the file's (hashlib), computed by the load from the bytes it parses
check("valid", valid, 0, "cut 1", "Conv", "sha256: " + hashlib.sha256(valid.SerializeToString()).hexdigest())
# nodes out of order in the file are fine (topological sort)
check("out_of_order", conv_model(nodes=list(reversed(valid.graph.node))), 0, "cut 1  Conv")
mnv2 = open(os.path.join(SHARED, "models/mobilenet_v2/mobilenet_v2_1.0_224.onnx"), "rb").read()
for frac in (0.0005, 0.3, 0.999):
    check("truncated_%g" % frac, mnv2[: int(len(mnv2) * frac)], 3, "not a valid ONNX model")
check("empty", b"", 3, "no graph")
huge = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20, 1 << 10])
check("huge_dims", conv_model(inits=[huge]), 3, "'w'", "limit")
short = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
short.raw_data = short.raw_data[:-4]
check("short_data", conv_model(inits=[short]), 3, "'w'", "holds 428 bytes")
ext = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
ext.ClearField("raw_data")
ext.data_location = TensorProto.EXTERNAL
ext.external_data.add(key="location", value="w.bin")
check("external", conv_model(inits=[ext]), 3, "'w'", "external")
check("dangling", conv_model(nodes=[helper.make_node("Conv", ["x", "w"], ["c"], name="conv1"),
                                    helper.make_node("Relu", ["nowhere"], ["y"], name="relu1")]),
      3, "relu1", "'nowhere'")
check("cycle", conv_model(nodes=[helper.make_node("Add", ["x", "b"], ["a"], name="add1"),
                                 helper.make_node("Relu", ["a"], ["b"], name="relu_b"),
                                 helper.make_node("Relu", ["a"], ["y"], name="relu1")]), 3, "cycle")
check("no_input", conv_model(inputs=[]), 3, "'x' is not produced")
x2 = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
check("input_rank", conv_model(inputs=[x2], nodes=[helper.make_node("Relu", ["x"], ["y"], name="relu1")]),
      3, "'x'", "rank 2")
check("unknown_op", conv_model(nodes=[helper.make_node("Conv", ["x", "w"], ["c"], name="conv1"),
                                      helper.make_node("LeakyRelu", ["c"], ["y"], name="leaky7")]),
      3, "LeakyRelu", "leaky7")
check("bad_weights", conv_model(inits=[numpy_helper.from_array(np.ones((4, 5, 3, 3), np.float32), "w")]),
      3, "conv1", "do not agree")
# shapes from the model's own data that no tensor can have (regression: the Reshape product was
# a signed overflow, found by fuzz_onnx; a declared input of 2^48 floats was let through)
big = numpy_helper.from_array(np.array([4294967297, 216172782113783807], np.int64), "shape")
check("reshape_overflow", conv_model(inits=[big], nodes=[helper.make_node("Reshape", ["x", "shape"], ["y"],
                                                                        name="reshape1")]),
      3, "reshape1", "more elements than int64 holds")
xhuge = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1 << 16, 1 << 16, 1 << 16])
check("value_too_large", conv_model(inputs=[xhuge], inits=[],
                                    nodes=[helper.make_node("Relu", ["x"], ["y"], name="relu1")]),
      3, "relu1", "bytes per tensor")
# regression (issue 15, item 17): a zero-size weight passed model-info, then failed in oneDNN
check("zero_weight", conv_model(inits=[numpy_helper.from_array(np.ones((0, 3, 3, 3), np.float32), "w")]),
      3, "conv1", "input 1 has no elements")
print("%d failures" % failures)
sys.exit(1 if failures else 0)
