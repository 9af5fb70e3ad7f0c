#!/usr/bin/python3
"""irbis review OUT/ over HTTP (the page itself is driven in chromium by test_review_browser.py):
- refused: a request without the token or with a wrong one, one with another Host (DNS
  rebinding) or none, ../../etc/passwd as ?p= (plain, URL-encoded, double-encoded, absolute,
  through a camera folder), as a literal path, and through a symlink inside the survey (one
  classify saw as a broken file, and a good image swapped for a link after classifying);
- hostile requests (random bytes, bad methods, huge headers and bodies, broken forms, half
  requests) neither crash the server nor store anything;
- a loopback load test, 20 clients x 500 requests with label changes among them: every answer
  200, no correction lost (each client's last label is the stored one);
- kill -9, restart: every correction there; SIGINT: the outputs are rewritten with them
  (predictions.csv method human, Camtrap DP classificationMethod human, MegaDetector conf 1,
  sorted/<human label>/), the official checkers report 0 violations;
- a later classify (resume, and --restart) keeps the human labels; `irbis train --labels OUT/`
  trains on them; nothing is written outside OUT/."""
import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import review_lib as R  # noqa: E402
import test_classify_fixture as F  # noqa: E402
from testlib import check, finish  # noqa: E402

STD = os.path.join(F.SHARED, 'standards')


def tree(d):
    """Every path under d with its link target (or size): to see nothing changed."""
    out = {}
    for root, dirs, files in os.walk(d):
        for f in files + dirs:
            p = os.path.join(root, f)
            out[os.path.relpath(p, d)] = os.readlink(p) if os.path.islink(p) else os.lstat(p).st_size
    return out


def raw(port, data, read=True):
    """Sends raw bytes; returns what came back (b'' when the server just closed)."""
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    got = b''
    try:
        s.sendall(data)
        if not read:
            return b''
        s.shutdown(socket.SHUT_WR)
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except OSError:  # a reset, or a kept-alive connection: what came back is the answer
        pass
    finally:
        s.close()
    return got


def status_of(resp):
    return int(resp.split(b' ', 2)[1]) if resp.startswith(b'HTTP/1.') else 0


