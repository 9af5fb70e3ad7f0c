#!/usr/bin/python3
"""A field season with one classifier and a survey that keeps changing (regressions from a hostile
review of the second day):
  - a camera folder renamed after its sequences were reviewed: the human labels follow their
    images to the new folder (same file name, size, time and dimensions) and the run says so
    (they were kept in the store under the old paths and silently left out of every output);
  - a reviewed image deleted: its label is given to no other image, kept in the store, and the
    run warns, even with --quiet; the file put back at its path gets its human label again; a
    reviewed image whose picture (the same bytes) is now in two new folders: both copies get its
    label (docs/review.md; tests/py/test_survey_moved.py);
  - a second card that adds frames to a burst already reviewed: the burst is no longer labelled by
    the person, who never saw the new frames (it was: Camtrap DP's event said classificationMethod
    human, "blank", for 12 images of which the person had seen 5, and the review queue never
    offered it again); the reviewed frames keep their own human labels, the review page offers
    the sequence, and labelling it labels all its frames;
  - irbis-mpi classify killed after its first parts (IRBIS_MPI_KILL_AFTER_PARTS), a survey of links
    whose last link of each camera then points at another picture: the next irbis-mpi run
    classifies the new pictures (it replayed the killed run's results of the old ones: a link
    re-pointed keeps its old target's times), and its results equal `irbis classify`'s;
  - coordinates, time zone and taxa given once by `irbis export --deployments --utc-offset --taxa`:
    the run that adds the next card (and a --restart) keeps them (it wrote the Camtrap DP package
    with no coordinates, no taxa, and every time shifted to UTC); an option given wins; a
    deployments file gone since is not used, and the run goes on;
  - a card re-formatted and refilled from IMG_0001 into the same folder: a reviewed file that is
    now another picture loses its human label (it kept the old picture's label, method human, in
    every output and in --write-labels for training), the run warns, the history keeps it; a
    file whose time only changed (a clock put right) keeps its label;
  - a store of an earlier irbis (no novelty, file stamps or seen columns): the next run brings it up
    to date and keeps its human labels; a camera folder renamed in that same run cannot be
    followed (no stamps recorded yet), so the run warns that the reviewed images left."""
import csv
import os
import shutil
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import review_lib as R  # noqa: E402
import test_classify_fixture as F  # noqa: E402
from testlib import CT, MODEL, check, finish, small_classifier, tmpdir  # noqa: E402

TMP = tmpdir('second_day')
WAKHAN = os.path.join(CT, 'wakhan_snowleopard', 'C1_Avgarch_SL')
HANNA = os.path.join(CT, 'hannaboe_smallmammal', 'vj_ga_hu_1', '2020')


def classify(clf, sv, out, *extra):
    r = subprocess.run([F.BIN, 'classify', '--model', MODEL, '--classifier', clf, sv, '-o', out, '--threads', '2']
                       + list(extra), capture_output=True, text=True)
    return r, {x['path']: x for x in F.read_predictions(out)} if os.path.exists(os.path.join(out, 'predictions.csv')) \
        else {}


def label_all(out, labels):
    """Gives each sequence of OUT the next label of labels (cycled) through the review API."""
    srv = R.Server(out, '--no-export')
    seqs = [s['name'] for s in srv.get_json('/api/sequences?queue=camera&limit=500')['sequences']]
    for i, s in enumerate(seqs):
        st, body, _ = srv.request('POST', '/api/label', body=urllib.parse.urlencode([('seq', s), ('label', labels[
            i % len(labels)])]), headers={'Content-Type': 'application/x-www-form-urlencoded'})
        assert st == 200, (st, body)
    srv.stop()


