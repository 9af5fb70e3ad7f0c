#!/usr/bin/python3
"""irbis review attacked as a hostile client would (test_review.py has the token, Host and path
checks; this file the attacks found in the security review of session sec17):
- a request without the token (or with another Host) is refused when its headers are in: the
  server does not wait for, nor hold, its body (it held up to 1 MB per connection for anyone);
- CSRF from a page of another port of 127.0.0.1 (the same site, so the SameSite=Strict cookie
  goes with its requests): its fetch (no-cors, text/plain) and its form post store nothing, in
  real chromium; a POST whose Origin or Sec-Fetch-Site names another origin is refused (403).
  The page's own posts still work;
- such a page shows the survey's images in <img> (the cookie goes with them): they do not load
  for it (Cross-Origin-Resource-Policy: same-origin), so it learns neither which paths exist
  nor their sizes (regression: both loaded, naturalWidth and all); and its requests are refused
  before any work, so their time tells nothing either (regression: a thumbnail was made);
- two irbis review servers (two OUT/ folders) open in one browser both keep working: the cookie
  is named after the port (regression: both were `irbis_token`, the second replaced the first,
  whose page then got 403 on every request);
- one address holding 600 trickling connections (slowloris) neither stops the server nor locks
  out another address: past 64 its connections are closed at once, and a request from another
  address is answered (regression: the server stopped accepting at 512 and every other client
  hung until the flood ended);
- hostile names (folders, files, class names, --taxa holding HTML, script, quotes, tabs,
  newlines, U+2028, spreadsheet formulas): the review page and report.html (from disk) run no
  script in chromium and show the names as text; megadetector.json, coco-camera-traps.json and
  camtrap-dp/ parse and pass the official checkers; predictions.csv keeps every name as it is,
  formula-like ones included (docs/classify.md, "Spreadsheets": a choice, not an oversight)."""
import csv
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import review_lib as R  # noqa: E402
import test_classify_fixture as F  # noqa: E402
from testlib import check, finish, small_classifier  # noqa: E402

