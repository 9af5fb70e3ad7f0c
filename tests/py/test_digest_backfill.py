#!/usr/bin/python3
"""Images classified by an irbis that recorded no content digests (a store made before them: no
sha_head / sha_data columns, no table former) are given their digests by the next run, once
(regression: they never got any unless classified again, so a later move or rename of the survey
classified them again and their human labels stayed under the old paths):
  - the run over such a store classifies nothing again, says that it records the digests of the
    images an earlier irbis classified, and stores the digests a fresh run stores;
  - the run after it reads nothing (it says nothing of digests);
  - the survey then copied to a new root with its files renamed keeps every result and every
    human label (test_survey_moved.py shows the same for a store made with digests)."""
import os
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import review_lib as R  # noqa: E402
import test_survey_moved as M  # noqa: E402
from testlib import BIN, check, finish, small_classifier, tmpdir  # noqa: E402

TMP = tmpdir('digest_backfill')


def digests(out):
    """{path: (sha_head, sha_data)} of OUT's store."""
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'))
    rows = {p: (h, d) for p, h, d in db.execute('SELECT path, sha_head, sha_data FROM images')}
    db.close()
    return rows


def sql(out, script):
    """Runs script on OUT's store, as another program would."""
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'))
    db.executescript(script)
    db.commit()
    db.close()


def make_old(out):
    """The store as an irbis before content digests left it: no digest columns, no table former."""
    sql(out, 'DROP INDEX images_sha; ALTER TABLE images DROP COLUMN sha_head;'
             ' ALTER TABLE images DROP COLUMN sha_data; DROP TABLE former;')


def schema(out):
    """The store's tables and each one's columns, and its indexes."""
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'))
    names = db.execute("SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'index') ORDER BY name").fetchall()
    cols = {n: [c[1] for c in db.execute('PRAGMA table_info(%s)' % n)] for t, n in names if t == 'table'}
    db.close()
    return names, cols


def failed_upgrade(out):
    """A store's upgrade that fails at its last step (a table in the way of the digests' index,
    made after the digest columns are added) leaves the store as it was: the new tables and
    columns come in one transaction (regression: each was its own commit, so the failure left
    the columns added and the table former made, a store of no version)."""
    sql(out, 'CREATE TABLE images_sha(x)')
    old = schema(out)
    r = subprocess.run([BIN, 'export', out], capture_output=True, text=True)
    check(r.returncode != 0 and 'irbis.sqlite' in r.stderr and 'images_sha' in r.stderr,
          'an upgrade that cannot finish is refused, naming the store and the cause (%d: %s)'
          % (r.returncode, r.stderr.strip()[-300:]))
    now = schema(out)
    check(now == old and 'sha_data' not in now[1]['images'] and 'former' not in now[1],
          'the failed upgrade left the store as it was (now: %s)' % (now,))
    sql(out, 'DROP TABLE images_sha')


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    M.TMP = TMP  # its card() copies the survey here
    clf = small_classifier(TMP)[0]
    w, h = sorted(os.listdir(M.WAKHAN))[1:4], sorted(os.listdir(M.HANNA))[:3]
    files = {'camA/' + n: os.path.join(M.WAKHAN, n) for n in w}
    files.update({'camB/' + n: os.path.join(M.HANNA, n) for n in h})
    sv, out = M.card('card', files), os.path.join(TMP, 'out')
    r, before = M.classify(clf, sv, out)
    check(r.returncode == 0 and len(before) == 6, 'the card classified (%s)' % r.stderr[-200:])
    fresh = digests(out)
    check(all(hd[0] and hd[1] for hd in fresh.values()), 'a run of this irbis records every image\'s digests')
    labels = {p: ('animal' if i % 2 else 'empty') for i, p in enumerate(sorted(before))}
    for p in before:  # frames that share a second are one sequence: one label
        labels[p] = labels[min(q for q in before if before[q]['sequence'] == before[p]['sequence'])]
    M.review(out, labels)

    make_old(out)
    failed_upgrade(out)
    r, pred = M.classify(clf, sv, out)
    check(r.returncode == 0 and M.resumed(r) == 6 and M.results(pred) == M.results(before),
          'the store of an earlier irbis: nothing classified again (%d done by an earlier run; %s)'
          % (M.resumed(r), r.stderr.strip()[-300:]))
    check('recording content digests of 6 images classified by an earlier irbis' in r.stderr and
          'recorded the content digests of 6 image(s) classified by an earlier irbis' in r.stderr,
          'the run says it records the digests of the images an earlier irbis classified: %s'
          % r.stderr.strip()[-400:])
    check(digests(out) == fresh, 'the digests it records are those a fresh run records')
    r, pred = M.classify(clf, sv, out)
    check(r.returncode == 0 and 'digests' not in r.stderr and M.resumed(r) == 6,
          'the run after it reads no digests (%s)' % r.stderr.strip()[-300:])

    lab = os.path.join(TMP, 'nas', 'survey')
    shutil.copytree(sv, lab, copy_function=shutil.copy)  # cp -r: the bytes, new times
    renamed = {}
    for p in sorted(labels):
        cam, n = p.split('/')
        new = '%s/%s_%s' % (cam, cam.upper(), n)
        os.rename(os.path.join(lab, p), os.path.join(lab, new))
        renamed[new] = p
    r, pred = M.classify(clf, lab, out, '--survey-moved')
    want = {new: labels[old] for new, old in renamed.items()}
    check(r.returncode == 0 and M.resumed(r) == 6 and
          M.results(pred) == {new: M.results(before)[old] for new, old in renamed.items()},
          'copied and renamed: nothing classified again (%d done by an earlier run; %s)'
          % (M.resumed(r), r.stderr.strip()[-300:]))
    check(M.human(pred) == want and R.reviews(out) == want,
          'every human label followed its picture (%d of %d)' % (len(M.human(pred)), len(want)))
    finish()


if __name__ == '__main__':
    main()
