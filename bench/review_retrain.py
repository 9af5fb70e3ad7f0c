#!/usr/bin/python3
"""The review -> retrain loop of irbis review, measured on MLWIC (docs/review.md).

  /usr/bin/python3 bench/review_retrain.py --irbis build/irbis [--shared ../shared] [--work DIR]
        [--review 50] [--seed-per-class 10] [--control]

1. seed: a stratified sample of the MLWIC frames (manifest.csv), --seed-per-class per species
   (all of a rarer one), trains the first pipeline (`irbis train --images`, RN2 at 224, species).
2. the whole MLWIC folder is classified with it (`irbis classify --pipeline`).
3. `irbis review OUT/` is started; the --review most uncertain sequences (queue "uncertain" of its
   HTTP API, the page's own calls) get their manifest labels through POST /api/label, as a person
   pressing keys would; Ctrl-C (SIGINT) ends the server and rewrites the outputs.
4. `irbis train --images ... --labels` seed + `irbis review OUT/ --write-labels` retrains; the
   survey is classified again with the new pipeline (`--restart`): human labels stay.
5. Accuracy on the rest (neither seed nor reviewed) before and after; with --control the same
   with --review sequences drawn at random instead of the most uncertain.
Prints a markdown table and writes it to WORK/table.md.
"""
import argparse
import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter, defaultdict


def run(cmd, **kw):
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode not in (0, 1):
        sys.exit('failed (%d): %s\n%s' % (r.returncode, ' '.join(cmd), r.stderr[-3000:]))
    return time.time() - t


def write_labels(path, rows):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        for p, l in rows:
            w.writerow([p, l])


def train(a, labels, pipeline):
    return run([a.irbis, 'train', '--images', a.survey, '--labels', labels, '--model', a.model, '-o', pipeline,
                '--task', 'species', '--recipe', 'RN2', '--size', '224', '--resize', 'center', '--crop', 'none',
                '--threads', '2', '--quiet'])


def classify(a, pipeline, out, *extra):
    return run([a.irbis, 'classify', '--pipeline', pipeline, a.survey, '-o', out, '--threads', '2'] + list(extra))


def predictions(out):
    with open(os.path.join(out, 'predictions.csv'), newline='') as f:
        return {r['path']: r for r in csv.DictReader(f)}


