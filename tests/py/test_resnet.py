"""ResNet-50 (torchvision, seeded random weights, tools/export_resnet50.py) on irbis' oneDNN
engine against PyTorch on the same input tensor.

Features = the 2048 values entering the classifier (the Flatten output), computed by PyTorch
from the same seeded nn.Module the exporter writes. fp32: max abs diff / max abs value <= 1e-4;
bf16: cosine >= 0.999 per image; batch 1 and batch 3 give the same rows; the logits (model
output) also within 1e-4 relative.
"""
import hashlib
import os
import subprocess
import sys

import numpy as np
import onnx
import torch

SRC = os.environ["IRBIS_SRC"]
TMP = os.path.join(os.environ["IRBIS_TMP"], "resnet")
HELPER = os.path.join(os.environ["IRBIS_BUILD"], "tests", "test_onednn_models")
sys.path.insert(0, os.path.join(SRC, "tools"))
import export_resnet50  # noqa: E402
from testlib import check, failures  # noqa: E402

def irbis(model, layer, x, threads=2):
    """fp32 batch, fp32 one image per run, fp32 logits, bf16 (None without AVX512-BF16)."""
    inp = os.path.join(TMP, "in.bin")
    out = os.path.join(TMP, "out")
    x.astype(np.float32).tofile(inp)
    for ext in ("fp32", "fp32b1", "logits", "bf16"):
        if os.path.exists(out + "." + ext):
            os.remove(out + "." + ext)
    r = subprocess.run([HELPER, "run", model, layer, str(len(x)), str(threads), inp, out],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        print(r.stderr)
        return None
    res = {}
    for ext in ("fp32", "fp32b1", "logits", "bf16"):
        p = out + "." + ext
        res[ext] = np.fromfile(p, np.float32).reshape(len(x), -1) if os.path.exists(p) else None
    return res


def main():
    os.makedirs(TMP, exist_ok=True)
    # The export takes most of this test's time; reuse it while the exporter is unchanged.
    script = os.path.join(SRC, "tools", "export_resnet50.py")
    tag = hashlib.sha256(open(script, "rb").read()).hexdigest()[:12]
    model = os.path.join(TMP, "resnet50-seed0-%s.onnx" % tag)
    if not os.path.exists(model):
        subprocess.run([sys.executable, script, "-o", model + ".tmp", "--seed", "0"], check=True, timeout=300,
                       capture_output=True)
        os.replace(model + ".tmp", model)
    g = onnx.load(model).graph
    gemm = [n for n in g.node if n.op_type == "Gemm"][-1]
    layer = gemm.input[0]  # the flattened 2048-d features

    torch.set_num_threads(2)
    net = export_resnet50.build(0, False)
    gen = torch.Generator().manual_seed(123)
    x = torch.randn(3, 3, 224, 224, generator=gen)
    with torch.no_grad():
        feats = {}
        net.fc.register_forward_hook(lambda m, i, o: feats.__setitem__("f", i[0].clone()))
        logits = net(x).numpy()
    ref = feats["f"].numpy()
    xn = x.numpy()

    r = irbis(model, layer, xn)
    check(r is not None, "irbis ran")
    if r is None:
        return 1
    f3 = r["fp32"]
    check(f3.shape == ref.shape, "fp32 batch 3 shape %s" % (f3.shape,))
    rel = np.abs(f3 - ref).max() / np.abs(ref).max()
    check(rel <= 1e-4, "fp32 features vs PyTorch: max abs diff / max abs = %.2e" % rel)
    d = np.abs(r["fp32b1"] - f3).max() / np.abs(ref).max()
    check(d <= 1e-6, "batch 1 rows equal batch 3 rows (rel diff %.1e)" % d)
    rel = np.abs(r["logits"] - logits).max() / np.abs(logits).max()
    check(rel <= 1e-4, "fp32 logits vs PyTorch: relative %.2e" % rel)
    b = r["bf16"]
    if b is None:
        print("bf16 unavailable on this CPU")
    else:
        cos = (b * ref).sum(1) / np.linalg.norm(b, axis=1) / np.linalg.norm(ref, axis=1)
        check(cos.min() >= 0.999, "bf16 features cosine to PyTorch fp32: min %.5f" % cos.min())
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
