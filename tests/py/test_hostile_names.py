#!/usr/bin/python3
"""Regressions of issue 15, item 16:
- class names as sorted/ folders are kept apart: 'x/y' is the folder 'x%2Fy', never merged
  with the class 'x_y' (both used to become 'x_y');
- --sort hardlink with the survey on another file system (/dev/shm) is refused (exit 2) before
  anything is classified, instead of failing after the whole run with no report;
- a file name holding terminal escape sequences is not echoed raw: featurize's message about
  it carries no ESC/BEL byte (shown as '?')."""
import csv
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, MODEL, check, finish, small_classifier, tmpdir  # noqa: E402

TMP = tmpdir('hostile_names')
SHM = '/dev/shm/irbis-hostile-names-%d' % os.getpid()


def folder(label):
    """The documented folder name of a class (docs/classify.md)."""
    out = ''.join('%%%02X' % ord(c) if c in '/\\%' or (i == 0 and c == '.') else c for i, c in enumerate(label))
    return out or '%'


def classify(clf, survey, out, *extra):
    return subprocess.run([BIN, 'classify', '--model', MODEL, '--classifier', clf, survey, '-o', out,
                           '--threads', '2', '--quiet'] + list(extra), capture_output=True, text=True)


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    clf, _, paths, _ = small_classifier(TMP, 'x_y', 'x/y')
    survey = os.path.join(TMP, 'survey', 'cam1')
    os.makedirs(survey)
    for p in paths[:4]:
        shutil.copy(p, survey)
    out = os.path.join(TMP, 'sorted_names')
    r = classify(clf, os.path.dirname(survey), out, '--sort', 'copy', '--positive', 'x/y', '--threshold', '0')
    rows = list(csv.DictReader(open(os.path.join(out, 'predictions.csv'), newline='')))
    check(r.returncode == 0 and rows and all(x['seq_label'] == 'x/y' for x in rows), 'every image labelled x/y')
    check(all(os.path.isfile(os.path.join(out, 'sorted', folder('x/y'), x['path'])) for x in rows)
          and not os.path.exists(os.path.join(out, 'sorted', 'x_y')),
          "class 'x/y' sorted into %s/, not into the folder of class 'x_y': %s"
          % (folder('x/y'), sorted(os.listdir(os.path.join(out, 'sorted')))))

    if os.stat('/dev/shm').st_dev != os.stat(TMP).st_dev:
        shutil.rmtree(SHM, ignore_errors=True)
        shutil.copytree(os.path.dirname(survey), SHM)
        try:
            out = os.path.join(TMP, 'cross')
            r = classify(clf, SHM, out, '--sort', 'hardlink')
            check(r.returncode == 2 and 'different file systems' in r.stderr
                  and not os.path.exists(os.path.join(out, 'predictions.csv')),
                  'cross-device hardlink refused before classifying: exit %d %s' % (r.returncode, r.stderr.strip()))
        finally:
            shutil.rmtree(SHM, ignore_errors=True)
    else:
        check(False, '/dev/shm is not another file system here: the cross-device case cannot run')

    evil = os.path.join(TMP, 'evil\x1b]0;pwned\x07\x1b[2J.jpg')
    open(evil, 'w').write('not an image\n')
    r = subprocess.run([BIN, 'featurize', '--model', MODEL, '-o', os.path.join(TMP, 'evil_feat'), evil,
                        paths[0]], capture_output=True)
    err = r.stderr
    check(b'pwned' in err and b'\x1b' not in err and b'\x07' not in err,
          'escape sequences in a file name are not echoed raw: %r' % err[-200:])
    finish()


main()
