#!/usr/bin/python3
"""The pipeline's novelty score and default min-confidence (docs/pipeline.md, "Uncertain and
novel images"), checked on real images against independent computations:

- the pipeline file is read here by a parser written from docs/pipeline.md (byte for byte);
- its novelty rows are the training images' features (`irbis featurize`, the same CNN cut and
  preprocessing) L2-normalised, to 1e-5;
- its threshold is numpy's 0.95 quantile of the training images' held-out distances (scikit-
  learn's NearestNeighbors, cosine) over grouped folds of the experiment's inner units;
- its min-confidence is the 5th percentile (lower value) of the top out-of-fold probability of
  the images the cross-validation got right (the report's predictions_RN2.csv);
- classify --pipeline writes each image's novelty = scikit-learn's cosine distance to the nearest
  training image, to 1e-5, the flags, and labels `uncertain` exactly the images that are novel or
  below the min-confidence; the unseen species' images are flagged more often than the seen ones;
- overrides: --min-confidence 0 --novelty-threshold 0 gives plain labels and no novelty columns;
  --novelty-threshold with a version-1 classifier exits 2;
- the same file without its 'uncertain' section (an earlier pipeline) still classifies, with
  neither;
- on the classify fixture (real bursts with EXIF times, broken files; its snow leopards and
  Uruguayan species are unseen): a sequence's novelty is its images' mean; megadetector.json,
  coco-camera-traps.json and the Camtrap DP package (plain and --positional) pass their official
  checkers; exactly the uncertain sequences are `unknown` observations, the novel ones saying so;
  `irbis export` rewrites the same predictions.csv from the store.
"""
import csv
import json
import os
import random
import shutil
import struct
import subprocess
import sys

import numpy as np
import test_classify_fixture as F
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('novelty')
os.makedirs(TMP, exist_ok=True)
SEEN = ['empty', 'Cow', 'Elk']
UNSEEN = 'bobcat'


def run(args, ok=(0,)):
    r = subprocess.run([BIN] + args, capture_output=True, text=True)
    if r.returncode not in ok:
        print(r.stdout[-3000:], r.stderr[-3000:])
    return r


class Reader:
    def __init__(self, b, off=0):
        self.b, self.off = b, off

    def take(self, fmt):
        v = struct.unpack_from('<' + fmt, self.b, self.off)
        self.off += struct.calcsize('<' + fmt)
        return v if len(v) > 1 else v[0]

    def str(self):
        n = self.take('I')
        s = self.b[self.off:self.off + n].decode()
        self.off += n
        return s


def parse_pipeline(data):
    """docs/pipeline.md's version-2 layout; returns (classes, parts, sections)."""
    assert data[:8] == b'IRBISCLF' and struct.unpack_from('<I', data, 8)[0] == 2
    body_len = struct.unpack_from('<Q', data, 16)[0]
    end = 24 + body_len
    r = Reader(data, 24)
    assert r.str() == 'irbis-pipeline'
    r.str(), r.str(), r.str()  # model name, sha256, row
    classes = [r.str() for _ in range(r.take('I'))]
    r.take('I'), r.take('4d')
    parts = []
    for _ in range(r.take('I')):
        kind, weight, cut = r.take('I'), r.take('d'), r.take('I')
        r.str(), r.take('I'), r.take('I')  # layer, pool, mirror
        for _ in range(r.take('I')):
            r.take('I'), r.str()
        n = r.take('Q')
        r.off += n
        parts.append((kind, weight, cut))
    sections = {}
    while r.off < end:
        name = r.str()
        n = r.take('Q')
        sections[name] = (r.off, n)
        r.off += n
    assert r.off == end
    return classes, parts, sections, end


def read_uncertain(data, off):
    r = Reader(data, off)
    min_conf, has = r.take('d'), r.take('I')
    if not has:
        return min_conf, None
    part, q, thr, dim, n = r.take('I'), r.take('d'), r.take('d'), r.take('I'), r.take('Q')
    rows = np.frombuffer(data, '<f4', n * dim, r.off).reshape(n, dim)
    return min_conf, dict(part=part, quantile=q, threshold=thr, rows=rows)


def without_section(data, off, n, end):
    """The file with the 'uncertain' section cut out (name, length and body), length and CRC
    made consistent: the layout of a pipeline written before sections existed."""
    import zlib
    start = off - 8 - 4 - len('uncertain')
    b = bytearray(data[:start] + data[off + n:end])
    b[16:24] = struct.pack('<Q', len(b) - 24)
    return bytes(b) + struct.pack('<I', zlib.crc32(bytes(b)) & 0xffffffff)


