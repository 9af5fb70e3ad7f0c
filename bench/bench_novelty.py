"""Novelty scoring, the `uncertain (novel)` check classify runs on every image of a pipeline
with a novelty model: irbis (build/bench_novelty, one thread) against scikit-learn's
NearestNeighbors(n_neighbors=1, metric='cosine', algorithm='brute') on the same rows, measured
in one run, interleaved by round. A pipeline keeps every training image's row, so the cost per
image grows with the training set: this measures training sets of --sizes rows.

  /usr/bin/python3 bench/bench_novelty.py [--sizes 300,2000,10000] [--dim 1280] [--queries 512]
      [--rounds 2] [--build NAME=DIR ...]

Rows: random, non-negative and sparse like ReLU6 features (half the entries zero), float32.
Scoring: the queries' distances to their nearest training row (irbis: irb_novelty_score on all
queries in one call, as classify scores a batch; scikit-learn: kneighbors, its BLAS on every
core). Agreement: max |irbis - scikit-learn| over the queries. Fit: irbis's irb_novelty_fit (the
held-out score of every training row over 5 folds: n^2 dot products) against scikit-learn doing
the same (a NearestNeighbors fit on 4 folds, kneighbors on the fifth, for each fold).
--build NAME=DIR (repeatable) measures several builds of bench_novelty in the same rounds (e.g.
main before and after a change). Times are wall time.
"""
import argparse
import os
import subprocess
import tempfile
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def sklearn_scores(train, queries):
    nn = NearestNeighbors(n_neighbors=1, metric='cosine', algorithm='brute').fit(train)
    return nn.kneighbors(queries)[0][:, 0]


def sklearn_fit(train, folds):
    fold = np.arange(len(train)) % folds  # irb_group_kfold of single rows: round-robin
    held = np.empty(len(train))
    for f in range(folds):
        held[fold == f] = sklearn_scores(train[fold != f], train[fold == f])
    return held


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sizes', default='300,2000,10000')
    ap.add_argument('--dim', type=int, default=1280)
    ap.add_argument('--queries', type=int, default=512)
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--folds', type=int, default=5)
    ap.add_argument('--build', action='append', default=[], help='NAME=DIR holding bench_novelty')
    a = ap.parse_args()
    builds = [b.split('=', 1) for b in a.build] or [['irbis', os.path.join(ROOT, 'build')]]
    tmp = tempfile.mkdtemp(prefix='bench_novelty')
    rng = np.random.default_rng(0)
    print('rows of %d features, %d queries, %d folds; times in seconds (score: ms per query)' %
          (a.dim, a.queries, a.folds))
    for n in [int(s) for s in a.sizes.split(',')]:
        train = (rng.random((n, a.dim), dtype=np.float32) * (rng.random((n, a.dim)) < 0.5)).astype(np.float32)
        queries = (rng.random((a.queries, a.dim), dtype=np.float32) *
                   (rng.random((a.queries, a.dim)) < 0.5)).astype(np.float32)
        tf, qf, out = os.path.join(tmp, 'train.f32'), os.path.join(tmp, 'queries.f32'), os.path.join(tmp, 'out.f64')
        train.tofile(tf)
        queries.tofile(qf)
        ref, agree = sklearn_scores(train, queries), {}
        for r in range(a.rounds):
            line = []
            for name, d in builds:
                res = subprocess.run([os.path.join(d, 'bench_novelty'), tf, str(n), qf, str(a.queries), str(a.dim),
                                      str(a.folds), out], check=True, capture_output=True, text=True).stdout.split()
                agree[name] = max(agree.get(name, 0), np.abs(np.fromfile(out, dtype=np.float64) - ref).max())
                line.append('%s fit %s score %s' % (name, res[1], res[4]))
            t = time.perf_counter()
            sklearn_scores(train, queries)
            ts = (time.perf_counter() - t) * 1e3 / a.queries
            fit_s = ''
            if n <= 2000 or r == 0:
                t = time.perf_counter()
                sklearn_fit(train, a.folds)
                fit_s = '%.3f' % (time.perf_counter() - t)
            print('n %6d round %d: %s | sklearn fit %s score %.4f' % (n, r + 1, ' | '.join(line), fit_s, ts), flush=True)
        print('n %6d: max |score - sklearn\'s| %s' % (n, ', '.join('%s %.2e' % kv for kv in agree.items())), flush=True)


if __name__ == '__main__':
    main()
