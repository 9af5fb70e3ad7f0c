#!/usr/bin/python3
"""int8 against fp32 and against ONNX Runtime (issue 14 item 3), interleaved rounds, ratios printed.

Per net (MobileNetV2 = the shared file, features output; ResNet-50 = seeded export, pooled 2048-d
features), each round runs, one after the other: irbis fp32, irbis int8 (bench_cnn), ONNX Runtime
fp32 and ONNX Runtime int8 (bench/ort_peer.js, onnxruntime-node from the repo's package.json).
Both engines get the same ONNX graph cut at the features, with a dynamic batch. irbis int8 uses a
table from `irbis calibrate` on shared images; ONNX Runtime int8 runs a QDQ copy of the same
graph that this script builds from the same table with python3-onnx (QuantizeLinear /
DequantizeLinear inserted, the same per-layer choices as irbis: docs/int8.md), so both engines
run the same quantization. An accuracy line compares each int8 engine's features with its own
fp32 on real images (cosine).

  bench_int8.py --build build-dir [--rounds 3] [--images 96] [--batch 16] [--threads 2]
"""
import argparse
import glob
import os
import re
import statistics
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
SHARED = os.environ.get("IRBIS_SHARED", os.path.join(SRC, "..", "shared"))
MNV2 = os.path.join(SHARED, "models", "mobilenet_v2", "mobilenet_v2_1.0_224.onnx")
sys.path.insert(0, HERE)
from bench_cnn import resnet50  # noqa: E402  (the seeded export, cached in the build)


def features_copy(model, out_name, path):
    """The graph cut at out_name, with the batch dimension symbolic."""
    onnx.utils.extract_model(model, path, [onnx.load(model).graph.input[0].name], [out_name])
    m = onnx.load(path)
    for v in list(m.graph.input) + list(m.graph.output):
        v.type.tensor_type.shape.dim[0].dim_param = "N"
    onnx.save(m, path)
    return path


def read_table(path):
    t = {}
    for line in open(path).read().splitlines()[2:]:
        lo, hi, name = line.split(" ", 2)
        t[name] = (float(lo), float(hi))
    return t


def qparams(rng):
    """ONNX scale and type of a tensor with range rng: u8 when min >= 0, else s8; zero point 0."""
    lo, hi = rng
    if lo >= 0:
        return (hi / 255 if hi > 0 else 1.0), TensorProto.UINT8
    a = max(hi, -lo)
    return (a / 127 if a > 0 else 1.0), TensorProto.INT8


