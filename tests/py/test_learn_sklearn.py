"""irbis train vs scikit-learn 1.2 LogisticRegression(lbfgs) on the same standardised features
and C: multinomial (digits, 10 classes) and binary (camera-trap empty vs animal, raw 32x32 pixels
via PIL), with and without class_weight='balanced'. Checks: objective C*sum(s_i*logloss_i) +
0.5*||W||^2 equal within 1e-4 (relative), >= 99.5 % identical predictions, close probabilities,
and that `irbis predict` reproduces the model's probabilities. The classifier file is parsed here
from its documented layout (docs/classifier.md)."""
import csv
import os
import struct
import subprocess
import zlib

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import testlib
from testlib import check, finish

BIN, TMP, SHARED = os.environ['IRBIS_BIN'], os.environ['IRBIS_TMP'], os.environ['IRBIS_SHARED']
D = os.path.join(TMP, 'py_learn_sklearn')
os.makedirs(D, exist_ok=True)


def write_features(base, x, paths):
    testlib.write_features(base, x, paths, {'model_sha256': 'ab' * 32, 'layer': 'test'})


def read_classifier(path):
    b = open(path, 'rb').read()
    assert b[:8] == b'IRBISCLF', 'magic'
    version, flags, body = struct.unpack_from('<IIQ', b, 8)
    assert version == 1 and len(b) == 24 + body + 4
    assert struct.unpack_from('<I', b, len(b) - 4)[0] == zlib.crc32(b[:-4]), 'crc'
    K, dim, M, nmeta = struct.unpack_from('<IIII', b, 24)
    off = 40
    C, = struct.unpack_from('<d', b, off)
    off += 8
    names = []
    for _ in range(K):
        n, = struct.unpack_from('<I', b, off)
        names.append(b[off + 4:off + 4 + n].decode())
        off += 4 + n

    def f64(count):
        nonlocal off
        a = np.frombuffer(b, '<f8', count, off)
        off += 8 * count
        return a
    cw, mean, std = f64(K), f64(dim), f64(dim)
    W, bias = f64(M * dim).reshape(M, dim), f64(M)
    return dict(names=names, C=C, cw=cw, mean=mean, std=std, W=W, b=bias)


def objective(W, b, Xs, y, C, sw):
    z = Xs @ W.T + b
    if W.shape[0] == 1:
        t = (y == 1).astype(float)
        loss = np.logaddexp(0, z[:, 0]) - t * z[:, 0]
    else:
        loss = np.logaddexp.reduce(z, axis=1) - z[np.arange(len(y)), y]
    return C * np.sum(sw * loss) + 0.5 * np.sum(W * W)


def probs(W, b, Xs):
    z = Xs @ W.T + b
    if W.shape[0] == 1:
        p1 = 1 / (1 + np.exp(-z[:, 0]))
        return np.stack([1 - p1, p1], 1)
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def compare(name, x, labels, C, balanced):
    x = x.astype('<f4')
    base = os.path.join(D, name)
    paths = ['img%05d.jpg' % i for i in range(len(x))]
    write_features(base, x, paths)
    with open(base + '_labels.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        w.writerows(zip(paths, labels))
    model = base + '.irbis'
    cmd = [BIN, 'train', base, '--labels', base + '_labels.csv', '--C', repr(C), '-o', model]
    if balanced:
        cmd += ['--class-weight', 'balanced']
    r = subprocess.run(cmd, capture_output=True, text=True)
    print(r.stdout, r.stderr)
    check(r.returncode == 0, '%s: irbis train exit %d' % (name, r.returncode))
    m = read_classifier(model)
    classes = sorted(set(labels))
    check(m['names'] == classes, '%s: class order %s' % (name, m['names']))
    y = np.array([classes.index(l) for l in labels])
    sc = StandardScaler().fit(x.astype(np.float64))
    Xs = sc.transform(x.astype(np.float64))
    check(np.allclose(m['mean'], sc.mean_, rtol=1e-6, atol=1e-6) and np.allclose(m['std'], sc.scale_, rtol=1e-6),
          '%s: standardisation mean/std equal sklearn StandardScaler' % name)
    sk = LogisticRegression(C=C, tol=1e-10, max_iter=100000, class_weight='balanced' if balanced else None)
    sk.fit(Xs, y)
    counts = np.bincount(y)
    sw = (len(y) / (len(classes) * counts))[y] if balanced else np.ones(len(y))
    f_sk = objective(sk.coef_, sk.intercept_, Xs, y, C, sw)
    f_ir = objective(m['W'], m['b'], Xs, y, C, sw)
    rel = (f_ir - f_sk) / abs(f_sk)
    check(abs(rel) <= 1e-4, '%s: objective irbis %.8g sklearn %.8g (relative %.2e)' % (name, f_ir, f_sk, rel))
    p_ir, p_sk = probs(m['W'], m['b'], Xs), sk.predict_proba(Xs)
    agree = np.mean(p_ir.argmax(1) == p_sk.argmax(1))
    check(agree >= 0.995, '%s: same prediction on %.2f %% of rows' % (name, 100 * agree))
    dp = np.abs(p_ir - p_sk).max()
    check(dp < 2e-3, '%s: max |p_irbis - p_sklearn| = %.2e' % (name, dp))
    # irbis predict on the raw features gives the same probabilities as the parsed model
    out = base + '_pred.csv'
    r = subprocess.run([BIN, 'predict', model, base, '-o', out], capture_output=True, text=True)
    check(r.returncode == 0, '%s: irbis predict: %s' % (name, r.stderr.strip()))
    rows = list(csv.DictReader(open(out)))
    pp = np.array([[float(row['p_' + c]) for c in classes] for row in rows])
    check(len(rows) == len(x) and np.abs(pp - p_ir).max() < 1e-6, '%s: predict CSV matches the model' % name)
    check(all(row['label'] == classes[k] for row, k in zip(rows, pp.argmax(1))), '%s: label column' % name)
    return m


digits = load_digits()
xd, yd = digits.data, ['d%d' % v for v in digits.target]
compare('digits_C0.05', xd, yd, 0.05, False)
compare('digits_bal_C1', xd[:900], yd[:900], 1.0, True)

# camera-trap images: raw 32x32 RGB pixels, empty vs animal (binary), from the shared manifest
from PIL import Image
root = os.path.join(SHARED, 'data', 'camera-traps')
rows = [r for r in csv.DictReader(open(os.path.join(root, 'manifest.csv')))
        if r['path'].startswith('mlwic_examples/')][:500]
x = np.stack([np.asarray(Image.open(os.path.join(root, r['path'])).convert('RGB').resize((32, 32), Image.BILINEAR),
                         dtype=np.float32).ravel() for r in rows])
lab = ['empty' if r['label'] == 'empty' else 'animal' for r in rows]
print('camera-trap rows', len(x), 'empty', lab.count('empty'))
compare('cam_C0.01', x, lab, 0.01, False)
compare('cam_bal_C0.003', x, lab, 0.003, True)
finish()
