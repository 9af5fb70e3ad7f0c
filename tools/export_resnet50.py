#!/usr/bin/python3
"""Export a torchvision ResNet-50 to ONNX for irbis.

Without network access there are no pretrained weights here, so by default the weights are
random but seeded (--seed), which is what the tests use: they compare irbis' output against
PyTorch on the same weights and input. --pretrained downloads the ImageNet weights (needs
network access).

The file gets irbis preprocessing metadata (docs/nn.md): irbis.mean / irbis.std in pixel units
(0..255, x = (pixel - mean) / std per RGB channel) and irbis.input_size.

--no-fold exports with do_constant_folding=False, a dynamic batch dimension, unfused
BatchNormalization nodes, and flattens with x.view(x.size(0), -1) the way older torchvision did,
so the file carries the Shape/Gather/Unsqueeze/Concat/Reshape chain and the Conv+BatchNorm pairs
that irbis' passes must fold.

Usage: export_resnet50.py -o resnet50.onnx [--opset 13] [--seed 0] [--no-fold] [--pretrained]
       [--input-out x.bin --output-out y.bin]   (also write a random input and PyTorch's output)
"""
import argparse
import sys

import numpy as np
import onnx
import torch
import torchvision

MEAN = [0.485 * 255, 0.456 * 255, 0.406 * 255]
STD = [0.229 * 255, 0.224 * 255, 0.225 * 255]


class ViewFlatten(torch.nn.Module):
    """ResNet whose flatten is x.view(x.size(0), -1) (pre-0.2 torchvision style)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        x = n.layer4(n.layer3(n.layer2(n.layer1(x))))
        x = n.avgpool(x)
        x = x.view(x.size(0), -1)
        return n.fc(x)


def build(seed, pretrained):
    torch.manual_seed(seed)
    if pretrained:
        net = torchvision.models.resnet50(weights="IMAGENET1K_V1")
    else:
        net = torchvision.models.resnet50(weights=None)
        # Random BatchNorm statistics so that folding BN into Conv is really exercised.
        g = torch.Generator().manual_seed(seed + 1)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
                m.weight.data.copy_(torch.rand(c, generator=g) * 0.5 + 0.5)
                m.bias.data.copy_(torch.randn(c, generator=g) * 0.1)
    return net.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True, help="ONNX file to write")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=224, help="input height/width")
    ap.add_argument("--no-fold", action="store_true", help="no constant folding, view() flatten")
    ap.add_argument("--pretrained", action="store_true", help="ImageNet weights (network access)")
    ap.add_argument("--input-out", help="write a random 1x3xSxS float32 input here (raw)")
    ap.add_argument("--output-out", help="write PyTorch's output for that input here (raw float32)")
    ap.add_argument("--batch", type=int, default=1, help="batch of the random input")
    a = ap.parse_args()

    net = build(a.seed, a.pretrained)
    model = ViewFlatten(net).eval() if a.no_fold else net
    dummy = torch.zeros(1, 3, a.size, a.size)
    extra = {}
    if a.no_fold:
        # Keep BatchNormalization as separate nodes: the exporter's eval peephole would fuse it.
        torch.onnx.utils._C._jit_pass_onnx_eval_peephole = lambda graph, params: params
        extra["dynamic_axes"] = {"input": {0: "N"}, "output": {0: "N"}}
    torch.onnx.export(model, dummy, a.output, opset_version=a.opset, input_names=["input"],
                      output_names=["output"], do_constant_folding=not a.no_fold, **extra)
    m = onnx.load(a.output)
    meta = {"irbis.mean": ",".join("%.6g" % v for v in MEAN),
            "irbis.std": ",".join("%.6g" % v for v in STD),
            "irbis.input_size": str(a.size)}
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.save(m, a.output)

    if a.input_out:
        g = torch.Generator().manual_seed(a.seed + 2)
        x = torch.randn(a.batch, 3, a.size, a.size, generator=g)
        x.numpy().astype(np.float32).tofile(a.input_out)
        if a.output_out:
            with torch.no_grad():
                y = net(x)
            y.numpy().astype(np.float32).tofile(a.output_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
