#!/usr/bin/python3
"""report.html of irbis classify, rendered by headless Chromium (--dump-dom): the class and
camera tables, the ranked sequences with thumbnails that exist (JPEGs PIL can open), the failed
images with their causes, and no external resource. Skips (exit 0, message) without chromium."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import check, failures  # noqa: E402



class Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.cur, self.cell, self.imgs, self.ext = {}, None, None, [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'table':
            self.cur = a.get('id', '?')
            self.tables[self.cur] = []
        elif tag == 'tr' and self.cur:
            self.tables[self.cur].append([])
        elif tag in ('td', 'th') and self.cur:
            self.cell = ''
        elif tag == 'img':
            self.imgs.append(a.get('src', ''))
        for k in ('src', 'href'):
            if re.match(r'^(https?:)?//', a.get(k, '')):
                self.ext.append(a[k])

    def handle_endtag(self, tag):
        if tag in ('td', 'th') and self.cell is not None and self.cur:
            self.tables[self.cur][-1].append(self.cell.strip())
            self.cell = None
        elif tag == 'table':
            self.cur = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def main():
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    if not chromium:
        print('SKIP: chromium is not installed (scripts/setup.sh installs it)')
        return 0
    fx = F.fixture()
    out = os.path.join(F.TMP, 'report')
    shutil.rmtree(out, ignore_errors=True)
    F.classify(fx, out, check=1)
    page = os.path.join(out, 'report.html')
    with tempfile.TemporaryDirectory() as prof:
        r = subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                            '--disable-component-update', '--disable-sync', '--no-first-run',
                            '--user-data-dir=' + prof, '--dump-dom', 'file://' + os.path.abspath(page)],
                           capture_output=True, text=True, timeout=50)
    check(r.returncode == 0 and '<table' in r.stdout, 'chromium rendered the page (exit %d)' % r.returncode)
    t = Tables()
    t.feed(r.stdout)
    preds = F.read_predictions(out)
    ok = [p for p in preds if p['status'] == 'ok']
    cls = {row[0]: row for row in t.tables.get('classes', [])[1:]}
    for c in ('animal', 'empty'):
        want = sum(1 for p in ok if p['label'] == c)
        check(c in cls and int(cls[c][1]) == want, 'class %s images %s, want %d' % (c, cls.get(c), want))
    cams = {row[0]: row for row in t.tables.get('cameras', [])[1:]}
    for cam in set(p['camera'] for p in preds):
        want = sum(1 for p in preds if p['camera'] == cam)
        check(cam in cams and int(cams[cam][1]) == want, 'camera %s: %s, want %d images' % (cam, cams.get(cam), want))
    seq = t.tables.get('sequences', [])[1:]
    check(len(seq) == len({p['sequence'] for p in ok}), '%d sequences listed' % len(seq))
    ps = [float(row[6]) for row in seq]
    check(ps == sorted(ps, reverse=True), 'sequences ranked by p(animal)')
    failed = {row[0]: row for row in t.tables.get('failed', [])[1:]}
    check(set(failed) == set(F.BROKEN), 'failed table %s' % sorted(failed))
    check(all(row[2] for row in failed.values()), 'every failure has a cause')
    check(not t.ext, 'external resources: %s' % t.ext[:3])
    from PIL import Image
    check(len(t.imgs) >= len(seq), '%d thumbnails' % len(t.imgs))
    for src in t.imgs:
        with Image.open(os.path.join(out, src)) as im:
            check(im.format == 'JPEG' and max(im.size) <= 1024, '%s: %s %s' % (src, im.format, im.size))
    print('report: %d sequences, %d thumbnails, %d failed rows; %d failures' % (len(seq), len(t.imgs), len(failed), len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
