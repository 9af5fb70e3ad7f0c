#!/usr/bin/python3
"""One labels file selects the same images in train, evaluate and experiment (issue 12 item 4:
one label matcher, irb_labels_match). A survey folder of real MLWIC frames in two camera folders;
a labels file that uses every part of the documented rule (docs/evaluation.md):
- an exact relative path, and one with './' and '//' in it;
- a longer path ('survey/cam1/a0.jpg', the survey folder's own name in front): a tail match,
  from the other side in train (absolute feature paths) than in evaluate and experiment
  (paths relative to the survey);
- a bare file name present in both camera folders (labels both, with a warning);
- a label for a file that does not exist (matches nothing: said), an image without a label.
The expected set is computed here from the rule. Then the failure cases: one path listed twice
with two labels (refused by all three, naming both), and an image matched equally well by two
label rows with different labels (refused, naming the image and both rows)."""
import csv
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, make_tree, tmpdir  # noqa: E402

TMP = tmpdir('label_match')
SURVEY = os.path.join(TMP, 'survey')


def write_labels(path, rows):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        w.writerows(rows)


def make_survey():
    rows = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                   if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])
    empty = [r['path'] for r in rows if r['label'] == 'empty'][:10]
    animal = [r['path'] for r in rows if r['label'] not in ('empty', 'human', 'vehicle')][:9]
    files = {}
    for i in range(8):
        cam = 'cam1' if i < 4 else 'cam2'
        files['%s/e%d.jpg' % (cam, i)] = empty[i]
        files['%s/a%d.jpg' % (cam, i)] = animal[i]
    files['cam1/d.jpg'], files['cam2/d.jpg'] = empty[8], empty[9]
    files['cam2/unlabelled.jpg'] = animal[8]
    make_tree(SURVEY, {rel: os.path.abspath(os.path.join(CT, src)) for rel, src in files.items()})
    labels = [['cam1/e0.jpg', 'empty'], ['./cam1//e1.jpg', 'empty'], ['survey/cam1/a0.jpg', 'animal'],
              ['d.jpg', 'empty'], ['cam3/missing.jpg', 'animal']]
    named = {'cam1/e0.jpg', 'cam1/e1.jpg', 'cam1/a0.jpg'}
    labels += [[rel, 'empty' if '/e' in rel else 'animal'] for rel in sorted(files)
               if rel not in named and 'd.jpg' not in rel and 'unlabelled' not in rel]
    expected = {rel: ('empty' if '/e' in rel or rel.endswith('d.jpg') else 'animal') for rel in files
                if 'unlabelled' not in rel}
    return labels, expected


def counts(expected):
    c = {}
    for v in expected.values():
        c[v] = c.get(v, 0) + 1
    return c


def train(base, lab, out):
    return subprocess.run([BIN, 'train', base, '--labels', lab, '--C', '1', '-o', out], capture_output=True, text=True)


def evaluate(pred, lab, out):
    return subprocess.run([BIN, 'evaluate', pred, '--labels', lab, '-o', out], capture_output=True, text=True)


