"""irbis train's choice of C (grouped CV over the 13-value grid) and its refit against
scikit-learn's LogisticRegressionCV on the same rows, grid, folds and class weights.

irbis standardises on each fold's training rows; LogisticRegressionCV cannot. So the synthetic
features here are standardised within every fold (each fold's rows have column mean 0 and
population variance 1): then every union of folds, and all rows, have mean 0 and variance 1 too,
irbis's per-fold scaler is the identity up to float32 rounding, and both solve the same problems.
Folds: one group per camera (`--group-column camera`), 5 cameras of distinct sizes, so
irb_group_kfold's folds are the cameras. The peer scores with the weighted held-out log-loss summed
over the fold (its mean over folds ranks the Cs as irbis's pooled mean does).
The peer runs at tol 1e-10; the refit is compared with LogisticRegression(solver='newton-cg',
tol 1e-10) at the chosen C (lbfgs, its own refit included, stops on a relative change of the
objective before the probabilities settle to 1e-4). Checks, for a binary balanced task and a 4-class one:
the optimum inside the grid; the same C; the CV losses of it and its neighbours within 1e-4 and
every one within 1e-3 (irbis's search stops at a gradient tolerance of 1e-4; it prints 5
decimals); the refit's probabilities within 1e-4 on every row.
"""
import csv
import os
import re
import subprocess
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

from testlib import BIN, check, finish, tmpdir, write_features

D = tmpdir('py_train_cv_sklearn')
os.makedirs(D, exist_ok=True)