def security(srv, sv):
    st, body, _ = srv.request('GET', '/', token=False)
    check(st == 403, 'no token: 403 (got %d)' % st)
    st, body, _ = srv.request('GET', '/api/info', headers={'X-Irbis-Token': 'f' * 32}, token=False)
    check(st == 403, 'wrong token: 403 (got %d)' % st)
    st, body, r = srv.request('GET', '/?token=' + srv.token, token=False)
    cookie = r.getheader('Set-Cookie') or ''
    check(st == 200 and b'app.js' in body and 'HttpOnly' in cookie and 'SameSite=Strict' in cookie,
          'token in the URL: the page, and an HttpOnly SameSite cookie (%s)' % cookie)
    st, body, _ = srv.request('GET', '/api/info', headers={'Cookie': cookie.split(';')[0]}, token=False)
    check(st == 200 and json.loads(body)['classes'] == ['animal', 'empty'], 'the cookie alone is enough')
    for host in ('evil.example:%d' % srv.port, 'evil.example', '127.0.0.1.nip.io:%d' % srv.port, '127.0.0.1:1'):
        st, body, _ = srv.request('GET', '/api/info', headers={'Host': host})
        check(st == 403, 'Host %s (DNS rebinding): 403 even with the token (got %d)' % (host, st))
    for host in ('127.0.0.1:%d' % srv.port, 'localhost:%d' % srv.port):
        st, _, _ = srv.request('GET', '/api/info', headers={'Host': host})
        check(st == 200, 'Host %s: 200 (got %d)' % (host, st))
    resp = raw(srv.port, b'GET /api/info HTTP/1.0\r\nX-Irbis-Token: ' + srv.token.encode() + b'\r\n\r\n')
    check(status_of(resp) in (400, 403), 'no Host header: refused (%r)' % resp[:40])
    bad = ['../../etc/passwd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '%252e%252e%252fetc%252fpasswd', '/etc/passwd',
           'C1_Avgarch_SL/../../../../../../etc/passwd', 'C1_Avgarch_SL/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
           '..%2f..%2f..%2fetc%2fpasswd', './C1_Avgarch_SL/IMG_0021.JPG', 'C1_Avgarch_SL//IMG_0021.JPG',
           urllib.parse.quote(R.PASSWD_LINK, safe=''), R.PASSWD_LINK]
    for route in ('/img', '/thumb'):
        for p in bad:
            st, body, _ = srv.request('GET', '%s?p=%s' % (route, p))
            check(st == 404 and b'root:' not in body, '%s?p=%s: 404 (got %d)' % (route, p, st))
    for path in (b'/img/../../etc/passwd', b'/../../etc/passwd', b'/%2e%2e/%2e%2e/etc/passwd',
                 b'/img/..%2f..%2fetc%2fpasswd', b'/thumb/' + R.PASSWD_LINK.encode()):
        resp = raw(srv.port, b'GET ' + path + b' HTTP/1.1\r\nHost: ' + srv.hostport.encode() + b'\r\nX-Irbis-Token: ' +
                   srv.token.encode() + b'\r\nConnection: close\r\n\r\n')
        check(status_of(resp) in (400, 404) and b'root:' not in resp, 'literal path %s: refused (%r)' % (path, resp[:12]))
    st, body, r = srv.request('GET', '/img?p=' + urllib.parse.quote('C1_Avgarch_SL/IMG_0021.JPG'))
    check(st == 200 and body[:3] == b'\xff\xd8\xff' and r.getheader('Content-Type') == 'image/jpeg',
          'a survey image is served (%d, %d bytes)' % (st, len(body)))
    st, body, _ = srv.request('GET', '/thumb?p=' + urllib.parse.quote('C1_Avgarch_SL/IMG_0021.JPG'))
    check(st == 200 and body[:3] == b'\xff\xd8\xff' and len(body) < 40000, 'its thumbnail too (%d bytes)' % len(body))
    # a good image swapped for a link to /etc/passwd after classifying: not served
    victim = os.path.join(sv, 'C1_Avgarch_SL', 'IMG_0042.JPG')
    target = os.readlink(victim)
    os.unlink(victim)
    os.symlink('/etc/passwd', victim)
    st, body, _ = srv.request('GET', '/img?p=C1_Avgarch_SL/IMG_0042.JPG')
    check(st == 404 and b'root:' not in body, 'an image swapped for a link to /etc/passwd: 404 (got %d)' % st)
    st, body, _ = srv.request('GET', '/thumb?p=C1_Avgarch_SL/IMG_0042.JPG')  # made from the image by classify, or 404
    check(b'root:' not in body and (st == 404 or body[:3] == b'\xff\xd8\xff'),
          'its thumbnail: the one made from the image, or 404 (got %d)' % st)
    os.unlink(victim)
    os.symlink(target, victim)
    # a thumbnail that cannot be made (its folder is a file here; a full disk alike): 500 saying why
    # (regression: 404 "not an image of the survey", as for a refused path)
    thumbs = os.path.join(srv.out, 'thumbs')
    os.rename(thumbs, thumbs + '.away')
    open(thumbs, 'w').close()
    st, body, _ = srv.request('GET', '/thumb?p=' + urllib.parse.quote('C1_Avgarch_SL/IMG_0041.JPG'))
    os.remove(thumbs)
    os.rename(thumbs + '.away', thumbs)
    check(st == 500 and b'thumbs' in body, 'a thumbnail that cannot be made: 500 with the cause (%d %r)' % (st, body[:120]))


