#!/usr/bin/python3
"""The inner cross-validation that chooses the info-strip crop groups by camera with --group camera
(issue 12 item 5, "Verified by": the synthetic inner-CV test).

Two cameras of synthetic frames (PIL, PNG, 224x168). Each frame has a black info bar at the bottom
carrying a white marker, and a picture above it.
- The marker predicts the label inside a camera but the other way round across cameras: in camera
  A an animal frame has a wide solid block and an empty one a narrow patch of stripes; in camera B
  an animal frame has wide stripes and an empty one a narrow solid block. A classifier that reads
  the bar learns "solid block = animal" from A and is wrong on B.
- The picture carries a weaker signal that holds on both cameras: an orange disk in 80 % of the
  animal frames and 20 % of the empty ones.
Within the two cameras together the bar separates the classes (a linear classifier can weigh the
block and stripe areas), so inner folds grouped by sequence (every frame its own sequence here)
choose not to crop the bar. Inner folds grouped by camera train on one camera and validate on
the other, where the bar misleads: they choose to crop it. `irbis train --images --group camera`
with two cameras (fewer than the folds: the estimate's outer folds fall back to sequences, or to
blocks without times, with a warning; the choices still group by camera) must crop in every fold and in the saved pipeline; the same run
with --group sequence must not (so the data does separate the two)."""
import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, MODEL, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('inner_cv_camera')
ROOT = os.path.join(TMP, 'images')
W, H, BAR = 224, 168, 18
PER_CAMERA = 24


def marker(draw, kind, width):
    y0, y1 = H - BAR + 4, H - 5
    if kind == 'solid':
        draw.rectangle([10, y0, 10 + width - 1, y1], fill=(255, 255, 255))
    else:
        for x in range(10, 10 + width, 4):
            draw.rectangle([x, y0, x + 1, y1], fill=(255, 255, 255))


def frame(rng, camera, animal):
    tint = np.array([70, 120, 60] if camera == 'cam_a' else [120, 95, 70], dtype=float)
    noise = rng.normal(0, 25, size=(H // 8, W // 8, 3))
    pic = np.clip(tint + np.kron(noise, np.ones((8, 8, 1))), 60, 220).astype(np.uint8)
    img = Image.fromarray(pic)
    d = ImageDraw.Draw(img)
    if rng.random() < (0.8 if animal else 0.2):
        cx, cy, r = rng.integers(30, W - 30), rng.integers(30, H - BAR - 30), 18
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(240, 140, 30))
    d.rectangle([0, H - BAR, W - 1, H - 1], fill=(0, 0, 0))
    if camera == 'cam_a':
        marker(d, 'solid' if animal else 'stripes', 90 if animal else 22)
    else:
        marker(d, 'stripes' if animal else 'solid', 90 if animal else 22)
    return img


def make_data():
    rng = np.random.default_rng(11)
    rows = []
    for camera in ('cam_a', 'cam_b'):
        os.makedirs(os.path.join(ROOT, camera), exist_ok=True)
        for i in range(PER_CAMERA):
            animal = i % 2 == 1
            rel = '%s/f%02d.png' % (camera, i)
            frame(rng, camera, animal).save(os.path.join(ROOT, rel))
            t = 900 * i
            rows.append([rel, 'animal' if animal else 'empty', camera,
                         '2023-05-01T%02d:%02d:%02d' % (t // 3600, t // 60 % 60, t % 60)])
    lab = os.path.join(TMP, 'labels.csv')
    with open(lab, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label', 'camera', 'timestamp'])
        w.writerows(rows)
    return lab


def train(lab, group):
    out = os.path.join(TMP, 'p_%s.irbis' % group)
    report = os.path.join(TMP, 'report_%s' % group)
    r = subprocess.run([BIN, 'train', '--images', ROOT, '--labels', lab, '--model', MODEL, '--recipe', 'RN2',
                        '--size', '224', '--resize', 'squash', '--crop', 'choose', '--combine', 'choose', '--group',
                        group, '--folds', '3', '--quiet', '--cache', os.path.join(TMP, 'cache'), '--report', report,
                        '-o', out], capture_output=True, text=True, timeout=900)
    res = json.load(open(os.path.join(report, 'results.json'))) if r.returncode == 0 else {}
    row = next((x for x in res.get('rows', []) if x.get('row') == 'RN2'), {})
    return r, row.get('crop_auto_folds'), res.get('folds'), out, res.get('fold_unit')


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    lab = make_data()
    r, cropped, folds, pipe, unit = train(lab, 'camera')
    print(r.stdout[-1500:], r.stderr[-1500:])
    check(r.returncode == 0 and folds and cropped == folds,
          'inner folds by camera: every training fold crops the bar (%s of %s folds; exit %d %s)'
          % (cropped, folds, r.returncode, r.stderr.strip()[-300:]))
    check(unit == 'sequence' and '2 camera(s) for 3 folds' in r.stderr,
          'two cameras for three folds: the estimate over sequences, said in a warning (%s; %s)'
          % (unit, r.stderr.strip()[-200:]))
    pp = open(pipe, 'rb').read() if os.path.exists(pipe) else b''
    check(b'"strips":"auto"' in pp and b'"strips":"none"' not in pp, 'the saved pipeline crops the bar')
    # without times (a plain path,label,camera file) each frame would be its own "sequence", and
    # the estimate's fallback folds would split bursts: contiguous blocks instead (regression)
    notime = os.path.join(TMP, 'labels_notime.csv')
    with open(lab, newline='') as f, open(notime, 'w', newline='') as g:
        w = csv.writer(g)
        for row in csv.reader(f):
            w.writerow(row[:3])
    r, cropped, folds, pipe, unit = train(notime, 'camera')
    check(r.returncode == 0 and unit == 'block' and 'contiguous blocks' in r.stderr,
          'no times, two cameras for three folds: the estimate over blocks, said in a warning (%s; %s)'
          % (unit, r.stderr.strip()[-200:]))
    r, cropped, folds, pipe, unit = train(lab, 'sequence')
    print(r.stdout[-1500:], r.stderr[-1500:])
    check(r.returncode == 0 and folds and cropped == 0,
          'inner folds by sequence keep the bar, which predicts inside the cameras (%s of %s folds crop; exit %d)'
          % (cropped, folds, r.returncode))
    pp = open(pipe, 'rb').read() if os.path.exists(pipe) else b''
    check(b'"strips":"none"' in pp and b'"strips":"auto"' not in pp, 'the pipeline of --group sequence keeps the bar')
    finish()


main()