def renamed_camera_folder(clf):
    sv, out = os.path.join(TMP, 'survey'), os.path.join(TMP, 'out')
    for cam, src, names in (('camA', WAKHAN, sorted(os.listdir(WAKHAN))[:4]),
                            ('camB', HANNA, sorted(os.listdir(HANNA))[:4])):
        os.makedirs(os.path.join(sv, cam))
        for n in names:
            os.symlink(os.path.join(src, n), os.path.join(sv, cam, n))
    r, _ = classify(clf, sv, out)
    check(r.returncode == 0, 'the first card classified (%s)' % r.stderr[-200:])
    label_all(out, ['empty', 'animal'])
    human = R.reviews(out)
    check(len(human) == 8 and set(human.values()) == {'empty', 'animal'}, 'every image reviewed: %s' % human)
    # the camera folder renamed (the field team names folders by station now)
    os.rename(os.path.join(sv, 'camB'), os.path.join(sv, 'station_B'))
    r, pred = classify(clf, sv, out)
    moved = {'station_B/' + p.split('/', 1)[1]: lab for p, lab in human.items() if p.startswith('camB/')}
    got = {p: (pred[p]['label'], pred[p]['method']) for p in moved if p in pred}
    check(r.returncode == 0 and got == {p: (lab, 'human') for p, lab in moved.items()},
          'a renamed camera folder: its images keep their human labels in predictions.csv (%s)' % got)
    check(R.reviews(out) == dict({p: lab for p, lab in human.items() if p.startswith('camA/')}, **moved),
          'the store\'s reviews follow the images to their new paths, none twice')
    check('4 human label(s) followed their image to its new path (the first: camB/' in r.stderr,
          'the run says the labels followed their images: %s' % r.stderr.strip()[-300:])
    r = subprocess.run([F.BIN, 'review', out, '--write-labels', os.path.join(TMP, 'labels.csv')], capture_output=True,
                       text=True)
    rows = open(os.path.join(TMP, 'labels.csv')).read()
    check(r.returncode == 0 and rows.count('station_B/') == 4 and 'camB/' not in rows,
          '--write-labels gives the new paths for training: %s' % rows.replace('\n', ' ')[:300])
    # a reviewed image deleted; another's picture now in two new folders (which one is it?)
    gone = sorted(p for p in moved)[0]
    two = sorted(p for p in human if p.startswith('camA/'))[0]
    os.remove(os.path.join(sv, gone))
    target = os.readlink(os.path.join(sv, two))
    os.remove(os.path.join(sv, two))
    for d in ('copy1', 'copy2'):
        os.makedirs(os.path.join(sv, d))
        os.symlink(target, os.path.join(sv, d, os.path.basename(two)))
    r, pred = classify(clf, sv, out, '--quiet')
    rv = R.reviews(out)
    copies = [d + '/' + os.path.basename(two) for d in ('copy1', 'copy2')]
    check(r.returncode == 0 and rv.get(gone) == moved[gone] and gone not in pred,
          'a deleted image: its label stays in the store under its path (%s)' % rv.get(gone))
    check(two not in rv and all((pred[c]['label'], pred[c]['method']) == (human[two], 'human') for c in copies),
          'a picture now in two folders: both copies have its label (%s)' % [pred[c]['method'] for c in copies])
    check('warning: 1 image(s) with a human label (irbis review) are no longer in the survey' in r.stderr,
          'and the run warns about the deleted one, even with --quiet: %s' % r.stderr.strip()[-300:])
    os.symlink(os.path.join(HANNA, os.path.basename(gone)), os.path.join(sv, gone))  # the file is back
    r, pred = classify(clf, sv, out)
    check(r.returncode == 0 and (pred[gone]['label'], pred[gone]['method']) == (moved[gone], 'human'),
          'the file back at its path: its human label again (%s)' % (pred.get(gone, {}).get('method'),))


def second_card(clf):
    sv, out = os.path.join(TMP, 'survey2'), os.path.join(TMP, 'out2')
    names = sorted(os.listdir(WAKHAN))
    os.makedirs(os.path.join(sv, 'camA'))
    for n in names[:6]:  # IMG_0041-0045 are the start of a burst that goes on to IMG_0052
        os.symlink(os.path.join(WAKHAN, n), os.path.join(sv, 'camA', n))
    classify(clf, sv, out)
    label_all(out, ['empty'])
    seen = R.reviews(out)
    for n in names[6:12]:  # the second card: the rest of the burst
        os.symlink(os.path.join(WAKHAN, n), os.path.join(sv, 'camA', n))
    r, pred = classify(clf, sv, out)
    burst = pred['camA/IMG_0041.JPG']['sequence']
    members = sorted(p for p, x in pred.items() if x['sequence'] == burst)
    new = [p for p in members if p not in seen]
    check(r.returncode == 0 and len(new) >= 5 and len(members) > len(new), 'the second card adds %d frames to the '
          'reviewed burst %s of %d' % (len(new), burst, len(members)))
    check(all(pred[p]['method'] == 'human' and pred[p]['label'] == 'empty' for p in seen) and
          all(pred[p]['method'] == 'machine' for p in new), 'the reviewed frames keep their human label, the new '
          'ones are the machine\'s')
    with open(os.path.join(out, 'camtrap-dp', 'observations.csv'), newline='') as f:
        obs = {x['eventID']: x for x in csv.DictReader(f)}
    check(obs[burst]['classificationMethod'] == 'machine',
          'the burst\'s event is no longer the person\'s (%s): they saw %d of its %d frames' % (
              obs[burst]['classificationMethod'], len(members) - len(new), len(members)))
    srv = R.Server(out, '--no-export')
    listed = {x['name']: x['human'] for x in srv.get_json('/api/sequences?queue=camera&limit=500')['sequences']}
    check(listed.get(burst) is None, 'the review page offers the burst again (human: %s)' % listed.get(burst))
    srv.stop()
    label_all(out, ['animal'])
    r, pred = classify(clf, sv, out)
    check(all((pred[p]['label'], pred[p]['seq_label'], pred[p]['method']) == ('animal', 'animal', 'human')
              for p in members), 'labelled again, the whole burst is the person\'s')