def hostile(srv, out):
    rnd = random.Random(7)
    tok = srv.token.encode()
    host = srv.hostport.encode()
    hdr = b'Host: ' + host + b'\r\nX-Irbis-Token: ' + tok + b'\r\n'
    hdr += b'Connection: close\r\n'
    reqs = [b'', b'\r\n\r\n', b'GET\r\n\r\n', b'GET / HTTP/9.9\r\n\r\n', b'BREW / HTTP/1.1\r\n' + hdr + b'\r\n',
            b'DELETE /api/label HTTP/1.1\r\n' + hdr + b'\r\n',
            b'GET /' + b'a' * 100000 + b' HTTP/1.1\r\n' + hdr + b'\r\n',
            b'GET / HTTP/1.1\r\n' + hdr + b'X-Big: ' + b'b' * 200000 + b'\r\n\r\n',
            b'GET /api/sequences?queue=%zz&limit=-5&offset=99999999999999 HTTP/1.1\r\n' + hdr + b'\r\n',
            b'GET /api/sequences?queue=nope HTTP/1.1\r\n' + hdr + b'\r\n',
            b'GET /api/sequences?queue=class&cls=%00 HTTP/1.1\r\n' + hdr + b'\r\n',
            b'POST /api/label HTTP/1.1\r\n' + hdr + b'Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n',
            b'GET /img?p=' + b'%' * 5000 + b' HTTP/1.1\r\n' + hdr + b'\r\n']
    for body in (b'seq=C1_Avgarch_SL%231', b'label=animal', b'seq=nope&label=animal', b'seq=C1_Avgarch_SL%231&label=cat',
                 b'seq=C1_Avgarch_SL%231&label=animal&seq=x%00&label=empty', b'&&&===', b'seq&label',
                 b'seq=%ZZ&label=%', b'\x00\xff' * 100, b'seq=a&' * 3000 + b'label=b', b'x' * (2 << 20)):
        reqs.append(b'POST /api/label HTTP/1.1\r\n' + hdr + b'Content-Type: application/x-www-form-urlencoded\r\n'
                    b'Content-Length: ' + str(len(body)).encode() + b'\r\nConnection: close\r\n\r\n' + body)
    for _ in range(200):
        reqs.append(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300))) + b'\r\n\r\n')
        line = rnd.choice([b'GET ', b'POST ', b'HEAD ']) + rnd.choice([b'/', b'/api/', b'/img?p=', b'/thumb?p=']) + \
            bytes(rnd.choice(b'%./\\az09?&=#\x00\xff') for _ in range(rnd.randrange(0, 60)))
        reqs.append(line + b' HTTP/1.1\r\n' + hdr + b'\r\n')
    for half in (b'POST /api/label HTTP/1.1\r\n' + hdr + b'Content-Length: 5\r\n\r\nab',
                 b'POST /api/label HTTP/1.1\r\n' + hdr + b'Content-Length: 99999999999\r\n\r\nseq=',
                 b'GET / HTTP/1.1\r\nHost: ', b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'):  # half requests, TLS
        raw(srv.port, half, read=False)
    answered = 0
    for i, r in enumerate(reqs):
        resp = raw(srv.port, r, read=(i % 3 != 0))  # a third: sent, then the connection dropped
        answered += status_of(resp) != 0
        if b'root:' in resp:
            check(False, 'hostile request %d got /etc/passwd' % i)
    check(srv.alive(), '%d hostile requests: the server is still running (%d answered with a status)'
          % (len(reqs), answered))
    st, _, _ = srv.request('GET', '/api/info')
    check(st == 200, 'and answers afterwards (%d)' % st)
    # PUT / PATCH with a body: 405 after the body (regression: the connection was dropped)
    for method in (b'PUT', b'PATCH'):
        body = b'seq=x&label=empty'
        resp = raw(srv.port, method + b' /api/label HTTP/1.1\r\n' + hdr + b'Content-Length: ' + str(len(body)).encode()
                   + b'\r\nConnection: close\r\n\r\n' + body)
        check(status_of(resp) == 405, '%s with a body: 405 (got %d)' % (method.decode(), status_of(resp)))
    # a NUL byte cuts a C string short: "C1_Avgarch_SL%00x" was read as the camera C1_Avgarch_SL,
    # "animal%00x" stored as animal and "TOKEN%00x" let in (regression: all three were taken)
    st, body, _ = srv.request('GET', '/api/sequences?queue=camera&camera=C1_Avgarch_SL%00x')
    check(st == 400 and b'NUL' in body, 'a camera with %%00: 400 (got %d %r)' % (st, body[:60]))
    st, _, _ = srv.request('GET', '/api/info?token=' + srv.token + '%00x', token=False)
    check(st in (400, 403), 'the token with %%00 after it: refused (got %d)' % st)
    body = b'seq=C1_Avgarch_SL%231&label=animal%00x'
    resp = raw(srv.port, b'POST /api/label HTTP/1.1\r\n' + hdr + b'Content-Type: application/x-www-form-urlencoded\r\n'
               b'Content-Length: ' + str(len(body)).encode() + b'\r\n\r\n' + body)
    check(status_of(resp) == 400, 'a label with %%00: 400 (got %d)' % status_of(resp))
    check(R.reviews(out) == {}, 'no hostile request stored a label')


def load(srv, seqs, classes, clients=20, per_client=500):
    """clients threads x per_client requests on keep-alive connections; every 10th a label of the
    client's own sequence. Returns ({sequence: last label}, statuses that were not 200)."""
    import http.client
    last, bad, lock = {}, [], threading.Lock()
    thumbs = [urllib.parse.quote(p) for p in ('C1_Avgarch_SL/IMG_0021.JPG', 'CA-01/CA-01_0008427.jpg')]

    def client(i):
        c = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=60)
        hdr = {'X-Irbis-Token': srv.token}
        rnd = random.Random(i)
        for k in range(per_client):
            if k % 10 == 9:
                lab = rnd.choice(classes)
                body = urllib.parse.urlencode([('seq', seqs[i]), ('label', lab)])
                c.request('POST', '/api/label', body=body, headers=dict(hdr, **{
                    'Content-Type': 'application/x-www-form-urlencoded'}))
            elif k % 3 == 0:
                c.request('GET', '/api/sequences?limit=5&offset=%d' % rnd.randrange(20), headers=hdr)
            elif k % 3 == 1:
                c.request('GET', '/thumb?p=' + thumbs[k % 2], headers=hdr)
            else:
                c.request('GET', '/api/info', headers=hdr)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                with lock:
                    bad.append(r.status)
            elif k % 10 == 9:
                last[seqs[i]] = lab
        c.close()

    ts = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return last, bad, time.time() - t0


