#!/usr/bin/python3
"""Labels files (issue 15, item 11):
- evaluate: a row with an empty label is no label (it was counted as a class named ''): the
  metrics list only the real classes and count only the labelled images."""
import csv
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, check, finish, small_classifier, tmpdir  # noqa: E402

TMP = tmpdir('labels')


def write_labels(path, rows):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        w.writerows(rows)


def evaluate_empty_label(clf, base, labels):
    pred = os.path.join(TMP, 'pred.csv')
    subprocess.run([BIN, 'predict', clf, base, '-o', pred], check=True, capture_output=True)
    rows = list(csv.reader(open(labels, newline='')))[1:]
    rows[0][1] = ''
    lab = os.path.join(TMP, 'labels_empty.csv')
    write_labels(lab, rows)
    out = os.path.join(TMP, 'ev')
    r = subprocess.run([BIN, 'evaluate', pred, '--labels', lab, '-o', out], capture_output=True, text=True)
    m = list(csv.DictReader(open(os.path.join(out, 'metrics.csv'), newline=''))) if r.returncode == 0 else []
    classes = [x['class'] for x in m if x['class'] not in ('accuracy', 'balanced_accuracy', 'macro_f1', 'auc')]
    support = sum(int(x['support']) for x in m if x['class'] in classes)
    check(r.returncode == 0 and sorted(classes) == ['animal', 'empty'] and support == len(rows) - 1,
          'evaluate: classes %s, support %d of %d labelled (exit %d %s)'
          % (classes, support, len(rows) - 1, r.returncode, r.stderr.strip()[-200:]))


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    clf, base, paths, labels = small_classifier(TMP)
    evaluate_empty_label(clf, base, labels)
    finish()


main()
