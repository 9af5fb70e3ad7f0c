#!/usr/bin/python3
"""The training side fed as real users feed it (the hostile training test):
- `irbis train FEATURES` with a labels file none of whose rows match a feature row said 'out of
  memory' (the CV units of zero images failed); it names the cause now."""
import csv
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, make_tree, tmpdir, write_features  # noqa: E402

TMP = tmpdir('hostile_training')


def run(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True)


def write_rows(path, rows, header=('path', 'label')):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def train_features_unmatched():
    """Labels that match no feature row: said as such, not 'out of memory'."""
    import numpy as np
    base = os.path.join(TMP, 'feats')
    paths = ['/data/cam1/IMG_%04d.JPG' % i for i in range(8)]
    write_features(base, np.random.default_rng(0).normal(size=(8, 4)), paths)
    lab = os.path.join(TMP, 'elsewhere.csv')
    write_rows(lab, [['other/IMG_9%03d.JPG' % i, 'empty' if i % 2 else 'deer'] for i in range(8)])
    r = run('train', base, '--labels', lab, '-o', os.path.join(TMP, 'x.irbis'))
    check(r.returncode == 3 and 'matched a label' in r.stderr and 'out of memory' not in r.stderr,
          'train FEATURES, no label matches: says so (rc %d: %s)' % (r.returncode, r.stderr.strip()))


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    train_features_unmatched()
    finish()


if __name__ == '__main__':
    main()
