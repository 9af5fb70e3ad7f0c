"""The full equivalence run of issue 12 item 6 (tests/py/test_pipeline.py is its small CI
version, and this script runs that test's own helper on the whole data):

  MLWIC: `irbis experiment` with the demo's recipe (224/448/576 averaged, squashed, info strips
  cropped) and 5 contiguous blocks as folds on all the MLWIC frames (labels path,label: one
  camera, times from EXIF, as classify's scan takes them). For each block, `irbis train --images
  --recipe R` on the other four blocks' images, then `irbis classify --pipeline` on the held-out
  block as a survey folder of its own; each image's probability is compared with the
  experiment's out-of-fold prediction of that image.
  hannaboe: the same with leave-one-camera-out (--group camera) on the two tunnel cameras.

It prints one line per data set and row: the largest |dp| over every fold. A row listed in
--exact is checked against 1e-5 (a FAIL line names the image); --measured rows are reported only.

  /usr/bin/python3 bench/equivalence.py [--rows RN2+A+M] [--cache DIR] [--tmp DIR]

--cache DIR is copied first (e.g. the demo's out/cache; the copy is written to, the original is
not). The cache keys rows by the image's path as given, so it saves CNN time only when the demo
ran from this checkout (the same --images path). From scratch on the 2-core box under a load of
17: hannaboe 5 minutes, the MLWIC experiment 50 minutes, then a classify run per block.
"""
import argparse
import csv
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
os.environ.setdefault('IRBIS_BIN', os.path.join(ROOT, 'build', 'irbis'))
os.environ.setdefault('IRBIS_SHARED', os.path.join(ROOT, '..', 'shared'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'py'))
import test_pipeline as tp  # noqa: E402
from testlib import CT, failures  # noqa: E402

DEMO = ['--size', '224,448,576', '--combine', 'mean', '--resize', 'squash', '--crop', 'auto']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--rows', default='RN2+A+M', help='comma-separated rows checked to 1e-5')
    ap.add_argument('--measured', default='', help='comma-separated rows only measured')
    ap.add_argument('--cache', default='', help='a feature cache to start from (copied)')
    ap.add_argument('--tmp', default=tp.tmpdir('equivalence'))
    ap.add_argument('--only', default='', help='mlwic or hannaboe: one data set')
    a = ap.parse_args()
    exact = [r for r in a.rows.split(',') if r]
    measured = [r for r in a.measured.split(',') if r]
    tp.TMP = a.tmp
    os.makedirs(a.tmp, exist_ok=True)
    manifest = list(csv.DictReader(open(os.path.join(CT, 'manifest.csv'))))
    sets = []
    hanna = sorted((r for r in manifest if r['path'].startswith('hannaboe_smallmammal/')), key=lambda r: r['path'])
    sets.append(('hannaboe', hanna, DEMO + ['--group', 'camera', '--folds', '2']))
    mlwic = sorted((r for r in manifest if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])
    sets.append(('mlwic', mlwic, DEMO + ['--folds', '5']))
    for name, rows, args in sets:
        if a.only and name != a.only:
            continue
        for r in rows:
            r['camera'], r['timestamp'] = '', ''  # plain path,label: cameras and times as classify's scan takes them
        cache = os.path.join(a.tmp, name, 'cache')
        if a.cache and not os.path.exists(cache):
            shutil.copytree(a.cache, cache)
        t = time.time()
        tp.equivalence(name, rows, args, exact, measured)
        print('%s: %d images, %.0f s' % (name, len(rows), time.time() - t), flush=True)
    print('%d FAILED' % len(failures) if failures else 'all equal to 1e-5')
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
