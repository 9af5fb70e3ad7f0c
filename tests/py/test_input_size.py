"""Running a net at another input size than the model file declares (irb_net_opts.input_size,
`irbis featurize --size S`), against PyTorch and against a model file re-declared at S.

- A small PyTorch net (convs with stride and padding, BatchNorm, residual add, global average
  pooling, Linear), exported at 224 x 224 with static shapes, run by irbis at 160, 257 and 320
  on both engines: features (the pooled vector) and logits equal PyTorch's run at that size
  (fp32, max abs diff / max abs <= 1e-4).
- The shared MobileNetV2 through `irbis featurize --size 320`: the same features as the same
  file with its input re-declared 320 x 320 (onnx), featurized at its own size.
- A net whose Reshape has a constant target (valid only at 224) is refused at another size with
  exit 3 and a message naming the size; --size 224 (the model's) still works.
- `irbis classify` with a classifier trained on --size 320 features runs the net at 320: its
  probabilities equal `irbis predict` on those features; the same for a classifier on an unpooled
  map (cut 3 at 96), whose rows classify must keep in featurize's C x H x W order.
"""
import csv
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('input_size')
HELPER = os.path.join(os.environ['IRBIS_BUILD'], 'tests', 'test_onednn_models')


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.c3 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        a = torch.relu(self.b1(self.c1(x)))
        a = torch.relu(a + self.c2(a))
        f = torch.flatten(self.pool(torch.relu(self.c3(a))), 1)
        return self.fc(f)


def run_helper(model, layer, x, size, engine):
    inp = os.path.join(TMP, 'in.bin')
    out = os.path.join(TMP, 'out')
    x.astype(np.float32).tofile(inp)
    env = dict(os.environ, IRBIS_TEST_INPUT_SIZE=str(size), IRBIS_TEST_ENGINE=engine)
    r = subprocess.run([HELPER, 'run', model, layer, str(len(x)), '2', inp, out], capture_output=True,
                       text=True, timeout=300, env=env)
    if r.returncode != 0:
        print(r.stderr)
        return None
    return {e: np.fromfile(out + '.' + e, np.float32).reshape(len(x), -1) for e in ('fp32', 'logits')}


def pytorch_vs_irbis():
    torch.manual_seed(0)
    net = Small().eval()
    with torch.no_grad():  # BatchNorm statistics that are not the identity
        net.b1.running_mean.uniform_(-0.5, 0.5)
        net.b1.running_var.uniform_(0.5, 2.0)
    model = os.path.join(TMP, 'small.onnx')
    torch.onnx.export(net, torch.zeros(1, 3, 224, 224), model, input_names=['x'], output_names=['logits'],
                      opset_version=13)
    g = onnx.load(model).graph
    layer = [n for n in g.node if n.op_type == 'Gemm'][0].input[0]
    for size in (160, 257, 320):
        x = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(size))
        feats = {}
        h = net.fc.register_forward_hook(lambda m, i, o: feats.__setitem__('f', i[0].clone()))
        with torch.no_grad():
            logits = net(x).numpy()
        h.remove()
        ref = feats['f'].numpy()
        for engine in ('onednn', 'reference'):
            r = run_helper(model, layer, x.numpy(), size, engine)
            if not check(r is not None, '%s runs the 224 model at %d' % (engine, size)):
                continue
            rel = np.abs(r['fp32'] - ref).max() / np.abs(ref).max()
            check(rel <= 1e-4, '%s at %d: features vs PyTorch, rel %.1e' % (engine, size, rel))
            rel = np.abs(r['logits'] - logits).max() / np.abs(logits).max()
            check(rel <= 1e-4, '%s at %d: logits vs PyTorch, rel %.1e' % (engine, size, rel))


