#!/usr/bin/python3
"""irbis classify end to end on a small real survey (shared images + broken files), with the
shared MobileNetV2 and a classifier trained by `irbis train` (test_classify_fixture.py):

- every good image classified, every broken file listed with its cause; exit status 1
- probabilities sum to 1; sequences are what grouping the EXIF times by camera with a 60 s
  gap gives (computed here from the shared manifest), and their probabilities are the mean of
  their members'; labels follow the threshold rule
- the run lock (held here with flock) makes a second run exit 3 naming the lock
- other parameters are refused (exit 3) until --restart
- --sort symlink puts every classified image under sorted/<sequence label>/<relative path>
- SIGKILL at random moments, then resume: same rows as an uninterrupted run, none lost or twice
"""
import fcntl
import os
import random
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import check, failures, store_progress  # noqa: E402



def seconds(ts):
    import datetime
    return datetime.datetime.fromisoformat(ts).timestamp()


def expected_sequences(rows, gap):
    """path -> sequence key, grouping timed images per camera by the gap (untimed: alone)."""
    by_cam = {}
    for r in rows:
        by_cam.setdefault(r['camera'], []).append(r)
    seq = {}
    for cam, rs in by_cam.items():
        timed = sorted([r for r in rs if r['timestamp']], key=lambda r: (seconds(r['timestamp']), r['path']))
        k, prev = 0, None
        for r in timed:
            t = seconds(r['timestamp'])
            if prev is None or t - prev > gap:
                k += 1
            seq[r['path']] = (cam, k)
            prev = t
        for r in rs:
            if not r['timestamp']:
                seq[r['path']] = (cam, 'alone', r['path'])
    return seq


def check_run(fx, out):
    rows = F.read_predictions(out)
    paths = [r['path'] for r in rows]
    check(len(paths) == len(set(paths)), 'duplicate rows')
    ok = [r for r in rows if r['status'] == 'ok']
    bad = {r['path']: r for r in rows if r['status'] != 'ok'}
    check(len(ok) == fx['n_good'], '%d classified, want %d' % (len(ok), fx['n_good']))
    check(set(bad) == set(F.BROKEN), 'failed files %s, want %s' % (sorted(bad), sorted(F.BROKEN)))
    for p, r in bad.items():
        check(r['message'] and os.path.basename(p) in r['message'], '%s: cause %r names the file' % (p, r['message']))
        check(r['p_animal'] == '' and r['label'] == '' and r['sequence'] == '', '%s: no probabilities' % p)
    causes = {p: r['status'] for p, r in bad.items()}
    check(causes.get('broken/huge.jpg') == 'too_large', 'huge header: %s' % causes.get('broken/huge.jpg'))
    check(causes.get('broken/unreadable.jpg') in ('not_found', 'io'), 'dangling link: %s' % causes.get('broken/unreadable.jpg'))
    for r in ok:
        s = float(r['p_animal']) + float(r['p_empty'])
        check(abs(s - 1) < 2e-6, '%s: probabilities sum to %f' % (r['path'], s))
        want = 'animal' if float(r['p_animal']) >= 0.5 else 'empty'
        check(r['label'] == want, '%s: label %s, want %s' % (r['path'], r['label'], want))
    # sequences: compare the partition with the one computed from the rows' own times/cameras,
    # and check the times are the manifest's EXIF times
    man = fx['manifest']
    for r in ok:
        src = os.path.realpath(os.path.join(fx['survey'], r['path']))
        rel = os.path.relpath(src, os.path.realpath(os.path.join(F.SHARED, 'data', 'camera-traps')))
        mt = man.get(rel, {}).get('timestamp', '')
        check(r['timestamp'][:19] == mt[:19], '%s: time %r, manifest %r' % (r['path'], r['timestamp'], mt))
    exp = expected_sequences(ok, 60)
    groups_got, groups_exp = {}, {}
    for r in ok:
        groups_got.setdefault(r['sequence'], set()).add(r['path'])
        groups_exp.setdefault(exp[r['path']], set()).add(r['path'])
    check(sorted(map(sorted, groups_got.values())) == sorted(map(sorted, groups_exp.values())),
          'sequence partition differs from the 60 s grouping')
    for sid, members in groups_got.items():
        ms = [r for r in ok if r['path'] in members]
        mean = sum(float(r['p_animal']) for r in ms) / len(ms)
        for r in ms:
            check(abs(float(r['seq_p_animal']) - mean) < 2e-6, '%s: seq_p %s vs mean %f' % (sid, r['seq_p_animal'], mean))
            check(r['seq_label'] == ('animal' if mean >= 0.5 else 'empty'), '%s: seq label' % sid)
    check(len(groups_got) < len(ok), 'some sequences have several images (%d seqs)' % len(groups_got))
    return rows


