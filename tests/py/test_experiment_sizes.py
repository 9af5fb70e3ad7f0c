"""irbis experiment --size: the CNN rows at another input size, and a size chosen per fold.

On the first 200 MLWIC frames (empty vs animal, 5 contiguous blocks, C fixed to 0.1, no strip
crop, RN2 only):
- `--size 96`: the out-of-fold probabilities equal scikit-learn's logistic regression (same C,
  standardised, same blocks) on features from `irbis featurize --size 96 --cut 2` (independent
  of the experiment's own cache and training): at least 99.5 % of the predicted labels agree and
  the mean |dp| is small; the table says 96.
- `--size 96,224 --decode each`: every fold's predictions are those of the single-size run at
  the size that fold chose, and the input_sizes column counts exactly those choices (5 in all).
- The cache keeps one feature set per size: a re-run of `--size 96,224` computes nothing.
- `--size 96,224 --combine mean --decode each`: every probability is the mean of the two
  single-size runs'; with `--crop auto` the table counts all 5 folds as cropped.
- `--size 96,224 --combine mean` (decode once, the default): the 96 input is resampled from the
  decode 224 picks (1/1 of these 256 px frames, against 1/2 for 96 alone: the fast DCT scales,
  docs/images.md): the probabilities are
  the mean of the 224 run's and scikit-learn's on `irbis featurize --size 96 --decode-size 224`
  features (which differ from --size 96's).
- RN2 after an RN2+A run (a fresh cache) takes its features from the flipped set: nothing
  computed, the same predictions.
- RN2+A after an RN2 run (another fresh cache) takes the originals from the unflipped set and
  computes only the mirrors (the progress names that stage, 200 images, and no other CNN stage
  runs); its predictions equal those of the run that computed both.
"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, mlwic_labels, tmpdir  # noqa: E402

TMP = tmpdir('experiment_sizes')
N = 200


def experiment(out, sizes, *extra, rows='RN2', cache='cache', log=None):
    cmd = [BIN, 'experiment', '--images', CT, '--labels', os.path.join(TMP, 'labels.csv'), '--model', MODEL,
           '--task', 'empty', '--C', '0.1', '--crop', 'none', '--rows', rows, '--size', sizes,
           '--cache', os.path.join(TMP, cache), '-o', os.path.join(TMP, out)] + list(extra)
    r = subprocess.run(cmd + ([] if log is not None else ['--quiet']), capture_output=True, text=True, timeout=900)
    check(r.returncode == 0, 'experiment --size %s exits 0 (%s)' % (sizes, r.stderr.strip()[-300:]))
    if log is not None:
        log.append(r.stderr)
    table = {t['row']: t for t in csv.DictReader(open(os.path.join(TMP, out, 'table.csv')))}
    pred = list(csv.DictReader(open(os.path.join(TMP, out, 'predictions_RN2.csv'))))
    return table['RN2'], pred, table


def preds(out, row):
    return np.array([float(p['p_animal']) for p in csv.DictReader(open(os.path.join(TMP, out, 'predictions_%s.csv'
                                                                                     % row)))])


def sklearn_oof(X, y, C):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    p = np.zeros(len(y))
    for te in np.array_split(np.arange(len(y)), 5):
        tr = np.setdiff1d(np.arange(len(y)), te)
        sc = StandardScaler().fit(X[tr])
        m = LogisticRegression(C=C, max_iter=5000, tol=1e-8).fit(sc.transform(X[tr]), y[tr])
        p[te] = m.predict_proba(sc.transform(X[te]))[:, 1]
    return p


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    rows = mlwic_labels(os.path.join(TMP, 'labels.csv'), N)
    y = np.array([0 if r['label'] == 'empty' else 1 for r in rows])

    lst = os.path.join(TMP, 'list.txt')
    with open(lst, 'w') as f:
        f.write(''.join(os.path.join(CT, r['path']) + '\n' for r in rows))
    base = os.path.join(TMP, 'f96')
    r = subprocess.run([BIN, 'featurize', '--model', MODEL, '--cut', '2', '--size', '96', '--list', lst,
                        '-o', base], capture_output=True, text=True, timeout=600)
    check(r.returncode == 0, 'featurize --size 96 (%s)' % r.stderr.strip()[-200:])
    X = np.load(base + '.npy').astype(np.float64)
    ref = sklearn_oof(X, y, 0.1)

    t96, p96, _ = experiment('s96', '96')
    check(t96['input_sizes'] == '96', 'table records input size 96 (%r)' % t96['input_sizes'])
    got = np.array([float(p['p_animal']) for p in p96])
    agree = np.mean((got > 0.5) == (ref > 0.5))
    check(len(got) == N and agree >= 0.995, 'RN2 at 96: labels agree with scikit-learn on %.1f %%' % (100 * agree))
    d = np.abs(got - ref).mean()
    check(d <= 2e-3, 'RN2 at 96: mean |p - p_sklearn| = %.1e' % d)
    acc = np.mean((got > 0.5) == y)
    check(abs(acc - float(t96['accuracy'])) < 1e-9, 'the table accuracy is the predictions\' (%.4f)' % acc)

    t224, p224, _ = experiment('s224', '224')
    check(t224['input_sizes'] == '224', 'table records input size 224 (%r)' % t224['input_sizes'])
    both, pb, _ = experiment('both', '96,224', '--decode', 'each')
    fold = np.array([int(p['fold']) for p in pb])
    pb_ = np.array([float(p['p_animal']) for p in pb])
    a96 = got
    a224 = np.array([float(p['p_animal']) for p in p224])
    chosen = {}
    for f in range(5):
        m = fold == f
        if np.array_equal(pb_[m], a96[m]):
            chosen[f] = 96
        elif np.array_equal(pb_[m], a224[m]):
            chosen[f] = 224
    check(len(chosen) == 5, 'each fold\'s predictions are those of one size\'s run (%s)' % chosen)
    counts = {s: sum(1 for v in chosen.values() if v == s) for s in (96, 224)}
    want = ' '.join('%d:%d' % (s, n) for s, n in counts.items() if n) if all(counts.values()) else \
        str(max(counts, key=counts.get))
    check(both['input_sizes'] == want, 'input_sizes %r counts the folds\' choices (%r)' % (both['input_sizes'], want))
    check(float(both['feature_seconds']) == 0, 'both sizes came from the cache (%s s)' % both['feature_seconds'])

    mean, pm, _ = experiment('mean', '96,224', '--combine', 'mean', '--decode', 'each')
    check(mean['input_sizes'] == 'mean 96/224', 'table says the sizes are averaged (%r)' % mean['input_sizes'])
    pm_ = np.array([float(p['p_animal']) for p in pm])
    d = np.abs(pm_ - (a96 + a224) / 2).max()
    check(d <= 2e-6, '--combine mean: p = the mean of the 96 and 224 runs\' p (max diff %.1e)' % d)
    res = json.load(open(os.path.join(TMP, 'mean', 'results.json')))
    check(res['combine'] == 'mean' and res['rows'][0]['input_sizes'] == 'mean 96/224',
          'results.json records the combination (%s, %s)' % (res['combine'], res['rows'][0]['input_sizes']))
    # decode once (the default): 96 resampled from 224's decode, as featurize --decode-size 224
    r = subprocess.run([BIN, 'featurize', '--model', MODEL, '--cut', '2', '--size', '96', '--decode-size', '224',
                        '--list', lst, '-o', base + 'once'], capture_output=True, text=True, timeout=600)
    check(r.returncode == 0, 'featurize --size 96 --decode-size 224 (%s)' % r.stderr.strip()[-200:])
    Xo = np.load(base + 'once.npy').astype(np.float64)
    pp = json.load(open(base + 'once.json')).get('preprocessing')
    pp = json.loads(pp) if isinstance(pp, str) else pp
    check(pp.get('decode_size') == 224, 'the feature set records decode_size 224 (%s)' % pp)
    dx = np.abs(Xo - X).max() if Xo.shape == X.shape else -1
    check(dx > 1e-3, 'decode-size 224 changes the 96 features (max |dx| %.3g)' % dx)
    _, po, _ = experiment('mean_once', '96,224', '--combine', 'mean')
    po_ = np.array([float(p['p_animal']) for p in po])
    want_once, want_each = (sklearn_oof(Xo, y, 0.1) + a224) / 2, (a96 + a224) / 2
    d_once, d_each = np.abs(po_ - want_once).mean(), np.abs(po_ - want_each).mean()
    check(d_once <= 1e-3 and d_once < d_each / 2,
          'decode once: p = mean of 224 and scikit-learn on decode-size-224 96 features (mean |dp| %.1e; '
          'against each size\'s own decode %.1e)' % (d_once, d_each))

    # --combine mean with the strips always cropped: every fold's classifiers cropped
    ma, _, _ = experiment('mean_auto', '96,224', '--combine', 'mean', '--crop', 'auto')
    check(ma['crop_auto_folds'] == '5', 'mean with --crop auto: 5 of 5 folds cropped (%s)' % ma['crop_auto_folds'])
    check(mean['crop_auto_folds'] == '0', 'mean with --crop none: 0 folds cropped (%s)' % mean['crop_auto_folds'])

    # a run with flips first (a new cache), then RN2 alone: its unflipped features come from the
    # flipped set, nothing is computed, and the predictions are the 96 run's
    _, _, tf = experiment('flips', '96', rows='RN2,RN2+A', cache='cache2')
    check(float(tf['RN2+A']['feature_seconds']) > 0, 'the flips run computed its features')
    t2, p2, _ = experiment('after_flips', '96', cache='cache2')
    check(float(t2['feature_seconds']) == 0, 'RN2 after RN2+A computes nothing (%s s)' % t2['feature_seconds'])
    got2 = np.array([float(p['p_animal']) for p in p2])
    check(np.array_equal(got2, a96), 'and gives the same predictions as computing them')
    # the other order: RN2 first (a new cache), then RN2+A computes only the mirrors
    experiment('rn2_first', '96', cache='cache3')
    log = []
    experiment('flips_after', '96', rows='RN2,RN2+A', cache='cache3', log=log)
    stages = re.findall(r'^  (CNN[^:]*): (\d+) / (\d+)$', log[0], re.M)
    check(stages and all('mirrors of cached images' in st for st, _, _ in stages),
          'RN2+A after RN2 runs the CNN on the mirrors only (%s)' % sorted(set(st for st, _, _ in stages)))
    check(stages and stages[-1][1] == stages[-1][2] == str(N), 'the mirrors of all %d images (%s)'
          % (N, stages[-1:] if stages else None))
    pa, pa_ref = preds('flips_after', 'RN2_A'), preds('flips', 'RN2_A')
    check(len(pa) == N and np.abs(pa - pa_ref).max() <= 2e-6, 'RN2+A after RN2 = RN2+A computed from scratch (max diff %.1e)'
          % np.abs(pa - pa_ref).max())
    html = open(os.path.join(TMP, 'mean', 'report.html')).read()
    check('their probabilities averaged' in html and 'mean 96/224' in html, 'report.html says the sizes are averaged')
    finish()


if __name__ == '__main__':
    main()
