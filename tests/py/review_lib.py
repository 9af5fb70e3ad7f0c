"""Shared bits of the irbis review tests: a survey of the classify fixture's images plus a
symlink to /etc/passwd, classified into an OUT/ folder, and the server started on a free port."""
import atexit
import http.client
import os
import re
import shutil
import signal
import sqlite3
import subprocess

import test_classify_fixture as F

PASSWD_LINK = 'C1_Avgarch_SL/passwd.JPG'  # a survey file that is a link to /etc/passwd


def survey(name):
    """TMP/name/survey: links to the fixture survey's files (its cameras and broken files) and
    PASSWD_LINK. Returns (fixture, survey dir)."""
    fx = F.fixture()
    root = os.path.join(F.TMP, name)
    shutil.rmtree(root, ignore_errors=True)
    sv = os.path.join(root, 'survey')
    for d, _, files in os.walk(fx['survey']):
        for f in files:
            src = os.path.join(d, f)
            dst = os.path.join(sv, os.path.relpath(src, fx['survey']))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.symlink(os.readlink(src) if os.path.islink(src) else src, dst)
    os.symlink('/etc/passwd', os.path.join(sv, PASSWD_LINK))
    return fx, sv


def classify(fx, sv, out, *extra):
    cmd = [F.BIN, 'classify', '--model', fx['model'], '--classifier', fx['clf'], sv, '-o', out, '--threads', '2',
           '--deployments', fx['deployments'], '--positive', 'animal', '--threshold', '0.5'] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True)


class Server:
    """irbis review OUT --port 0, its URL parsed from what it prints; prefix: a command that runs it
    (one that ends by exec'ing its arguments, so signals reach irbis)."""

    def __init__(self, out, *extra, prefix=()):
        self.out = out
        self.p = subprocess.Popen(list(prefix) + [F.BIN, 'review', out, '--port', '0'] + list(extra),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        atexit.register(lambda p=self.p: p.poll() is None and p.kill())  # a failed test leaves no server
        self.url = None
        for line in self.p.stdout:
            m = re.search(r'http://([^/\s]+)/\?token=(\w+)', line)
            if m:
                self.url, self.hostport, self.token = m.group(0), m.group(1), m.group(2)
                self.port = int(self.hostport.rsplit(':', 1)[1])
                break
        if not self.url:
            raise AssertionError('irbis review printed no URL: ' + self.p.stderr.read())

    def request(self, method, path, body=None, headers=None, token=True):
        h = {'X-Irbis-Token': self.token} if token else {}
        h.update(headers or {})
        c = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data, r

    def get_json(self, path):
        import json
        st, data, _ = self.request('GET', path)
        assert st == 200, (path, st, data)
        return json.loads(data)

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGINT):
        self.p.send_signal(sig)
        out, err = self.p.communicate(timeout=120)
        return self.p.returncode, err


def reviews(out):
    """{path: label} of the store's reviews table."""
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'), timeout=10)
    rows = dict(db.execute('SELECT path, label FROM reviews').fetchall())
    db.close()
    return rows


def members(out):
    """{sequence name: [image paths]}."""
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'), timeout=10)
    m = {}
    for name, path in db.execute('SELECT s.name, i.path FROM sequences s JOIN image_seq x ON x.seq_id = s.id'
                                 ' JOIN images i ON i.id = x.image_id'):
        m.setdefault(name, []).append(path)
    db.close()
    return m
