"""Choosing C: `irbis train` (no --C: grouped 5-fold CV over 13 Cs, then the refit) against
scikit-learn's LogisticRegressionCV on the same rows, grid, folds and class weights, measured
in one run, interleaved (irbis, sklearn, irbis, sklearn, ...). Features: MobileNetV2 cut-2
features of the shared camera-trap images (`irbis featurize`, made once into --cache).

  /usr/bin/python3 bench/bench_train.py [--rounds 2] [--tasks all,mlwic,species]

Tasks: `all` every image, empty vs animal; `mlwic` the MLWIC images, empty vs animal; `species`
the MLWIC images' species with >= 40 images (multinomial), balanced class weights.

The peer: LogisticRegressionCV(Cs=the grid, cv=irbis's folds (`--group-column path`: one group per image;
irb_group_kfold replayed here),
solver='lbfgs', tol 1e-4 (its default), max_iter 5000, class_weight as irbis), scored by the
weighted held-out log-loss summed over the fold (so its fold mean ranks the Cs as irbis's pooled
mean does), on the rows standardised once (StandardScaler over all rows: irbis standardises on
each fold's training rows, LogisticRegressionCV cannot). Times are the fit alone on both sides
(irbis's own `... s` of its summary; LogisticRegressionCV.fit). Agreement: the chosen C, the
largest |CV loss difference| over the grid, and max |dp| of the refit models' probabilities on
every row, against LogisticRegressionCV's refit (lbfgs at tol 1e-4) and against a tight
reference (LogisticRegression(C=chosen, solver='newton-cg', tol=1e-10) on the same rows).
irbis stops its path of C 2 values past the pooled minimum (irb_train_opts.cv_patience): the CV
loss difference is over the Cs it fitted; LogisticRegressionCV fits all 13.
"""
import argparse
import csv
import os
import re
import subprocess
import tempfile
import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.environ.get('IRBIS_BIN', os.path.join(ROOT, 'build', 'irbis'))
SHARED = os.path.realpath(os.environ.get('IRBIS_SHARED', os.path.join(ROOT, '..', 'shared')))
CT = os.path.join(SHARED, 'data/camera-traps')
MODEL = os.path.join(SHARED, 'models/mobilenet_v2/mobilenet_v2_1.0_224.onnx')
GRID = np.logspace(-4, 2, 13)


def features(cache):
    base = os.path.join(cache, 'all_cut2')
    if not os.path.exists(base + '.npy'):
        os.makedirs(cache, exist_ok=True)
        subprocess.run([BIN, 'featurize', '--model', MODEL, '--cut', '2', '-o', base, CT], check=True,
                       capture_output=True)
    x = np.load(base + '.npy').astype(np.float64)
    paths = [r[1] for r in list(csv.reader(open(base + '.csv')))[1:]]
    return base, x, paths


def group_kfold(groups, k):
    """irb_group_kfold: groups largest first (ties: first seen), each into the lightest fold."""
    first, size = {}, {}
    for i, g in enumerate(groups):
        first.setdefault(g, i)
        size[g] = size.get(g, 0) + 1
    load, fold_of = [0] * k, {}
    for g in sorted(size, key=lambda g: (-size[g], first[g])):
        f = min(range(k), key=lambda f: (load[f], f))
        load[f] += size[g]
        fold_of[g] = f
    return np.array([fold_of[g] for g in groups])


def task_rows(task, paths):
    man = {r['path']: r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))}
    rel = [p[len(CT) + 1:] if p.startswith(CT + '/') else p for p in paths]
    if task == 'all':
        rows = [i for i, p in enumerate(rel) if p in man]
        return rows, {rel[i]: man[rel[i]]['label'] for i in rows}, ['--negative', 'empty'], False
    mlwic = [i for i, p in enumerate(rel) if p in man and p.startswith('mlwic_examples/')]
    if task == 'mlwic':
        return mlwic, {rel[i]: man[rel[i]]['label'] for i in mlwic}, ['--negative', 'empty'], False
    count = {}
    for i in mlwic:
        count[man[rel[i]]['label']] = count.get(man[rel[i]]['label'], 0) + 1
    keep = sorted(c for c in count if count[c] >= 40)
    rows = [i for i in mlwic if man[rel[i]]['label'] in keep]
    return rows, {rel[i]: man[rel[i]]['label'] for i in rows}, ['--classes', ','.join(keep), '--class-weight',
                                                                  'balanced'], True


