#!/usr/bin/python3
"""Which novelty score separates unseen species best (docs/pipeline.md, "Uncertain and novel
images"): nearest neighbours (k = 1, 5, 10; cosine distance on L2-normalised features) against
the per-class Mahalanobis distance (minimum over classes, shared Ledoit-Wolf covariance) on raw
and on L2-normalised features.

  /usr/bin/python3 bench/novelty_methods.py --irbis build/irbis [--work /tmp/irbis-novelty] [--train 40]

MobileNetV2 pooled features (`irbis featurize --cut 2`, 224, centre crop) of every MLWIC frame of
../shared/data/camera-traps; for each held-out pair of the 9 classes below, --train frames per
seen class to fit, 30 other frames per seen class and 40 per unseen one to score. Prints the ROC
AUC of unseen vs seen test frames, and the share of unseen (tpr) and seen (fpr) test frames above
the 90th, 95th and 99th percentile of the training frames' scores held out over 3 folds.
"""
import argparse
import csv
import os
import random
import subprocess

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.abspath(os.path.join(HERE, '..', '..', 'shared', 'data', 'camera-traps'))
MODEL = os.path.join(HERE, '..', '..', 'shared', 'models', 'mobilenet_v2', 'mobilenet_v2_1.0_224.onnx')
CLASSES = ['empty', 'Cow', 'california_ground_squirrel', 'Elk', 'human', 'vehicle', 'striped_skunk', 'bobcat',
           'mtn_lion']
PAIRS = [['bobcat', 'mtn_lion'], ['Elk', 'Cow'], ['striped_skunk', 'california_ground_squirrel'], ['human', 'vehicle']]


def l2(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def knn(tr, y, q, k):
    d = 1 - l2(q) @ l2(tr).T
    return np.sort(d, axis=1)[:, :k].mean(1)


def maha(tr, y, q, norm):
    if norm:
        tr, q = l2(tr), l2(q)
    y = np.array(y)
    mu = {c: tr[y == c].mean(0) for c in set(y)}
    prec = LedoitWolf().fit(np.vstack([tr[y == c] - mu[c] for c in mu])).precision_
    return np.min([np.einsum('ij,jk,ik->i', q - m, prec, q - m) for m in mu.values()], axis=0)


METHODS = {'knn1': lambda t, y, q: knn(t, y, q, 1), 'knn5': lambda t, y, q: knn(t, y, q, 5),
           'knn10': lambda t, y, q: knn(t, y, q, 10), 'maha': lambda t, y, q: maha(t, y, q, 0),
           'maha_l2': lambda t, y, q: maha(t, y, q, 1)}


def held_out(fn, x, y, q):
    fold = np.arange(len(x)) % 3
    np.random.RandomState(0).shuffle(fold)
    s = np.zeros(len(x))
    for k in range(3):
        a = fold != k
        s[~a] = fn(x[a], [y[i] for i in np.where(a)[0]], x[~a])
    return np.percentile(s, q)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--irbis', required=True)
    ap.add_argument('--work', default='/tmp/irbis-novelty')
    ap.add_argument('--train', type=int, default=40)
    ap.add_argument('--seed', type=int, default=13)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    man = {r['path']: r['label'] for r in csv.DictReader(open(os.path.join(DATA, 'manifest.csv')))
           if r['path'].startswith('mlwic_examples/')}
    base = os.path.join(a.work, 'mlwic')
    if not os.path.exists(base + '.npy'):
        open(base + '.txt', 'w').write(''.join(os.path.join(DATA, p) + '\n' for p in sorted(man)))
        subprocess.run([a.irbis, 'featurize', '--model', MODEL, '--cut', '2', '--list', base + '.txt', '-o', base],
                       check=True, capture_output=True)
    x = np.load(base + '.npy')
    paths = [os.path.relpath(r['path'], DATA) for r in csv.DictReader(open(base + '.csv'))]
    lab = [man[p] for p in paths]
    by = {}
    for i, c in enumerate(lab):
        by.setdefault(c, []).append(i)
    mean = {m: [] for m in METHODS}
    for unseen in PAIRS:
        rnd = random.Random(a.seed)
        tr, te, un = [], [], []
        for c in CLASSES:
            lst = sorted(by[c], key=lambda i: paths[i])
            rnd.shuffle(lst)
            if c in unseen:
                un += lst[:40]
            else:
                tr += lst[:a.train]
                te += lst[a.train:a.train + 30]
        ytr = [lab[i] for i in tr]
        print('unseen %s, %d per seen class:' % ('+'.join(unseen), a.train))
        for m, fn in METHODS.items():
            st, su = fn(x[tr], ytr, x[te]), fn(x[tr], ytr, x[un])
            auc = roc_auc_score([0] * len(st) + [1] * len(su), np.r_[st, su])
            mean[m].append(auc)
            rates = ' '.join('p%d: tpr %.2f fpr %.2f' % (q, (su > t).mean(), (st > t).mean())
                             for q in (90, 95, 99) for t in [held_out(fn, x[tr], ytr, q)])
            print('  %-8s AUC %.3f  %s' % (m, auc, rates))
    print('mean AUC: ' + ', '.join('%s %.3f' % (m, np.mean(v)) for m, v in mean.items()))


if __name__ == '__main__':
    main()