def outputs(out, want, members):
    """The rewritten outputs carry the human labels `want` ({sequence: label})."""
    pred = {r['path']: r for r in F.read_predictions(out)}
    imgs = {p: lab for s, lab in want.items() for p in members[s]}
    check(all(pred[p]['label'] == lab and pred[p]['seq_label'] == lab and pred[p]['method'] == 'human'
              for p, lab in imgs.items()), 'predictions.csv: %d reviewed images carry their human label, method human'
          % len(imgs))
    others = [r for p, r in pred.items() if p not in imgs and r['status'] == 'ok']
    check(others and all(r['method'] == 'machine' for r in others), 'the other %d images: method machine' % len(others))
    with open(os.path.join(out, 'camtrap-dp', 'observations.csv'), newline='') as f:
        obs = {r['eventID']: r for r in csv.DictReader(f)}
    timed = {s: lab for s, lab in want.items() if s in obs}
    check(timed and all(obs[s]['classificationMethod'] == 'human' and obs[s]['classificationProbability'] == ''
                        and obs[s]['observationType'] == ('blank' if lab == 'empty' else 'animal')
                        for s, lab in timed.items()),
          'observations.csv: %d reviewed events classificationMethod human, the right type' % len(timed))
    check(all(r['classificationMethod'] == 'machine' for s, r in obs.items() if s not in want),
          'the other events: classificationMethod machine')
    md = {im['file']: im for im in json.load(open(os.path.join(out, 'megadetector.json')))['images']}
    ok = all((md[p]['detections'] == [] if lab == 'empty' else
              md[p]['detections'][0]['conf'] == 1.0 and md[p]['detections'][0]['classifications'] == [['0', 1.0]])
             for p, lab in imgs.items())
    check(ok, 'megadetector.json: human labels as certain detections (empty: none)')
    placed = all(os.path.lexists(os.path.join(out, 'sorted', lab, p)) and
                 not os.path.lexists(os.path.join(out, 'sorted', 'empty' if lab == 'animal' else 'animal', p))
                 for p, lab in imgs.items())
    check(placed, 'sorted/: reviewed images under their human label only')
    report = open(os.path.join(out, 'report.html'), encoding='utf-8').read()
    check('<td id="reviewed">%d images</td>' % len(imgs) in report, 'report.html: %d images labelled by a person'
          % len(imgs))
    for args in ([os.path.join(STD, 'validators', 'md_validate.py'), os.path.join(out, 'megadetector.json')],
                 [os.path.join(STD, 'validators', 'camtrapdp_validate.py'), os.path.join(out, 'camtrap-dp'),
                  os.path.join(STD, 'camtrap-dp-1.0.2')],
                 [os.path.join(STD, 'validators', 'camtrapdp_validate.py'), os.path.join(out, 'camtrap-dp'),
                  os.path.join(STD, 'camtrap-dp-1.0.2'), '--positional']):
        r = subprocess.run(['/usr/bin/python3'] + args, capture_output=True, text=True)
        last = (r.stdout.strip().splitlines() or [r.stderr])[-1]
        check(r.returncode == 0 and '(0 violations' in last, '%s: %s' % (os.path.basename(args[0]), last))


