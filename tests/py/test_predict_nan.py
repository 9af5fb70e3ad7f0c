#!/usr/bin/python3
"""Regression (issue 15, item 12): a feature row of NaN went into predict's CSV as
`nan,nan,animal` with exit 0, and `irbis evaluate` could not read the file. The row must be
left out and named on stderr (exit 1); every written probability is a finite number summing
to 1 per row, and evaluate reads the file. Item 17: a feature .json re-saved with other
spacing is the same provenance; a different preprocessing is still refused."""
import csv
import math
import os
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, check, finish, small_classifier, tmpdir  # noqa: E402

TMP = tmpdir('predict_nan')


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    clf, base, paths, labels = small_classifier(TMP)
    nan = os.path.join(TMP, 'nan')
    x = np.load(base + '.npy')
    x[2, :] = np.nan
    np.save(nan + '.npy', x)
    shutil.copy(base + '.csv', nan + '.csv')
    shutil.copy(base + '.json', nan + '.json')
    out = os.path.join(TMP, 'pred.csv')
    r = subprocess.run([BIN, 'predict', clf, nan, '-o', out], capture_output=True, text=True)
    check(r.returncode == 1 and os.path.basename(paths[2]) in r.stderr,
          'predict: exit %d (want 1), the NaN row named: %s' % (r.returncode, r.stderr.strip()))
    got = list(csv.DictReader(open(out, newline='')))
    pcols = [c for c in got[0] if c.startswith('p_')] if got else []
    ok = len(got) == len(paths) - 1 and all(
        all(math.isfinite(float(g[c])) for c in pcols) and abs(sum(float(g[c]) for c in pcols) - 1) < 1e-6
        for g in got)
    check(ok and paths[2] not in [g['path'] for g in got], '%d rows, all finite, the NaN row left out' % len(got))
    r = subprocess.run([BIN, 'evaluate', out, '--labels', labels, '-o', os.path.join(TMP, 'ev')],
                       capture_output=True, text=True)
    check(r.returncode == 0, 'evaluate reads it: exit %d %s' % (r.returncode, r.stderr.strip()[-300:]))
    # item 17: the feature .json re-saved by Python (other spacing in the preprocessing object)
    # is the same provenance; it was refused showing two identical-looking values
    import json
    json.dump(json.load(open(base + '.json')), open(nan + '.json', 'w'), indent=1)
    r = subprocess.run([BIN, 'predict', clf, nan, '-o', out], capture_output=True, text=True)
    check(r.returncode == 1 and 'preprocessing' not in r.stderr, 're-saved feature .json accepted: exit %d %s'
          % (r.returncode, r.stderr.strip()[-300:]))
    meta = json.load(open(base + '.json'))
    meta['preprocessing']['size'] = 225
    json.dump(meta, open(nan + '.json', 'w'))
    r = subprocess.run([BIN, 'predict', clf, nan, '-o', out], capture_output=True, text=True)
    check(r.returncode == 3 and 'preprocessing' in r.stderr, 'another preprocessing still refused: exit %d'
          % r.returncode)
    finish()


main()
