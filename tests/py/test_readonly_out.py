#!/usr/bin/python3
"""A classify output folder that is read-only (an archived survey on a read-only share, a DVD,
another user's folder). The folder is made read-only by `chmod -R a-w` when not root, and by a
read-only bind mount in a private mount namespace (`unshare -m`, else `unshare -rm`) as root,
who ignores permissions; as root, "another user's folder" is run too, as nobody (setpriv).
- `irbis review OUT --write-labels F` writes the same CSV as on the writable folder;
- `irbis review OUT` serves the page, the sequences, a thumbnail that is there and, for one that
  is not (none can be made), the image itself; a label is refused (403 "OUT is read-only: labels
  cannot be saved"), and so is /api/export; the page says so on load and after a class key
  (chromium); Ctrl-C skips the export with a note;
- `irbis export OUT` and `irbis classify ... -o OUT` exit 3 with one line naming OUT and saying it
  is read-only; `irbis train --labels OUT` (which writes OUT/review-labels.csv) says how to go on;
- nothing in OUT changed (every path's size and modification time, the folders' too);
- refused with a clear message: a leftover irbis.sqlite-wal holding commits (immutable mode would
  not see them), a store of an earlier version lacking a column (no migration on a read-only
  store), and a folder a run holds (the reader's shared lock on OUT); a store of the version
  before content digests (no images.sha_head, sha_data, table former: only a run needs them) is
  read as it is."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import review_lib as R  # noqa: E402
import test_classify_fixture as F  # noqa: E402
from testlib import check, finish  # noqa: E402

SRC = os.environ.get('IRBIS_SRC', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
DRIVER = os.path.join(SRC, 'tests', 'js', 'review_browser.js')
# remounts "$0" (OUT) read-only onto itself, then runs the command ("$@") in its place
RO_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']


def listing(d):
    """Every path under d (hidden ones too, folders too) with its type, size and mtime."""
    out = {}
    for root, dirs, files in os.walk(d):
        for f in dirs + files:
            p = os.path.join(root, f)
            st = os.lstat(p)
            out[os.path.relpath(p, d)] = (st.st_mode >> 12, st.st_size, st.st_mtime_ns)
    return out


def set_writable(d, on):
    """chmod -R u+w (on) or a-w (off)."""
    for root, dirs, files in os.walk(d):
        for p in [root] + [os.path.join(root, f) for f in files]:
            if not os.path.islink(p):
                m = os.lstat(p).st_mode & 0o7777
                os.chmod(p, m | 0o200 if on else m & ~0o222)


def readonly_prefix(out):
    """The command prefix that runs a command on `out` made read-only: [] after chmod -R a-w when
    not root; as root a read-only bind mount in a private mount namespace. (prefix, how) or
    (None, why not)."""
    if os.geteuid() != 0:
        set_writable(out, False)
        return [], 'chmod -R a-w'
    tried = []
    for ns in (['unshare', '-m'], ['unshare', '-rm']):
        prefix = ns + ['sh', '-c', RO_MOUNT, out]
        r = subprocess.run(prefix + ['sh', '-c', '! test -w "$0"', out], capture_output=True, text=True)
        if r.returncode == 0:
            return prefix, ' '.join(ns) + ' + mount -o remount,ro,bind'
        tried.append('%s: %s' % (' '.join(ns), (r.stderr.strip() or 'rc %d' % r.returncode)[:120]))
    return None, '; '.join(tried)


def run(prefix, *args):
    return subprocess.run(list(prefix) + [F.BIN] + list(args), capture_output=True, text=True)


def one_line_readonly(r, out, what):
    lines = r.stderr.strip().splitlines()
    msg = lines[-1] if lines else ''
    check(r.returncode == 3 and len(lines) == 1 and out in msg and 'is read-only' in msg and '.lock' not in msg,
          '%s on a read-only OUT: exit 3, one line naming OUT, "is read-only" (rc %d: %s)'
          % (what, r.returncode, r.stderr.strip()[-300:]))


def labelled_run(name):
    """A classify run into TMP/name/out with one sequence labelled (a human label) through the
    writable server. Returns (fixture, survey, out, the sequence, its label)."""
    if os.path.exists(os.path.join(F.TMP, name)):  # a run stopped half-way may have left folders a-w
        set_writable(os.path.join(F.TMP, name), True)
    fx, sv = R.survey(name)
    out = os.path.join(F.TMP, name, 'out')
    r = R.classify(fx, sv, out)
    check(r.returncode in (0, 1), 'classify into a writable OUT (rc %d)' % r.returncode)
    srv = R.Server(out)
    seq = srv.get_json('/api/sequences?limit=1')['sequences'][0]
    label = 'empty' if seq['machine'] != 'empty' else 'animal'
    st, body, _ = srv.request('POST', '/api/label', 'seq=%s&label=%s' % (urllib.parse.quote(seq['name']), label))
    check(st == 200, 'a label stored while OUT is writable (%d %s)' % (st, body[:100]))
    rc, err = srv.stop()
    check(rc == 0, 'the writable review stops and exports (rc %d: %s)' % (rc, err.strip()[-200:]))
    return fx, sv, out, seq, label


def image_ids(out):
    """{relative path: store id} of the classified images (read before OUT is made read-only)."""
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'), timeout=10)
    rows = dict(db.execute('SELECT path, id FROM images WHERE state = 1').fetchall())
    db.close()
    return rows


def copy(src, dst):
    if os.path.exists(dst):
        set_writable(dst, True)
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)


def scratch(name):
    """An empty folder TMP/readonly_out/name that any user may write (the CSVs go there)."""
    d = os.path.join(F.TMP, 'readonly_out', name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    os.chmod(d, 0o777)
    return d


def browse(prefix, out, sv, seq, label, ids):
    """The read-only page over HTTP, and in chromium when puppeteer-core is there."""
    srv = R.Server(out, prefix=prefix)
    st, body, _ = srv.request('GET', '/')
    check(st == 200 and b'app.js' in body, 'read-only OUT: the page is served (%d)' % st)
    info = srv.get_json('/api/info')
    check(info.get('readonly') is True and info['reviewed'] == 1, '/api/info says readonly, 1 reviewed (%s)' % info)
    page = srv.get_json('/api/sequences?limit=500')
    shown = {s['name']: s['human'] for s in page['sequences']}
    check(page['total'] == info['sequences'] and shown.get(seq['name']) == label,
          'the sequences are listed, with the human label stored before (%s: %s)' % (seq['name'],
                                                                                   shown.get(seq['name'])))
    cam = srv.get_json('/api/sequences?camera=%s&reviewed=no' % urllib.parse.quote(seq['camera']))
    check(cam['total'] > 0 and all(s['camera'] == seq['camera'] and s['human'] is None for s in cam['sequences']),
          'filters work (camera %s, not reviewed: %d)' % (seq['camera'], cam['total']))
    thumbs = set(os.listdir(os.path.join(out, 'thumbs')))
    have = sorted(p for p, i in ids.items() if '%d.jpg' % i in thumbs)
    lack = sorted(p for p, i in ids.items() if '%d.jpg' % i not in thumbs)
    check(have and lack, 'the run left %d thumbnails, %d images without one' % (len(have), len(lack)))
    st, body, _ = srv.request('GET', '/thumb?p=' + urllib.parse.quote(have[0]))
    want = open(os.path.join(out, 'thumbs', '%d.jpg' % ids[have[0]]), 'rb').read()
    check(st == 200 and body == want, 'a thumbnail that is there is served (%d, %d bytes)' % (st, len(body)))
    st, body, _ = srv.request('GET', '/thumb?p=' + urllib.parse.quote(lack[0]))
    check(st == 200 and body == open(os.path.join(sv, lack[0]), 'rb').read(),
          'a thumbnail that is not there (none can be made): the image itself (%d, %d bytes)' % (st, len(body)))
    st, body, _ = srv.request('GET', '/img?p=' + urllib.parse.quote(have[0]))
    check(st == 200 and body[:3] == b'\xff\xd8\xff', 'a full-size image is served (%d)' % st)
    other = 'animal' if label == 'empty' else 'empty'
    st, body, _ = srv.request('POST', '/api/label', 'seq=%s&label=%s' % (urllib.parse.quote(seq['name']), other))
    check(st == 403 and body.decode() == '%s is read-only: labels cannot be saved' % out,
          'a label is refused: 403 "%s" (%d)' % (body.decode()[:120], st))
    st, body, _ = srv.request('POST', '/api/export', 'now=1')
    check(st == 403 and b'is read-only: the outputs cannot be rewritten' in body,
          '/api/export is refused: 403 (%d %s)' % (st, body[:100]))
    if os.path.exists(os.path.join(SRC, 'node_modules', 'puppeteer-core')):
        in_chromium(srv, out)
    else:
        check(False, 'puppeteer-core is not installed: run scripts/setup.sh (npm install)')
    rc, err = srv.stop()
    check(rc == 0 and 'is read-only: the outputs were not rewritten' in err,
          'Ctrl-C: exit 0, the export skipped with a note (%s)' % err.strip()[-200:])


def in_chromium(srv, out):
    env = dict(os.environ, NODE_PATH=os.path.join(SRC, 'node_modules'))
    r = subprocess.run(['node', DRIVER, srv.url, 'readonly'], capture_output=True, text=True, env=env, timeout=120)
    try:
        d = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        check(False, 'the chromium driver failed: %s %s' % (r.stdout[-500:], r.stderr[-1000:]))
        return
    origin = srv.url.split('/?')[0]
    others = [e for e in d['errors'] if e != '403 %s/api/label' % origin]
    check(not others, 'chromium: no page errors or failed requests but the refused label (%s)' % others[:3])
    msg = '%s is read-only: browsing only, labels cannot be saved' % out
    check(d['flag'] == '1' and d['on_load'] == {'text': msg, 'error': True} and d['export_disabled'],
          'the page says on load: "%s" (%s), "write outputs" disabled' % (msg, d['on_load']))
    check(d['after_key'] == {'text': 'not stored: %s is read-only: labels cannot be saved' % out, 'error': True},
          'a class key: the page shows the refusal (%s)' % d['after_key'])
    check(d['after'] == d['before'] and d['thumbs_loaded'] > 0,
          'the cards are unchanged; %d thumbnails shown' % d['thumbs_loaded'])


def stale_wal(prefix_for, base, name):
    """A copy of base whose irbis.sqlite-wal holds a commit (a writer killed before closing)."""
    out = os.path.join(os.path.dirname(base), name)
    copy(base, out)
    code = ("import os, sqlite3, sys\n"
            "d = sqlite3.connect(sys.argv[1])\n"
            "d.execute('PRAGMA wal_autocheckpoint = 0')\n"
            "d.execute(\"INSERT INTO reviews(path, label, time) VALUES('late.jpg', 'empty', '2024-01-01')\")\n"
            "d.commit()\n"
            "os._exit(0)\n")
    subprocess.run([sys.executable, '-c', code, os.path.join(out, 'irbis.sqlite')], check=True)
    wal = os.path.join(out, 'irbis.sqlite-wal')
    check(os.path.getsize(wal) > 0, 'a leftover irbis.sqlite-wal of %d bytes' % os.path.getsize(wal))
    prefix, _ = prefix_for(out)
    csv = os.path.join(scratch('wal_csv'), 'labels.csv')
    r = run(prefix, 'review', out, '--write-labels', csv)
    check(r.returncode == 3 and wal in r.stderr and 'not yet merged' in r.stderr and 'writable' in r.stderr
          and not os.path.exists(csv),
          'read-only with a leftover -wal: refused, naming the file (rc %d: %s)' % (r.returncode, r.stderr.strip()))
    if os.geteuid() != 0:
        set_writable(out, True)
    r = run([], 'review', out, '--write-labels', csv)
    check(r.returncode == 0 and 'late.jpg' in open(csv).read() and not os.path.exists(wal),
          'opened once where it is writable: the commit is merged and read (rc %d)' % r.returncode)
    prefix, _ = prefix_for(out)
    r = run(prefix, 'review', out, '--write-labels', csv)
    check(r.returncode == 0 and 'late.jpg' in open(csv).read(), 'then read-only it reads (rc %d: %s)'
          % (r.returncode, r.stderr.strip()[-200:]))
    if os.geteuid() != 0:
        set_writable(out, True)


def old_store(prefix_for, base, name):
    """A copy of base as a store of an earlier version (no images.novelty): refused read-only."""
    out = os.path.join(os.path.dirname(base), name)
    copy(base, out)
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'))
    db.execute('ALTER TABLE images DROP COLUMN novelty')
    db.close()
    prefix, _ = prefix_for(out)
    csv = os.path.join(scratch('old_csv'), 'labels.csv')
    r = run(prefix, 'review', out, '--write-labels', csv)
    check(r.returncode == 3 and 'earlier irbis' in r.stderr and 'column images.novelty' in r.stderr and
          'read-only' in r.stderr, 'a store lacking a column, read-only: refused, naming it (rc %d: %s)'
          % (r.returncode, r.stderr.strip()))
    if os.geteuid() != 0:
        set_writable(out, True)
    r = run([], 'review', out, '--write-labels', csv)
    check(r.returncode == 0, 'where it is writable the store is brought up to date (rc %d: %s)'
          % (r.returncode, r.stderr.strip()[-200:]))


def previous_store(prefix_for, base, name):
    """A copy of base as a store of the version before content digests (no images.sha_head,
    sha_data, no table former): read as it is, read-only (only a run needs them)."""
    out = os.path.join(os.path.dirname(base), name)
    copy(base, out)
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'))
    db.executescript('DROP INDEX images_sha; ALTER TABLE images DROP COLUMN sha_head; ALTER TABLE images DROP COLUMN'
                     ' sha_data; DROP TABLE former;')
    db.close()
    prefix, _ = prefix_for(out)
    csv = os.path.join(scratch('prev_csv'), 'labels.csv')
    want = os.path.join(scratch('prev_want'), 'labels.csv')
    r0 = run([], 'review', base, '--write-labels', want)
    r = run(prefix, 'review', out, '--write-labels', csv)
    check(r0.returncode == 0 and r.returncode == 0 and open(csv).read() == open(want).read(),
          'a store without content digests, read-only: read as it is (rc %d: %s)' % (r.returncode,
                                                                                    r.stderr.strip()[-200:]))


def held(prefix_for, base, name, nobody):
    """A copy of base that a writable review holds: a read-only reader is refused (a run could be
    writing what an immutable open would read)."""
    out = os.path.join(os.path.dirname(base), name)
    copy(base, out)
    srv = R.Server(out, '--no-export')
    csv = os.path.join(scratch('held_csv'), 'labels.csv')
    # not root: made a-w after the server started (which could still write through its open files)
    readers = [('read-only', prefix_for(out)[0])] + ([('another user', NOBODY)] if nobody else [])
    for who, prefix in readers:
        r = run(prefix, 'review', out, '--write-labels', csv)
        check(r.returncode == 3 and 'another irbis process' in r.stderr and 'irbis review' in r.stderr,
              '%s, while a review holds the folder: refused (rc %d: %s)' % (who, r.returncode, r.stderr.strip()))
    srv.stop()
    if os.geteuid() != 0:
        set_writable(out, True)


def as_nobody(out, want_csv):
    """root only: OUT read as the user nobody, to whom it is another user's folder."""
    csv = os.path.join(scratch('nobody_csv'), 'labels.csv')
    probe = subprocess.run(NOBODY + ['sh', '-c', 'test -r "$0/irbis.sqlite" && test -x "$1" && ! test -w "$0"', out,
                                     F.BIN], capture_output=True, text=True)
    if probe.returncode != 0:
        print('SKIP another user\'s folder: the user nobody cannot read %s or run %s here (%s)'
              % (out, F.BIN, probe.stderr.strip()[:200]))
        return False
    r = run(NOBODY, 'review', out, '--write-labels', csv)
    check(r.returncode == 0 and open(csv).read() == want_csv,
          'another user\'s folder (as nobody): --write-labels writes the same CSV (rc %d: %s)'
          % (r.returncode, r.stderr.strip()[-200:]))
    r = run(NOBODY, 'export', out)
    one_line_readonly(r, out, 'another user\'s folder: export')
    return True


