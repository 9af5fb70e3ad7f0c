#!/usr/bin/python3
"""What becomes of animals of species the classifier never saw: before (no uncertain label) and
after (the pipeline's default --min-confidence and its novelty flag), docs/pipeline.md,
"Uncertain and novel images".

  /usr/bin/python3 bench/unseen_species.py --irbis build/irbis [--work /tmp/unseen] [--seed 13]
      [--unseen bobcat,mtn_lion] [--train 40]

MLWIC frames of ../shared/data/camera-traps: a pipeline (`irbis train --images --recipe RN2
--size 224 --task species --C 1`: MobileNetV2 pooled features, one classifier) is trained on
--train frames of each of empty, Cow, california_ground_squirrel, Elk, human, vehicle,
striped_skunk, bobcat, mtn_lion except the two --unseen species; the survey is up to 30 other
frames of each seen class plus 40 frames of each unseen one. One `irbis classify --pipeline`
run with the pipeline's defaults; the labels of the other rows (nothing, min-confidence only,
novelty only) are recomputed from its predictions.csv by the documented rule and the defaults'
row is checked against the run's own labels. Prints a markdown table.
"""
import argparse
import csv
import os
import random
import re
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, '..', '..', 'shared')
DATA = os.path.abspath(os.path.join(SHARED, 'data', 'camera-traps'))
MODEL = os.path.join(SHARED, 'models', 'mobilenet_v2', 'mobilenet_v2_1.0_224.onnx')
CLASSES = ['empty', 'Cow', 'california_ground_squirrel', 'Elk', 'human', 'vehicle', 'striped_skunk', 'bobcat',
           'mtn_lion']


def split(work, seed, seen, unseen, n_train):
    rows = [r for r in csv.DictReader(open(os.path.join(DATA, 'manifest.csv')))
            if r['path'].startswith('mlwic_examples/')]
    by = {}
    for r in rows:
        by.setdefault(r['label'], []).append(r)
    rnd = random.Random(seed)
    train, test = [], []
    for c in seen + unseen:
        lst = sorted(by[c], key=lambda r: r['path'])
        rnd.shuffle(lst)
        if c in seen:
            train += lst[:n_train]
            test += lst[n_train:n_train + 30]
        else:
            test += lst[:40]
    with open(os.path.join(work, 'labels.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        for r in train:
            w.writerow([r['path'], r['label']])
    truth = {}
    for r in test:
        rel = '%s/%s' % (r['camera'] or 'cam', os.path.basename(r['path']))
        dst = os.path.join(work, 'survey', rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.symlink(os.path.join(DATA, r['path']), dst)
        truth[rel] = r['label']
    return truth


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit('%s: exit %d\n%s' % (' '.join(cmd), r.returncode, r.stderr))
    return r


def labels(preds, p_min, d_max):
    """The image label rule: novelty above d_max (0: off) or top probability below p_min (0:
    off) is uncertain, else the argmax."""
    classes = [k[2:] for k in preds[0] if k.startswith('p_')]
    out = {}
    for r in preds:
        p = [float(r['p_' + c]) for c in classes]
        k = max(range(len(p)), key=lambda i: (p[i], -i))
        novel = d_max > 0 and float(r['novelty']) > d_max
        out[r['path']] = 'uncertain' if novel or (p_min > 0 and p[k] < p_min) else classes[k]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--irbis', required=True)
    ap.add_argument('--work', default='/tmp/irbis-unseen')
    ap.add_argument('--seed', type=int, default=13)
    ap.add_argument('--unseen', default='bobcat,mtn_lion')
    ap.add_argument('--train', type=int, default=40)
    a = ap.parse_args()
    unseen = a.unseen.split(',')
    seen = [c for c in CLASSES if c not in unseen]
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    truth = split(a.work, a.seed, seen, unseen, a.train)
    w = lambda *p: os.path.join(a.work, *p)  # noqa: E731
    r = run([a.irbis, 'train', '--images', DATA, '--labels', w('labels.csv'), '--model', MODEL, '--task', 'species',
             '--recipe', 'RN2', '--size', '224', '--C', '1', '-o', w('p.irbis'), '--quiet'])
    m = re.search(r'below ([0-9.e-]+).*above ([0-9.e-]+)', r.stdout)
    p_min, d_max = float(m.group(1)), float(m.group(2))
    run([a.irbis, 'classify', '--pipeline', w('p.irbis'), w('survey'), '-o', w('out'), '-q'])
    preds = [r for r in csv.DictReader(open(w('out', 'predictions.csv'))) if r['status'] == 'ok']
    real = {r['path']: r['label'] for r in preds}
    assert labels(preds, p_min, d_max) == real, 'the recomputed labels differ from the run\'s'
    n_un = sum(t in unseen for t in truth.values())
    print('%d unseen (%s), %d seen images (%d training images per seen class); the pipeline\'s defaults: '
          'min-confidence %.4g, novelty threshold %.4g; the last row\'s labels are the real run\'s'
          % (n_un, ', '.join(unseen), len(truth) - n_un, a.train, p_min, d_max))
    print('| uncertain when | unseen: empty | unseen: uncertain | unseen: a seen class | seen: right | '
          'seen: uncertain | seen: wrong |\n|---|---:|---:|---:|---:|---:|---:|')
    for name, pm, dm in (('never (before)', 0, 0), ('top p < %.3g' % p_min, p_min, 0),
                         ('novelty > %.3g' % d_max, 0, d_max), ('either (the defaults)', p_min, d_max)):
        lab = labels(preds, pm, dm)
        c = {k: 0 for k in ('ue', 'uu', 'uw', 'sr', 'su', 'sw')}
        for path, t in truth.items():
            x = lab[path]
            key = ('u' + ('e' if x == 'empty' else 'u' if x == 'uncertain' else 'w') if t in unseen else
                   's' + ('r' if x == t else 'u' if x == 'uncertain' else 'w'))
            c[key] += 1
        print('| %s | %d | %d | %d | %d | %d | %d |' % (name, c['ue'], c['uu'], c['uw'], c['sr'], c['su'], c['sw']))


if __name__ == '__main__':
    main()
