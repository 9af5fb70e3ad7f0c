#!/usr/bin/python3
"""CNN throughput: irbis' oneDNN engine (bench_cnn) against the PyTorch peer
(../shared/bench/peer_pipeline.py), CNN-only images/s, interleaved (irbis, peer, irbis, peer)
so that load from other processes on this shared host hits both alike. Prints a table with
the median rate of each and the ratios irbis / peer.

  bench_cnn.py --build build-dir [--rounds 2] [--images 48] [--threads 2] [--quick]

ResNet-50 is exported with seeded random weights (tools/export_resnet50.py) into the build's
testtmp folder (shared with tests/py/test_resnet.py); irbis runs it cut at the 2048-d
features, the peer with fc = Identity (the same work). MobileNetV2 is the shared ONNX file
(irbis cut 2 = features; the peer evaluates the ONNX graph op by op with torch kernels).
"""
import argparse
import glob
import hashlib
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
SHARED = os.environ.get("IRBIS_SHARED", os.path.join(SRC, "..", "shared"))
PEER = os.path.join(SHARED, "bench", "peer_pipeline.py")
MNV2 = os.path.join(SHARED, "models", "mobilenet_v2", "mobilenet_v2_1.0_224.onnx")


def resnet50(build):
    script = os.path.join(SRC, "tools", "export_resnet50.py")
    tag = hashlib.sha256(open(script, "rb").read()).hexdigest()[:12]
    d = os.path.join(build, "testtmp", "resnet")
    os.makedirs(d, exist_ok=True)
    model = os.path.join(d, "resnet50-seed0-%s.onnx" % tag)
    if not os.path.exists(model):
        subprocess.run([sys.executable, script, "-o", model + ".tmp", "--seed", "0"], check=True)
        os.replace(model + ".tmp", model)
    import onnx
    g = onnx.load(model).graph
    return model, [n for n in g.node if n.op_type == "Gemm"][-1].input[0]


def rate(out):
    m = re.search(r"cnn ([0-9.]+) img/s", out)
    return float(m.group(1)) if m else float("nan")


def run_irbis(build, model, layer, prec, batch, threads, images, threading="auto"):
    cmd = [os.path.join(build, "bench_cnn"), "--model", model, "--precision", prec, "--batch", str(batch),
           "--threads", str(threads), "--images", str(images), "--threading", threading]
    cmd += ["--layer", layer] if layer else ["--cut", "2", "--pool"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        print(r.stderr, file=sys.stderr)
    return rate(r.stdout)


def run_peer(net, mode, batch, threads, images):
    pics = sorted(glob.glob(os.path.join(SHARED, "data", "camera-traps", "**", "*.*"), recursive=True))
    pics = [p for p in pics if p.lower().endswith((".jpg", ".jpeg", ".png"))][:images]
    cmd = ["/usr/bin/python3", PEER, "featurize", "--net", net, "--mode", mode, "--batch", str(batch),
           "--threads", str(threads)] + pics
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        print(r.stderr[-2000:], file=sys.stderr)
    return rate(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--images", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="ResNet-50 batch 16 only")
    ap.add_argument("--threading-study", action="store_true",
                    help="also compare intra-op vs per-image threading at batch 16")
    a = ap.parse_args()
    rn, rn_layer = resnet50(a.build)
    # (label, irbis model, layer, precision, batch, peer net, peer mode)
    rows = [("ResNet-50 fp32 b16", rn, rn_layer, "fp32", 16, "resnet50", ["eager", "optimized"]),
            ("ResNet-50 bf16 b16", rn, rn_layer, "bf16", 16, "resnet50", ["bf16"])]
    if not a.quick:
        rows += [("ResNet-50 fp32 b1", rn, rn_layer, "fp32", 1, "resnet50", ["eager", "optimized"]),
                 ("ResNet-50 bf16 b1", rn, rn_layer, "bf16", 1, "resnet50", ["bf16"]),
                 ("MobileNetV2 fp32 b16", MNV2, None, "fp32", 16, "onnx:" + MNV2, ["eager"]),
                 ("MobileNetV2 bf16 b16", MNV2, None, "bf16", 16, "onnx:" + MNV2, ["eager"]),
                 ("MobileNetV2 fp32 b1", MNV2, None, "fp32", 1, "onnx:" + MNV2, ["eager"])]
    print("%-22s %10s %-28s %8s" % ("case", "irbis", "peer (mode: img/s)", "ratios"))
    for label, model, layer, prec, batch, net, modes in rows:
        ours, peers = [], {m: [] for m in modes}
        n = a.images if batch > 1 else max(8, a.images // 4)
        for _ in range(a.rounds):
            ours.append(run_irbis(a.build, model, layer, prec, batch, a.threads, n))
            for m in modes:
                peers[m].append(run_peer(net, m, batch, a.threads, n))
        o = statistics.median(ours)
        ps = {m: statistics.median(v) for m, v in peers.items()}
        print("%-22s %10.2f %-28s %s" % (label, o, "  ".join("%s: %.2f" % (m, v) for m, v in ps.items()),
                                         "  ".join("x%.2f vs %s" % (o / v, m) for m, v in ps.items())),
              flush=True)
    if a.threading_study:
        for prec in ("fp32", "bf16"):
            for th in ("intra", "per-image"):
                r = [run_irbis(a.build, rn, rn_layer, prec, 16, a.threads, a.images, th) for _ in range(a.rounds)]
                print("ResNet-50 %s b16 threading %-9s %s img/s" % (prec, th, " ".join("%.2f" % x for x in r)),
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
