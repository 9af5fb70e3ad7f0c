#!/usr/bin/python3
"""irbis review attacked as a hostile client would (test_review.py has the token, Host and path
checks; this file the attacks found in the security review of session sec17):
- a request without the token (or with another Host) is refused when its headers are in: the
  server does not wait for, nor hold, its body (it held up to 1 MB per connection for anyone)."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import review_lib as R  # noqa: E402
import test_classify_fixture as F  # noqa: E402
from testlib import check, finish  # noqa: E402


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


def main():
    t0 = time.time()
    fx, sv = R.survey('review_security')
    out = os.path.join(F.TMP, 'review_security', 'out')
    R.classify(fx, sv, out)
    srv = R.Server(out, '--no-export')
    body_gate(srv)
    srv.stop()
    print('%.1f s' % (time.time() - t0))
    finish()


if __name__ == '__main__':
    main()
