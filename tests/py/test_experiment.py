"""irbis experiment on real camera-trap images (MLWIC, empty vs animal), checked against the
shared peer pipeline (PIL + PyTorch + scikit-learn) on the same images and the same folds:
with the peer's settings (C = 1, no strip crop, the same 224 crop) irbis's RN2 row must be
within one point of the peer's accuracy; the rows must come in the expected order (L120 clearly
worst, flips not worse); a re-run must reuse the feature cache (the motion rows' too); the
outputs must be there."""
import csv
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np

from testlib import check, failures

SHARED = os.environ.get('IRBIS_SHARED', '../shared')
BIN = os.environ['IRBIS_BIN']
TMP = os.path.join(os.environ.get('IRBIS_TMP', '/tmp'), 'experiment')
ROOT = os.path.join(SHARED, 'data/camera-traps')
MODEL = os.path.join(SHARED, 'models/mobilenet_v2/mobilenet_v2_1.0_224.onnx')
N = 400  # the first N MLWIC images in path order: 5 contiguous blocks of 80


def run_irbis(out):
    cmd = [BIN, 'experiment', '--images', ROOT, '--labels', os.path.join(TMP, 'labels.csv'), '--model', MODEL,
           '--task', 'empty', '--C', '1', '--crop', 'none', '--folds', '5', '--cache', os.path.join(TMP, 'cache'),
           '-o', out, '--quiet']
    p = subprocess.run(cmd, capture_output=True, text=True)
    print(p.stdout)
    check(p.returncode == 0, 'irbis experiment exits 0 (%d: %s)' % (p.returncode, p.stderr.strip()[-300:]))
    return {r['row']: r for r in csv.DictReader(open(os.path.join(out, 'table.csv')))}


def peer_accuracy(paths, y):
    sys.path.insert(0, os.path.join(SHARED, 'bench'))
    import peer_pipeline as peer
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    torch.set_num_threads(2)
    net, mean, std = peer.torch_net('onnx:' + MODEL)
    feats = []
    with torch.no_grad():
        for i in range(0, len(paths), 16):
            x = np.stack([peer.load(p) for p in paths[i:i + 16]]).astype(np.float32)
            feats.append(net(((x - mean) / std).transpose(0, 3, 1, 2).copy()))
    X = np.concatenate(feats)
    right = 0
    for te in np.array_split(np.arange(len(y)), 5):
        tr = np.setdiff1d(np.arange(len(y)), te)
        sc = StandardScaler().fit(X[tr])
        m = LogisticRegression(C=1.0, max_iter=5000).fit(sc.transform(X[tr]), y[tr])
        right += (m.predict(sc.transform(X[te])) == y[te]).sum()
    return right / len(y)


def main():
    os.makedirs(TMP, exist_ok=True)
    rows = [r for r in csv.DictReader(open(os.path.join(ROOT, 'manifest.csv')))
            if r['path'].startswith('mlwic_examples/')]
    rows.sort(key=lambda r: r['path'])
    rows = rows[:N]
    with open(os.path.join(TMP, 'labels.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        for r in rows:
            w.writerow([r['path'], r['label']])
    y = np.array([0 if r['label'] == 'empty' else 1 for r in rows])

    out = os.path.join(TMP, 'run1')
    t = run_irbis(out)
    check(list(t) == ['L120', 'RN1', 'RN2', 'RN2+A', 'RN2+A+E', 'M', 'RN2+A+M', 'RN2+A+M+E'],
          'the eight rows in order: %s' % list(t))
    acc = {k: float(v['accuracy']) for k, v in t.items()}
    check(acc['L120'] + 0.05 < min(acc['RN1'], acc['RN2']), 'L120 clearly worst: %s' % acc)
    check(acc['RN2+A'] >= acc['RN2'] - 0.01, 'flips not worse than without: %s' % acc)
    check(int(t['RN2']['features']) == 1280 and int(t['RN1']['features']) == 1001
          and int(t['L120']['features']) == 43200, 'feature sizes 43200 / 1001 / 1280')

    peer = peer_accuracy([os.path.join(ROOT, r['path']) for r in rows], y)
    print('peer RN2 accuracy %.4f, irbis %.4f' % (peer, acc['RN2']))
    check(abs(acc['RN2'] - peer) <= 0.01, 'RN2 within one point of the peer (%.4f vs %.4f)' % (acc['RN2'], peer))

    # the out-of-fold predictions agree with the table (recomputed independently here)
    pred = list(csv.DictReader(open(os.path.join(out, 'predictions_RN2.csv'))))
    right = sum((float(p['p_animal']) > float(p['p_empty'])) == (p['label'] == 'animal') for p in pred)
    check(len(pred) == N and abs(right / N - acc['RN2']) < 1e-9, 'predictions_RN2.csv matches the table')
    folds = [int(p['fold']) for p in pred]
    check(folds == sorted(folds) and len(set(folds)) == 5, 'folds are contiguous blocks in path order')

    svg = ET.parse(os.path.join(out, 'roc.svg')).getroot()
    curves = [e for e in svg.iter() if e.get('class') == 'roc-curve']
    check(len(curves) == 8, 'roc.svg has 8 curves (%d)' % len(curves))
    html = open(os.path.join(out, 'report.html')).read()
    check('<table id="results">' in html and 'RN2+A+E' in html, 'report.html has the table')

    # a second run (another output folder) costs no feature time: everything comes from the cache
    t2 = run_irbis(os.path.join(TMP, 'run2'))
    check(all(float(v['feature_seconds']) == 0 for v in t2.values()), 're-run reuses the feature cache')
    check(all(t2[k]['accuracy'] == t[k]['accuracy'] for k in t), 're-run gives the same table')
    print('%d passed, %d failed' % (0 if failures else 1, len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
