#!/usr/bin/python3
"""`irbis train FEATURES` groups its cross-validation by the experiment's units (issue 12 item 5),
never by single image: burst frames must not leak between folds.

A synthetic feature set (written here as .npy/.csv/.json): 40 bursts of 4 near-identical frames,
2 s apart, bursts 10 min apart, on two cameras; each burst's label is random, so nothing but the
burst itself predicts it. Grouped by burst, held-out accuracy is chance; grouped by image, a
held-out frame's burst twins are in the training folds and the accuracy is near 1 (checked here
with scikit-learn, so the data really has the leak). irbis train, with only camera and timestamp
columns in the labels, must report the same CV as with the hand-built burst ids as
--group-column (the same groups), and far worse (higher) log-loss than with per-image groups;
scikit-learn's GroupKFold log-loss over the bursts at the chosen C agrees with it. Without times
(block units) and with --group camera, the units are said in the summary."""
import csv
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GroupKFold, KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('train_groups')
BURSTS, FRAMES, D = 40, 4, 64


def make_set(rng):
    base = os.path.join(TMP, 'feat')
    x, rows = [], []
    labels = rng.permutation([0, 1] * (BURSTS // 2))
    for b in range(BURSTS):
        centre = rng.normal(size=D)
        cam = 'cam%d' % (b % 2)
        for f in range(FRAMES):
            x.append(centre + 0.02 * rng.normal(size=D))
            t = 600 * b + 2 * f
            rows.append({'path': '/survey/%s/IMG_%03d_%d.JPG' % (cam, b, f), 'camera': cam,
                         'timestamp': '2022-03-01T%02d:%02d:%02d' % (t // 3600, t // 60 % 60, t % 60),
                         'label': ('empty', 'animal')[labels[b]], 'burst': 'b%d' % b, 'image': '%d_%d' % (b, f)})
    np.save(base + '.npy', np.asarray(x, dtype='<f4'))
    with open(base + '.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['row', 'path', 'flipped'])
        for i, r in enumerate(rows):
            w.writerow([i, r['path'], 0])
    json.dump({'format': 'irbis-features', 'version': 1, 'dim': D, 'rows': len(rows)}, open(base + '.json', 'w'))
    return base, np.asarray(x), rows


def write_labels(path, rows, cols):
    with open(path, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction='ignore')
        w.writeheader()
        w.writerows(rows)


def train(base, lab, *extra):
    r = subprocess.run([BIN, 'train', base, '--labels', lab, '-o', os.path.join(TMP, 'c.irbis'), *extra],
                       capture_output=True, text=True)
    cv = {float(a): float(b) for a, b in re.findall(r'cv C=(\S+)\s+mean held-out log-loss (\S+)', r.stdout)}
    chosen = re.search(r'cv C=(\S+).*<- chosen', r.stdout)
    units = re.search(r'cv groups: (.*)', r.stdout)
    return r, cv, float(chosen.group(1)) if chosen else None, units.group(1) if units else ''


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    base, x, rows = make_set(np.random.default_rng(7))
    y = np.array([r['label'] == 'animal' for r in rows], dtype=int)
    burst = np.array([int(r['burst'][1:]) for r in rows])

    model = make_pipeline(StandardScaler(), LogisticRegression(C=10.0, max_iter=5000))
    p_burst = cross_val_predict(model, x, y, groups=burst, cv=GroupKFold(5), method='predict_proba')[:, 1]
    p_image = cross_val_predict(model, x, y, cv=KFold(5, shuffle=True, random_state=0), method='predict_proba')[:, 1]
    acc_burst, acc_image = ((p_burst > 0.5) == y).mean(), ((p_image > 0.5) == y).mean()
    check(acc_image > 0.9 and acc_burst < 0.75, 'sklearn: the data leaks across burst frames (accuracy %.3f by image, '
          '%.3f by burst)' % (acc_image, acc_burst))

    lab = os.path.join(TMP, 'labels.csv')
    write_labels(lab, rows, ['path', 'label', 'camera', 'timestamp', 'burst', 'image'])
    r, cv_default, c_default, units = train(base, lab)
    check(r.returncode == 0 and 'sequences' in units and units.startswith('%d ' % BURSTS),
          'default CV groups are the %d bursts: "%s" (exit %d %s)' % (BURSTS, units, r.returncode, r.stderr[-300:]))
    r, cv_hand, _, _ = train(base, lab, '--group-column', 'burst')
    check(cv_default and cv_default == cv_hand, 'default CV equals the hand-built burst groups: %s vs %s'
          % (cv_default, cv_hand))
    r, cv_image, _, _ = train(base, lab, '--group-column', 'image')
    best_default, best_image = min(cv_default.values() or [0]), min(cv_image.values() or [0])
    check(best_default > 0.6 and best_image < best_default - 0.3,
          'the default CV is not inflated: best held-out log-loss %.3f (per-image groups: %.3f)'
          % (best_default, best_image))
    if c_default:
        sk = make_pipeline(StandardScaler(), LogisticRegression(C=c_default, max_iter=5000))
        p = cross_val_predict(sk, x, y, groups=burst, cv=GroupKFold(5), method='predict_proba')
        ll = log_loss(y, p)
        check(abs(ll - cv_default[c_default]) < 0.25 * ll, 'sklearn GroupKFold over bursts at C=%g: log-loss %.3f, '
              'irbis %.3f' % (c_default, ll, cv_default[c_default]))

    # no times, no sequence ids: blocks of path order; --group camera: the two cameras
    plain = os.path.join(TMP, 'plain.csv')
    write_labels(plain, rows, ['path', 'label', 'camera'])
    r, cv_block, _, units = train(base, plain)
    check(r.returncode == 0 and 'blocks of path order' in units and cv_block and min(cv_block.values()) > 0.6,
          'no times: blocks of path order, not inflated: "%s" %s' % (units, cv_block))
    r, _, _, units = train(base, lab, '--group', 'camera')
    check(r.returncode == 0 and units.startswith('2 cameras, 2 folds') and 'one fold per camera' in units,
          '--group camera with two cameras: "%s" (exit %d %s)' % (units, r.returncode, r.stderr[-300:]))
    r = subprocess.run([BIN, 'train', base, '--labels', lab, '--group', 'image', '-o', os.path.join(TMP, 'x.irbis')],
                       capture_output=True, text=True)
    check(r.returncode == 2 and '--group' in r.stderr, 'no per-image grouping: exit %d %s' % (r.returncode,
                                                                                              r.stderr.strip()))
    finish()


main()
