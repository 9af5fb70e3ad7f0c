#!/usr/bin/python3
"""Regression (issue 15, item 13): a featurize killed while writing leaves OUT.npy.tmp<PID>
(and .csv/.json) beside OUT; the next run must remove those of dead processes, keep those of a
live process (another run on the same OUT) and files that only look alike, and write OUT."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('featurize_stale_tmp')


def dead_pid():
    pid = 4000000
    while os.path.exists('/proc/%d' % pid):
        pid -= 1
    return pid


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    base = os.path.join(TMP, 'feat')
    dead, live = dead_pid(), os.getpid()
    stale = ['feat.npy.tmp%d' % dead, 'feat.csv.tmp%d' % dead, 'feat.json.tmp%d' % dead]
    keep = ['feat.npy.tmp%d' % live, 'feat.npy.tmpnotes', 'feat.npy.tmp', 'other.npy.tmp%d' % dead]
    for n in stale + keep:
        open(os.path.join(TMP, n), 'wb').write(b'partial')
    img = os.path.join(CT, 'mlwic_examples', 'images')
    imgs = [os.path.join(img, n) for n in sorted(os.listdir(img))[:2]]
    r = subprocess.run([BIN, 'featurize', '--model', MODEL, '-o', base, '--threads', '2'] + imgs,
                       capture_output=True, text=True)
    check(r.returncode == 0, 'featurize exits 0 (%d: %s)' % (r.returncode, r.stderr.strip()[-200:]))
    left = set(os.listdir(TMP))
    check(not (set(stale) & left), 'the dead run\'s tmp files are removed: %s' % sorted(set(stale) & left))
    check(set(keep) <= left, 'a live run\'s and look-alike files are kept: %s' % sorted(set(keep) - left))
    check({'feat.npy', 'feat.csv', 'feat.json'} <= left, 'OUT written')
    finish()


main()
