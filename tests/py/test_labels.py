#!/usr/bin/python3
"""Labels files (issue 15, item 11):
- evaluate: a row with an empty label is no label (it was counted as a class named ''): the
  metrics list only the real classes and count only the labelled images;
- train: a path given twice with two different labels is refused naming both (it silently
  kept the first); the same label twice is fine;
- train --negative empty and experiment --task empty: a label 'Empty' is empty (it silently
  counted as an animal);
- train and evaluate: a bare file name in the labels that matches same-named images in several
  camera folders is said (a warning naming an example), not silently applied to all;
- experiment: a path listed twice is one image (it was counted twice), and with two labels it is
  refused."""
import csv
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, small_classifier, tmpdir  # noqa: E402

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
    r = evaluate_classes(pred, lab, os.path.join(TMP, 'ev'), len(rows) - 1, 'evaluate: an empty label is no label')
    check('1 row(s) with an empty label skipped (the first: row 1)' in r.stderr,
          'evaluate says it skipped the empty label: %s' % r.stderr.strip()[-300:])


def evaluate_classes(pred, lab, out, n_labelled, what):
    """evaluate must see the classes animal and empty, with n_labelled images in all."""
    r = subprocess.run([BIN, 'evaluate', pred, '--labels', lab, '-o', out], capture_output=True, text=True)
    m = list(csv.DictReader(open(os.path.join(out, 'metrics.csv'), newline=''))) if r.returncode == 0 else []
    classes = [x['class'] for x in m if x['class'] not in ('accuracy', 'balanced_accuracy', 'macro_f1', 'auc')]
    support = sum(int(x['support']) for x in m if x['class'] in classes)
    check(r.returncode == 0 and sorted(classes) == ['animal', 'empty'] and support == n_labelled,
          '%s: classes %s, support %d of %d labelled (exit %d %s)'
          % (what, classes, support, n_labelled, r.returncode, r.stderr.strip()[-200:]))
    return r


def evaluate_spaced_labels(clf, base, labels):
    """Label cells with spaces or tabs around them (a spreadsheet's 'empty ') are the same labels
    (regression: 'empty ' was a third class, and train/experiment --task empty saw no empty
    image); a cell of spaces is no label."""
    pred = os.path.join(TMP, 'pred.csv')
    rows = list(csv.reader(open(labels, newline='')))[1:]
    spaced = [[p, (' %s\t' if i % 2 else '%s ') % lab] for i, (p, lab) in enumerate(rows)]
    spaced[0][1] = '  '
    lab = os.path.join(TMP, 'labels_spaced.csv')
    write_labels(lab, spaced)
    evaluate_classes(pred, lab, os.path.join(TMP, 'ev_spaced'), len(rows) - 1, 'evaluate: spaced labels')
    r = subprocess.run([BIN, 'train', base, '--labels', lab, '--negative', 'empty', '--C', '1', '-o',
                        os.path.join(TMP, 'spaced.irbis')], capture_output=True, text=True)
    check(r.returncode == 0 and '1 row(s) with an empty label skipped' in r.stderr,
          'train --negative empty on spaced labels (a cell of spaces said skipped): exit %d %s'
          % (r.returncode, r.stderr.strip()))


def train_one_class(base, labels):
    """Labels of one class: said in words (it was the regression's internals: 'need rows (none
    only with an allreduce), labels, names, dim >= 1 and >= 2 classes')."""
    rows = [[p, 'animal'] for p, _ in list(csv.reader(open(labels, newline='')))[1:]]
    lab = os.path.join(TMP, 'labels_one.csv')
    write_labels(lab, rows)
    r = subprocess.run([BIN, 'train', base, '--labels', lab, '--C', '1', '-o', os.path.join(TMP, 'one.irbis')],
                       capture_output=True, text=True)
    check(r.returncode == 3 and 'all of one class (animal)' in r.stderr and 'allreduce' not in r.stderr,
          'train on one class: exit %d %s' % (r.returncode, r.stderr.strip()[-200:]))


def train_conflict(base, labels):
    rows = list(csv.reader(open(labels, newline='')))[1:]
    lab = os.path.join(TMP, 'labels_twice.csv')
    write_labels(lab, rows + [rows[0]])
    r = subprocess.run([BIN, 'train', base, '--labels', lab, '--C', '1', '-o', os.path.join(TMP, 'c1.irbis')],
                       capture_output=True, text=True)
    check(r.returncode == 0, 'train: the same label twice is fine (exit %d %s)' % (r.returncode, r.stderr.strip()))
    other = 'animal' if rows[0][1] == 'empty' else 'empty'
    write_labels(lab, rows + [[rows[0][0], other]])
    r = subprocess.run([BIN, 'train', base, '--labels', lab, '--C', '1', '-o', os.path.join(TMP, 'c2.irbis')],
                       capture_output=True, text=True)
    check(r.returncode == 3 and 'two labels' in r.stderr and other in r.stderr
          and not os.path.exists(os.path.join(TMP, 'c2.irbis')),
          'train: two labels for one path refused: exit %d %s' % (r.returncode, r.stderr.strip()))


