#!/usr/bin/python3
"""Regressions of `irbis classify --sort` (issue 15):
- item 6: --sort hardlink of a survey file that is a symlink (relative, as copies of a card
  often are) must hard-link the image, not the symlink (which dangled under sorted/);
- item 7: --sort copy of a legal 255-byte file name must work (its NAME.tmp was too long).
Checked with os.stat (inode, file type) and the bytes of the copy."""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import CT, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('sort_modes')
SRC = os.path.join(CT, 'wakhan_snowleopard', 'C1_Avgarch_SL')


def survey():
    """real/ holds two images; cam1/ a relative symlink to one and a 255-byte name copy."""
    s = os.path.join(TMP, 'survey')
    os.makedirs(os.path.join(s, 'cam1'))
    real = os.path.join(TMP, 'real')
    os.makedirs(real)
    names = sorted(os.listdir(SRC))[:2]
    for n in names:
        shutil.copy(os.path.join(SRC, n), os.path.join(real, n))
    os.symlink(os.path.join('..', '..', 'real', names[0]), os.path.join(s, 'cam1', 'linked.jpg'))
    long_name = 'x' * 251 + '.jpg'
    shutil.copy(os.path.join(real, names[1]), os.path.join(s, 'cam1', long_name))
    return s, os.path.join(real, names[0]), long_name


def sorted_file(out, rel):
    for label in os.listdir(os.path.join(out, 'sorted')):
        p = os.path.join(out, 'sorted', label, rel)
        if os.path.lexists(p):
            return p
    return None


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    fx = dict(F.fixture())
    fx['survey'], target, long_name = survey()
    out = os.path.join(TMP, 'hard')
    r = F.classify(fx, out, '--sort', 'hardlink')
    check(r.returncode == 0, '--sort hardlink exits 0 (%d: %s)' % (r.returncode, r.stderr.strip()[-300:]))
    p = sorted_file(out, 'cam1/linked.jpg')
    check(p is not None and not os.path.islink(p) and os.path.exists(p)
          and os.stat(p).st_ino == os.stat(target).st_ino,
          'sorted/*/cam1/linked.jpg is a hard link of the image the survey link points at')
    out = os.path.join(TMP, 'copy')
    r = F.classify(fx, out, '--sort', 'copy')
    check(r.returncode == 0, '--sort copy exits 0 (%d: %s)' % (r.returncode, r.stderr.strip()[-300:]))
    p = sorted_file(out, 'cam1/' + long_name)
    check(p is not None and open(p, 'rb').read() == open(os.path.join(fx['survey'], 'cam1', long_name), 'rb').read(),
          'the 255-byte name is copied byte for byte')
    leftovers = [f for _, _, fs in os.walk(os.path.join(out, 'sorted')) for f in fs if f.endswith('.tmp')]
    check(not leftovers, 'no .tmp files left in sorted/: %s' % leftovers)
    finish()


main()