def images(n):
    """n mlwic frames, half of them empty (path order within each half)."""
    rows = [r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv'))) if r['path'].startswith('mlwic')]
    empty = sorted(r['path'] for r in rows if r['label'] == 'empty')[:n // 2]
    animal = sorted(r['path'] for r in rows if r['label'] != 'empty')[:n - n // 2]
    return sorted(os.path.join(CT, p) for p in empty + animal)


def featurize(model, out, *extra, cut='2'):
    lst = os.path.join(TMP, 'list.txt')
    with open(lst, 'w') as f:
        f.write('\n'.join(images(24)) + '\n')
    r = subprocess.run([BIN, 'featurize', '--model', model, '--cut', cut, '--list', lst, '-o', out] + list(extra),
                       capture_output=True, text=True, timeout=600)
    return r


def mobilenet_redeclared():
    m = onnx.load(MODEL)
    d = m.graph.input[0].type.tensor_type.shape.dim
    d[2].dim_value = d[3].dim_value = 320
    del m.graph.value_info[:]
    path = os.path.join(TMP, 'mnv2_320.onnx')
    onnx.save(m, path)
    a = featurize(MODEL, os.path.join(TMP, 'f320'), '--size', '320')
    b = featurize(path, os.path.join(TMP, 'd320'))
    check(a.returncode == 0 and b.returncode == 0, 'featurize --size 320 and the re-declared model run: %s %s'
          % (a.stderr.strip()[-200:], b.stderr.strip()[-200:]))
    fa, fb = np.load(os.path.join(TMP, 'f320.npy')), np.load(os.path.join(TMP, 'd320.npy'))
    check(fa.shape == fb.shape == (24, 1280), 'shapes %s %s' % (fa.shape, fb.shape))
    check(np.array_equal(fa, fb), '--size 320 equals the model re-declared at 320 (max diff %.2e)'
          % np.abs(fa - fb).max())
    f224 = featurize(MODEL, os.path.join(TMP, 'f224'))
    diff = np.abs(np.load(os.path.join(TMP, 'f224.npy')) - fa).max() if f224.returncode == 0 else 0
    check(diff > 1e-2, 'the 320 features differ from the 224 ones (max diff %.3f)' % diff)
    meta = open(os.path.join(TMP, 'f320.json')).read()
    check('"size":320' in meta.replace(' ', ''), 'the feature set records the 320 input size')


def fixed_reshape_refused():
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.full((4, 3, 3, 3), 0.1, np.float32), 'w')
    shape = numpy_helper.from_array(np.array([1, 4 * 112 * 112], np.int64), 'shape')
    nodes = [helper.make_node('Conv', ['x', 'w'], ['c'], strides=[2, 2], pads=[1, 1, 1, 1], name='conv'),
             helper.make_node('Relu', ['c'], ['r'], name='relu'),
             helper.make_node('Reshape', ['r', 'shape'], ['y'], name='flat')]
    g = helper.make_graph(nodes, 'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3, 224, 224])],
                          [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)], [w, shape])
    path = os.path.join(TMP, 'fixed_reshape.onnx')
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]), path)
    lst = os.path.join(TMP, 'list1.txt')
    with open(lst, 'w') as f:
        f.write(images(1)[0] + '\n')
    r = subprocess.run([BIN, 'featurize', '--model', path, '--list', lst, '--size', '160', '-o',
                        os.path.join(TMP, 'bad')], capture_output=True, text=True, timeout=60)
    check(r.returncode == 3 and 'cannot run at 160x160' in r.stderr and 'flat' in r.stderr,
          'fixed Reshape at 160 refused: exit %d, %s' % (r.returncode, r.stderr.strip()[-300:]))
    check(not os.path.exists(os.path.join(TMP, 'bad.npy')), 'no feature file written')
    r = subprocess.run([BIN, 'featurize', '--model', path, '--list', lst, '--size', '224', '-o',
                        os.path.join(TMP, 'ok224')], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, '--size 224 (the model\'s) runs: %s' % r.stderr.strip()[-200:])


def classify_matches_predict(feats, what):
    """A classifier trained on feature set `feats` (24 frames), deployed by classify on the same
    frames as a survey: p(animal) equals `irbis predict` on the feature set."""
    imgs = images(24)
    labels = os.path.join(TMP, 'labels.csv')
    lab = {}
    for row in csv.DictReader(open(os.path.join(CT, 'manifest.csv'))):
        lab[os.path.basename(row['path'])] = row['label']
    with open(labels, 'w') as f:
        f.write('path,label\n')
        for p in imgs:
            f.write('%s,%s\n' % (p, 'empty' if lab[os.path.basename(p)] == 'empty' else 'animal'))
    clf = os.path.join(TMP, 'clf_%s.irbis' % feats)
    r = subprocess.run([BIN, 'train', os.path.join(TMP, feats), '--labels', labels, '--C', '0.1', '-o', clf],
                       capture_output=True, text=True, timeout=300)
    if not check(r.returncode == 0, 'train on %s: %s' % (feats, r.stderr.strip()[-200:])):
        return
    pred = os.path.join(TMP, 'pred_%s.csv' % feats)
    r = subprocess.run([BIN, 'predict', clf, os.path.join(TMP, feats), '-o', pred],
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, 'predict: %s' % r.stderr.strip()[-200:])
    survey = os.path.join(TMP, 'survey')
    shutil.rmtree(survey, ignore_errors=True)
    os.makedirs(survey)
    for p in imgs:
        os.symlink(p, os.path.join(survey, os.path.basename(p)))
    out = os.path.join(TMP, 'cls_' + feats)
    shutil.rmtree(out, ignore_errors=True)
    r = subprocess.run([BIN, 'classify', '--model', MODEL, '--classifier', clf, survey, '-o', out, '-q'],
                       capture_output=True, text=True, timeout=600)
    if not check(r.returncode == 0, 'classify with the %s classifier: %s' % (feats, r.stderr.strip()[-300:])):
        return
    want = {os.path.basename(row['path']): float(row['p_animal']) for row in csv.DictReader(open(pred))}
    got = {os.path.basename(row['path']): float(row['p_animal'])
           for row in csv.DictReader(open(os.path.join(out, 'predictions.csv')))}
    d = max(abs(want[k] - got[k]) for k in want) if set(want) == set(got) else 1
    check(d <= 2e-6, '%s: p(animal) equals predict on the features (max diff %.1e)' % (what, d))


def classify_at_320():
    classify_matches_predict('f320', 'classify ran at 320')


def classify_unpooled_map():
    """A classifier on a map's values (cut 3, no pooling: 1280 x 3 x 3 at 96, flattened C x H x W
    as featurize writes them) keeps that order in classify, whose pooled and motion nets take
    channels-last tensors (docs/nn.md): its rows are not H x W x C."""
    r = featurize(MODEL, os.path.join(TMP, 'm96'), '--pool', 'none', '--size', '96', cut='3')
    if check(r.returncode == 0, 'featurize --cut 3 --pool none --size 96: %s' % r.stderr.strip()[-200:]):
        classify_matches_predict('m96', 'an unpooled map\'s classifier')


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    torch.set_num_threads(2)
    pytorch_vs_irbis()
    mobilenet_redeclared()
    fixed_reshape_refused()
    classify_at_320()
    classify_unpooled_map()
    finish()


if __name__ == '__main__':
    main()