def mpi_killed_then_relinked(clf):
    mpirun = shutil.which('mpirun')
    mpi_bin = os.path.join(os.environ.get('IRBIS_BUILD', '.'), 'tools/mpi/irbis-mpi')
    if not mpirun or not os.path.exists(mpi_bin) or os.environ.get('IRBIS_TEST_HOOKS') != '1':
        print('SKIP the irbis-mpi part: needs mpirun, irbis-mpi and the test hooks')
        return
    sv, out, ref = (os.path.join(TMP, n) for n in ('survey3', 'out3', 'ref3'))
    hanna = sorted(os.listdir(HANNA))
    for cam, src, names in (('camA', WAKHAN, sorted(os.listdir(WAKHAN))[:4]), ('camB', HANNA, hanna[:4])):
        os.makedirs(os.path.join(sv, cam))
        for n in names:
            os.symlink(os.path.join(src, n), os.path.join(sv, cam, n))
    mpi = [mpirun, '--allow-run-as-root', '--oversubscribe', '-np', '2', mpi_bin, 'classify', '--model', MODEL,
           '--classifier', clf, sv, '-o', out, '--threads', '1']
    env = dict(os.environ, IRBIS_MPI_KILL_AFTER_PARTS='1', IRBIS_MPI_UNIT_IMAGES='0')
    r = subprocess.run(mpi, capture_output=True, text=True, env=env, timeout=240)
    parts = os.listdir(os.path.join(out, 'mpi-parts'))
    check(r.returncode != 0 and parts, 'irbis-mpi killed after its first parts (%d parts kept)' % len(parts))
    for cam in ('camA', 'camB'):  # the last picture of each camera re-linked to another one
        last = os.path.join(sv, cam, sorted(os.listdir(os.path.join(sv, cam)))[-1])
        os.remove(last)
        os.symlink(os.path.join(HANNA, hanna[20]), last)
    r = subprocess.run(mpi, capture_output=True, text=True, timeout=240)
    got = {x['path']: x['p_animal'] for x in F.read_predictions(out)} if r.returncode == 0 else {}
    _, want = classify(clf, sv, ref)
    bad = {p: (got.get(p), x['p_animal']) for p, x in want.items() if got.get(p) != x['p_animal']}
    check(r.returncode == 0 and len(got) == 8 and not bad,
          'started again: the re-linked pictures are classified, the results equal irbis classify\'s (differ: %s) %s'
          % (bad, r.stderr[-200:]))


def camtrapdp_kept(clf):
    sv, out = os.path.join(TMP, 'survey4'), os.path.join(TMP, 'out4')
    names = sorted(os.listdir(WAKHAN))
    os.makedirs(os.path.join(sv, 'camA'))
    for n in names[:4]:
        os.symlink(os.path.join(WAKHAN, n), os.path.join(sv, 'camA', n))
    classify(clf, sv, out)
    cams = os.path.join(TMP, 'cams.csv')
    with open(cams, 'w') as f:
        f.write('camera,latitude,longitude\ncamA,37.05,73.41\n')
    r = subprocess.run([F.BIN, 'export', out, '--deployments', cams, '--utc-offset', '+05:00', '--taxa',
                        'animal=Panthera uncia'], capture_output=True, text=True)
    check(r.returncode == 0, 'export with coordinates, time zone and taxa (%s)' % r.stderr[-200:])

    def package():
        d = os.path.join(out, 'camtrap-dp')
        with open(os.path.join(d, 'media.csv'), newline='') as f:
            times = [x['timestamp'] for x in csv.DictReader(f)]
        with open(os.path.join(d, 'deployments.csv'), newline='') as f:
            lat = [x['latitude'] for x in csv.DictReader(f)]
        taxa = 'Panthera uncia' in open(os.path.join(d, 'datapackage.json')).read()
        return len(times), {t[19:] for t in times}, lat, taxa

    for n in names[4:8]:  # the next card
        os.symlink(os.path.join(WAKHAN, n), os.path.join(sv, 'camA', n))
    for extra in ([], ['--restart']):
        r, _ = classify(clf, sv, out, *extra)
        got = package()
        check(r.returncode == 0 and got == (8, {'+05:00'}, ['37.05'], True) and 'no coordinates' not in r.stderr,
              'classify %s after the export: the package keeps the coordinates, the +05:00 clocks and the taxa '
              '(%s)' % (' '.join(extra) or 'with the next card', got))
    os.remove(cams)
    r, _ = classify(clf, sv, out, '--utc-offset', '-03:00')
    got = package()
    check(r.returncode == 0 and got[1] == {'-03:00'} and got[2] == [''] and 'no coordinates' in r.stderr,
          'an option given wins; a deployments file gone since is not used, the run goes on (%s, %s)'
          % (got, r.stderr[-160:]))


