#!/usr/bin/python3
"""Labelled images that are byte-identical copies of each other (a card copied twice, a picture
kept in a species folder and in its camera's folder): a regression from a scale test. Copies
landed in different folds, so the cross-validation scored pictures the model had trained on
(100 % on 10,000 labels that were 1,933 pictures copied), and the novelty threshold (the 95th
percentile of each image's distance to the nearest image of the other folds) came out at zero:
every new picture would have been novel, so `uncertain`.

Now `irbis train --images` keeps the first copy in path order and says how many it left out;
copies under different labels all go, and it names one. The run must equal a run on a labels file
with the copies removed by hand (same images, same accuracy, same novelty threshold)."""
import csv
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, mlwic_labels, tmpdir  # noqa: E402

TMP = tmpdir('train_copies')


def train(labels, root, name):
    report = os.path.join(TMP, 'report_' + name)
    r = subprocess.run([BIN, 'train', '--images', root, '--labels', labels, '--model', MODEL, '--recipe', 'RN2',
                        '--size', '224', '--resize', 'squash', '--crop', 'none', '--C', '1', '--folds', '3',
                        '--report', report, '-o', os.path.join(TMP, name + '.irbis'), '--threads', '2'],
                       capture_output=True, text=True, timeout=600)
    check(r.returncode == 0, '%s: train (exit %d: %s)' % (name, r.returncode, r.stderr[-400:]))
    m = re.search(r'^(\d+) images', r.stdout, re.M)
    acc = re.search(r'^RN2\s+\d+\s+([\d.]+)%', r.stdout, re.M)
    thr = re.search(r'nearest training image above ([\d.e+-]+)', r.stdout)
    with open(os.path.join(report, 'predictions_RN2.csv'), newline='') as f:
        paths = sorted(row['path'] for row in csv.DictReader(f))
    return r, int(m.group(1)) if m else -1, acc.group(1) if acc else None, float(thr.group(1)) if thr else -1, paths


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    rows = mlwic_labels(os.path.join(TMP, 'mlwic.csv'), 40)
    root = os.path.join(TMP, 'img')
    for cam in ('camA', 'camB', 'camC'):
        os.makedirs(os.path.join(root, cam))
    flip = {'empty': 'animal'}
    with open(os.path.join(TMP, 'labels.csv'), 'w', newline='') as f, \
            open(os.path.join(TMP, 'unique.csv'), 'w', newline='') as g:
        w, u = csv.writer(f), csv.writer(g)
        w.writerow(['path', 'label'])
        u.writerow(['path', 'label'])
        for i, r in enumerate(rows):
            name = os.path.basename(r['path'])
            src = os.path.join(CT, r['path'])
            shutil.copyfile(src, os.path.join(root, 'camA', name))
            shutil.copyfile(src, os.path.join(root, 'camB', name))  # every picture twice, the same label
            w.writerow(['camA/' + name, r['label']])
            w.writerow(['camB/' + name, r['label']])
            if i < 2:  # and two a third time under another label: all their copies go
                shutil.copyfile(src, os.path.join(root, 'camC', name))
                w.writerow(['camC/' + name, flip.get(r['label'], 'empty')])
            else:
                u.writerow(['camA/' + name, r['label']])

    r, n, acc, thr, paths = train(os.path.join(TMP, 'labels.csv'), root, 'copies')
    check('38 labelled image(s) are copies of another labelled image' in r.stderr and 'camB/' in r.stderr,
          'the copies left out are counted and one named: %s' % r.stderr.strip()[-500:])
    check('6 labelled image(s) are copies of one picture under different labels' in r.stderr and
          'camC/' in r.stderr, 'the copies under different labels are counted and named')
    check(n == 38 and len(paths) == 38 and all(p.startswith('camA/') for p in paths),
          'trained on the 38 pictures once each, the first copies (%d images, %s ...)' % (n, paths[:2]))
    check(thr > 0.01, 'the novelty threshold is not zero (%g)' % thr)

    r2, n2, acc2, thr2, paths2 = train(os.path.join(TMP, 'unique.csv'), root, 'unique')
    check(n2 == n and paths2 == paths and acc2 == acc and thr2 == thr,
          'the same as training on the labels without the copies (%d images, %s%%, threshold %g; by hand: %d, %s%%, '
          '%g)' % (n, acc, thr, n2, acc2, thr2))
    check('copies' not in r2.stderr, 'no copies said when there are none')
    finish()


if __name__ == '__main__':
    main()
