#!/usr/bin/python3
"""A hostile survey (issue 15): beside real images it holds a FIFO, a socket and a device link
named *.jpg, a dangling symlink, a directory named x.jpg (with an image inside) and non-UTF-8
file and folder names, and a 600 MB file that starts as a JPEG (refused as too large, not read
into memory). `irbis scan` and `irbis classify` must finish (a FIFO used to hang them:
the runs have a generous timeout as a hang guard), list each file exactly once (compared with
the listing made here), and every output must parse: the CSVs with Python's csv module, the
JSON files with json, report.html with html.parser, and the files that declare UTF-8
(coco-camera-traps.json, camtrap-dp/*, report.html) must decode as strict UTF-8 (item 8: raw
name bytes made them invalid; an invalid byte is now written as U+FFFD)."""
import csv
import html.parser
import io
import json
import os
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import BIN, CT, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('hostile_survey')
SRC = os.path.join(CT, 'wakhan_snowleopard', 'C1_Avgarch_SL')


def build(s):
    """The survey; returns the set of file paths (bytes, relative) the scan must list."""
    imgs = sorted(os.listdir(SRC))[:4]
    sb = os.fsencode(s)
    for d in (b'cam1', b'cam\xff', b'x.jpg'):
        os.makedirs(os.path.join(sb, d))
    shutil.copy(os.path.join(SRC, imgs[0]), os.path.join(sb, b'cam1', b'good.jpg'))
    shutil.copy(os.path.join(SRC, imgs[1]), os.path.join(sb, b'cam1', b'caf\xe9.jpg'))
    shutil.copy(os.path.join(SRC, imgs[2]), os.path.join(sb, b'cam\xff', b'ok.jpg'))
    shutil.copy(os.path.join(SRC, imgs[3]), os.path.join(sb, b'x.jpg', b'inner.jpg'))
    os.mkfifo(os.path.join(sb, b'cam1', b'fifo.jpg'))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(s, 'cam1', 'sock.jpg'))
    os.symlink('/dev/null', os.path.join(sb, b'cam1', b'null.jpg'))
    os.symlink(os.path.join(s, 'nowhere.jpg'), os.path.join(sb, b'cam1', b'dangling.jpg'))
    # a damaged card's file: a real JPEG, then zeros to 600 MB (sparse: no disk used)
    with open(os.path.join(sb, b'cam1', b'huge.jpg'), 'wb') as f:
        f.write(open(os.path.join(SRC, imgs[0]), 'rb').read())
        f.truncate(600 << 20)
    expected = set()
    for root, dirs, files in os.walk(sb):
        for f in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            p = os.path.join(root, f)
            if not (os.path.islink(p) and os.path.isdir(p)):
                expected.add(os.path.relpath(p, sb))
    return expected, sock


def read_csv_bytes(path):
    """Rows of a CSV whose fields may hold any bytes (kept via surrogateescape)."""
    with open(path, newline='', encoding='utf-8', errors='surrogateescape') as f:
        return list(csv.DictReader(f))


def strict_text(path):
    try:
        return open(path, 'rb').read().decode('utf-8')
    except UnicodeDecodeError as e:
        check(False, '%s is valid UTF-8 (%s)' % (os.path.relpath(path, TMP), e))
        return None


def listed_once(paths, expected, what):
    got = [os.fsencode(p) for p in paths]
    dup = sorted({p for p in got if got.count(p) > 1})
    check(not dup, '%s: no file listed twice (%s)' % (what, dup))
    check(set(got) == expected, '%s: lists exactly the survey\'s files (missing %s, extra %s)'
          % (what, sorted(expected - set(got)), sorted(set(got) - expected)))


def check_outputs(out, expected):
    listed_once([r['path'] for r in read_csv_bytes(os.path.join(out, 'predictions.csv'))], expected,
                'predictions.csv')
    text = strict_text(os.path.join(out, 'coco-camera-traps.json'))
    if text is not None:
        cct = json.loads(text)
        names = [im['file_name'] for im in cct['images']]
        check(len(names) == len(set(names)), 'coco-camera-traps.json: each image once')
        check('cam1/caf\ufffd.jpg' in names, 'a Latin-1 name shows with U+FFFD in coco-camera-traps.json: %s'
              % [n for n in names if 'caf' in n])
    for name in ('datapackage.json', 'deployments.csv', 'media.csv', 'observations.csv'):
        text = strict_text(os.path.join(out, 'camtrap-dp', name))
        if text is not None and name.endswith('.json'):
            json.loads(text)
        elif text is not None:
            rows = list(csv.reader(io.StringIO(text, newline='')))
            check(len(rows) > 1 and all(len(r) == len(rows[0]) for r in rows), 'camtrap-dp/%s parses' % name)
            if name == 'media.csv':
                col = rows[0].index('filePath')
                paths = [r[col] for r in rows[1:]]
                check(len(paths) == len(set(paths)), 'media.csv: each file once')
    text = strict_text(os.path.join(out, 'report.html'))
    if text is not None:
        p = html.parser.HTMLParser()
        p.feed(text)
        p.close()
        check('caf\ufffd.jpg' in text, 'report.html shows the Latin-1 name with U+FFFD')


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    s = os.path.join(TMP, 'survey')
    os.makedirs(s)
    expected, sock = build(s)
    try:
        r = subprocess.run([BIN, 'scan', s, '-o', os.path.join(TMP, 'scan.csv')], capture_output=True, timeout=120)
        check(r.returncode in (0, 1), 'scan finishes (%d)' % r.returncode)
        listed_once([row['path'] for row in read_csv_bytes(os.path.join(TMP, 'scan.csv'))], expected, 'scan')
        fx = dict(F.fixture())
        fx['survey'] = s
        out = os.path.join(TMP, 'out')
        r = F.classify(fx, out, '--sort', 'symlink')
        check(r.returncode in (0, 1), 'classify finishes (%d: %s)' % (r.returncode, r.stderr[-300:]))
        check_outputs(out, expected)
        with open(os.path.join(out, 'predictions.csv'), newline='', errors='replace') as f:
            huge = [row for row in csv.DictReader(f) if row['path'] == 'cam1/huge.jpg']
        check(len(huge) == 1 and huge[0]['status'] == 'too_large' and '512 MB' in huge[0]['message'],
              'a 600 MB file is refused as too large, not read whole (regression: 6.3 GB of memory for a 6 GB one): '
              '%s' % huge)
    except subprocess.TimeoutExpired as e:
        check(False, 'no hang: %s' % e)
    finally:
        sock.close()
    finish()


main()