def make_qdq(fp32_path, table, path):
    """QDQ copy: the convs irbis runs int8 (not the first, not grouped, calibrated, no signed tensor
    wider than 1/16 of the image in or out: docs/int8.md) get Q/DQ on
    their input, per-channel s8 weights and int32 bias behind DequantizeLinear; a conv chain's
    output (after Relu/Clip) gets Q/DQ when every reader keeps int8 (a quantized conv, MaxPool,
    Add), as irbis writes it int8 only then."""
    m = onnx.load(fp32_path)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    consumers = {}
    for n in g.node:
        for x in n.input:
            consumers.setdefault(x, []).append(n)
    graph_in = g.input[0].name
    graph_out = {o.name for o in g.output}
    inferred = onnx.shape_inference.infer_shapes(m).graph
    shape = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
             for v in list(inferred.value_info) + list(inferred.input) + list(inferred.output)}

    def signed_high_res(t):
        """irbis keeps fp32 the convs reading or writing a signed tensor wider than 1/16 of the image
        (ODN_SIGNED_FP32_SIDE in src/backends/onednn/ops.c)."""
        s = shape.get(t, [])
        return t in table and table[t][0] < 0 and len(s) == 4 and s[2] * 16 > shape[graph_in][2]

    order = {o: i for i, nd in enumerate(g.node) for o in nd.output}

    def fused_out(n):
        """The value a conv's fused chain (Relu/Clip, one residual Add whose other operand was
        computed before the conv) writes, as irbis fuses it."""
        y, added = n.output[0], False
        while len(consumers.get(y, [])) == 1 and y not in graph_out:
            r = consumers[y][0]
            other = [x for x in r.input if x != y]
            early = r.op_type == "Add" and not added and other and order.get(other[0], -1) < order[n.output[0]]
            if r.op_type in ("Relu", "Clip") or early:
                added |= r.op_type == "Add"
                y = r.output[0]
            else:
                break
        return y

    def is_q(n):
        group = [a.i for a in n.attribute if a.name == "group"]
        return (n.op_type == "Conv" and n.input[0] != graph_in and (not group or group[0] == 1)
                and n.input[0] in table and n.input[1] in inits
                and not signed_high_res(n.input[0]) and not signed_high_res(fused_out(n)))

    qconvs = [n for n in g.node if is_q(n)]
    qtensors = set(n.input[0] for n in qconvs)
    for n in qconvs:  # the chain's output: follow sole Relu/Clip readers
        y = n.output[0]
        while len(consumers.get(y, [])) == 1 and consumers[y][0].op_type in ("Relu", "Clip") and y not in graph_out:
            y = consumers[y][0].output[0]
        readers = consumers.get(y, [])
        if y in table and y not in graph_out and readers and all(
                (r.op_type == "Conv" and is_q(r) and r.input[0] == y) or r.op_type in ("MaxPool", "Add")
                for r in readers):
            qtensors.add(y)
    for n in g.node:  # an Add whose output is kept int8: its inputs too (QLinearAdd)
        if n.op_type == "Add" and n.output[0] in qtensors:
            qtensors.update(x for x in n.input if x in table and x not in inits)
    new_inits, new_nodes, rename = [], [], {}
    for t in sorted(qtensors):
        s, ty = qparams(table[t])
        sn, zn = t + "_qs", t + "_qz"
        new_inits += [numpy_helper.from_array(np.array(s, np.float32), sn),
                      helper.make_tensor(zn, ty, [], [0])]
        new_nodes.append((t, [helper.make_node("QuantizeLinear", [t, sn, zn], [t + "_q"]),
                              helper.make_node("DequantizeLinear", [t + "_q", sn, zn], [t + "_dq"])]))
        rename[t] = t + "_dq"
    for n in qconvs:
        w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
        ws = np.where(amax > 0, amax / 127, 1).astype(np.float32)
        wq = np.clip(np.rint(w / ws.reshape(-1, 1, 1, 1)), -127, 127).astype(np.int8)
        wn = n.input[1] + "_wq"
        new_inits += [numpy_helper.from_array(wq, wn), numpy_helper.from_array(ws, wn + "_s"),
                      numpy_helper.from_array(np.zeros(len(ws), np.int8), wn + "_z")]
        dq = [helper.make_node("DequantizeLinear", [wn, wn + "_s", wn + "_z"], [wn + "_dq"], axis=0)]
        n.input[1] = wn + "_dq"
        if len(n.input) > 2 and n.input[2] in inits:
            b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float64)
            xs = qparams(table[n.input[0]])[0]
            bs = (xs * ws).astype(np.float32)
            bq = np.rint(b / bs).astype(np.int32)
            bn = n.input[2] + "_bq"
            new_inits += [numpy_helper.from_array(bq, bn), numpy_helper.from_array(bs, bn + "_s"),
                          numpy_helper.from_array(np.zeros(len(bs), np.int32), bn + "_z")]
            dq.append(helper.make_node("DequantizeLinear", [bn, bn + "_s", bn + "_z"], [bn + "_dq"], axis=0))
            n.input[2] = bn + "_dq"
        n.input[0] = rename.get(n.input[0], n.input[0])
        new_nodes.append((None, dq))
    for n in g.node:  # every other reader of a quantized tensor reads its DQ
        if n.op_type in ("QuantizeLinear",):
            continue
        for i, x in enumerate(n.input):
            if x in rename and not (n in qconvs and i == 0):
                n.input[i] = rename[x]
    nodes = list(g.node)
    out = []
    for t, ns in new_nodes:
        if t is None:
            out = ns + out
    for n in nodes:
        out.append(n)
        for t, ns in new_nodes:
            if t is not None and t in n.output:
                out += ns
    for t, ns in new_nodes:  # tensors that are graph inputs would go first (none here)
        if t is not None and not any(t in n.output for n in nodes):
            out = ns + out
    del g.node[:]
    g.node.extend(out)
    g.initializer.extend(new_inits)
    if m.opset_import[0].version < 13:
        m.opset_import[0].version = 13
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return path, len(qconvs)


def rate(out):
    mt = re.search(r"cnn ([0-9.]+) img/s", out)
    return float(mt.group(1)) if mt else float("nan")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        print(" ".join(cmd), "\n", r.stderr, file=sys.stderr)
    return r.stdout