def experiment_twice():
    every = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                    if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])
    rows = []
    for r in every:  # alternating classes in path order, so both folds hold both
        lab = 'empty' if r['label'] == 'empty' else 'animal'
        if len(rows) < 30 and lab == ('empty', 'animal')[len(rows) % 2]:
            rows.append([r['path'], lab])
    lab = os.path.join(TMP, 'exp_labels.csv')
    cmd = [BIN, 'experiment', '--images', CT, '--labels', lab, '--model', MODEL, '--rows', 'RN2', '--C', '1',
           '--crop', 'none', '--folds', '2', '--quiet', '--cache', os.path.join(TMP, 'cache')]
    write_labels(lab, rows + rows[:3])
    out = os.path.join(TMP, 'exp1')
    r = subprocess.run(cmd + ['-o', out], capture_output=True, text=True)
    got = [x['path'] for x in csv.DictReader(open(os.path.join(out, 'predictions_RN2.csv'), newline=''))] \
        if r.returncode == 0 else []
    check(r.returncode == 0 and sorted(got) == sorted(x[0] for x in rows),
          'experiment: a path listed twice is one image (%d rows for %d images, exit %d %s)'
          % (len(got), len(rows), r.returncode, r.stderr.strip()[-200:]))
    write_labels(lab, rows + [[rows[0][0], 'animal' if rows[0][1] == 'empty' else 'empty']])
    r = subprocess.run(cmd + ['-o', os.path.join(TMP, 'exp2')], capture_output=True, text=True)
    check(r.returncode == 3 and 'two labels' in r.stderr, 'experiment: two labels refused: exit %d %s'
          % (r.returncode, r.stderr.strip()[-200:]))
    write_labels(lab, [[rows[0][0], 'Empty']] + rows[1:])  # rows[0] is an empty frame
    out = os.path.join(TMP, 'exp3')
    r = subprocess.run(cmd + ['-o', out], capture_output=True, text=True)
    got = {x['path']: x['label'] for x in csv.DictReader(open(os.path.join(out, 'predictions_RN2.csv'), newline=''))} \
        if r.returncode == 0 else {}
    check(got.get(rows[0][0]) == 'empty', "experiment --task empty: 'Empty' is empty: %s" % got.get(rows[0][0]))
    # a timestamp column whose values are not times: said, not silently untimed (regression)
    stamps = ['2019-07-08T%02d:%02d:00' % (8 + 2 * i // 60, 2 * i % 60) for i in range(len(rows))]  # 2 min apart
    stamps[3], stamps[7] = 'yesterday', '2019-13-45T99:00:00'
    with open(lab, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label', 'camera', 'timestamp'])
        w.writerows([p, l, 'CA', t] for (p, l), t in zip(rows, stamps))
    r = subprocess.run(cmd + ['-o', os.path.join(TMP, 'exp4')], capture_output=True, text=True)
    check(r.returncode == 0 and '2 image(s) have a timestamp that is not a time' in r.stderr and 'yesterday' in r.stderr,
          'experiment: unparseable label timestamps are said: exit %d %s' % (r.returncode, r.stderr.strip()[-300:]))


def train_negative_case(base, labels):
    rows = list(csv.reader(open(labels, newline='')))[1:]
    n_empty = sum(r[1] == 'empty' for r in rows)
    for r in rows:
        if r[1] == 'empty':
            r[1] = 'Empty'
            break
    lab = os.path.join(TMP, 'labels_case.csv')
    write_labels(lab, rows)
    r = subprocess.run([BIN, 'train', base, '--labels', lab, '--negative', 'empty', '--C', '1', '-o',
                        os.path.join(TMP, 'c3.irbis')], capture_output=True, text=True)
    counts = {ln.split()[1]: int(ln.split()[2]) for ln in r.stdout.splitlines() if ln.startswith('class ')}
    check(r.returncode == 0 and counts.get('empty') == n_empty, "train --negative empty: 'Empty' counts as empty: %s"
          % counts)


def bare_names(paths):
    for cam, src in (('cam1', paths[0]), ('cam2', paths[4]), ('cam1', paths[1]), ('cam2', paths[5])):
        os.makedirs(os.path.join(TMP, 'bare', cam), exist_ok=True)
        shutil.copy(src, os.path.join(TMP, 'bare', cam, 'a.jpg' if src in paths[0::4] else 'b.jpg'))
    imgs = [os.path.join(TMP, 'bare', c, n) for c in ('cam1', 'cam2') for n in ('a.jpg', 'b.jpg')]
    base = os.path.join(TMP, 'bare_feat')
    subprocess.run([BIN, 'featurize', '--model', MODEL, '-o', base] + imgs, check=True, capture_output=True)
    lab = os.path.join(TMP, 'bare_labels.csv')
    write_labels(lab, [['a.jpg', 'empty'], ['cam1/b.jpg', 'animal'], ['cam2/b.jpg', 'animal']])
    r = subprocess.run([BIN, 'train', base, '--labels', lab, '--C', '1', '-o', os.path.join(TMP, 'bare.irbis')],
                       capture_output=True, text=True)
    check(r.returncode == 0 and 'several folders' in r.stderr and "'a.jpg'" in r.stderr,
          'train: a bare name matching two cameras is said: %s' % r.stderr.strip()[-300:])
    pred = os.path.join(TMP, 'bare_pred.csv')
    subprocess.run([BIN, 'predict', os.path.join(TMP, 'bare.irbis'), base, '-o', pred], check=True,
                   capture_output=True)
    r = subprocess.run([BIN, 'evaluate', pred, '--labels', lab, '-o', os.path.join(TMP, 'bare_ev')],
                       capture_output=True, text=True)
    check(r.returncode == 0 and 'several folders' in r.stderr, 'evaluate: the same said: %s'
          % r.stderr.strip()[-300:])


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    clf, base, paths, labels = small_classifier(TMP)
    evaluate_empty_label(clf, base, labels)
    evaluate_spaced_labels(clf, base, labels)
    train_conflict(base, labels)
    train_one_class(base, labels)
    train_negative_case(base, labels)
    bare_names(paths)
    experiment_twice()
    finish()


main()