def case(name, K, sizes, d, balanced, seed, signal, expect_stop=False):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    cam = np.repeat(np.arange(len(sizes)), sizes)
    y = rng.integers(0, K, n)
    y[:K] = np.arange(K)
    # correlated features carrying a weak signal: C matters
    mix = rng.normal(0, 1, (d, d)) / np.sqrt(d)
    x = rng.normal(0, 1, (n, d)) @ mix + signal * rng.normal(0, 1, (K, d))[y]
    for c in range(len(sizes)):  # standardise within every fold
        m = cam == c
        x[m] = (x[m] - x[m].mean(0)) / x[m].std(0)
    x = x.astype(np.float32).astype(np.float64)
    names = ['empty', 'fox', 'ibex', 'marmot'][:K]
    paths = ['survey/cam%d/IMG_%04d.JPG' % (cam[i], i) for i in range(n)]
    base = os.path.join(D, name)
    write_features(base, x, paths)
    labels = base + '_labels.csv'
    with open(labels, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label', 'camera'])
        for i in range(n):
            w.writerow([paths[i], names[y[i]], 'cam%d' % cam[i]])
    model = base + '.irbis'
    opts = ['--group-column', 'camera', '--classes', ','.join(names)] + (['--class-weight', 'balanced'] if balanced
                                                                        else [])
    r = subprocess.run([BIN, 'train', base, '--labels', labels, '-o', model] + opts, capture_output=True, text=True)
    check(r.returncode == 0, '%s: irbis train ran (%s)' % (name, r.stderr.strip()[-200:]))
    if r.returncode:
        return
    # "not fitted": the search stopped 2 values past the pooled minimum (cv_patience)
    table = re.findall(r'cv C=(\S+)\s+(?:mean held-out log-loss ([0-9.]+)|not fitted)', r.stdout)
    chosen = re.search(r'cv C=(\S+)\s+mean held-out log-loss [0-9.]+\s+<- chosen', r.stdout)
    pred = base + '_pred.csv'
    subprocess.run([BIN, 'predict', model, base, '-o', pred], check=True, capture_output=True)
    rows = list(csv.reader(open(pred)))
    cols = [i for i, h in enumerate(rows[0]) if h.startswith('p_')]
    p_irb = np.array([[float(rw[i]) for i in cols] for rw in rows[1:]])

    cw = None
    if balanced:
        cnt = np.bincount(y, minlength=K)
        cw = {k: n / (K * cnt[k]) for k in range(K)}
    sw = np.array([cw[v] for v in y]) if cw else np.ones(n)

    def scorer(est, xx, yy):
        k = np.searchsorted(est.classes_, yy)  # binary paths see the labels as -1/1
        p = np.clip(est.predict_proba(xx)[np.arange(len(yy)), k], 1e-300, 1)
        return float(np.sum((np.array([cw[v] for v in k]) if cw else 1.0) * np.log(p)))

    splits = [(np.where(cam != c)[0], np.where(cam == c)[0]) for c in range(len(sizes))]
    grid = np.logspace(-4, 2, 13)
    m = LogisticRegressionCV(Cs=grid, cv=splits, scoring=scorer, solver='lbfgs', tol=1e-10, max_iter=100000,
                             class_weight=cw).fit(x, y)
    ref = LogisticRegression(C=m.C_[0], solver='newton-cg', tol=1e-10, max_iter=1000, class_weight=cw).fit(x, y)
    loss_sk = -next(iter(m.scores_.values())).sum(0) / sw.sum()
    loss_irb = np.array([float(v) if v else np.nan for _, v in table])
    check(len(table) == 13 and chosen is not None, '%s: 13 CV lines and a choice printed' % name)
    if len(table) != 13 or chosen is None:
        return
    fitted = ~np.isnan(loss_irb)
    diff = np.abs(loss_irb - loss_sk)[fitted]
    print('     CV loss differences: ' + ' '.join('%.1e' % v for v in diff) + ' (then %d not fitted)' % (~fitted).sum())
    best = int(np.argmin(loss_sk))
    last = int(fitted.sum()) - 1
    check(fitted[:last + 1].all() and (last == 12 or (last == best + 2 and (loss_sk[last + 1:] > loss_sk[best]).all())),
          '%s: Cs fitted up to 2 past the optimum (%d of 13), LogisticRegressionCV\'s losses above its minimum beyond'
          % (name, last + 1))
    if expect_stop:
        check(last < 12, '%s: the search stopped before the end of the grid' % name)
    check(0 < best < 12, '%s: the optimum (C %g) is inside the grid' % (name, grid[best]))
    check(np.isclose(float(chosen.group(1)), m.C_[0], rtol=1e-3),
          '%s: C %s chosen, LogisticRegressionCV chose %g (losses %s)' % (name, chosen.group(1), m.C_[0],
                                                                         ' '.join('%.5f' % v for v in loss_sk)))
    # the search fits to a gradient tolerance of 1e-4: the optimum's loss and its neighbours'
    # (which decide the choice) agree to 1e-4, those far up the path (large C) to 1e-3
    near = diff[max(best - 1, 0):best + 2].max()
    check(near <= 1e-4, '%s: CV losses of the optimum and its neighbours within 1e-4 (max diff %.2e)' % (name, near))
    check(diff.max() <= 1e-3, '%s: every CV loss within 1e-3 (max diff %.2e)' % (name, diff.max()))
    dp = np.abs(p_irb - ref.predict_proba(x)).max()
    check(dp <= 1e-4, '%s: refit probabilities within 1e-4 of the reference\'s (max |dp| %.2e; '
          'LogisticRegressionCV\'s own refit: %.2e)' % (name, dp, np.abs(p_irb - m.predict_proba(x)).max()))


def main():
    warnings.simplefilter('ignore')  # newton-cg's ConvergenceWarning at tol 1e-10; checked by |dp|
    case('binary_balanced', 2, [150, 130, 110, 95, 80], 40, True, 3, 0.12)
    case('four_classes', 4, [170, 140, 120, 100, 90], 30, False, 5, 0.25)
    case('binary_weak', 2, [150, 130, 110, 95, 80], 60, False, 7, 0.06, expect_stop=True)
    finish()


if __name__ == '__main__':
    main()
