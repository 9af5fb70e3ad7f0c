#!/usr/bin/python3
"""Regression (issue 15, item 10): an output folder inside the survey is not part of it. The
store's files used to become failed rows, and a second run (another OUT, also inside) took the
first run's sorted/ copies and thumbnails for camera images. Each run's predictions.csv must
list exactly the survey's own images (listed here with os.walk), all classified."""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import CT, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('out_in_survey')
SRC = os.path.join(CT, 'wakhan_snowleopard', 'C1_Avgarch_SL')


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    s = os.path.join(TMP, 'survey')
    os.makedirs(os.path.join(s, 'cam1'))
    for n in sorted(os.listdir(SRC))[:3]:
        shutil.copy(os.path.join(SRC, n), os.path.join(s, 'cam1', n))
    images = sorted('cam1/' + n for n in os.listdir(os.path.join(s, 'cam1')))
    fx = dict(F.fixture())
    fx['survey'] = s
    for out, mode in ((os.path.join(s, 'out1'), 'copy'), (os.path.join(s, 'cam1', 'out2'), 'copy'),
                      (os.path.join(s, 'out1'), 'copy')):
        r = F.classify(fx, out, '--sort', mode)
        check(r.returncode == 0, '%s: exit 0 (%d: %s)' % (os.path.relpath(out, s), r.returncode, r.stderr[-300:]))
        rows = F.read_predictions(out)
        check(sorted(x['path'] for x in rows) == images and all(x['status'] == 'ok' for x in rows),
              '%s: predictions.csv lists the survey images only: %s'
              % (os.path.relpath(out, s), [(x['path'], x['status']) for x in rows if x['path'] not in images]))
    # OUT = the survey itself (its store and outputs were scanned as failed images, the next run
    # classified its thumbnails) or a camera folder (the whole camera was skipped, exit 0): both
    # refused before anything is written (regression)
    for out in (s, s + '/', os.path.join(s, 'cam1')):
        before = sorted(os.listdir(out))
        r = F.classify(fx, out)
        check(r.returncode == 2 and 'output folder' in r.stderr and sorted(os.listdir(out)) == before,
              'OUT %s refused, nothing written: exit %d %s' % (out, r.returncode, r.stderr.strip()[-200:]))
    finish()


main()
