#!/usr/bin/python3
"""What becomes of animals of species the classifier never saw, with and without
`irbis classify --min-confidence P` (docs/classify.md, "Labels and thresholds").

  /usr/bin/python3 bench/unseen_species.py --irbis build/irbis [--work /tmp/unseen] [--seed 13]

MLWIC frames of ../shared/data/camera-traps: a classifier (MobileNetV2 features, C = 1) is trained
on 40 frames of each of empty, Cow, california_ground_squirrel, Elk, human, vehicle,
striped_skunk; the survey is up to 30 other frames of each of those (seen) plus 40 bobcat and 40
mtn_lion frames (unseen). One `irbis classify` run; the labels for each P are recomputed from its
probabilities by the documented rule (top probability below P: uncertain), and checked against
a real `--min-confidence 0.7` run. Prints a markdown table.
"""
import argparse
import csv
import os
import random
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, '..', '..', 'shared')
DATA = os.path.join(SHARED, 'data', 'camera-traps')
MODEL = os.path.join(SHARED, 'models', 'mobilenet_v2', 'mobilenet_v2_1.0_224.onnx')
SEEN = ['empty', 'Cow', 'california_ground_squirrel', 'Elk', 'human', 'vehicle', 'striped_skunk']
UNSEEN = ['bobcat', 'mtn_lion']


def split(work, seed):
    rows = [r for r in csv.DictReader(open(os.path.join(DATA, 'manifest.csv')))
            if r['path'].startswith('mlwic_examples/')]
    by = {}
    for r in rows:
        by.setdefault(r['label'], []).append(r)
    rnd = random.Random(seed)
    train, test = [], []
    for c in SEEN + UNSEEN:
        lst = sorted(by[c], key=lambda r: r['path'])
        rnd.shuffle(lst)
        if c in SEEN:
            train += lst[:40]
            test += lst[40:70]
        else:
            test += lst[:40]
    with open(os.path.join(work, 'labels.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        for r in train:
            w.writerow([os.path.abspath(os.path.join(DATA, r['path'])), r['label']])
    open(os.path.join(work, 'train_list.txt'), 'w').write(
        ''.join(os.path.abspath(os.path.join(DATA, r['path'])) + '\n' for r in train))
    truth = {}
    for r in test:
        rel = '%s/%s' % (r['camera'] or 'cam', os.path.basename(r['path']))
        dst = os.path.join(work, 'survey', rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.symlink(os.path.abspath(os.path.join(DATA, r['path'])), dst)
        truth[rel] = r['label']
    return truth


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit('%s: exit %d\n%s' % (' '.join(cmd), r.returncode, r.stderr))


def labels(preds, p_min):
    classes = [k[2:] for k in preds[0] if k.startswith('p_')]
    out = {}
    for r in preds:
        p = [float(r['p_' + c]) for c in classes]
        k = max(range(len(p)), key=lambda i: (p[i], -i))
        out[r['path']] = 'uncertain' if p_min and p[k] < p_min else classes[k]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--irbis', required=True)
    ap.add_argument('--work', default='/tmp/irbis-unseen')
    ap.add_argument('--seed', type=int, default=13)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    truth = split(a.work, a.seed)
    w = lambda *p: os.path.join(a.work, *p)  # noqa: E731
    run([a.irbis, 'featurize', '--model', MODEL, '--list', w('train_list.txt'), '-o', w('train')])
    run([a.irbis, 'train', w('train'), '--labels', w('labels.csv'), '--C', '1', '-o', w('clf.irbis')])
    for out, extra in (('off', []), ('p07', ['--min-confidence', '0.7'])):
        run([a.irbis, 'classify', '--model', MODEL, '--classifier', w('clf.irbis'), w('survey'), '-o', w(out),
             '-q'] + extra)
    preds = list(csv.DictReader(open(w('off', 'predictions.csv'))))
    real = {r['path']: r['label'] for r in csv.DictReader(open(w('p07', 'predictions.csv')))}
    assert labels(preds, 0.7) == real, 'the recomputed P = 0.7 labels differ from the real run'
    n_un = sum(t in UNSEEN for t in truth.values())
    print('%d unseen (bobcat, mtn_lion), %d seen images; labels for P = 0.7 equal a real run\'s' %
          (n_un, len(truth) - n_un))
    print('| --min-confidence | unseen: empty | unseen: uncertain | unseen: a seen class | seen: right | '
          'seen: uncertain | seen: wrong |\n|---|---:|---:|---:|---:|---:|---:|')
    for p_min in (0, 0.5, 0.6, 0.7, 0.8, 0.9):
        lab = labels(preds, p_min)
        c = {k: 0 for k in ('ue', 'uu', 'uw', 'sr', 'su', 'sw')}
        for path, t in truth.items():
            x = lab[path]
            key = ('u' + ('e' if x == 'empty' else 'u' if x == 'uncertain' else 'w') if t in UNSEEN else
                   's' + ('r' if x == t else 'u' if x == 'uncertain' else 'w'))
            c[key] += 1
        print('| %s | %d | %d | %d | %d | %d | %d |' % (p_min or 'off', c['ue'], c['uu'], c['uw'], c['sr'], c['su'],
                                                      c['sw']))


if __name__ == '__main__':
    main()