def images(n):
    pics = sorted(glob.glob(os.path.join(SHARED, "data", "camera-traps", "mlwic_examples", "**", "*.*"),
                            recursive=True))
    return [p for p in pics if p.lower().endswith((".jpg", ".jpeg"))][::7][:n]


def inputs(pics, mean, std):
    x = []
    for p in pics:
        im = np.asarray(Image.open(p).convert("RGB").resize((224, 224), Image.BILINEAR), np.float32)
        x.append(((im - mean) / std).transpose(2, 0, 1))
    return np.stack(x).astype(np.float32)


def cos_rows(a, b):
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--images", type=int, default=96)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    work = os.path.join(build, "testtmp", "int8bench")
    os.makedirs(work, exist_ok=True)
    r50, r50_layer = resnet50(build)
    nets = {"MobileNetV2": (MNV2, "features", ["--cut", "2", "--pool"], [128.0] * 3, [128.0] * 3),
            "ResNet-50": (r50, r50_layer, ["--layer", r50_layer],
                          [123.675, 116.28, 103.53], [58.395, 57.12, 57.375])}
    cal_pics = images(32)
    prep = {}
    for name, (model, out, cut, mean, std) in nets.items():
        tag = name.replace("-", "").lower()
        fp32 = features_copy(model, out, os.path.join(work, tag + "_fp32.onnx"))
        table = os.path.join(work, tag + ".calib")
        run([os.path.join(build, "irbis"), "calibrate", "--model", model, "--resize", "squash", "--count", "32",
             "-o", table] + cal_pics)
        qdq, nq = make_qdq(fp32, read_table(table), os.path.join(work, tag + "_qdq.onnx"))
        prep[name] = (model, cut, table, fp32, qdq)
        # accuracy: each int8 engine against its own fp32, on 8 other real images
        x = inputs(images(64)[-8:], np.array(mean, np.float32), np.array(std, np.float32))
        xb = os.path.join(work, tag + "_x.bin")
        x.tofile(xb)
        ys = []
        for mdl in (fp32, qdq):
            yb = mdl + ".y.bin"
            run(["node", os.path.join(HERE, "ort_peer.js"), mdl, "--input", xb, "--save", yb])
            ys.append(np.fromfile(yb, np.float32).reshape(len(x), -1))
        c = cos_rows(ys[0], ys[1])
        print("%s: %d convs quantized; ONNX Runtime QDQ int8 vs fp32 features cosine min %.4f mean %.4f (8 images)"
              % (name, nq, c.min(), c.mean()))
    res = {}
    for r in range(a.rounds):
        for name, (model, cut, table, fp32, qdq) in prep.items():
            for prec in ("fp32", "int8"):
                cmd = [os.path.join(build, "bench_cnn"), "--model", model, "--precision", prec, "--calib", table,
                       "--batch", str(a.batch), "--threads", str(a.threads), "--images", str(a.images)] + cut
                res.setdefault((name, "irbis " + prec), []).append(rate(run(cmd)))
            for prec, mdl in (("fp32", fp32), ("int8", qdq)):
                cmd = ["node", os.path.join(HERE, "ort_peer.js"), mdl, "--batch", str(a.batch), "--threads",
                       str(a.threads), "--images", str(a.images)]
                res.setdefault((name, "ort " + prec), []).append(rate(run(cmd)))
            print("round %d %s: " % (r + 1, name) +
                  ", ".join("%s %.1f" % (k[1], v[-1]) for k, v in res.items() if k[0] == name), flush=True)
    print("\n| net | irbis fp32 | irbis int8 | ORT fp32 | ORT int8 | irbis/ORT fp32 | int8/fp32 irbis | irbis/ORT int8 |")
    print("|---|---|---|---|---|---|---|---|")
    for name in prep:
        med = {k[1]: statistics.median(v) for k, v in res.items() if k[0] == name}
        # ratios per round (the same round's load), then their median
        rr = lambda p, q: statistics.median(x / y for x, y in zip(res[(name, p)], res[(name, q)]))
        print("| %s | %.1f | %.1f | %.1f | %.1f | %.2fx | %.2fx | %.2fx |" % (
            name, med["irbis fp32"], med["irbis int8"], med["ort fp32"], med["ort int8"],
            rr("irbis fp32", "ort fp32"), rr("irbis int8", "irbis fp32"), rr("irbis int8", "ort int8")))
    print("(img/s, median of %d interleaved rounds; batch %d, %d threads; ratios: median of per-round ratios)"
          % (a.rounds, a.batch, a.threads))


if __name__ == "__main__":
    main()