def experiment(lab, out):
    return subprocess.run([BIN, 'experiment', '--images', SURVEY, '--labels', lab, '--model', MODEL, '--rows', 'RN2',
                           '--C', '1', '--crop', 'none', '--folds', '2', '--quiet', '--cache',
                           os.path.join(TMP, 'cache'), '-o', out], capture_output=True, text=True, timeout=600)


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    labels, expected = make_survey()
    lab = os.path.join(TMP, 'labels.csv')
    write_labels(lab, labels)
    want = counts(expected)

    base = os.path.join(TMP, 'feat')
    subprocess.run([BIN, 'featurize', '--model', MODEL, '-o', base, '--threads', '2', SURVEY], check=True,
                   capture_output=True)
    clf = os.path.join(TMP, 'clf.irbis')
    r = train(base, lab, clf)
    used = {ln.split()[1]: int(ln.split()[2]) for ln in r.stdout.splitlines() if ln.startswith('class ')}
    check(r.returncode == 0 and used == want and ('rows: %d used, 1 without a label' % len(expected)) in r.stdout,
          'train uses the expected %d images %s: %s (exit %d %s)' % (len(expected), want, used, r.returncode,
                                                                     r.stderr.strip()[-300:]))
    check("'d.jpg'" in r.stderr and 'several folders' in r.stderr, 'train: the bare name is said: %s'
          % r.stderr.strip()[-300:])
    check("1 row(s) match no feature row, e.g. 'cam3/missing.jpg'" in r.stdout,
          'train: the label without an image is said: %s' % r.stdout[-400:])

    out = os.path.join(TMP, 'classified')
    subprocess.run([BIN, 'classify', '--model', MODEL, '--classifier', clf, SURVEY, '-o', out], check=True,
                   capture_output=True)
    r = evaluate(os.path.join(out, 'predictions.csv'), lab, os.path.join(TMP, 'ev'))
    m = list(csv.DictReader(open(os.path.join(TMP, 'ev', 'metrics.csv'), newline=''))) if r.returncode == 0 else []
    support = {x['class']: int(x['support']) for x in m if x['class'] in ('empty', 'animal')}
    check(r.returncode == 0 and support == want and '%d labelled images' % len(expected) in r.stdout,
          'evaluate scores the same images %s: %s (exit %d %s)' % (want, support, r.returncode, r.stderr[-300:]))

    r = experiment(lab, os.path.join(TMP, 'exp'))
    got = {x['path']: x['label'] for x in csv.DictReader(open(os.path.join(TMP, 'exp', 'predictions_RN2.csv')))} \
        if r.returncode == 0 else {}
    check(got == expected, 'experiment uses the same images and labels: %s (exit %d %s)'
          % (sorted(set(got.items()) ^ set(expected.items())), r.returncode, r.stderr.strip()[-300:]))
    check("1 label row(s) match no file under" in r.stderr and 'cam3/missing.jpg' in r.stderr
          and 'several folders' in r.stderr, 'experiment: the missing file and the bare name are said: %s'
          % r.stderr.strip()[-400:])

    # one path twice (after normalisation) with two labels: refused by all three, naming both
    twice = os.path.join(TMP, 'twice.csv')
    write_labels(twice, labels + [['cam1/./e0.jpg', 'animal']])
    for name, r in (('train', train(base, twice, os.path.join(TMP, 'no.irbis'))),
                    ('evaluate', evaluate(os.path.join(out, 'predictions.csv'), twice, os.path.join(TMP, 'ev2'))),
                    ('experiment', experiment(twice, os.path.join(TMP, 'exp2')))):
        check(r.returncode == 3 and "'cam1/e0.jpg' has two labels: 'empty' and 'animal'" in r.stderr
              and 'twice.csv' in r.stderr, '%s: two labels for one path refused: exit %d %s'
              % (name, r.returncode, r.stderr.strip()[-300:]))
    # an image that two label rows match equally well, with different labels
    amb = os.path.join(TMP, 'ambiguous.csv')
    write_labels(amb, labels + [['other/cam2/unlabelled.jpg', 'empty'], ['more/cam2/unlabelled.jpg', 'animal']])
    for name, r in (('evaluate', evaluate(os.path.join(out, 'predictions.csv'), amb, os.path.join(TMP, 'ev3'))),
                    ('experiment', experiment(amb, os.path.join(TMP, 'exp3')))):
        check(r.returncode == 3 and "image 'cam2/unlabelled.jpg' matches both 'other/cam2/unlabelled.jpg' (empty)"
              " and 'more/cam2/unlabelled.jpg' (animal)" in r.stderr.replace('\n', ' '),
              '%s: ambiguous match refused naming both: exit %d %s' % (name, r.returncode, r.stderr.strip()[-300:]))
    finish()


main()
