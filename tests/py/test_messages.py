#!/usr/bin/python3
"""Messages (issue 15, item 17):
- featurize names a failed file once per failure line (it printed the path, then the
  decoder's message, which names it again)."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('messages')


def featurize_names_once():
    bad = os.path.join(TMP, 'notes.jpg')
    open(bad, 'w').write('field notes\n')
    good = os.path.join(CT, 'mlwic_examples', 'images', sorted(os.listdir(os.path.join(CT, 'mlwic_examples',
                                                                                      'images')))[0])
    r = subprocess.run([BIN, 'featurize', '--model', MODEL, '-o', os.path.join(TMP, 'f'), bad, good],
                       capture_output=True, text=True)
    lines = [ln for ln in r.stderr.splitlines() if 'notes.jpg' in ln]
    check(r.returncode == 1 and len(lines) == 1 and lines[0].count('notes.jpg') == 1,
          'featurize: one line naming notes.jpg once: %s' % lines)


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    featurize_names_once()
    finish()


main()
