#!/usr/bin/python3
"""Regression (issue 15, item 4): class names are CSV fields like any other. A class named
`deer, "red"` must give a predictions.csv (classify) and a predictions_<row>.csv (experiment)
whose header, read by Python's csv module, has the same number of fields as every row and
names the class exactly (the header used to write it raw: two fields more than the rows)."""
import csv
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, tmpdir  # noqa: E402

NAME = 'deer, "red"'
TMP = tmpdir('csv_names')


def labelled(n):
    """n MLWIC frames in path order, alternating empty and animal (so every block has both)."""
    rows = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                   if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])
    out = []
    for r in rows:
        lab = 'empty' if r['label'] == 'empty' else NAME
        if len(out) < n and lab == ('empty' if len(out) % 2 == 0 else NAME):
            out.append((r['path'], lab))
    return out


def write_labels(path, rows, prefix=''):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        for p, lab in rows:
            w.writerow([prefix + p, lab])


def check_table(path, cols):
    with open(path, newline='', encoding='utf-8') as f:
        table = list(csv.reader(f))
    header = table[0]
    check(all(c in header for c in cols), '%s: header names %s: %s' % (os.path.basename(path), cols, header))
    bad = [i for i, r in enumerate(table[1:]) if len(r) != len(header)]
    check(len(table) > 1 and not bad, '%s: every row has the %d header fields (bad rows %s)'
          % (os.path.basename(path), len(header), bad[:5]))
    lab = header.index('label') if 'label' in header else -1
    check(lab >= 0 and all(r[lab] in ('empty', NAME) for r in table[1:]),
          '%s: labels are the class names' % os.path.basename(path))


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    check(p.returncode == 0, ' '.join(cmd[:2]) + ' exits 0 (%d: %s)' % (p.returncode, p.stderr.strip()[-300:]))
    return p


def experiment(rows):
    labels = os.path.join(TMP, 'labels.csv')
    write_labels(labels, rows)
    out = os.path.join(TMP, 'exp')
    run([BIN, 'experiment', '--images', CT, '--labels', labels, '--model', MODEL, '--task', 'species',
         '--rows', 'RN2', '--C', '1', '--crop', 'none', '--folds', '3', '-o', out, '--quiet',
         '--cache', os.path.join(TMP, 'cache')])
    check_table(os.path.join(out, 'predictions_RN2.csv'), ['p_' + NAME])


def classify(rows):
    paths = [os.path.join(CT, p) for p, _ in rows]
    lst = os.path.join(TMP, 'list.txt')
    open(lst, 'w').write('\n'.join(paths) + '\n')
    base = os.path.join(TMP, 'feat')
    run([BIN, 'featurize', '--model', MODEL, '--list', lst, '-o', base, '--threads', '2'])
    labels = os.path.join(TMP, 'train_labels.csv')
    write_labels(labels, rows, CT + '/')
    clf = os.path.join(TMP, 'clf.irbis')
    run([BIN, 'train', base, '--labels', labels, '--C', '1', '-o', clf])
    survey = os.path.join(TMP, 'survey', 'cam1')
    os.makedirs(survey)
    for p in paths[:4]:
        os.symlink(p, os.path.join(survey, os.path.basename(p)))
    out = os.path.join(TMP, 'cls')
    run([BIN, 'classify', '--model', MODEL, '--classifier', clf, os.path.dirname(survey), '-o', out,
         '--threads', '2', '--quiet'])
    check_table(os.path.join(out, 'predictions.csv'), ['p_' + NAME, 'seq_p_' + NAME])


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    rows = labelled(30)
    check(len({lab for _, lab in rows}) == 2, 'both classes among the labelled images')
    experiment(rows)
    classify(rows[:16])
    finish()


main()
