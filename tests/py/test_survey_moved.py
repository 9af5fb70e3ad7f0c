#!/usr/bin/python3
"""A survey that moves between disks, as field teams handle cards (regressions: the store knew an
image by its path and its file's size and modification time, so every copy of the survey was a new
survey of changed files, and a file renamed was a new image):
  - the card copied to the lab NAS (cp -r: every file time new, the survey at a new root) and run
    again with the results folder reviewed in the field (--survey-moved): nothing is classified
    again and every human label stays (every image was classified again: '8 image(s) changed');
    the same for times cut to the 2 seconds of exFAT;
  - files renamed by camera and date (IMG_0041.JPG -> CAM03_2012-12-29_IMG_0041.JPG): each keeps its
    results and its human label (the labels stayed under the old names, left out of every output,
    and the images were classified again as new ones);
  - two frames of a burst with the same size, time and pixel size whose names were swapped: each
    label goes with its picture (each file kept the other picture's label: a wrong label);
  - a reviewed file that is now another picture of the same byte and pixel size: the label leaves,
    the new picture is the machine's (the old picture's label stayed: it only looked at sizes);
    a file whose EXIF time alone was put right keeps its label and gets its new time;
  - a picture copied into two camera folders (the same bytes) and reviewed in both, then renamed:
    two images in every output, each keeping its own folder's label.
An image is known by its content now: two SHA-256 digests of its file (irb_image_digest: its
metadata segments, and the rest), recorded when it is classified; after a scan, the new files of
the size or path of an image that left are read for theirs (docs/classify.md)."""
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import review_lib as R  # noqa: E402
from testlib import BIN, CT, MODEL, check, finish, small_classifier, tmpdir  # noqa: E402

TMP = tmpdir('survey_moved')
WAKHAN = os.path.join(CT, 'wakhan_snowleopard', 'C1_Avgarch_SL')
HANNA = os.path.join(CT, 'hannaboe_smallmammal', 'vj_ga_hu_1', '2020')


def classify(clf, sv, out, *extra):
    r = subprocess.run([BIN, 'classify', '--pipeline', clf, '--model', MODEL, sv, '-o', out, '--threads', '2',
                        '--gap', '0'] + list(extra), capture_output=True, text=True, timeout=600)
    return r, predictions(out)


def predictions(out):
    p = os.path.join(out, 'predictions.csv')
    if not os.path.exists(p):
        return {}
    with open(p, newline='') as f:
        return {x['path']: x for x in csv.DictReader(f)}


def review(out, labels):
    """Labels each image of {path: label} through the review server, a sequence at a time (with
    --gap 0 an image is a sequence, unless frames share a second: they get one label)."""
    seqs = {}
    for p, x in predictions(out).items():
        if p in labels:
            seqs.setdefault(x['sequence'], set()).add(labels[p])
    srv = R.Server(out, '--no-export')
    for s, labs in seqs.items():
        assert len(labs) == 1, (s, labs)
        st, body, _ = srv.request('POST', '/api/label', body=urllib.parse.urlencode([('seq', s), ('label', labs.pop())]),
                                  headers={'Content-Type': 'application/x-www-form-urlencoded'})
        assert st == 200, (st, body)
    srv.stop()


def resumed(r):
    """The 'N done by an earlier run' of the run's summary line, or -1."""
    for line in r.stderr.splitlines():
        if 'done by an earlier run' in line:
            return int(line.split(' done by an earlier run')[0].rsplit(' ', 1)[1])
    return -1


def human(pred):
    return {p: x['label'] for p, x in pred.items() if x['method'] == 'human'}


def results(pred):
    return {p: (x['p_animal'], x['p_empty'], x['timestamp']) for p, x in pred.items()}


