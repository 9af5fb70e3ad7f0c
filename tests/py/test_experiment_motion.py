"""irbis experiment's motion rows (M, RN2+A+M, RN2+A+M+E) against an independent computation.

120 MLWIC frames, relabelled as two cameras (A: the first 60 files, B: the rest) whose shooting
times are a shuffled order of the files (bursts of 3 frames 10 s apart, bursts an hour apart),
so the shooting order is not the path order; plus one file that is not an image. At --size 160,
--crop none, C fixed to 0.1:
- the motion features irbis caches equal numpy's, computed here from `irbis featurize --cut 3
  --pool none` maps (the 1280 x 5 x 5 map MobileNetV2 pools) with the documented rule: per map
  position the Euclidean distance to the previous and the next frame of the same camera in time
  order, the smaller of the two (the one there is at a camera's ends; a frame that failed to
  decode is no one's neighbour), then the max, the 99/95/90/75/50th percentiles and the mean;
  and for each outer fold the same with a training frame's neighbours among the training frames
  and a test frame's among the test frames (as a pipeline trained on the training frames and
  deployed on a survey of the test frames computes them);
- M's out-of-fold probabilities equal scikit-learn's logistic regression on each fold's
  features, standardised, same C, the run's own folds;
- RN2+A+M is the mean of RN2+A's and M's probabilities, and RN2+A+M+E that averaged over each
  sequence; the broken file is in failed.csv and nowhere else; an unknown row name is refused, and
so is a labels file none of whose images decodes.
With --crop auto the motion rows use one fixed strip crop for all frames (a frame and its
neighbours must line up): the cache records IRB_STRIPS_FIXED with the bars' height (5-6 rows
of 256), and the features differ from the uncropped ones. RN2+A+M's appearance half (row
RN2+A@M) is cut 2 at those same fixed crops (so a pipeline runs one CNN pass for both parts),
and RN2+A+M is the mean of RN2+A@M and M.
"""
import csv
import glob
import json
import os
import re
import random
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('experiment_motion')
N = 120
SIZE = 160


def stats(m):
    return list(np.percentile(m, [100, 99, 95, 90, 75, 50])) + [m.mean()]


def motion_ref(maps, order, camera, ok, side=None):
    """maps: path -> C x P array; order: paths in shooting order. Images that failed are not
    anyone's neighbour; with side (path -> 0/1: an outer fold's training / test images), an
    image's neighbours are the previous and next image of its camera on its own side."""
    feats = {}
    side = side or {}
    for p in order:
        if not ok[p]:
            continue
        same = [q for q in order if ok[q] and camera[q] == camera[p] and side.get(q, 0) == side.get(p, 0)]
        k = same.index(p)
        nbs = [maps[same[j]] for j in (k - 1, k + 1) if 0 <= j < len(same)]
        x = maps[p].astype(np.float64)
        if nbs:
            d = np.min([np.sqrt(((x - q.astype(np.float64)) ** 2).sum(0)) for q in nbs], axis=0)
        else:
            d = np.zeros(x.shape[1])
        feats[p] = np.array(stats(d))
    return feats


def run(out, crop, rows):
    cmd = [BIN, 'experiment', '--images', os.path.join(TMP, 'root'), '--labels', os.path.join(TMP, 'labels.csv'),
           '--model', MODEL, '--task', 'empty', '--C', '0.1', '--crop', crop, '--resize', 'squash', '--size',
           str(SIZE), '--rows', rows, '--cache', os.path.join(TMP, 'cache_' + crop), '-o', os.path.join(TMP, out),
           '--quiet']
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    # exit 1: done, but an input failed (the broken file)
    check(r.returncode == 1, 'experiment --crop %s exits 1 (%s)' % (crop, r.stderr.strip()[-300:]))
    return r


def preds(out, row):
    path = os.path.join(TMP, out, 'predictions_%s.csv' % row.replace('+', '_'))
    return {r['path']: r for r in csv.DictReader(open(path))}


