#!/usr/bin/python3
"""The output folder holds a user's own files, or a damaged store (regressions from a hostile
test):
  - `irbis classify SURVEY -o PROJECT` into a folder with the user's predictions.csv (no
    irbis.sqlite) overwrote it with exit 0; now refused (exit 2) naming the file, nothing written;
  - `--restart` emptied sorted/, thumbs/ and camtrap-dp/ whole, the user's files in them too; now
    it removes only what the run wrote (the store's images under sorted/, thumbs/ID.jpg, the
    package's four files): the user's files stay, and the new run's files equal a fresh run's;
  - a run beside a review whose OUT/.lock a user deleted is refused (it ran);
  - a damaged irbis.sqlite (truncated, as a half-copied folder or a power cut on exFAT leaves it)
    refused every command, --restart too, with SQLite's words only; now the message says the way
    out, and `--restart` moves the store aside (irbis.sqlite.damaged-TIME, kept) and starts over.
"""
import glob
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import BIN, check, files_under, finish, tmpdir  # noqa: E402

TMP = tmpdir('out_folder')


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    fx = F.fixture()

    # a folder of the user's with a file of an output's name
    project = os.path.join(TMP, 'project')
    os.makedirs(project)
    mine = b'path,label\nold results of another tool\n'
    open(os.path.join(project, 'predictions.csv'), 'wb').write(mine)
    r = F.classify(fx, project)
    check(r.returncode == 2 and 'predictions.csv' in r.stderr and 'no irbis.sqlite' in r.stderr,
          'a folder with predictions.csv and no store: refused (exit %d: %s)' % (r.returncode, r.stderr.strip()))
    check(sorted(os.listdir(project)) == ['predictions.csv'] and
          open(os.path.join(project, 'predictions.csv'), 'rb').read() == mine, 'nothing written, the file kept')

    # --restart keeps the user's files in sorted/, thumbs/ and camtrap-dp/
    out = os.path.join(TMP, 'out')
    F.classify(fx, out, '--sort', 'copy', check=1)
    user = {'sorted/animal/best_shot_ever.JPG': b'\xff\xd8\xffmine', 'thumbs/README.txt': b'my notes',
            'camtrap-dp/deployments_draft.csv': b'camera,latitude\n', 'sorted/my_picks/x.txt': b'x'}
    for rel, data in user.items():
        os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
        open(os.path.join(out, rel), 'wb').write(data)
    r = F.classify(fx, out, '--sort', 'copy', '--restart')
    check(r.returncode == 1, '--restart (exit %d: %s)' % (r.returncode, r.stderr[-300:]))
    got = files_under(out)
    check(all(got.get(rel) == data for rel, data in user.items()),
          'the user\'s files in sorted/, thumbs/ and camtrap-dp/ are kept: %s' % sorted(set(user) - set(got)))
    fresh = os.path.join(TMP, 'fresh')
    F.classify(fx, fresh, '--sort', 'copy', check=1)
    want = files_under(fresh)
    for d in ('sorted/', 'thumbs/'):
        a = {k: v for k, v in got.items() if k.startswith(d) and k not in user}
        b = {k: v for k, v in want.items() if k.startswith(d)}
        check(a == b, '%s: the run\'s files equal a fresh run\'s (%d and %d files)' % (d, len(a), len(b)))
    check(got['predictions.csv'] == want['predictions.csv'], 'predictions.csv equals a fresh run\'s')

    # the lock file deleted while review holds the folder: a classify run is still refused
    # (regression: it made a new OUT/.lock, locked it and ran beside the review)
    import review_lib as R
    srv = R.Server(out)
    os.remove(os.path.join(out, '.lock'))
    r = F.classify(fx, out, '--sort', 'copy')
    check(r.returncode == 3 and 'another irbis process' in r.stderr,
          'OUT/.lock deleted under a review: classify refused (exit %d: %s)' % (r.returncode, r.stderr.strip()[-200:]))
    srv.stop()

    # a damaged store
    db = os.path.join(out, 'irbis.sqlite')
    for p in glob.glob(db + '-*'):
        os.remove(p)
    size = os.path.getsize(db)
    with open(db, 'r+b') as f:
        f.truncate(size // 2)
    r = subprocess.run([BIN, 'export', out], capture_output=True, text=True, timeout=300)
    check(r.returncode == 3 and '--restart' in r.stderr and 'damaged' in r.stderr,
          'export on a damaged store: exit 3 saying the way out (%d: %s)' % (r.returncode, r.stderr.strip()))
    r = F.classify(fx, out, '--sort', 'copy')
    check(r.returncode == 3 and '--restart' in r.stderr and 'damaged' in r.stderr,
          'classify on a damaged store: exit 3 saying the way out (%d: %s)' % (r.returncode, r.stderr.strip()))
    r = F.classify(fx, out, '--sort', 'copy', '--restart')
    aside = glob.glob(db + '.damaged-*')
    check(r.returncode == 1 and 'moved to' in r.stderr and len(aside) == 1 and os.path.getsize(aside[0]) == size // 2,
          '--restart moves the damaged store aside and starts over (exit %d, %s: %s)' % (r.returncode, aside,
                                                                                         r.stderr.strip()[-300:]))
    check(open(os.path.join(out, 'predictions.csv'), 'rb').read() == want['predictions.csv'],
          'and its predictions.csv equals a fresh run\'s')
    finish()


if __name__ == '__main__':
    main()
