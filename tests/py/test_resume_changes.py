#!/usr/bin/python3
"""A survey that changed between two runs on the same output folder (regressions from a hostile
test): the store kept one row per path and never looked again, so a resume left a file replaced
by another picture with the old picture's label and time, kept deleted files in every output,
listed a renamed camera folder's images twice, and never retried an image that failed because
the card reader or share had dropped out for a moment. Now each image's size and modification
time are stored and compared by the next scan:
  - a replaced file gets the new picture's results; a file that left the survey (deleted) is
    dropped; a renamed folder's images are found under their new paths with the same bytes
    (docs/classify.md: their results are kept, tests/py/test_survey_moved.py); the run says so,
    naming the first of each; predictions.csv and sorted/ then equal those of a fresh run on the
    survey as it is now (sorted/ entries of dropped images removed, a replaced image's copy renewed);
  - an image that failed as unreadable or missing is tried again, and a failed row for a folder
    the scan now opens goes;
  - a survey folder that lists no file (an unmounted drive's mount point) while the store holds
    images is refused (exit 3) with nothing changed;
  - a sequence whose label changes (here by a review) moves its images to the new label's folder
    of sorted/ and out of the old one;
  - the survey's folder moved (its drive mounted elsewhere): refused saying --survey-moved, which
    then goes on with every image kept;
  - an EXIF time edited in place with the file's size and time kept (a camera clock put right):
    the image is classified again with its new time (the header's time and size are compared too);
  - thumbnails (OUT/thumbs/ID.jpg) follow: a replaced image's row is made again, and when its id
    was the largest the new row got the same id, so the report and the review showed the old
    picture's thumbnail for it (a thumbnail there is used as it is); the thumbnails of rows that
    went stayed. Now each is removed with its row: every thumbnail is that of the image its id
    names now, byte for byte a fresh run's.
"""
import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import BIN, CT, check, files_under, finish, tmpdir  # noqa: E402

TMP = tmpdir('resume_changes')


def classify(fx, survey, out, *extra):
    return subprocess.run([BIN, 'classify', '--model', fx['model'], '--classifier', fx['clf'], survey, '-o', out,
                           '--threads', '2', '--sort', 'copy', '--gap', '60'] + list(extra),
                          capture_output=True, text=True, timeout=300)


def predictions(out):
    return open(os.path.join(out, 'predictions.csv'), 'rb').read()


def rows(out):
    with open(os.path.join(out, 'predictions.csv'), newline='') as f:
        return {r['path']: r for r in csv.DictReader(f)}


def same_as_fresh(fx, survey, out, what):
    fresh = os.path.join(TMP, 'fresh')
    shutil.rmtree(fresh, ignore_errors=True)
    r = classify(fx, survey, fresh)
    check(r.returncode == 0, '%s: a fresh run (exit %d: %s)' % (what, r.returncode, r.stderr[-200:]))
    check(predictions(out) == predictions(fresh), '%s: predictions.csv equals a fresh run\'s' % what)
    a, b = files_under(os.path.join(out, 'sorted')), files_under(os.path.join(fresh, 'sorted'))
    check(a == b, '%s: sorted/ equals a fresh run\'s (only here: %s; only there: %s; differing: %s)'
          % (what, sorted(set(a) - set(b))[:3], sorted(set(b) - set(a))[:3],
             sorted(k for k in set(a) & set(b) if a[k] != b[k])[:3]))


def thumbs_follow(out, fresh, what):
    """Every OUT/thumbs/ID.jpg is the thumbnail of the image with that id in OUT's store now: the
    same bytes as the fresh run's thumbnail of that path."""
    def by_path(d):
        db = sqlite3.connect('file:%s?mode=ro' % os.path.join(d, 'irbis.sqlite'), uri=True)
        ids = dict(db.execute('SELECT id, path FROM images'))
        db.close()
        thumbs = os.path.join(d, 'thumbs')
        return {ids.get(int(n[:-4]), 'no image %s' % n): open(os.path.join(thumbs, n), 'rb').read()
                for n in os.listdir(thumbs) if n.endswith('.jpg')}
    a, b = by_path(out), by_path(fresh)
    check(a and all(b.get(k) == v for k, v in a.items()),
          '%s: each thumbnail is its image\'s now (stale or orphaned: %s)'
          % (what, sorted(k for k, v in a.items() if b.get(k) != v)[:3]))


