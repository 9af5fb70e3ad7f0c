#!/usr/bin/python3
"""The same picture twice in a survey: a camera folder copied next to itself ('CAM1/' and
'CAM1 copy/', real copies, not links), one copy with only its EXIF edited (a byte of the camera
maker's name in APP1 changed: other file bytes, the same data digest). irbis classify exits 0,
keeps every copy in predictions.csv, and says once in its summary line how many images are the same
picture as another, in how many pictures, with one example pair; irbis export (and irbis-mpi
classify, when built) say the same; report.html (parsed with html.parser) shows the count and
the groups. The counts equal an independent computation: sha256 of the files' bytes groups the
exact copies, and the EXIF-edited file joins its original's group (only APP1 changed). Failed
images (a text file named .JPG copied twice, a copy's row made failed in the store) are not
counted. A survey without copies: no such
words. Before the change irbis said nothing about copies."""
import hashlib
import html.parser
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import check, finish  # noqa: E402

CAM1 = ['wakhan_snowleopard/C1_Avgarch_SL/IMG_%04d.JPG' % k for k in (41, 42, 43, 44)]
CAM2_DIR = 'uruguay_curso_camtrapR'
EDITED = 'CAM1 copy/IMG_0044.JPG'  # its copy's EXIF maker 'Reconyx' -> 'ReconyX'
CLAUSE = re.compile(r"; (\d+) images are the same picture as another \((\d+) pictures?, e\.g\. '([^']*)' = '([^']*)'\)")


def cam2_photos():
    rows = [r['path'] for r in F.manifest() if r['path'].startswith(CAM2_DIR + '/') and r['timestamp']]
    return sorted(rows)[:4]


def edit_exif(path):
    """Changes one byte of the maker's name inside APP1 (the EXIF segment): the picture's data
    (tables, scan) is untouched."""
    data = bytearray(open(path, 'rb').read())
    check(data[2:4] == b'\xff\xe1', '%s starts with APP1' % path)
    end = 4 + ((data[4] << 8) | data[5])
    at = data.find(b'Reconyx', 4, end)
    check(at > 0, 'the maker is in APP1 of %s' % path)
    data[at + 6] = ord('X')
    open(path, 'wb').write(bytes(data))


def make_survey(root, copies):
    shutil.rmtree(root, ignore_errors=True)
    for cam, photos in (('CAM1', CAM1), ('CAM2', cam2_photos())):
        os.makedirs(os.path.join(root, cam))
        for p in photos:
            shutil.copyfile(os.path.join(F.DATA, p), os.path.join(root, cam, os.path.basename(p)))
    if copies:
        shutil.copytree(os.path.join(root, 'CAM1'), os.path.join(root, 'CAM1 copy'), copy_function=shutil.copyfile)
        edit_exif(os.path.join(root, EDITED))
    return root


def expected(survey):
    """(images, groups, first pair): sha256 of every file's bytes groups the exact copies; the
    EXIF-edited copy is its original's picture."""
    groups = {}
    for d, _, files in os.walk(survey):
        for f in files:
            path = os.path.relpath(os.path.join(d, f), survey)
            key = hashlib.sha256(open(os.path.join(d, f), 'rb').read()).hexdigest()
            if path == EDITED:
                original = os.path.join(survey, 'CAM1', os.path.basename(EDITED))
                check(open(original, 'rb').read() != open(os.path.join(d, f), 'rb').read(), 'the edit changed bytes')
                key = hashlib.sha256(open(original, 'rb').read()).hexdigest()
            groups.setdefault(key, []).append(path)
    many = sorted(sorted(g) for g in groups.values() if len(g) > 1)
    return sum(len(g) for g in many), len(many), (many[0][0], many[0][-1]) if many else None, many