def key(rows):
    return [(r['path'], r['camera'], r['timestamp'], r['sequence'], r['label'], r['seq_label'], r['status'],
             r['message']) for r in rows]


def probs(rows):
    return [float(r['p_animal']) if r['p_animal'] else -1 for r in rows]


def main():
    fx = F.fixture()
    tmp = os.path.join(F.TMP, 'classify_cli')
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    ref = os.path.join(tmp, 'ref')

    # 1. the uninterrupted run; exit 1 = completed with failures
    r = F.classify(fx, ref, '--sort', 'symlink', check=1)
    check('5 failed' in r.stderr, 'summary names the failures: ' + r.stderr[-300:])
    ref_rows = check_run(fx, ref)

    # 2. sorted/: every classified image, under its sequence label, pointing at the original
    for row in ref_rows:
        if row['status'] != 'ok':
            continue
        link = os.path.join(ref, 'sorted', row['seq_label'], row['path'])
        check(os.path.islink(link) and os.path.samefile(link, os.path.join(fx['survey'], row['path'])),
              'sorted link for ' + row['path'])
    n_sorted = sum(len(fs) for _, _, fs in os.walk(os.path.join(ref, 'sorted')))
    check(n_sorted == fx['n_good'], '%d files sorted' % n_sorted)

    # 3. the lock: a run while another holds OUT/.lock exits 3 and says why
    with open(os.path.join(ref, '.lock'), 'a') as lk:
        fcntl.flock(lk, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = F.classify(fx, ref)
        check(r.returncode == 3 and '.lock' in r.stderr and 'another' in r.stderr,
              'locked: exit %d %s' % (r.returncode, r.stderr))

    # 4. other parameters refused until --restart; a same-parameter rerun changes nothing
    r = F.classify(fx, ref, '--gap', '30')
    check(r.returncode == 3 and 'with --gap 60; this run has --gap 30' in r.stderr and '--restart' in r.stderr,
          'gap change: exit %d %s' % (r.returncode, r.stderr))
    r = F.classify(fx, ref, check=1)
    check(key(F.read_predictions(ref)) == key(ref_rows), 'rerun changed predictions')

    # 5. kill -9 at random moments, then resume to the end
    out = os.path.join(tmp, 'killed')
    cmd = [F.BIN, 'classify', '--model', fx['model'], '--classifier', fx['clf'], fx['survey'], '-o', out,
           '--threads', '2', '--deployments', fx['deployments'], '--positive', 'animal', '--threshold', '0.5',
           '--gap', '60', '--batch', '4', '--quiet']
    subprocess.run(cmd + ['--limit', '1'], check=False, capture_output=True)  # creates the store

    def done_total():
        return store_progress(out)

    # Each round kills the run once it has committed past a random target (polling the store),
    # or at a random moment for the last rounds (anywhere: model load, mid-batch, outputs).
    rnd = random.Random(int(time.time()))
    partial = 0
    # At least 4 rounds, and more (up to 16) until a kill has landed mid-classification: on a quiet
    # machine the whole survey can finish between two polls. A run that finished with no kill
    # landing in time starts again from a fresh store.
    for round_ in range(16):
        if round_ >= 4 and partial >= 1:
            break
        d0, total = done_total()
        if partial == 0 and total > 0 and d0 == total:
            shutil.rmtree(out, ignore_errors=True)
            subprocess.run(cmd + ['--limit', '1'], check=False, capture_output=True)
            d0, total = done_total()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if round_ % 4 < 3 and d0 < total - 1:
            target = rnd.randint(d0 + 1, total - 1)
            while p.poll() is None and done_total()[0] < target:
                time.sleep(0.02)
            time.sleep(rnd.uniform(0, 0.05))
        else:
            time.sleep(rnd.uniform(0.05, 1.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
        d, t = done_total()
        if 0 < d < t:
            partial += 1
    r = subprocess.run(cmd, capture_output=True, text=True)
    check(r.returncode == 1, 'resumed run exit %d: %s' % (r.returncode, r.stderr))
    rows = F.read_predictions(out)
    check(key(rows) == key(ref_rows), 'resumed predictions differ from the uninterrupted run')
    dp = max((abs(a - b) for a, b in zip(probs(rows), probs(ref_rows))), default=1)
    check(dp < 1e-4, 'probabilities differ by %g' % dp)
    print('kill/resume: %d kills left work pending; max |dp| %.2g' % (partial, dp))
    check(partial >= 1, 'no kill landed during classification')

    print('%d failures' % len(failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