class Review:
    """irbis review OUT/ on a free port, driven through its HTTP API."""

    def __init__(self, a, out):
        self.p = subprocess.Popen([a.irbis, 'review', out, '--port', '0'], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        for line in self.p.stdout:
            m = re.search(r'(http://\S+)/\?token=(\w+)', line)
            if m:
                self.base, self.token = m.group(1), m.group(2)
                break
        else:
            sys.exit('irbis review printed no URL: ' + self.p.stderr.read())

    def call(self, path, body=None):
        req = urllib.request.Request(self.base + path, data=body, headers={'X-Irbis-Token': self.token})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        _, err = self.p.communicate(timeout=300)
        if self.p.returncode != 0:
            sys.exit('irbis review exit %d: %s' % (self.p.returncode, err))


def review(a, out, truth, k, pick):
    """Labels k sequences with their manifest labels; returns the reviewed image paths."""
    rv = Review(a, out)
    try:
        if pick == 'uncertain':
            seqs = rv.call('/api/sequences?queue=uncertain&limit=%d' % k)['sequences']
        else:
            every = rv.call('/api/sequences?queue=camera&limit=500')
            seqs, off = list(every['sequences']), 500
            while off < every['total']:
                seqs += rv.call('/api/sequences?queue=camera&limit=500&offset=%d' % off)['sequences']
                off += 500
            seqs = random.Random(1).sample(seqs, k)
        classes = rv.call('/api/info')['classes']
        pairs, reviewed = [], []
        for s in seqs:
            labs = Counter(truth[p] for p in s['images'])
            lab = labs.most_common(1)[0][0]
            if lab in classes:
                pairs += [('seq', s['name']), ('label', lab)]
                reviewed += s['images']
        rv.call('/api/label', urllib.parse.urlencode(pairs).encode())
    finally:
        rv.stop()
    return reviewed


def accuracy(pred, truth, paths):
    ok = [pred[p]['label'] == truth[p] for p in paths if pred.get(p, {}).get('status') == 'ok']
    return sum(ok) / len(ok) if ok else float('nan'), len(ok)


def loop(a, truth, seed, pick, work):
    """One review -> retrain cycle; returns its figures."""
    out = os.path.join(work, 'out-' + pick)
    shutil.rmtree(out, ignore_errors=True)
    t_cls = classify(a, a.p0, out)
    before = predictions(out)
    reviewed = review(a, out, truth, a.review, pick)
    human = predictions(out)
    labels = os.path.join(work, 'retrain-%s.csv' % pick)
    rl = os.path.join(work, 'review-%s.csv' % pick)
    run([a.irbis, 'review', out, '--write-labels', rl])
    with open(rl, newline='') as f:
        rev_rows = [(r['path'], r['label']) for r in csv.DictReader(f)]
    write_labels(labels, sorted(seed.items()) + rev_rows)
    p1 = os.path.join(work, 'p1-%s.irbis' % pick)
    t_train = train(a, labels, p1)
    t_cls2 = classify(a, p1, out, '--restart')
    after = predictions(out)
    rest = sorted(p for p in truth if p not in seed and p not in set(reviewed))
    kept = sum(after[p]['label'] == human[p]['label'] and after[p]['method'] == 'human' for p in reviewed)
    return {'pick': pick, 'reviewed': len(reviewed), 'rest': rest, 'before': accuracy(before, truth, rest),
            'after': accuracy(after, truth, rest), 'kept': kept,
            'survey_before': accuracy(before, truth, sorted(truth)), 'survey_after': accuracy(after, truth, sorted(truth)),
            'seconds': (t_cls, t_train, t_cls2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--irbis', default='build/irbis')
    ap.add_argument('--shared', default=os.environ.get('IRBIS_SHARED', '../shared'))
    ap.add_argument('--work', default='/tmp/irbis-review-retrain')
    ap.add_argument('--review', type=int, default=50)
    ap.add_argument('--seed-per-class', type=int, default=10)
    ap.add_argument('--control', action='store_true', help='also review random sequences (the same number)')
    a = ap.parse_args()
    a.irbis = os.path.abspath(a.irbis)
    ct = os.path.join(a.shared, 'data', 'camera-traps')
    a.survey = os.path.join(ct, 'mlwic_examples', 'images')
    a.model = os.path.join(a.shared, 'models', 'mobilenet_v2', 'mobilenet_v2_1.0_224.onnx')
    os.makedirs(a.work, exist_ok=True)
    with open(os.path.join(ct, 'manifest.csv'), newline='') as f:
        truth = {r['path'][len('mlwic_examples/images/'):]: r['label'] for r in csv.DictReader(f)
                 if r['path'].startswith('mlwic_examples/images/')}
    by_class = defaultdict(list)
    for p in sorted(truth):
        by_class[truth[p]].append(p)
    rnd = random.Random(0)
    seed = {}
    for c, ps in sorted(by_class.items()):
        for p in rnd.sample(ps, min(a.seed_per_class, len(ps))):
            seed[p] = c
    seed_csv = os.path.join(a.work, 'seed.csv')
    write_labels(seed_csv, sorted(seed.items()))
    a.p0 = os.path.join(a.work, 'p0.irbis')
    t0 = train(a, seed_csv, a.p0)
    rows = [loop(a, truth, seed, 'uncertain', a.work)]
    if a.control:
        rows.append(loop(a, truth, seed, 'random', a.work))
    lines = ['MLWIC (%d frames, %d species); first pipeline trained on a stratified seed of %d frames '
             '(%d per species, all of a rarer one), RN2 at 224 (`irbis train --images --task species --recipe RN2 '
             '--size 224`).' % (len(truth), len(by_class), len(seed), a.seed_per_class), '',
             '| reviewed (sequences = frames) | accuracy on the rest, before | after retraining | rest (frames) '
             '| human labels kept by the re-classification |',
             '|---|---|---|---|---|']
    for r in rows:
        lines.append('| %d %s | %.1f %% | %.1f %% | %d | %d of %d |' % (
            r['reviewed'], 'most uncertain' if r['pick'] == 'uncertain' else 'at random', 100 * r['before'][0],
            100 * r['after'][0], r['before'][1], r['kept'], r['reviewed']))
    lines += ['', 'Whole survey (human labels counted as given): %s.' % '; '.join(
        '%s: %.1f %% -> %.1f %%' % (r['pick'], 100 * r['survey_before'][0], 100 * r['survey_after'][0]) for r in rows),
        'Seconds: first training %.0f; %s.' % (t0, '; '.join(
            '%s: classify %.0f, retrain %.0f, classify again %.0f' % ((r['pick'],) + r['seconds']) for r in rows))]
    text = '\n'.join(lines) + '\n'
    open(os.path.join(a.work, 'table.md'), 'w').write(text)
    print(text)


if __name__ == '__main__':
    main()