def motion_cache(crop):
    """The cached motion rows: path -> the rows (one per neighbour context)."""
    for j in glob.glob(os.path.join(TMP, 'cache_' + crop, '*.json')):
        meta = json.load(open(j))
        if 'motion=1' in meta.get('irbis_cache_key', ''):
            base = j[:-5]
            rows = {}
            for r, v in zip(csv.DictReader(open(base + '.csv')), np.load(base + '.npy')):
                rows.setdefault(os.path.relpath(r['path'], os.path.join(TMP, 'root')), []).append(v)
            return meta, rows
    return None, {}


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    root = os.path.join(TMP, 'root')
    os.makedirs(os.path.join(root, 'mlwic_examples/images'))
    man = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                  if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])[:N]
    for r in man:
        os.symlink(os.path.join(os.path.abspath(CT), r['path']), os.path.join(root, r['path']))
    bad = 'mlwic_examples/images/CA-01_broken.jpg'
    open(os.path.join(root, bad), 'wb').write(b'this is not a jpeg')
    items = [(r['path'], r['label']) for r in man] + [(bad, 'empty')]
    items.sort()
    camera = {p: ('A' if k < N // 2 else 'B') for k, (p, _) in enumerate(items)}
    rnd = random.Random(7)
    times = {}
    for cam in 'AB':
        ps = [p for p, _ in items if camera[p] == cam]
        rnd.shuffle(ps)
        for k, p in enumerate(ps):  # bursts of 3, 10 s apart, an hour between bursts
            s = (k // 3) * 3600 + (k % 3) * 10
            times[p] = '2016-01-%02dT%02d:%02d:%02d' % (1 + s // 86400, s // 3600 % 24, s // 60 % 60, s % 60)
    with open(os.path.join(TMP, 'labels.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label', 'camera', 'timestamp'])
        for p, lab in items:
            w.writerow([p, lab, camera[p], times[p]])
    label = dict(items)

    # the independent reference: featurize's maps, numpy's rule
    lst = os.path.join(TMP, 'list.txt')
    open(lst, 'w').write(''.join(os.path.join(root, p) + '\n' for p, _ in items if p != bad))
    base = os.path.join(TMP, 'maps')
    r = subprocess.run([BIN, 'featurize', '--model', MODEL, '--cut', '3', '--pool', 'none', '--size', str(SIZE),
                        '--resize', 'squash', '--list', lst, '-o', base], capture_output=True, text=True, timeout=600)
    check(r.returncode == 0, 'featurize --cut 3 --pool none (%s)' % r.stderr.strip()[-200:])
    X = np.load(base + '.npy')
    paths = [os.path.relpath(q['path'], root) for q in csv.DictReader(open(base + '.csv'))]
    check(X.shape == (N, 1280 * 25), 'featurize: %d maps of 1280 x 5 x 5 (%s)' % (N, X.shape))
    maps = {p: x.reshape(1280, -1) for p, x in zip(paths, X)}
    ok = {p: p in maps for p, _ in items}
    order = sorted((p for p, _ in items), key=lambda p: (camera[p], times[p], p))
    check(order != sorted(order, key=lambda p: (camera[p], p)), 'the shooting order is not the path order')
    ref = motion_ref(maps, order, camera, ok)

    run('none', 'none', 'RN2+A,M,RN2+A+M,RN2+A+M+E')
    meta, got = motion_cache('none')
    check(meta is not None and meta.get('dim') == 7 and len(got) == N, 'the cache holds motion rows of 7 for '
          'the %d images (%s)' % (N, meta and meta.get('dim')))

    def rel(a, b):
        return (np.abs(a - b) / (np.abs(b) + 1e-6)).max()

    worst = max(min(rel(v, ref[p]) for v in got[p]) for p in ref if p in got) if got else 1
    check(worst <= 1e-4, 'motion features (every image a neighbour) = numpy\'s from featurize maps (max '
          'relative diff %.1e)' % worst)

    pm, pa, pam, pame = (preds('none', k) for k in ('M', 'RN2+A', 'RN2+A+M', 'RN2+A+M+E'))
    # each outer fold: training frames' neighbours among training frames, test frames' among test
    fold_of = {p: int(pm[p]['fold']) for p in pm}
    refs = {f: motion_ref(maps, order, camera, ok, {p: fold_of.get(p) == f for p in order})
            for f in sorted(set(fold_of.values()))}
    worst = max(min(rel(v, refs[f][p]) for v in got[p]) for f in refs for p in refs[f] if p in got)
    check(worst <= 1e-4, 'the cache holds each fold\'s features too: training frames linked to training frames '
          'only (max relative diff %.1e)' % worst)
    check(sorted(pm) == sorted(ref), 'M predicts the %d decoded images, not the broken one' % N)
    failed = list(csv.DictReader(open(os.path.join(TMP, 'none', 'failed.csv'))))
    check([f['path'] for f in failed] == [bad] and bad in failed[0]['message'],
          'failed.csv names the broken file (%s)' % failed)
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    ps = sorted(pm)
    y = np.array([label[p] != 'empty' for p in ps], int)
    fold = np.array([int(pm[p]['fold']) for p in ps])
    sk = np.zeros(len(ps))
    for f in sorted(set(fold)):
        F = np.array([refs[f][p] for p in ps])
        tr, te = fold != f, fold == f
        sc = StandardScaler().fit(F[tr])
        m = LogisticRegression(C=0.1, max_iter=5000, tol=1e-10).fit(sc.transform(F[tr]), y[tr])
        sk[te] = m.predict_proba(sc.transform(F[te]))[:, 1]
    mine = np.array([float(pm[p]['p_animal']) for p in ps])
    agree = np.mean((mine > 0.5) == (sk > 0.5))
    check(agree >= 0.995 and np.abs(mine - sk).mean() <= 2e-3,
          'M = scikit-learn on the reference features: %.1f %% agree, mean |dp| %.1e'
          % (100 * agree, np.abs(mine - sk).mean()))
    a = np.array([float(pa[p]['p_animal']) for p in ps])
    am = np.array([float(pam[p]['p_animal']) for p in ps])
    check(np.abs(am - (a + mine) / 2).max() <= 2e-6, 'RN2+A+M = mean of RN2+A and M (max diff %.1e)'
          % np.abs(am - (a + mine) / 2).max())
    seq = {}
    for p in ps:
        seq.setdefault(pame[p]['sequence'], []).append(p)
    ame = np.array([float(pame[p]['p_animal']) for p in ps])
    want = np.array([np.mean([am[ps.index(q)] for q in seq[pame[p]['sequence']]]) for p in ps])
    check(max(len(v) for v in seq.values()) == 3 and np.abs(ame - want).max() <= 2e-6,
          'RN2+A+M+E = RN2+A+M averaged over the 3-frame bursts (max diff %.1e)' % np.abs(ame - want).max())

    r = subprocess.run([BIN, 'experiment', '--images', root, '--labels', os.path.join(TMP, 'labels.csv'), '--model',
                        MODEL, '--rows', 'M,RN2+A+F', '-o', os.path.join(TMP, 'badrow'), '--quiet'],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode != 0 and "unknown row 'RN2+A+F'" in r.stderr, 'an unknown row is refused (%d, %s)'
          % (r.returncode, r.stderr.strip()))
    # labelled images that all fail to decode: a clear refusal, not a folds error
    # (12 distinct broken files: one path listed 12 times is one image since issue 15, item 11, and
    # files of the same bytes are one picture)
    for k in range(12):
        open(os.path.join(root, 'mlwic_examples/images/allbad_%02d.jpg' % k), 'wb').write(b'not a jpeg %d' % k)
    with open(os.path.join(TMP, 'allbad.csv'), 'w') as f:
        f.write('path,label\n' + ''.join('mlwic_examples/images/allbad_%02d.jpg,%s\n' % (k, 'empty' if k % 2 else 'animal')
                                         for k in range(12)))
    r = subprocess.run([BIN, 'experiment', '--images', root, '--labels', os.path.join(TMP, 'allbad.csv'), '--model',
                        MODEL, '-o', os.path.join(TMP, 'allbad'), '--quiet'], capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 3 and 'only 0 of the 12 labelled images could be decoded' in r.stderr,
          'no decodable image: exit 3 and why (%d, %s)' % (r.returncode, r.stderr.strip()))
    run('auto', 'auto', 'M,RN2+A@M,RN2+A+M')
    meta, got_auto = motion_cache('auto')
    key = (meta or {}).get('irbis_cache_key', '')
    check('"strips":"fixed"' in key, 'crop auto: the motion rows use one fixed crop (%s)' % key[-160:])
    top = float(key.split('"strip_top":')[1].split(',')[0]) if '"strip_top":' in key else 0
    bottom = float(re.split('[,}]', key.split('"strip_bottom":')[1])[0]) if '"strip_bottom":' in key else 0
    check(4 / 256 <= top <= 8 / 256 and 4 / 256 <= bottom <= 8 / 256,
          'the fixed crop is the bars\' height: top %.1f, bottom %.1f rows of 256' % (top * 256, bottom * 256))
    diff = np.mean([np.abs(got_auto[p][0] - got[p][0]).max() > 1e-3 for p in got if p in got_auto]) if got_auto else 0
    check(diff > 0.9, 'and the cropped features differ from the uncropped (%.0f %% of images)' % (100 * diff))
    crops = {}  # the cache's feature sets: (motion?, crop) for each cut
    for j in glob.glob(os.path.join(TMP, 'cache_auto', '*.json')):
        k = json.load(open(j)).get('irbis_cache_key', '')
        crop = k.split('"strips":')[1].split('}')[0]  # "fixed","strip_top":T,"strip_bottom":B
        crops.setdefault('motion' if 'motion=1' in k else k.split(' cut=')[1].split(' ')[0], set()).add(crop)
    check(crops.get('2') and crops.get('2') == crops.get('motion') and all('fixed' in c for c in crops['2']),
          'RN2+A@M: cut 2 at the motion rows\' fixed crops, fold by fold (%s)' % crops)
    pm, pf, pam = (preds('auto', k) for k in ('M', 'RN2+A@M', 'RN2+A+M'))
    d = max(abs(float(pam[p]['p_animal']) - (float(pm[p]['p_animal']) + float(pf[p]['p_animal'])) / 2) for p in pm)
    check(d <= 2e-6, 'crop auto: RN2+A+M = mean of RN2+A@M and M (max diff %.1e)' % d)
    finish()


if __name__ == '__main__':
    main()
