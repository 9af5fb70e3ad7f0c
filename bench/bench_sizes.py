#!/usr/bin/python3
"""Featurizing at larger input sizes: `irbis featurize --size S` against the shared PyTorch peer
(../shared/bench/peer_pipeline.py: PIL decode + resize, its torch evaluation of the same ONNX
MobileNetV2) doing the same job, end to end (decode, resize to S x S, CNN, pooled features),
interleaved (irbis, peer, irbis, peer) so that load from other processes hits both alike.

  bench_sizes.py --build build-dir [--images 192] [--rounds 2] [--threads 2] [--sizes 224,448,576]

Prints images/s for each, the ratio irbis / peer, and the agreement of the two feature sets
(mean cosine per image; both squash the whole frame with bilinear filtering, irbis from a
DCT-scaled decode, so they are close, not equal).
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
SHARED = os.environ.get("IRBIS_SHARED", os.path.join(SRC, "..", "shared"))
MNV2 = os.path.join(SHARED, "models", "mobilenet_v2", "mobilenet_v2_1.0_224.onnx")
sys.path.insert(0, os.path.join(SHARED, "bench"))


def images(n):
    rows = [r for r in csv.DictReader(open(os.path.join(SHARED, "data", "camera-traps", "manifest.csv")))
            if r["path"].startswith("mlwic_examples/")]
    return [os.path.join(SHARED, "data", "camera-traps", r["path"]) for r in sorted(rows, key=lambda r: r["path"])[:n]]


def run_irbis(build, paths, size, threads, tmp):
    lst = os.path.join(tmp, "list.txt")
    with open(lst, "w") as f:
        f.write("\n".join(paths) + "\n")
    out = os.path.join(tmp, "irbis%d" % size)
    t = time.perf_counter()
    subprocess.run([os.path.join(build, "irbis"), "featurize", "--model", MNV2, "--cut", "2", "--size", str(size),
                    "--resize", "squash", "--threads", str(threads), "--list", lst, "-o", out],
                   check=True, capture_output=True)
    return len(paths) / (time.perf_counter() - t), np.load(out + ".npy")


def run_peer(paths, size, threads, batch=16):
    import torch
    from PIL import Image
    import peer_pipeline as peer
    torch.set_num_threads(threads)
    t = time.perf_counter()
    net, mean, std = peer.torch_net("onnx:" + MNV2)
    feats = []
    with torch.no_grad():
        for i in range(0, len(paths), batch):
            x = np.stack([np.asarray(Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR), np.float32)
                          for p in paths[i:i + batch]])
            feats.append(net(((x - mean) / std).transpose(0, 3, 1, 2).copy()).reshape(len(x), -1))
    return len(paths) / (time.perf_counter() - t), np.concatenate(feats)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--images", type=int, default=192)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="224,448,576")
    a = ap.parse_args()
    paths = images(a.images)
    print("%d MLWIC frames (256 x 256), %d threads, %d rounds (medians)" % (len(paths), a.threads, a.rounds))
    print("%-6s %12s %12s %8s %12s" % ("size", "irbis img/s", "peer img/s", "ratio", "cosine"))
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in a.sizes.split(",")):
            ours, theirs = [], []
            for _ in range(a.rounds):
                r, fi = run_irbis(a.build, paths, size, a.threads, tmp)
                ours.append(r)
                r, fp = run_peer(paths, size, a.threads)
                theirs.append(r)
            cos = np.mean((fi * fp).sum(1) / np.linalg.norm(fi, axis=1) / np.linalg.norm(fp, axis=1))
            o, p = statistics.median(ours), statistics.median(theirs)
            print("%-6d %12.1f %12.1f %7.2fx %12.4f" % (size, o, p, o / p, cos), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