def group_kfold(groups, k):
    """irb_group_kfold's documented rule (include/irbis/learn.h): groups largest first (ties:
    first appearance), each into the fold with the fewest rows so far (ties: lowest fold).
    scikit-learn's GroupKFold orders tied groups otherwise."""
    first = {}
    for i, g in enumerate(groups):
        first.setdefault(g, i)
    size = {g: groups.count(g) for g in first}
    load, where = [0] * k, {}
    for g in sorted(first, key=lambda g: (-size[g], first[g])):
        f = min(range(k), key=lambda j: (load[j], j))
        where[g] = f
        load[f] += size[g]
    return np.array([where[g] for g in groups])


def featurize(paths, base):
    lst = base + '.txt'
    open(lst, 'w').write(''.join(p + '\n' for p in paths))
    r = run(['featurize', '--model', MODEL, '--cut', '2', '--size', '224', '--list', lst, '-o', base])
    check(r.returncode == 0, 'featurize %s' % os.path.basename(base))
    order = [row['path'] for row in csv.DictReader(open(base + '.csv'))]
    x = np.load(base + '.npy').astype(np.float64)
    return {p: x[i] for i, p in enumerate(order)}


def main():
    man = [r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv'))) if r['path'].startswith('mlwic_examples/')]
    by = {}
    for r in sorted(man, key=lambda r: r['path']):
        by.setdefault(r['label'], []).append(r)
    rnd = random.Random(7)  # spread over the path order: the experiment's folds are blocks of it
    for c in by:
        rnd.shuffle(by[c])
    train = [r for c in SEEN for r in by[c][:16]]
    test = [r for c in SEEN for r in by[c][16:24]] + by[UNSEEN][:10]
    labels = os.path.join(TMP, 'labels.csv')
    with open(labels, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        for r in train:
            w.writerow([r['path'], r['label']])
    survey = os.path.join(TMP, 'survey')
    shutil.rmtree(survey, ignore_errors=True)
    os.makedirs(os.path.join(survey, 'cam'))
    truth = {}
    for r in test:
        os.symlink(os.path.join(CT, r['path']), os.path.join(survey, 'cam', os.path.basename(r['path'])))
        truth['cam/' + os.path.basename(r['path'])] = r['label']
    pipe = os.path.join(TMP, 'p.irbis')
    report = os.path.join(TMP, 'report')
    r = run(['train', '--images', CT, '--labels', labels, '--model', MODEL, '--task', 'species', '--recipe', 'RN2',
             '--size', '224', '--resize', 'center', '--crop', 'none', '--C', '1', '--folds', '3', '--report', report,
             '-o', pipe, '--quiet'])
    check(r.returncode == 0 and 'novel: distance to the nearest training image above' in r.stdout,
          'train --images prints the uncertain rule (%s)' % r.stdout.strip().splitlines()[-1:])
    data = open(pipe, 'rb').read()
    classes, parts, sections, end = parse_pipeline(data)
    check('uncertain' in sections, 'the pipeline has an uncertain section: %s' % list(sections))
    min_conf, nv = read_uncertain(data, sections['uncertain'][0])
    check(nv is not None and nv['part'] == 0 and nv['quantile'] == 0.95, 'a novelty model of part 1 at quantile 0.95')

    # the stored rows: the training images' features, normalised, in the experiment's order
    oof = list(csv.DictReader(open(os.path.join(report, 'predictions_RN2.csv'))))
    feats = featurize([os.path.join(CT, r['path']) for r in train], os.path.join(TMP, 'train'))
    x = np.array([feats[os.path.join(CT, r['path'])] for r in oof])
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    check(nv['rows'].shape == xn.shape and np.abs(nv['rows'] - xn).max() < 1e-5,
          'stored rows = the normalised features of the %d training images (max |d| %.2g)'
          % (len(x), np.abs(nv['rows'] - xn).max() if nv['rows'].shape == xn.shape else 1))

    # the threshold: held-out cosine distances over the inner units (contiguous fifths of the
    # experiment's order, as block folds use), 3 GroupKFold folds, numpy's quantile
    n = len(x)
    groups = [k * 5 // n for k in range(n)]
    held = np.zeros(n)
    fold = group_kfold(groups, 3)
    for f in range(3):
        tr, te = fold != f, fold == f
        nn = NearestNeighbors(n_neighbors=1, metric='cosine').fit(x[tr])
        held[te] = nn.kneighbors(x[te])[0][:, 0]
    want = np.quantile(held, 0.95)
    check(abs(nv['threshold'] - want) < 1e-5, 'threshold %.8f = the 0.95 quantile of held-out distances %.8f'
          % (nv['threshold'], want))

    # the min-confidence: the 5th percentile (lower value) of the right images' top probability
    tops = sorted(max(float(r['p_' + c]) for c in classes) for r in oof
                  if max(classes, key=lambda c: float(r['p_' + c])) == r['label'])
    want_p = tops[int(np.floor(0.05 * (len(tops) - 1)))]
    check(abs(min_conf - want_p) < 2e-6, 'min-confidence %.6f = the right predictions\' 5th percentile %.6f'
          % (min_conf, want_p))

    # classify: the scores against scikit-learn, the flags and the labels
    out = os.path.join(TMP, 'out')
    shutil.rmtree(out, ignore_errors=True)
    r = run(['classify', '--pipeline', pipe, survey, '-o', out, '--quiet'])
    check(r.returncode == 0, 'classify --pipeline (%s)' % r.stderr.strip()[-300:])
    preds = {p['path']: p for p in csv.DictReader(open(os.path.join(out, 'predictions.csv')))}
    sf = featurize([os.path.join(survey, p) for p in sorted(truth)], os.path.join(TMP, 'survey_feats'))
    nn = NearestNeighbors(n_neighbors=1, metric='cosine').fit(x)
    worst, wrong_label = 0, []
    flagged = {'seen': 0, 'unseen': 0}
    for p in sorted(truth):
        d = nn.kneighbors(sf[os.path.join(survey, p)][None])[0][0, 0]
        row = preds[p]
        worst = max(worst, abs(float(row['novelty']) - d))
        novel = float(row['novelty']) > nv['threshold']
        top = max(float(row['p_' + c]) for c in classes)
        want_label = 'uncertain' if novel or top < min_conf else max(classes, key=lambda c: float(row['p_' + c]))
        if row['novel'] != str(int(novel)) or row['label'] != want_label:
            wrong_label.append((p, row['novel'], row['label'], want_label))
        flagged['unseen' if truth[p] == UNSEEN else 'seen'] += novel
    check(worst < 1e-5, 'predictions.csv novelty = scikit-learn\'s cosine distance to the nearest training image '
          '(max |d| %.2g over %d images)' % (worst, len(truth)))
    check(not wrong_label, 'novel flags and labels follow the rule: %s' % wrong_label[:3])
    print('flagged novel: %d of 10 %s, %d of 24 seen' % (flagged['unseen'], UNSEEN, flagged['seen']))
    check(flagged['unseen'] / 10 > flagged['seen'] / 24, 'the unseen species is flagged more often than the seen')

    # overrides and a classifier without novelty
    plain = os.path.join(TMP, 'plain')
    shutil.rmtree(plain, ignore_errors=True)
    r = run(['classify', '--pipeline', pipe, survey, '-o', plain, '--quiet', '--min-confidence', '0',
             '--novelty-threshold', '0'])
    rows = list(csv.DictReader(open(os.path.join(plain, 'predictions.csv'))))
    check(r.returncode == 0 and 'novelty' not in rows[0] and all(x['label'] != 'uncertain' for x in rows),
          'overridden to 0: no novelty columns, no uncertain label')
    r = run(['classify', '--pipeline', pipe, survey, '-o', out, '--quiet', '--novelty-threshold', '0.5'], ok=(3,))
    check(r.returncode == 3 and 'this run has --novelty-threshold 0.5' in r.stderr, 'another threshold on the same OUT/ needs --restart')

    # an earlier pipeline (no section): loads, classifies with neither
    old = os.path.join(TMP, 'old.irbis')
    open(old, 'wb').write(without_section(data, *sections['uncertain'], end))
    check(parse_pipeline(open(old, 'rb').read())[2] == {}, 'the cut file has no section')
    out_old = os.path.join(TMP, 'out_old')
    shutil.rmtree(out_old, ignore_errors=True)
    r = run(['classify', '--pipeline', old, survey, '-o', out_old, '--quiet'])
    rows = list(csv.DictReader(open(os.path.join(out_old, 'predictions.csv')))) if r.returncode == 0 else []
    check(rows and 'novelty' not in rows[0] and all(x['label'] != 'uncertain' for x in rows),
          'a pipeline without the section classifies with neither (%s)' % r.stderr.strip()[-200:])
    r = run(['classify', '--pipeline', old, survey, '-o', os.path.join(TMP, 'bad'), '--novelty-threshold', '0.3'],
            ok=(2,))
    check(r.returncode == 2 and 'novelty' in r.stderr, '--novelty-threshold without a novelty model: exit 2 (%s)'
          % r.stderr.strip()[-200:])
    fixture_checks(pipe)
    finish()


def checker(*args):
    r = subprocess.run(['/usr/bin/python3'] + list(args), capture_output=True, text=True)
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()
    check(r.returncode == 0 and '(0 violations' in last, '%s: %s' % (' '.join(os.path.basename(a) for a in args[:2]),
                                                                    last))


def fixture_checks(pipe):
    fx = F.fixture()
    out = os.path.join(TMP, 'fixture_out')
    shutil.rmtree(out, ignore_errors=True)
    r = run(['classify', '--pipeline', pipe, fx['survey'], '-o', out, '--quiet', '--deployments', fx['deployments']],
            ok=(1,))
    check(r.returncode == 1, 'classify --pipeline on the fixture: exit 1 for its broken files (%s)'
          % r.stderr.strip()[-200:])
    rows = [x for x in F.read_predictions(out) if x['status'] == 'ok']
    seqs = {}
    for x in rows:
        seqs.setdefault(x['sequence'], []).append(float(x['novelty']))
    worst = max(abs(float(x['seq_novelty']) - np.mean(seqs[x['sequence']])) for x in rows)
    check(worst < 2e-6 and any(len(v) > 1 for v in seqs.values()),
          'a sequence\'s novelty is its images\' mean (max |d| %.2g; %d sequences of several images)'
          % (worst, sum(len(v) > 1 for v in seqs.values())))
    thr = float(json.load(open(os.path.join(out, 'megadetector.json')))['info']['classifier_metadata']['novel_above'])
    check(all((x['seq_novel'] == '1') == (float(x['seq_novelty']) > thr) for x in rows)
          and all(x['seq_label'] == 'uncertain' for x in rows if x['seq_novel'] == '1'),
          'novel sequences are flagged and uncertain')
    n_novel = len({x['sequence'] for x in rows if x['seq_novel'] == '1'})
    check(0 < n_novel < len(seqs), '%d of %d sequences novel' % (n_novel, len(seqs)))
    std = os.path.join(F.SHARED, 'standards')
    checker(os.path.join(std, 'validators', 'md_validate.py'), os.path.join(out, 'megadetector.json'))
    checker(os.path.join(std, 'validators', 'cct_validate.py'), os.path.join(out, 'coco-camera-traps.json'))
    pkg = os.path.join(out, 'camtrap-dp')
    for extra in ([], ['--positional']):
        checker(os.path.join(std, 'validators', 'camtrapdp_validate.py'), pkg, os.path.join(std, 'camtrap-dp-1.0.2'),
                *extra)
    obs = list(csv.DictReader(open(os.path.join(pkg, 'observations.csv'), newline='')))
    by_seq = {x['sequence']: x for x in rows if x['timestamp']}
    bad = [o['eventID'] for o in obs
           if (o['observationType'] == 'unknown') != (by_seq[o['eventID']]['seq_label'] == 'uncertain')
           or (by_seq[o['eventID']]['seq_novel'] == '1') != o['observationComments'].startswith('novel:')]
    check(obs and not bad, 'observations.csv: uncertain sequences are unknown, novel ones say so (%d of %d novel): %s'
          % (sum(o['observationComments'].startswith('novel:') for o in obs), len(obs), bad[:3]))
    before = open(os.path.join(out, 'predictions.csv'), 'rb').read()
    r = run(['export', out, '-q'], ok=(0, 1))
    check(r.returncode in (0, 1) and open(os.path.join(out, 'predictions.csv'), 'rb').read() == before,
          'irbis export rewrites the same predictions.csv (%s)' % r.stderr.strip()[-200:])
    review_keeps_uncertain(out, rows, before)


def review_keeps_uncertain(out, rows, before):
    """irbis review gives a novel sequence the machine label `uncertain`, as the outputs do, and a
    label given then removed puts `uncertain` back (regression: review's machine label ignored the
    novelty threshold, so the sequence became its argmax class in every output for good)."""
    import urllib.parse
    import review_lib as R
    novel = sorted({x['sequence'] for x in rows if x['seq_novel'] == '1' and x['seq_label'] == 'uncertain'})
    srv = R.Server(out)
    got = {s['name']: s['machine'] for s in srv.get_json('/api/sequences?limit=500')['sequences']}
    check(novel and all(got.get(n) == 'uncertain' for n in novel),
          'review: novel sequences\' machine label is uncertain: %s' % [(n, got.get(n)) for n in novel[:3]])
    form = {'Content-Type': 'application/x-www-form-urlencoded'}
    for label in ('empty', ''):
        st, body, _ = srv.request('POST', '/api/label', body=urllib.parse.urlencode({'seq': novel[0], 'label': label}),
                                  headers=form)
        check(st == 200, 'review: label %r on %s (%d %s)' % (label, novel[0], st, body[:100]))
    code, err = srv.stop()
    check(code == 0 and open(os.path.join(out, 'predictions.csv'), 'rb').read() == before,
          'review: a label given and removed leaves predictions.csv as classify wrote it, uncertain kept (%d %s)'
          % (code, err.strip()[-200:]))


if __name__ == '__main__':
    main()