SRC = os.environ.get('IRBIS_SRC', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
DRIVER = os.path.join(SRC, 'tests', 'js', 'review_security.js')


def first_answer(port, head, wait=5.0):
    """Sends only the head of a request (its body never comes); what the server said within wait
    seconds (b'' when nothing)."""
    s = socket.create_connection(('127.0.0.1', port), timeout=wait)
    try:
        s.sendall(head)
        return s.recv(200)
    except OSError:  # a timeout: no answer while the body is awaited
        return b''
    finally:
        s.close()


def body_gate(srv):
    """An unauthenticated POST announcing a 1 MB body: 403 at once (regression: the server read and
    kept the body first, so 200 such connections held 200 MB without knowing the token)."""
    host = srv.hostport.encode()
    for what, hdr in (('no token', b'Host: ' + host + b'\r\n'),
                      ('a wrong token', b'Host: ' + host + b'\r\nX-Irbis-Token: ' + b'0' * 32 + b'\r\n'),
                      ('another Host', b'Host: evil.example:%d\r\nX-Irbis-Token: %s\r\n' % (srv.port, srv.token.encode()))):
        t0 = time.time()
        got = first_answer(srv.port, b'POST /api/label HTTP/1.1\r\n' + hdr +
                           b'Content-Type: text/plain\r\nContent-Length: 1048576\r\n\r\n')
        check(got.startswith(b'HTTP/1.1 403'), 'POST with %s announcing 1 MB: 403 before any body is sent, in %.1f s '
              '(got %r)' % (what, time.time() - t0, got[:20]))
    st, _, _ = srv.request('GET', '/api/info')
    check(st == 200, 'the server still answers (%d)' % st)


def browser(*steps):
    """tests/js/review_security.js in headless chromium, steps [STEP, ARGS...] in one browser: the
    answer of each."""
    env = dict(os.environ, NODE_PATH=os.path.join(SRC, 'node_modules'))
    r = subprocess.run(['node', DRIVER, json.dumps(steps)], capture_output=True, text=True, env=env, timeout=150)
    try:
        outs = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError('the chromium driver failed: %s %s' % (r.stdout[-500:], r.stderr[-2000:]))
    for out in outs:
        check('error' not in out, 'chromium step %s ran (%s)' % (out['step'], out.get('error')))
    return outs


def serve_page(html):
    """A page of another origin: http://127.0.0.1:PORT/ (another port of the same site) serving
    html. Returns its base URL."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header('Content-Type', 'text/html; charset=utf-8')
            self.end_headers()
            self.wfile.write(html.encode())

        def log_message(self, *a):
            pass

    httpd = http.server.HTTPServer(('127.0.0.1', 0), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return 'http://127.0.0.1:%d' % httpd.server_address[1]


EVIL = """<!DOCTYPE html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="post" action="%(target)s/api/label" target="sink">
<input name="seq" value="%(form_seq)s"><input name="label" value="empty"></form>
<script>
fetch('%(target)s/api/label', {method: 'POST', mode: 'no-cors', credentials: 'include',
  headers: {'Content-Type': 'text/plain'}, body: 'seq=%(fetch_seq)s&label=empty'})
  .catch((e) => console.log('fetch: ' + e))
  .finally(() => { document.getElementById('f').submit(); document.title = 'sent'; });
</script></body></html>"""


def csrf(srv, out):
    """Another origin's page posts labels with the user's cookie: nothing is stored (regression:
    a page on another port of 127.0.0.1 stored both). Returns (browser step, its check)."""
    seqs = [s['name'] for s in srv.get_json('/api/sequences?queue=camera&limit=3')['sequences']]
    mem = R.members(out)
    target = srv.url.split('/?')[0]
    q = urllib.parse.quote
    evil = serve_page(EVIL % {'target': target, 'fetch_seq': q(seqs[0], safe=''), 'form_seq': seqs[1]})

    def verify(got):
        rev = R.reviews(out)
        check(not any(p in rev for s in seqs[:2] for p in mem[s]),
              'chromium: a page of %s (same site, other port) posted labels by fetch and by a form: none stored '
              '(stored: %s)' % (evil, sorted(rev.values())))
        check(got.get('own_post') == 200 and all(rev.get(p) == 'empty' for p in mem[seqs[2]]),
              'the review page\'s own post is stored (%s)' % got.get('own_post'))
    return ['csrf', srv.url, evil + '/', seqs[2]], verify


def csrf_by_hand(srv):
    """What a browser sends from another origin, by hand: with the cookie, Origin or Sec-Fetch-Site
    naming another origin."""
    seq = srv.get_json('/api/sequences?queue=camera&limit=1')['sequences'][0]['name']
    st, _, r = srv.request('GET', '/?token=' + srv.token, token=False)
    cookie = {'Cookie': r.getheader('Set-Cookie').split(';')[0], 'Content-Type': 'application/x-www-form-urlencoded'}
    body = urllib.parse.urlencode([('seq', seq), ('label', 'empty')])
    for extra, want in (({'Origin': 'http://127.0.0.1:1'}, 403), ({'Origin': 'null'}, 403),
                        ({'Origin': 'http://evil.example'}, 403), ({'Sec-Fetch-Site': 'same-site'}, 403),
                        ({'Sec-Fetch-Site': 'cross-site'}, 403),
                        ({'Origin': srv.url.split('/?')[0], 'Sec-Fetch-Site': 'same-origin'}, 200), ({}, 200)):
        st, _, _ = srv.request('POST', '/api/label', body=body, headers=dict(cookie, **extra), token=False)
        check(st == want, 'POST with the cookie and %s: %d (got %d)' % (extra or 'no Origin (a program)', want, st))
    for extra, want in (({'Sec-Fetch-Site': 'same-site', 'Sec-Fetch-Mode': 'no-cors', 'Sec-Fetch-Dest': 'image'}, 403),
                        ({'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors'}, 403),
                        ({'Sec-Fetch-Site': 'same-site', 'Sec-Fetch-Mode': 'navigate'}, 200),
                        ({'Sec-Fetch-Site': 'same-origin', 'Sec-Fetch-Mode': 'cors'}, 200)):
        st, _, _ = srv.request('GET', '/api/info', headers=dict(cookie, **extra), token=False)
        check(st == want, 'GET with the cookie and %s: %d (got %d)' % (extra, want, st))


def no_thumb_yet(out):
    """A classified image with no thumbnail made yet (past a card's first six): (path, thumb file)."""
    import sqlite3
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'), timeout=10)
    rows = db.execute('SELECT id, path FROM images WHERE state = 1 ORDER BY path').fetchall()
    db.close()
    return next((p, os.path.join(out, 'thumbs', '%d.jpg' % i)) for i, p in rows
                if not os.path.exists(os.path.join(out, 'thumbs', '%d.jpg' % i)))


def embed(srv):
    """Another origin's page embeds /img and /thumb of a survey image, a path that is not one, and
    the thumbnail of an image that has none yet. Returns (browser step, its check)."""
    p = srv.get_json('/api/sequences?queue=camera&limit=1')['sequences'][0]['images'][0]
    q = urllib.parse.quote(p, safe='')
    fresh, thumb = no_thumb_yet(srv.out)
    target = srv.url.split('/?')[0]
    evil = serve_page('<!DOCTYPE html><html><body><img src="%s/img?p=%s"><img src="%s/thumb?p=%s">'
                      '<img src="%s/img?p=nope.jpg"><img src="%s/thumb?p=%s"></body></html>'
                      % (target, q, target, q, target, target, urllib.parse.quote(fresh, safe='')))
    for path in ('/img?p=' + q, '/thumb?p=' + q, '/api/info', '/'):
        st, _, r = srv.request('GET', path)
        check(st == 200 and r.getheader('Cross-Origin-Resource-Policy') == 'same-origin',
              '%s: Cross-Origin-Resource-Policy: same-origin (%d %s)'
              % (path, st, r.getheader('Cross-Origin-Resource-Policy')))

    def verify(got):
        check(got.get('sizes') == ['0x0'] * 4, 'chromium: a page of %s (same site, other port) embedding /img, /thumb '
              'of %s: nothing loads, so an image and a missing path look alike (sizes %s)' % (evil, p, got.get('sizes')))
        check(not os.path.exists(thumb), 'and its request is refused before any work: no thumbnail of %s made (its '
              'time would tell the path exists)' % fresh)
    return ['embed', srv.url, evil + '/'], verify


def two_servers(srv, srv2):
    """The page of a second irbis review opened in the same browser: the first page still works.
    Returns (browser step, its check)."""
    st, _, r = srv2.request('GET', '/?token=' + srv2.token, token=False)
    name = (r.getheader('Set-Cookie') or '=').split('=')[0]
    check(name == 'irbis_token_%d' % srv2.port, 'the cookie is named after the port: %s' % name)
    seq = srv.get_json('/api/sequences?queue=camera&limit=4')['sequences'][3]['name']  # not one csrf() watches

    def verify(got):
        check(got.get('a_info') == 200 and got.get('a_post') == 200 and got.get('a_reload'),
              'the first page after the second server\'s page was opened: loads %s, posts %s, reloads %s'
              % (got.get('a_info'), got.get('a_post'), got.get('a_reload')))
        check(got.get('b_info') == 200, 'and the second page works too (%s)' % got.get('b_info'))
    return ['two', srv.url, srv2.url, seq], verify


def in_browser(*plans):
    """Runs the plans' steps in one chromium and checks each; fails when puppeteer is missing."""
    if not os.path.exists(os.path.join(SRC, 'node_modules', 'puppeteer-core')):
        check(False, 'puppeteer-core is not installed: run scripts/setup.sh (npm install)')
        return
    for (_, verify), got in zip(plans, browser(*[step for step, _ in plans])):
        verify(got)


def flood(srv):
    """600 connections from 127.0.0.1 that send a header line now and then and never end it; a
    request from 127.0.0.2 meanwhile (another machine, as --bind lets in)."""
    held, closed = [], 0
    for _ in range(600):
        s = socket.create_connection(('127.0.0.1', srv.port), timeout=5)
        s.sendall(b'GET / HTTP/1.1\r\nHost: ' + srv.hostport.encode() + b'\r\n')
        held.append(s)
    time.sleep(1)
    for s in held:  # a trickle: one more header line each (it resets the idle timeout)
        try:
            s.settimeout(0.01)
            s.sendall(b'X-A: b\r\n')
            closed += s.recv(1) == b''
        except socket.timeout:
            pass  # still held by the server
        except OSError:
            closed += 1
    check(closed >= 600 - 64, '600 connections of one address: %d closed by the server (at most 64 held)' % closed)
    t0 = time.time()
    try:
        c = socket.create_connection(('127.0.0.1', srv.port), timeout=5, source_address=('127.0.0.2', 0))
        c.sendall(b'GET /api/info HTTP/1.1\r\nHost: ' + srv.hostport.encode() + b'\r\nX-Irbis-Token: ' +
                  srv.token.encode() + b'\r\nConnection: close\r\n\r\n')
        got = c.recv(100)
        c.close()
    except OSError as e:
        got = repr(e).encode()
    check(got.startswith(b'HTTP/1.1 200'), 'meanwhile another address is answered: %r in %.1f s' % (got[:20], time.time() - t0))
    for s in held:
        s.close()
    check(srv.alive(), 'the server is still running')
    t0 = time.time()
    while True:  # the server sees the 64 closes in a moment; until then 127.0.0.1 is still at its limit
        try:
            st = srv.request('GET', '/api/info')[0]
            break
        except OSError as e:
            st = repr(e)
            if time.time() - t0 > 10:
                break
            time.sleep(0.2)
    check(st == 200, 'and answers 127.0.0.1 once the flood ends (%s after %.1f s)' % (st, time.time() - t0))


ANIMAL = '<img src=x onerror=alert(11)>"animal\'&amp;'  # a class name
CAMERAS = ['<img src=x onerror=alert(1)>', '=HYPERLINK("http:__evil.example","x")', '"><script>alert(2)<_script>',
           'javascript:alert(3)']
FILES = ['<svg onload=alert(4)>.JPG', '"><script>alert(5)<_script>.JPG', "'onmouseover='alert(6).JPG", '=1+1.JPG',
         '+cmd.JPG', '-2+3.JPG', '@SUM(1).JPG', 'tab\there.JPG', 'new\nline.JPG', 'sep\u2028ar.JPG']


def hostile_survey(root):
    """A survey of timed Wakhan frames under hostile folder and file names; its deployments."""
    shots = sorted(os.path.join(F.DATA, p) for p in (r['path'] for r in F.manifest()) if p.startswith('wakhan_snowleopard/'))
    sv = os.path.join(root, 'survey')
    paths = []
    for k, cam in enumerate(CAMERAS):
        for j, name in enumerate(FILES[k::len(CAMERAS)] + (FILES[:1] if k else [])):
            paths.append(os.path.join(cam, name))
            os.makedirs(os.path.join(sv, cam), exist_ok=True)
            os.symlink(os.path.abspath(shots[(3 * k + j) % len(shots)]), os.path.join(sv, cam, name))
    dep = os.path.join(root, 'deployments.csv')
    with open(dep, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['camera', 'latitude', 'longitude', 'locationName'])
        for i, c in enumerate(CAMERAS):
            w.writerow([c, '%.4f' % (37.1 + i * 0.01), '72.5', c])
    return sv, paths, dep


def hostile_names():
    root = os.path.join(F.TMP, 'review_security', 'names')
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    clf = small_classifier(root, 'empty', ANIMAL)[0]
    sv, paths, dep = hostile_survey(root)
    out = os.path.join(root, 'out')
    r = subprocess.run([F.BIN, 'classify', '--model', F.MODEL, '--classifier', clf, sv, '-o', out, '--threads', '2',
                        '--deployments', dep, '--taxa', 'empty=<script>alert(7)</script> "Pan\'thera', '--quiet'],
                       capture_output=True, text=True)
    check(r.returncode == 0, 'classify of the hostile survey: exit 0 (%s)' % r.stderr[-300:])
    with open(os.path.join(out, 'predictions.csv'), newline='') as f:
        pred = {x['path']: x for x in csv.DictReader(f)}
    check(sorted(pred) == sorted(paths) and all(x['status'] == 'ok' for x in pred.values()),
          'predictions.csv: every hostile path read back as it is, =1+1 and newlines included (%d)' % len(pred))
    check(any(x['label'] == ANIMAL for x in pred.values()), 'and the hostile class name as a label')
    for name in ('megadetector.json', 'coco-camera-traps.json', 'camtrap-dp/datapackage.json'):
        try:
            json.load(open(os.path.join(out, name), encoding='utf-8'))
            ok = True
        except ValueError as e:
            ok = e
        check(ok is True, '%s: valid JSON (%s)' % (name, ok))
    std = os.path.join(F.SHARED, 'standards', 'validators')
    for args in (['md_validate.py', os.path.join(out, 'megadetector.json'), '--check-image-existence',
                  '--relative-path-base', sv],
                 ['cct_validate.py', os.path.join(out, 'coco-camera-traps.json'), '--base-dir', sv],
                 ['camtrapdp_validate.py', os.path.join(out, 'camtrap-dp'),
                  os.path.join(F.SHARED, 'standards', 'camtrap-dp-1.0.2')]):
        r = subprocess.run(['/usr/bin/python3', os.path.join(std, args[0])] + args[1:], capture_output=True, text=True)
        lines = r.stdout.strip().splitlines() or [r.stderr]
        # the one known break: Camtrap DP's filePath pattern refuses a line terminator, which a
        # file name may hold (classify warns: outputs_ctdp.c, file_path_ok)
        bad = [x for x in lines if x.startswith('FAIL ') and x.split()[1].endswith(':')  # one violation a line
               and not ('filePath: pattern' in x and '\\n' in x)]
        check(not bad and 'violations' in lines[-1], '%s on the hostile names: %s %s' % (args[0], lines[-1], bad[:2]))
    srv = R.Server(out, '--no-export')
    plans = []
    for url, review in ((srv.url, 'review'), ('file://' + urllib.parse.quote(os.path.join(out, 'report.html')), '')):
        def verify(got, review=review):
            what = 'the review page' if review else 'report.html (file://)'
            check(not got.get('dialogs') and not got.get('handlers') and not got.get('js_urls') and not got.get('errors'),
                  '%s: no script ran, no on* attribute or javascript: URL in the DOM (%s %s %s %s)'
                  % (what, got.get('dialogs'), got.get('handlers'), got.get('js_urls'), got.get('errors')))
            scripts = got.get('scripts', [''])
            check(all(x.endswith('/app.js') for x in scripts) if review else not scripts,
                  '%s: no script element but its own (%s)' % (what, scripts))
            text = got.get('text', '')
            check(CAMERAS[0] in text and ANIMAL in text, '%s: the names shown as text' % what)
        plans.append((['xss', url] + ([review] if review else []), verify))
    in_browser(*plans)
    srv.stop()


def main():
    t0 = time.time()
    fx, sv = R.survey('review_security')
    out = os.path.join(F.TMP, 'review_security', 'out')
    R.classify(fx, sv, out)
    out2 = out + '2'  # a second run's folder, for a second server
    shutil.rmtree(out2, ignore_errors=True)
    shutil.copytree(out, out2)
    srv, srv2 = R.Server(out, '--no-export'), R.Server(out2, '--no-export')
    body_gate(srv)
    in_browser(csrf(srv, out), embed(srv), two_servers(srv, srv2))
    srv2.stop()
    csrf_by_hand(srv)
    flood(srv)
    srv.stop()
    hostile_names()
    print('%.1f s' % (time.time() - t0))
    finish()


if __name__ == '__main__':
    main()