def card_refilled(clf):
    sv, out = os.path.join(TMP, 'survey5'), os.path.join(TMP, 'out5')
    names = sorted(os.listdir(WAKHAN))
    os.makedirs(os.path.join(sv, 'camA'))
    for n in names[:4]:  # copies: their times are changed below
        shutil.copy2(os.path.join(WAKHAN, n), os.path.join(sv, 'camA', n))
    classify(clf, sv, out)
    label_all(out, ['animal'])
    refilled, fixed = 'camA/' + names[1], 'camA/' + names[2]
    shutil.copy2(os.path.join(HANNA, sorted(os.listdir(HANNA))[30]), os.path.join(sv, refilled))
    st = os.stat(os.path.join(sv, fixed))
    os.utime(os.path.join(sv, fixed), ns=(st.st_atime_ns, st.st_mtime_ns + 7 * 10**9))
    r, pred = classify(clf, sv, out, '--quiet')
    check(r.returncode == 0 and pred[refilled]['method'] == 'machine' and refilled not in R.reviews(out),
          'a reviewed file now another picture: the machine\'s, its human label taken off (%s)' % pred[refilled]['method'])
    check('warning: 1 reviewed image(s) are now another picture' in r.stderr and refilled in r.stderr,
          'the run warns, naming it, even with --quiet: %s' % r.stderr.strip()[-250:])
    check(pred[fixed]['method'] == 'human' and R.reviews(out).get(fixed) == 'animal',
          'a file whose time only changed keeps its human label')
    import sqlite3
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'))
    log = db.execute('SELECT label, method FROM review_log WHERE path = ? ORDER BY id', (refilled,)).fetchall()
    db.close()
    check(log == [('animal', 'human'), (None, 'file replaced')], 'the history keeps the old label: %s' % log)


def older_store(clf):
    import sqlite3
    sv, out = os.path.join(TMP, 'survey6'), os.path.join(TMP, 'out6')
    names = sorted(os.listdir(WAKHAN))
    for cam in ('camA', 'camB'):
        os.makedirs(os.path.join(sv, cam))
    for i, n in enumerate(names[:6]):
        os.symlink(os.path.join(WAKHAN, n), os.path.join(sv, 'camA' if i < 3 else 'camB', n))
    classify(clf, sv, out)
    label_all(out, ['animal'])
    human = R.reviews(out)
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'))
    old = 'id, path, camera, timestamp, tsec, tfrac, width, height, state, status, message, probs, label'
    db.executescript('CREATE TABLE o AS SELECT %s FROM images; DROP TABLE images; CREATE TABLE images(id INTEGER'
                     ' PRIMARY KEY, path TEXT NOT NULL UNIQUE, camera TEXT NOT NULL, timestamp TEXT NOT NULL, tsec'
                     ' INTEGER, tfrac REAL, width INTEGER, height INTEGER, state INTEGER NOT NULL, status TEXT NOT NULL'
                     " DEFAULT '', message TEXT NOT NULL DEFAULT '', probs BLOB, label INTEGER); INSERT INTO images"
                     ' SELECT * FROM o; DROP TABLE o; CREATE TABLE q AS SELECT id, name, camera, start, end, n, probs,'
                     ' label FROM sequences; DROP TABLE sequences; ALTER TABLE q RENAME TO sequences;'
                     " DELETE FROM params WHERE key IN ('min_confidence', 'novelty_threshold');" % old)
    db.commit()
    db.close()
    os.rename(os.path.join(sv, 'camB'), os.path.join(sv, 'station_B'))
    r, pred = classify(clf, sv, out)
    check(r.returncode == 0 and all(pred[p]['method'] == 'human' for p in human if p.startswith('camA/')),
          'a store of an earlier irbis resumes and keeps its human labels (%s)' % r.stderr.strip()[-200:])
    check('warning: 3 image(s) with a human label (irbis review) are no longer in the survey' in r.stderr and
          R.reviews(out) == human, 'a folder renamed in the upgrading run: said, the labels kept in the store')


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    clf = small_classifier(TMP)[0]
    renamed_camera_folder(clf)
    second_card(clf)
    mpi_killed_then_relinked(clf)
    camtrapdp_kept(clf)
    card_refilled(clf)
    older_store(clf)
    finish()


if __name__ == '__main__':
    main()