class Report(html.parser.HTMLParser):
    """The text of td#copies and the rows of table#copies-list."""

    def __init__(self):
        super().__init__()
        self.copies, self.rows, self.where, self.cell = None, [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'td' and a.get('id') == 'copies':
            self.where, self.copies = 'copies', ''
        elif tag == 'table' and a.get('id') == 'copies-list':
            self.where = 'list'
        elif tag == 'tr' and self.where == 'list':
            self.rows.append([])
        elif tag == 'td' and self.where == 'list':
            self.cell = ''

    def handle_endtag(self, tag):
        if tag == 'td' and self.where == 'copies':
            self.where = None
        elif tag == 'td' and self.cell is not None:
            self.rows[-1].append(self.cell)
            self.cell = None
        elif tag == 'table' and self.where == 'list':
            self.where = None

    def handle_data(self, data):
        if self.where == 'copies':
            self.copies += data
        elif self.cell is not None:
            self.cell += data


def report(out):
    p = Report()
    p.feed(open(os.path.join(out, 'report.html'), encoding='utf-8').read())
    return p.copies, [r for r in p.rows if r]


def classify(fx, survey, out, cmd=None):
    return subprocess.run((cmd or [F.BIN]) + ['classify', '--model', fx['model'], '--classifier', fx['clf'], survey,
                                              '-o', out, '--threads', '2'], capture_output=True, text=True)


def check_said(what, r, want):
    n, groups, pair, _ = want
    found = CLAUSE.findall(r.stderr)
    check(len(found) == 1, '%s says the copies once: %s' % (what, r.stderr.strip()[-600:]))
    if found:
        got = (int(found[0][0]), int(found[0][1]), (found[0][2], found[0][3]))
        check(got == (n, groups, pair), '%s: %s, want %s' % (what, got, (n, groups, pair)))


def check_report(what, out, want):
    n, groups, _, many = want
    copies, rows = report(out)
    check(copies == '%d images (%d pictures)' % (n, groups), '%s report.html copies: %r' % (what, copies))
    check(rows == [[g[0], g[-1], str(len(g))] for g in many], '%s report.html groups: %s' % (what, rows))


def main():
    fx = F.fixture()
    root = os.path.join(F.TMP, 'duplicates')
    survey = make_survey(os.path.join(root, 'survey'), copies=True)
    want = expected(survey)
    check(want[:3] == (8, 4, ('CAM1 copy/IMG_0041.JPG', 'CAM1/IMG_0041.JPG')), 'the reference: %s' % (want[:3],))
    out = os.path.join(root, 'out')
    shutil.rmtree(out, ignore_errors=True)
    r = classify(fx, survey, out)
    check(r.returncode == 0, 'classify exits 0 with copies (%d): %s' % (r.returncode, r.stderr[-500:]))
    check_said('classify', r, want)
    check_report('classify', out, want)
    paths = {row['path'] for row in F.read_predictions(out)}
    check(len(paths) == 12 and all(row['status'] == 'ok' for row in F.read_predictions(out)),
          'every copy is classified and listed: %d rows' % len(paths))

    r = subprocess.run([F.BIN, 'export', out], capture_output=True, text=True)
    check(r.returncode == 0, 'export exits 0 (%d): %s' % (r.returncode, r.stderr[-300:]))
    check_said('export', r, want)
    check_report('export', out, want)

    # failed images are not counted, even when their files are the same bytes
    for d in ('CAM1', 'CAM1 copy'):
        open(os.path.join(survey, d, 'IMG_0099.JPG'), 'w').write('not a picture: a text file named .JPG\n')
    r = classify(fx, survey, out)
    check(r.returncode == 1, 'the two text files fail (%d)' % r.returncode)
    check_said('classify with failures', r, want)
    check_report('classify with failures', out, want)

    # a row that is not classified is no copy even when it keeps the digest of one (the query finds
    # the repeated digests over every row, then counts the classified ones): made failed by hand
    import sqlite3
    gone = 'CAM1 copy/IMG_0042.JPG'
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'))
    with db:
        db.execute("UPDATE images SET state = 2, status = 'corrupt', message = 'made failed by the test', probs = NULL,"
                   " label = NULL WHERE path = ? AND sha_data IS NOT NULL", (gone,))
    db.close()
    many = [g for g in want[3] if gone not in g]
    fewer = (sum(len(g) for g in many), len(many), (many[0][0], many[0][-1]), many)
    check(fewer[:2] == (6, 3), 'the reference without %s: %s' % (gone, fewer[:3]))
    r = subprocess.run([F.BIN, 'export', out], capture_output=True, text=True)
    check(r.returncode == 0, 'export exits 0 (%d): %s' % (r.returncode, r.stderr[-300:]))
    check_said('export, one copy failed', r, fewer)
    check_report('export, one copy failed', out, fewer)

    mpirun = shutil.which('mpirun')
    mpi_bin = os.path.join(os.environ.get('IRBIS_BUILD', '.'), 'tools/mpi/irbis-mpi')
    if mpirun and os.path.exists(mpi_bin):
        mout = os.path.join(root, 'out_mpi')
        shutil.rmtree(mout, ignore_errors=True)
        clean = make_survey(os.path.join(root, 'survey_mpi'), copies=True)
        r = classify(fx, clean, mout, cmd=[mpirun, '--allow-run-as-root', '--oversubscribe', '-np', '2', mpi_bin])
        check(r.returncode == 0, 'irbis-mpi classify exits 0 (%d): %s' % (r.returncode, r.stderr[-500:]))
        check_said('irbis-mpi classify', r, want)
        check_report('irbis-mpi classify', mout, want)

    # no copies: no words, no report row
    plain = make_survey(os.path.join(root, 'plain'), copies=False)
    check(expected(plain)[0] == 0, 'the plain survey has no copies')
    pout = os.path.join(root, 'out_plain')
    shutil.rmtree(pout, ignore_errors=True)
    r = classify(fx, plain, pout)
    check(r.returncode == 0 and 'same picture' not in r.stderr, 'no copies, no words (%d): %s'
          % (r.returncode, r.stderr[-300:]))
    check(report(pout) == (None, []), 'no copies, nothing in report.html: %s' % (report(pout),))
    finish()


if __name__ == '__main__':
    main()