def main():
    fx, sv, out, seq, label = labelled_run('readonly_out')
    rw_csv = os.path.join(F.TMP, 'readonly_out', 'rw.csv')
    r = run([], 'review', out, '--write-labels', rw_csv)
    check(r.returncode == 0, 'writable: --write-labels (rc %d)' % r.returncode)
    want_csv = open(rw_csv).read()
    check(seq['images'][0] in want_csv, 'the CSV holds the human label')
    ids = image_ids(out)
    base = os.path.join(F.TMP, 'readonly_out', 'base')  # pristine copy for the refusal cases
    copy(out, base)
    before = listing(out)
    prefix, how = readonly_prefix(out)
    if prefix is None:
        print('SKIP the read-only folder: root ignores permissions and no read-only bind mount can be made here (%s)'
              % how)
        finish()
        return
    print('read-only by: %s' % how)
    try:
        ro_csv = os.path.join(F.TMP, 'readonly_out', 'ro.csv')
        r = run(prefix, 'review', out, '--write-labels', ro_csv)
        check(r.returncode == 0 and os.path.exists(ro_csv) and open(ro_csv).read() == want_csv,
              'read-only: --write-labels writes the same CSV as on the writable folder (rc %d: %s)'
              % (r.returncode, r.stderr.strip()[-300:]))
        try:
            browse(prefix, out, sv, seq, label, ids)
        except AssertionError as e:  # no server (it printed no URL), or a request failed
            check(False, 'read-only OUT: irbis review serves it (%s)' % str(e)[-300:])
        one_line_readonly(run(prefix, 'export', out), out, 'export')
        r = run(prefix, 'classify', '--model', fx['model'], '--classifier', fx['clf'], sv, '-o', out, '--threads', '2',
                '--deployments', fx['deployments'], '--positive', 'animal', '--threshold', '0.5')
        one_line_readonly(r, out, 'classify')
        model = os.path.join(scratch('train'), 'x.irbis')
        r = run(prefix, 'train', '--labels', out, '--model', fx['model'], '-o', model)
        check(r.returncode == 3 and '%s is read-only' % out in r.stderr and '--write-labels' in r.stderr,
              'train --labels OUT: exit 3, the way on (--write-labels elsewhere) (rc %d: %s)'
              % (r.returncode, r.stderr.strip()[-300:]))
        nobody = os.geteuid() == 0 and as_nobody(out, want_csv)
        after = listing(out)
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        check(not changed, 'nothing in OUT changed (%d paths compared; changed: %s)' % (len(before), changed[:5]))
    finally:
        if os.geteuid() != 0:
            set_writable(out, True)
    stale_wal(readonly_prefix, base, 'stale_wal')
    old_store(readonly_prefix, base, 'old_store')
    previous_store(readonly_prefix, base, 'previous_store')
    held(readonly_prefix, base, 'held', nobody)
    finish()


if __name__ == '__main__':
    main()
