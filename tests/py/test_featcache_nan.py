"""Regression: the experiment's feature cache with a row poisoned by NaN or infinity (a damaged
or hand-edited cache .npy that still loads) was fed to the trainer, and the run died with a
LAPACK error. A cached row that is not all finite is now computed again: the second run over the
poisoned cache exits 0 with the same out-of-fold predictions as the first, and the cache it
leaves holds finite rows only. A cache that cannot be written is said."""
import csv
import glob
import os
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('featcache_nan')


def run(out, cache, labels):
    return subprocess.run([BIN, 'experiment', '--images', CT, '--labels', labels, '--model', MODEL, '--rows',
                           'RN2,RN2+A', '--C', '1', '--crop', 'none', '--folds', '3', '--threads', '2', '-o', out,
                           '--quiet', '--cache', cache], capture_output=True, text=True, timeout=600)


def preds(out, row):
    with open(os.path.join(out, 'predictions_%s.csv' % row.replace('+', '_')), newline='') as f:
        return {r['path']: float(r['p_animal']) for r in csv.DictReader(f)}


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    labels = os.path.join(TMP, 'labels.csv')
    rows = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                   if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])
    pick = [r for r in rows if r['label'] == 'empty'][:18] + [r for r in rows if r['label'] != 'empty'][:18]
    with open(labels, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        for r in pick:
            w.writerow([r['path'], r['label']])
    cache = os.path.join(TMP, 'cache')
    r = run(os.path.join(TMP, 'ref'), cache, labels)
    check(r.returncode == 0, 'the first run (exit %d: %s)' % (r.returncode, r.stderr.strip()[-300:]))
    sets = sorted(glob.glob(os.path.join(cache, '*.npy')))
    check(len(sets) >= 1, 'the first run left a feature set in its cache (%d)' % len(sets))
    for k, npy in enumerate(sets):  # every set: a NaN in one row, an infinity in another
        x = np.load(npy)
        x[3 % len(x), 7] = np.nan
        x[(11 + k) % len(x), 0] = np.inf
        np.save(npy, x)
    r = run(os.path.join(TMP, 'again'), cache, labels)
    check(r.returncode == 0 and 'LAPACK' not in r.stderr,
          'a run over the poisoned cache exits 0 (exit %d: %s)' % (r.returncode, r.stderr.strip()[-300:]))
    for row in ('RN2', 'RN2+A'):
        if r.returncode == 0:
            a, b = preds(os.path.join(TMP, 'ref'), row), preds(os.path.join(TMP, 'again'), row)
            check(a.keys() == b.keys() and max(abs(a[p] - b[p]) for p in a) < 1e-6,
                  '%s: the same out-of-fold predictions as the first run' % row)
    check(all(np.isfinite(np.load(n)).all() for n in glob.glob(os.path.join(cache, '*.npy'))),
          'the cache holds finite rows only afterwards')
    # a cache that cannot be written (a full disk, a folder that is a file): the run's results
    # stand, and it says the cache was not kept (regression: said nothing)
    r = run(os.path.join(TMP, 'nocache'), '/dev/null/cache', labels)
    check(r.returncode == 0 and 'feature cache was not written' in r.stderr,
          'an unwritable cache: exit 0 with a warning (exit %d: %s)' % (r.returncode, r.stderr.strip()[-300:]))
    finish()


if __name__ == '__main__':
    main()