def run_irbis(base, labels, extra, out, tmp):
    # --group-column path: one image one group, the folds the peer replays (irbis's default
    # groups are sequences of camera and time)
    r = subprocess.run([BIN, 'train', base, '--labels', labels, '--root', CT, '-o', out, '--group-column', 'path'] + extra,
                       capture_output=True, text=True, check=True)
    secs = float(re.search(r'iterations \(L-BFGS status -?\d+\), ([0-9.]+) s', r.stdout).group(1))
    chosen = float(re.search(r'cv C=(\S+)\s+mean held-out log-loss [0-9.]+\s+<- chosen', r.stdout).group(1))
    losses = [float(m) if m else np.nan  # not fitted: the search stopped past the minimum
              for m in re.findall(r'cv C=\S+\s+(?:mean held-out log-loss ([0-9.]+)|not fitted)', r.stdout)]
    pred = os.path.join(tmp, 'pred.csv')
    subprocess.run([BIN, 'predict', out, base, '-o', pred], check=True, capture_output=True)
    rows = list(csv.reader(open(pred)))
    cols = [i for i, h in enumerate(rows[0]) if h.startswith('p_')]
    prob = {r[0]: [float(r[i]) for i in cols] for r in rows[1:]}
    return secs, chosen, np.array(losses), prob


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--tasks', default='all,mlwic,species')
    ap.add_argument('--cache', default=os.path.join(ROOT, 'build', 'bench_train'))
    a = ap.parse_args()
    warnings.simplefilter('ignore')  # newton-cg's ConvergenceWarning at tol 1e-10
    tmp = tempfile.mkdtemp(prefix='bench_train')
    base, x_all, paths = features(a.cache)
    print('| task | rows x dims, classes | irbis s | sklearn s | ratio | C irbis / sklearn | max CV loss diff '
          '| max dp vs LRCV refit | max dp vs tight reference |')
    print('|---|---|---|---|---|---|---|---|---|')
    for task in a.tasks.split(','):
        rows, lab, extra, multi = task_rows(task, paths)
        labels = os.path.join(tmp, task + '.csv')
        with open(labels, 'w', newline='') as f:
            w = csv.writer(f)
            w.writerow(['path', 'label'])
            for p, l in lab.items():
                w.writerow([p, l])
        x = x_all[rows]
        names = [lab[paths[i][len(CT) + 1:]] for i in rows]
        if multi:
            classes = extra[1].split(',')
            y = np.array([classes.index(n) for n in names])
        else:
            classes = ['empty', 'animal']
            y = np.array([0 if n.lower() == 'empty' else 1 for n in names])
        fold = group_kfold([paths[i] for i in rows], 5)  # irbis train --group-column path
        splits = [(np.where(fold != f)[0], np.where(fold == f)[0]) for f in range(5)]
        cw = None
        if '--class-weight' in extra:
            cnt = np.bincount(y, minlength=len(classes))
            cw = {k: len(y) / (len(classes) * cnt[k]) for k in range(len(classes))}
        sw_of = (lambda yy: np.array([cw[v] for v in yy])) if cw else (lambda yy: np.ones(len(yy)))

        def scorer(est, xx, yy):  # minus the weighted log-loss sum of the fold
            k = np.searchsorted(est.classes_, yy)  # binary paths see the labels as -1/1
            p = np.clip(est.predict_proba(xx)[np.arange(len(yy)), k], 1e-300, 1)
            return float(np.sum(sw_of(k) * np.log(p)))

        z = StandardScaler().fit_transform(x)
        ti, ts = [], []
        for _ in range(a.rounds):
            secs, c_irb, loss_irb, prob = run_irbis(base, labels, extra, os.path.join(tmp, task + '.irbis'), tmp)
            ti.append(secs)
            t0 = time.time()
            m = LogisticRegressionCV(Cs=GRID, cv=splits, scoring=scorer, solver='lbfgs', max_iter=5000,
                                     class_weight=cw).fit(z, y)
            ts.append(time.time() - t0)
        scores = next(iter(m.scores_.values()))  # folds x Cs, the same for every class key
        loss_sk = -scores.sum(0) / sw_of(y).sum()
        p_irb = np.array([prob[paths[i]] for i in rows])
        p_sk = m.predict_proba(z)
        ref = LogisticRegression(C=m.C_[0], solver='newton-cg', tol=1e-10, max_iter=1000,
                                 class_weight=cw).fit(z, y).predict_proba(z)
        print('| %s | %d x %d, %d | %s | %s | %.1fx | %g / %g | %.1e | %.1e | %.1e |' % (
            task, len(rows), x.shape[1], len(classes), ' '.join('%.2f' % t for t in ti),
            ' '.join('%.2f' % t for t in ts), np.median(ts) / np.median(ti), c_irb, m.C_[0],
            np.nanmax(np.abs(loss_irb - loss_sk)), np.max(np.abs(p_irb - p_sk)), np.max(np.abs(p_irb - ref))))
        print('    (%s: %d of 13 Cs fitted; ratio per round %s)' % (
            task, np.sum(~np.isnan(loss_irb)), ' '.join('%.1fx' % (s_ / i_) for s_, i_ in zip(ts, ti))))


if __name__ == '__main__':
    main()