def replaced_last(fx):
    """The image with the largest id replaced by another picture: its new row gets the same id."""
    survey, out = os.path.join(TMP, 'last'), os.path.join(TMP, 'last_out')
    os.makedirs(os.path.join(survey, 'cam'))
    src = sorted(os.listdir(os.path.join(CT, 'wakhan_snowleopard', 'C1_Avgarch_SL')))[:2]
    for n in src:
        shutil.copy2(os.path.join(CT, 'wakhan_snowleopard', 'C1_Avgarch_SL', n), os.path.join(survey, 'cam', n))
    r = classify(fx, survey, out)
    last = os.path.join(survey, 'cam', src[1])
    shutil.copyfile(os.path.join(CT, 'speciesnet_testdata', 'blank.jpg'), last)
    os.utime(last, (time.time() + 5, time.time() + 5))
    r = classify(fx, survey, out)
    check(r.returncode == 0 and '1 image(s) changed' in r.stderr, 'the last image replaced: classified again')
    fresh = os.path.join(TMP, 'last_fresh')
    classify(fx, survey, fresh)
    thumbs_follow(out, fresh, 'the image with the largest id replaced')


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    fx = F.fixture()
    survey = os.path.join(TMP, 'survey')
    src = sorted(p for p in os.listdir(os.path.join(CT, 'wakhan_snowleopard', 'C1_Avgarch_SL')))[:6]
    blanks = ['blank.jpg', 'blank2.jpg', 'blank3.jpg']
    for cam, names, folder in (('camA', src[:3], 'wakhan_snowleopard/C1_Avgarch_SL'),
                               ('camB', src[3:6], 'wakhan_snowleopard/C1_Avgarch_SL'),
                               ('camC', blanks, 'speciesnet_testdata')):
        os.makedirs(os.path.join(survey, cam))
        for n in names:
            shutil.copy2(os.path.join(CT, folder, n), os.path.join(survey, cam, n))
    out = os.path.join(TMP, 'out')
    r = classify(fx, survey, out)
    check(r.returncode == 0, 'first run (exit %d: %s)' % (r.returncode, r.stderr[-300:]))

    # a file replaced by another picture, a file deleted, a camera folder renamed
    replaced = 'camA/' + src[0]
    shutil.copyfile(os.path.join(CT, 'speciesnet_testdata', 'blank.jpg'), os.path.join(survey, replaced))
    os.utime(os.path.join(survey, replaced), (time.time() + 5, time.time() + 5))
    os.remove(os.path.join(survey, 'camB', src[4]))
    os.rename(os.path.join(survey, 'camC'), os.path.join(survey, 'camD'))
    before = rows(out)
    r = classify(fx, survey, out)
    check(r.returncode == 0, 'resume after the changes (exit %d: %s)' % (r.returncode, r.stderr[-300:]))
    check('1 image(s) changed' in r.stderr and replaced in r.stderr,
          'the run says an image changed, naming it: %s' % r.stderr.strip()[-400:])
    check('1 image(s) are no longer in the survey' in r.stderr and 'camB/' + src[4] in r.stderr,
          'and that 1 left the survey (the deleted one), naming it')
    check('3 image(s) were found under another path with the same bytes' in r.stderr and
          'camC/blank.jpg -> camD/blank.jpg' in r.stderr,
          'and that the renamed folder\'s 3 were found under their new paths, naming the first')
    after = rows(out)
    check(after[replaced]['p_animal'] != before[replaced]['p_animal'] and
          after[replaced]['timestamp'] != before[replaced]['timestamp'],
          'the replaced file has the new picture\'s probabilities and time (%s %s -> %s %s)'
          % (before[replaced]['p_animal'], before[replaced]['timestamp'], after[replaced]['p_animal'],
             after[replaced]['timestamp']))
    check(not any(p.startswith('camC/') for p in after) and sum(p.startswith('camD/') for p in after) == 3 and
          'camB/' + src[4] not in after, 'the deleted and renamed files are gone, the renamed folder\'s are in')
    same_as_fresh(fx, survey, out, 'after the changes')
    thumbs_follow(out, os.path.join(TMP, 'fresh'), 'after the changes')
    replaced_last(fx)

    # failures that may pass: an image recorded as unreadable (with its stamp, as a run that lost
    # its card reader leaves it) and a folder the scan could not open are tried again
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'))
    flaky = 'camB/' + src[3]
    db.execute("UPDATE images SET state = 2, status = 'io', message = 'Input/output error', probs = NULL,"
               " label = NULL WHERE path = ?", (flaky,))
    db.execute("INSERT INTO images(path, camera, timestamp, state, status, message, seen) VALUES('camD/', 'camD',"
               " '', 2, 'io', 'cannot open the folder: Permission denied', 1)")
    db.commit()
    db.close()
    r = classify(fx, survey, out)
    check(r.returncode == 0 and '1 image(s) that an earlier run could not read were tried again' in r.stderr,
          'an unreadable image is tried again (exit %d: %s)' % (r.returncode, r.stderr.strip()[-300:]))
    got = rows(out)
    check(got[flaky]['status'] == 'ok' and 'camD/' not in got, 'it is classified; the folder\'s failed row is gone')
    same_as_fresh(fx, survey, out, 'after the retry')

    # a sequence relabelled (a review): its images move to the new label's folder of sorted/
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'))
    members = [p for (p,) in db.execute('SELECT i.path FROM image_seq m JOIN images i ON i.id = m.image_id WHERE'
                                        ' m.seq_id = (SELECT x.seq_id FROM image_seq x JOIN images j ON j.id ='
                                        ' x.image_id WHERE j.path = ?)', ('camB/' + src[5],))]
    for table in ('reviews', 'review_log'):  # as the review handle writes a label: on every member
        db.executemany("INSERT INTO %s(path, label, time, method) VALUES(?, 'empty', '2026-12-05T10:00:00Z', 'human')"
                       % table, [(p,) for p in members])
    db.commit()
    db.close()
    old = rows(out)['camB/' + src[5]]['seq_label']
    r = subprocess.run([BIN, 'export', out], capture_output=True, text=True, timeout=300)
    s = files_under(os.path.join(out, 'sorted'))
    check(r.returncode == 0 and 'empty/camB/' + src[5] in s and '%s/camB/%s' % (old, src[5]) not in s,
          'a relabelled image is in the new label\'s folder only (was %s): %s' % (old, sorted(s)))

    # an empty survey folder (a drive not mounted) is refused, nothing changed
    keep = predictions(out)
    away = os.path.join(TMP, 'away')
    os.rename(survey, away)
    os.makedirs(survey)
    r = classify(fx, survey, out)
    check(r.returncode == 3 and 'drive mounted' in r.stderr and predictions(out) == keep,
          'a survey folder that lists no file: refused, outputs kept (exit %d: %s)' % (r.returncode,
                                                                                      r.stderr.strip()[-300:]))
    os.rmdir(survey)
    os.rename(away, survey)
    r = classify(fx, survey, out)
    check(r.returncode == 0 and 'no longer in the survey' not in r.stderr, 'and the drive back, nothing dropped')

    # the same survey mounted elsewhere: refused with the way on; --survey-moved goes on from it
    keep = predictions(out)
    moved = os.path.join(TMP, 'mnt', 'survey')
    os.makedirs(os.path.dirname(moved))
    os.rename(survey, moved)
    r = classify(fx, moved, out)
    check(r.returncode == 3 and '--survey-moved' in r.stderr, 'a moved survey: refused naming --survey-moved '
                                                             '(exit %d: %s)' % (r.returncode, r.stderr.strip()[-300:]))
    r = classify(fx, moved, out, '--survey-moved')
    n = len(rows(out))
    check(r.returncode == 0 and '%d done by an earlier run' % n in r.stderr and 'changed' not in r.stderr and
          predictions(out) == keep, '--survey-moved: every image kept, nothing classified again, the same '
                                    'predictions.csv (exit %d: %s)' % (r.returncode, r.stderr.strip()[-300:]))

    # the card read in another time zone (FAT keeps local times): every time shifted by an hour is
    # no change; a time moved by 7 s is, but the file's bytes are the same: nothing is done again
    for root, _, files in os.walk(moved):
        for f in files:
            p = os.path.join(root, f)
            st = os.stat(p)
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 3600 * 10**9))
    r = classify(fx, moved, out)
    check(r.returncode == 0 and 'changed' not in r.stderr and '%d done by an earlier run' % n in r.stderr,
          'times shifted by an hour: nothing classified again (%s)' % r.stderr.strip()[-200:])
    p = os.path.join(moved, replaced)
    st = os.stat(p)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 7 * 10**9))
    r = classify(fx, moved, out)
    check(r.returncode == 0 and 'changed' not in r.stderr and '%d done by an earlier run' % n in r.stderr and
          predictions(out) == keep,
          'a time moved by 7 s, the same bytes: nothing classified again, the same result (%s)'
          % r.stderr.strip()[-200:])

    # a camera's clock put right with an EXIF editor that keeps the file's size and time (as
    # `exiftool -AllDates+=... -P` does): the image is classified again with its new time
    fixed = 'camA/' + src[1]
    p = os.path.join(moved, fixed)
    st = os.stat(p)
    data = open(p, 'rb').read()
    before = rows(out)
    old_ts = before[fixed]['timestamp']
    exif_old = old_ts[:19].replace('-', ':').replace('T', ' ').encode()
    exif_new = b'%04d' % (int(exif_old[:4]) + 1) + exif_old[4:]
    check(data.count(exif_old) >= 1, 'the EXIF time %s is in %s' % (exif_old, fixed))
    with open(p, 'wb') as f:
        f.write(data.replace(exif_old, exif_new))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    check(os.stat(p).st_size == st.st_size, 'the edit kept the size')
    r = classify(fx, moved, out)
    new_ts = rows(out)[fixed]['timestamp']
    check(r.returncode == 0 and '1 image(s) changed' in r.stderr and fixed in r.stderr and
          new_ts.startswith(exif_new[:4].decode()) and new_ts[4:] == old_ts[4:],
          'an EXIF time changed in place: the image classified again, its time %s -> %s (%s)'
          % (old_ts, new_ts, r.stderr.strip()[-200:]))
    after = rows(out)
    check(all(after[k] == v for k, v in before.items() if not k.startswith('camA/')),
          'the other cameras\' rows are unchanged')
    finish()


if __name__ == '__main__':
    main()
