#!/usr/bin/python3
"""irbis review with folder and file names that are not UTF-8 (a card copied on an old Windows
machine: 'C\\xe1mara' in Latin-1). The page's data is JSON, which cannot carry such bytes: they
came as U+FFFD, so the page asked for thumbnails and images under names that do not exist (404),
filtered by a camera no sequence has, and could not store a label for those sequences (their names
include the camera's). Each sequence now also has a `key` and each image a `keys` entry (the
bytes percent-encoded), /api/info `camera_keys`; the page sends those back. Checked here through
the API as the page uses it: thumbnails and images found, the camera filter, a label stored
under the sequence's real bytes."""
import json
import os
import shutil
import sqlite3
import sys

import test_review_browser as B

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import review_lib as R  # noqa: E402
from testlib import CT, check, finish  # noqa: E402

CAM = b'C\xe1mara'  # Latin-1 'Cámara'
FILES = [b'IMG_\xe9t\xe9.JPG', b'IMG_0002.JPG']


def main():
    fx, sv = R.survey('review_names')
    cam = os.path.join(os.fsencode(sv), CAM)
    os.makedirs(cam)
    src = sorted(os.listdir(os.path.join(CT, 'wakhan_snowleopard', 'C1_Avgarch_SL')))[:2]
    for s, name in zip(src, FILES):
        shutil.copyfile(os.path.join(CT, 'wakhan_snowleopard', 'C1_Avgarch_SL', s), os.path.join(cam, name))
    out = os.path.join(os.path.dirname(sv), 'out')
    r = R.classify(fx, sv, out)
    check(r.returncode in (0, 1), 'classify (exit %d: %s)' % (r.returncode, r.stderr[-300:]))
    check('2 media path(s) are not UTF-8' in r.stderr, 'classify says that camtrap-dp/ cannot name the files whose '
          'paths are not UTF-8: %s' % r.stderr.strip()[-600:])
    srv = R.Server(out)
    info = srv.get_json('/api/info')
    keys = dict(zip(info.get('cameras', []), info.get('camera_keys', [])))
    check(keys.get('C\ufffdmara') == 'C%E1mara', 'the camera is shown with U+FFFD and keyed by its bytes: %s' % keys)
    page = srv.get_json('/api/sequences?limit=100&camera=C%E1mara')
    seqs = page['sequences']
    check(len(seqs) >= 1 and all(s['camera'] == 'C\ufffdmara' for s in seqs) and
          sum(len(s['images']) for s in seqs) == 2, 'the camera filter by key finds its sequences (%d)' % len(seqs))
    got = []
    for s in seqs:
        for shown, key in zip(s['images'], s.get('keys', [])):
            st_t, data, resp = srv.request('GET', '/thumb?p=' + key)
            st_i, _, _ = srv.request('GET', '/img?p=' + key)
            got.append((shown, key, st_t, st_i, data[:3] == b'\xff\xd8\xff'))
    want = {'C%E1mara/IMG_%E9t%E9.JPG', 'C%E1mara/IMG_0002.JPG'}
    check({g[1] for g in got} == want and all(g[2] == 200 and g[3] == 200 and g[4] for g in got),
          'every image\'s thumbnail and full image are found by its key: %s' % got)
    s = seqs[0]
    check(s.get('key', '').startswith('C%E1mara'), 'the sequence is keyed by its name\'s bytes: %s' % s.get('key'))
    st, data, _ = srv.request('POST', '/api/label', body='seq=%s&label=empty' % s.get('key', ''),
                              headers={'Content-Type': 'application/x-www-form-urlencoded'})
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'), timeout=10)
    db.text_factory = bytes
    stored = dict(db.execute('SELECT path, label FROM reviews').fetchall())
    db.close()
    mine = {p: lab for p, lab in stored.items() if p.startswith(CAM + b'/')}
    check(st == 200 and mine and set(mine.values()) == {b'empty'},
          'a label posted under the key is stored for the real paths (%d %s: %s)' % (st, data[:200], mine))
    again = srv.get_json('/api/sequences?limit=100&camera=C%E1mara')['sequences']
    check(any(x['name'] == s['name'] and x['human'] == 'empty' for x in again), 'and the page sees it')
    json.dumps(again)  # the answer is plain JSON

    # the page itself in chromium: the camera picked in the filter, its thumbnails and full image
    # shown, a label stored by a key press
    if not os.path.exists(os.path.join(B.SRC, 'node_modules', 'puppeteer-core')):
        check(False, 'puppeteer-core is not installed: run scripts/setup.sh (npm install)')
    else:
        d = B.drive(srv, 'names')
        check(d.get('camera_value') == 'C%E1mara' and len(d.get('thumbs', [])) == 2 and min(d['thumbs']) > 0 and
              d.get('full_width', 0) > 160, 'chromium: the camera filter, 2 thumbnails and the full image shown (%s)'
              % {k: d.get(k) for k in ('camera_value', 'thumbs', 'full_width')})
        db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'), timeout=10)
        db.text_factory = bytes
        labels = {lab for p, lab in db.execute('SELECT path, label FROM reviews') if p.startswith(CAM + b'/')}
        db.close()
        check(d.get('labelled') and d.get('want') and d['want'].encode() in labels,
              'chromium: a class key stored %s for the camera\'s images (%s)' % (d.get('want'), labels))
    srv.stop()
    finish()


if __name__ == '__main__':
    main()