def main():
    t0 = time.time()
    fx, sv = R.survey('review_http')
    out = os.path.join(F.TMP, 'review_http', 'out')
    r = R.classify(fx, sv, out, '--sort', 'symlink')
    check(r.returncode == 1, 'classify of the survey with a link to /etc/passwd: exit 1 (%s)' % r.stderr[-200:])
    before_survey = tree(sv)
    before_tmp = set(os.listdir(os.path.join(F.TMP, 'review_http')))
    srv = R.Server(out)
    check(srv.url.startswith('http://127.0.0.1:'), 'listens on 127.0.0.1 with the token in the URL: %s' % srv.url)
    security(srv, sv)
    hostile(srv, out)
    r = subprocess.run([F.BIN, 'export', out], capture_output=True, text=True)
    check(r.returncode == 3 and 'another irbis process (irbis review, pid' in r.stderr,
          'export while review runs: exit 3 naming irbis review as the holder (it said "irbis classify run"): %s'
          % r.stderr.strip()[-200:])
    info = srv.get_json('/api/info')
    seqs = [s['name'] for s in srv.get_json('/api/sequences?queue=camera&limit=500')['sequences']]
    check(len(seqs) == info['sequences'] >= 20, '%d sequences listed' % len(seqs))
    last, bad, secs = load(srv, seqs, info['classes'])
    check(not bad and len(last) == 20, 'load: 20 clients x 500 requests in %.1f s, %d not 200 (%s)'
          % (secs, len(bad), sorted(set(bad))[:5]))
    mem = R.members(out)
    rev = R.reviews(out)
    check(all(rev.get(p) == lab for s, lab in last.items() for p in mem[s]),
          'load: every client\'s last label is the stored one (no correction lost)')
    srv.p.send_signal(signal.SIGKILL)
    srv.p.wait()
    srv = R.Server(out)
    listed = {s['name']: s['human'] for s in srv.get_json('/api/sequences?queue=camera&limit=500')['sequences']}
    check(all(listed[s] == lab for s, lab in last.items()) and sum(v is not None for v in listed.values()) == len(last),
          'kill -9 and restart: the %d corrections are all there' % len(last))
    rc, err = srv.stop()
    check(rc == 0 and 'outputs rewritten' in err, 'SIGINT: exit 0, outputs rewritten (%s)' % err.strip()[-120:])
    # the signal may land on any thread (BLAS starts some before main): it still stops the server
    codes = [R.Server(out, '--no-export').stop(sig)[0] for sig in [signal.SIGINT, signal.SIGTERM] * 4]
    check(codes == [0] * 8, 'SIGINT/SIGTERM right after the URL: exit 0 every time (%s)' % codes)
    # --bind 0.0.0.0: reachable by the machine's name and addresses, as the printed URL says
    # (regression: every Host but 127.0.0.1's was refused, and the URL said http://0.0.0.0:PORT/)
    import socket as socketmod
    wild = R.Server(out, '--bind', '0.0.0.0', '--no-export')
    name = socketmod.gethostname()
    check(wild.hostport == '%s:%d' % (name, wild.port), 'the printed URL names the machine: %s' % wild.url)
    got = {h: wild.request('GET', '/api/info', headers={'Host': h})[0]
           for h in ('%s:%d' % (name, wild.port), '127.0.0.1:%d' % wild.port, 'evil.example:%d' % wild.port)}
    check(list(got.values()) == [200, 200, 403], '--bind 0.0.0.0: its name and 127.0.0.1 allowed, another Host '
          'refused (%s)' % got)
    wild.stop()
    outputs(out, last, mem)
    check(tree(sv) == before_survey, 'the survey is untouched')
    check(set(os.listdir(os.path.join(F.TMP, 'review_http'))) == before_tmp, 'nothing written beside OUT/')
    # a later classify keeps the human labels: resumed, and started again with --restart
    for extra in ([], ['--restart', '--threshold', '0.9']):
        r = R.classify(fx, sv, out, '--sort', 'symlink', *extra)
        pred = {x['path']: x for x in F.read_predictions(out)}
        check(r.returncode == 1 and all(pred[p]['label'] == lab and pred[p]['method'] == 'human'
                                        for s, lab in last.items() for p in mem[s]),
              'classify %s after the review: human labels kept' % (' '.join(extra) or '(resume)'))
    # the labels for training
    lab_csv = os.path.join(F.TMP, 'review_http', 'labels.csv')
    r = subprocess.run([F.BIN, 'review', out, '--write-labels', lab_csv], capture_output=True, text=True)
    rows = list(csv.DictReader(open(lab_csv))) if r.returncode == 0 else []
    check(len(rows) == sum(len(mem[s]) for s in last) and all(x['method'] == 'human' and x['time'] for x in rows),
          'review --write-labels: %d rows path,label,time,method' % len(rows))
    # the loop: a pipeline trained on the human labels alone (--labels OUT/, the survey by default)
    pipe = os.path.join(F.TMP, 'review_http', 'retrained.irbis')
    r = subprocess.run([F.BIN, 'train', '--labels', out + '/', '--model', fx['model'], '-o', pipe, '--recipe', 'RN2',
                        '--size', '224', '--resize', 'center', '--crop', 'none', '--folds', '2', '--threads', '2',
                        '--quiet'], capture_output=True, text=True)
    check(r.returncode == 0 and ('on %d images' % len(rows)) in r.stdout and 'review-labels.csv' in r.stdout + r.stderr
          and '//' not in r.stdout + r.stderr,
          'train --labels OUT/: a pipeline from the %d human labels, OUT/review-labels.csv named without a doubled '
          'slash (%s)' % (len(rows), (r.stdout + r.stderr)[-300:]))
    r = subprocess.run([F.BIN, 'classify', '--pipeline', pipe, sv, '-o', out, '--threads', '2', '--restart'],
                       capture_output=True, text=True)
    pred = {x['path']: x for x in F.read_predictions(out)}
    check(r.returncode == 1 and all(pred[p]['label'] == lab and pred[p]['method'] == 'human'
                                    for s, lab in last.items() for p in mem[s]),
          'classify --pipeline (retrained) --restart: human labels kept (%s)' % r.stderr[-200:])
    print('%.1f s' % (time.time() - t0))
    finish()


if __name__ == '__main__':
    main()