def card(name, files):
    """TMP/name: {rel: source} copied (bytes and times, as a card holds them)."""
    sv = os.path.join(TMP, name)
    for rel, src in files.items():
        os.makedirs(os.path.dirname(os.path.join(sv, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(sv, rel))
    return sv


def same_size(src, size, dst):
    """dst: the picture src grown to exactly size bytes by COM segments after its SOI (a valid JPEG
    of the same pixels)."""
    data = open(src, 'rb').read()
    extra = size - len(data)
    assert extra >= 4, (src, size)
    segs = b''
    while extra:
        n = min(extra, 60000)
        if extra - n and extra - n < 4:
            n -= 4
        segs += b'\xff\xfe' + (n - 2).to_bytes(2, 'big') + b'x' * (n - 4)
        extra -= n
    open(dst, 'wb').write(data[:2] + segs + data[2:])


def copied_to_lab(clf):
    """cp -r to a new root (new times), times cut to 2 s, files renamed by camera and date."""
    w, h = sorted(os.listdir(WAKHAN))[1:5], sorted(os.listdir(HANNA))[:4]
    files = {'camA/' + n: os.path.join(WAKHAN, n) for n in w}
    files.update({'camB/' + n: os.path.join(HANNA, n) for n in h})
    sv, out = card('card', files), os.path.join(TMP, 'out')
    r, before = classify(clf, sv, out)
    check(r.returncode == 0 and len(before) == 8, 'the card classified in the field (%s)' % r.stderr[-200:])
    labels = {p: ('animal' if i % 2 else 'empty') for i, p in enumerate(sorted(before))}
    for p in before:  # frames that share a second are one sequence: one label
        labels[p] = labels[min(q for q in before if before[q]['sequence'] == before[p]['sequence'])]
    review(out, labels)
    r, pred = classify(clf, sv, out)
    check(human(pred) == labels, 'every image reviewed in the field')

    lab = os.path.join(TMP, 'nas', 'survey')
    shutil.copytree(sv, lab, copy_function=shutil.copy)  # cp -r: the bytes, new times
    r, pred = classify(clf, lab, out, '--survey-moved')
    check(r.returncode == 0 and resumed(r) == 8 and 'changed' not in r.stderr,
          'cp -r to the lab NAS: nothing classified again (%d done by an earlier run; %s)'
          % (resumed(r), r.stderr.strip()[-300:]))
    check(results(pred) == results(before) and human(pred) == labels,
          'the same results, every human label kept (%d of 8)' % len(human(pred)))
    for root, _, names in os.walk(lab):  # exFAT keeps times to 2 s
        for n in names:
            p = os.path.join(root, n)
            t = os.stat(p).st_mtime_ns // 2000000000 * 2000000000
            os.utime(p, ns=(t, t))
    r, pred = classify(clf, lab, out)
    check(r.returncode == 0 and resumed(r) == 8 and 'changed' not in r.stderr and human(pred) == labels,
          'times cut to 2 s (exFAT): nothing classified again, labels kept (%d; %s)'
          % (resumed(r), r.stderr.strip()[-300:]))

    renamed = {}
    for p in sorted(labels):  # a renaming tool: camera and date before the camera's own name
        cam, n = p.split('/')
        new = '%s/%s_%s_%s' % (cam, cam.upper(), before[p]['timestamp'][:10], n)
        os.rename(os.path.join(lab, p), os.path.join(lab, new))
        renamed[new] = p
    r, pred = classify(clf, lab, out)
    want = {new: labels[old] for new, old in renamed.items()}
    check(r.returncode == 0 and set(pred) == set(renamed) and human(pred) == want,
          'files renamed by camera and date: each keeps its human label (%d of 8; %s)'
          % (len(human(pred)), r.stderr.strip()[-300:]))
    check(resumed(r) == 8 and 'no longer in the survey' not in r.stderr and
          results(pred) == {new: results(before)[old] for new, old in renamed.items()},
          'and its results: nothing classified again, nothing said dropped (%d done by an earlier run)' % resumed(r))
    check('8 image(s) were found under another path' in r.stderr,
          'the run says the images were found under new paths: %s' % r.stderr.strip()[-300:])
    check(R.reviews(out) == want, 'the store\'s reviews are under the new paths, none left under the old')
    r = subprocess.run([BIN, 'review', out, '--write-labels', os.path.join(TMP, 'labels.csv')], capture_output=True,
                       text=True)
    with open(os.path.join(TMP, 'labels.csv'), newline='') as f:
        got = {x['path']: x['label'] for x in csv.DictReader(f)}
    check(r.returncode == 0 and got == want, '--write-labels gives the new paths: %s' % sorted(got)[:2])


def swapped_in_burst(clf):
    """Two frames made to share size, EXIF time and pixel size, reviewed apart, their names swapped."""
    a, b = os.path.join(WAKHAN, 'IMG_0042.JPG'), os.path.join(WAKHAN, 'IMG_0044.JPG')
    sv = os.path.join(TMP, 'burst')
    os.makedirs(os.path.join(sv, 'camA'))
    size = max(os.path.getsize(a), os.path.getsize(b)) + 64
    same_size(a, size, os.path.join(sv, 'camA', 'IMG_0001.JPG'))
    same_size(b, size, os.path.join(sv, 'camA', 'IMG_0002.JPG'))
    out = os.path.join(TMP, 'out_burst')
    r, before = classify(clf, sv, out)
    check(r.returncode == 0 and len(before) == 2, 'a burst of two frames of one size (%s)' % r.stderr[-200:])
    review(out, {'camA/IMG_0001.JPG': 'empty', 'camA/IMG_0002.JPG': 'animal'})
    one, two = (os.path.join(sv, 'camA', n) for n in ('IMG_0001.JPG', 'IMG_0002.JPG'))
    os.rename(one, one + '.tmp')
    os.rename(two, one)
    os.rename(one + '.tmp', two)
    r, pred = classify(clf, sv, out)
    check(r.returncode == 0 and human(pred) == {'camA/IMG_0001.JPG': 'animal', 'camA/IMG_0002.JPG': 'empty'},
          'names swapped in a burst: each label goes with its picture (%s)' % human(pred))
    check(results(pred)['camA/IMG_0001.JPG'] == results(before)['camA/IMG_0002.JPG'] and
          results(pred)['camA/IMG_0002.JPG'] == results(before)['camA/IMG_0001.JPG'],
          'and so do the results')


def changed_bytes(clf):
    """A reviewed file now another picture of the same size; another with its EXIF time put right."""
    names = sorted(os.listdir(WAKHAN))
    files = {'camA/' + n: os.path.join(WAKHAN, n) for n in names[1:4]}
    sv, out = card('changed', files), os.path.join(TMP, 'out_changed')
    r, before = classify(clf, sv, out)
    review(out, {p: 'animal' for p in before})
    other, fixed = 'camA/' + names[1], 'camA/' + names[2]
    p = os.path.join(sv, other)
    st = os.stat(p)
    same_size(os.path.join(WAKHAN, names[0]), st.st_size, p)  # IMG_0021: another night, same camera
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    p = os.path.join(sv, fixed)
    st = os.stat(p)
    data = open(p, 'rb').read()
    old = before[fixed]['timestamp'][:19].replace('-', ':').replace('T', ' ').encode()
    open(p, 'wb').write(data.replace(old, b'2013' + old[4:]))  # the camera's year put right, in place
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    r, pred = classify(clf, sv, out, '--quiet')
    fresh = os.path.join(TMP, 'fresh_changed')
    _, want = classify(clf, sv, fresh)
    check(r.returncode == 0 and pred[other]['method'] == 'machine' and other not in R.reviews(out),
          'a reviewed file now another picture of the same size: its label taken off (%s)' % pred[other]['method'])
    check(results(pred)[other] == results(want)[other] and pred[other]['label'] == want[other]['label'],
          'it has the new picture\'s results, as a fresh run gives them')
    check('warning: 1 reviewed image(s) are now another picture' in r.stderr and other in r.stderr,
          'the run warns, naming it: %s' % r.stderr.strip()[-300:])
    check(pred[fixed]['method'] == 'human' and pred[fixed]['timestamp'].startswith('2013') and
          results(pred)[fixed] == results(want)[fixed],
          'a file whose EXIF time alone was put right keeps its label and gets its new time (%s %s)'
          % (pred[fixed]['method'], pred[fixed]['timestamp']))


def duplicates(clf):
    """One picture in two camera folders (the same bytes), reviewed apart, then renamed."""
    src = os.path.join(WAKHAN, 'IMG_0045.JPG')
    files = {'camA/IMG_0045.JPG': src, 'camC/IMG_0045.JPG': src,
             'camA/IMG_0046.JPG': os.path.join(WAKHAN, 'IMG_0046.JPG')}
    sv, out = card('dups', files), os.path.join(TMP, 'out_dups')
    r, before = classify(clf, sv, out)
    check(r.returncode == 0 and len(before) == 3, 'a picture in two camera folders: two images (%s)' % sorted(before))
    labels = {'camA/IMG_0045.JPG': 'animal', 'camC/IMG_0045.JPG': 'empty', 'camA/IMG_0046.JPG': 'animal'}
    review(out, labels)
    lab = os.path.join(TMP, 'dups_lab')
    shutil.copytree(sv, lab, copy_function=shutil.copy)
    renamed = {}
    for p in sorted(files):
        cam, n = p.split('/')
        os.rename(os.path.join(lab, p), os.path.join(lab, cam, cam + '_' + n))
        renamed['%s/%s_%s' % (cam, cam, n)] = p
    r, pred = classify(clf, lab, out, '--survey-moved')
    check(r.returncode == 0 and set(pred) == set(renamed) and resumed(r) == 3,
          'copied and renamed: both copies are images, nothing classified again (%s; %d done)'
          % (sorted(pred), resumed(r)))
    check(human(pred) == {new: labels[old] for new, old in renamed.items()},
          'each copy keeps its own folder\'s label (%s)' % human(pred))
    md = json.load(open(os.path.join(out, 'megadetector.json')))
    check(sorted(x['file'] for x in md['images']) == sorted(renamed), 'both copies are in megadetector.json')
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'))
    n = db.execute('SELECT count(*) FROM images').fetchone()[0]
    db.close()
    check(n == 3, 'the store holds 3 images (%d)' % n)


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    clf = small_classifier(TMP)[0]
    copied_to_lab(clf)
    swapped_in_burst(clf)
    changed_bytes(clf)
    duplicates(clf)
    finish()


if __name__ == '__main__':
    main()
