#!/usr/bin/python3
"""The irbis review page in real headless chromium (Debian's, driven by puppeteer-core from the
repo's package.json through tests/js/review_browser.js):
- key presses change labels (a class key, `e`, `u` undo, arrows), a class button does too
  (mouse fallback), Enter opens the full-size image; every change is in the store at once;
- a reload shows them; the server killed with -9 and started again shows them;
- `a` accepts the whole page; SIGINT rewrites the outputs, which carry the human labels;
- the page fetches nothing but the server's own address (no request elsewhere, no errors)."""
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import review_lib as R  # noqa: E402
import test_classify_fixture as F  # noqa: E402
from testlib import check, finish  # noqa: E402

SRC = os.environ.get('IRBIS_SRC', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
DRIVER = os.path.join(SRC, 'tests', 'js', 'review_browser.js')


def drive(srv, step):
    env = dict(os.environ, NODE_PATH=os.path.join(SRC, 'node_modules'))
    r = subprocess.run(['node', DRIVER, srv.url, step], capture_output=True, text=True, env=env, timeout=120)
    try:
        out = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError('the chromium driver failed (run scripts/setup.sh for puppeteer-core): %s %s'
                             % (r.stdout[-500:], r.stderr[-2000:]))
    origin = srv.url.split('/?')[0]
    check(not out['errors'], '%s: no page errors or failed requests (%s)' % (step, out['errors'][:3]))
    check(all(u.startswith(origin + '/') for u in out['requests']),
          '%s: %d requests, all to %s' % (step, len(out['requests']), origin))
    return out


def main():
    if not os.path.exists(os.path.join(SRC, 'node_modules', 'puppeteer-core')):
        check(False, 'puppeteer-core is not installed: run scripts/setup.sh (npm install)')
        finish()
    fx, sv = R.survey('review_browser')
    out = os.path.join(F.TMP, 'review_browser', 'out')
    R.classify(fx, sv, out, '--sort', 'symlink')
    srv = R.Server(out)
    d = drive(srv, 'label')
    check('token' not in d['address'], 'the token leaves the address bar once the cookie holds it (%s)' % d['address'])
    before, after = d['before_reload'], d['after_reload']
    cls = d['classes']
    c = before
    want = {c[0]['seq']: next(x for x in cls if x != c[0]['machine']), c[1]['seq']: 'empty',
            d['selected_after_arrows']: cls[1], c[4]['seq']: cls[0]}
    shown = {x['seq']: x['human'] for x in before}
    check(all(shown[s] == lab for s, lab in want.items()),
          'key presses (class key, e, arrows + key) and a click changed the labels: %s' % want)
    check(shown[c[2]['seq']] == '' and c[2]['seq'] not in want, 'u undid the label of card 2')
    check(d['selected_after_arrows'] == c[3]['seq'], 'arrows: right then left comes back to the card after the last '
          'labelled one')
    check(d['full_width'] > 160 and d['thumbs_loaded'] > 0, 'Enter: the full-size image (%d px wide); %d thumbnails'
          % (d['full_width'], d['thumbs_loaded']))
    stored = R.reviews(out)
    mem = R.members(out)
    check(all(stored.get(p) == lab for s, lab in want.items() for p in mem[s]) and
          len(stored) == sum(len(mem[s]) for s in want), 'the store holds exactly those labels, image by image')
    check({x['seq']: x['human'] for x in after} == shown, 'a reload shows the same labels')
    srv.p.send_signal(signal.SIGKILL)
    srv.p.wait()
    srv = R.Server(out)
    d = drive(srv, 'accept')
    again = {x['seq']: x['human'] for x in d['before']}
    check(again == shown, 'killed with -9 and started again: the page shows the same labels')
    acc = {x['seq']: x['human'] for x in d['after']}
    check(all(acc[s] == (shown[s] or x['machine']) for s, x in ((y['seq'], y) for y in d['before'])),
          'a: every card of the page got its shown label (%d cards)' % len(acc))
    rc, err = srv.stop()
    check(rc == 0, 'SIGINT: exit 0 (%s)' % err.strip()[-100:])
    pred = F.read_predictions(out)
    page = {p: acc[s] for s in acc for p in mem[s]}
    check(all(r['label'] == page[r['path']] and r['method'] == 'human' for r in pred if r['path'] in page),
          'predictions.csv: the %d images of the page carry the labels shown, method human' % len(page))
    finish()


if __name__ == '__main__':
    main()
