"""A killed experiment keeps the features it had computed: `--cache-every` checkpoints the
feature cache between chunks (the first of 64 images, then sized by the rate so far). The first
1,100 MLWIC images are featurized for the RN2 row with checkpoints after every chunk; the run is
SIGKILLed as soon as the first checkpoint is on disk. Started again with the same command, it
computes only the images the cache on disk lacked (its rows counted here; read from the progress
line "CNN cut 2 at 224: done / total"), and its table and out-of-fold predictions are identical
to those of an uninterrupted run with its own cache. The uninterrupted reference runs with
--cache-every 0 (write only at the end) and computes all."""
import glob
import os
import re
import shutil
import signal
import subprocess
import time
from testlib import BIN, CT, MODEL, check, finish, mlwic_labels, tmpdir  # noqa: E402

TMP = tmpdir('experiment_resume')
N = 1100



def args(out, cache, every):
    return [BIN, 'experiment', '--images', CT, '--labels', os.path.join(TMP, 'labels.csv'), '--model', MODEL,
            '--rows', 'RN2', '--crop', 'none', '--C', '1', '--threads', '2', '--cache-every', every,
            '--cache', cache, '-o', out]


def computed(stderr):
    m = re.findall(r'CNN cut 2 at \d+: \d+ / (\d+)', stderr)
    return int(m[-1]) if m else 0


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    mlwic_labels(os.path.join(TMP, 'labels.csv'), N)
    cache = os.path.join(TMP, 'cache')
    out = os.path.join(TMP, 'killed')
    p = subprocess.Popen(args(out, cache, '0.001'), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while p.poll() is None and not glob.glob(os.path.join(cache, '*.json')) and time.monotonic() - t0 < 300:
        time.sleep(0.02)
    killed = p.poll() is None
    if killed:
        p.send_signal(signal.SIGKILL)
    p.communicate()
    check(killed, 'the run was killed after its first checkpoint (it had not finished)')
    kept = sum(max(0, len(open(f).read().splitlines()) - 1) for f in glob.glob(os.path.join(cache, '*.csv')))
    check(64 <= kept < 1024, 'the checkpoint on disk holds %d of the %d images: 64 or more (the first chunk) and '
          'fewer than 1,024 (chunks of 1,024 checkpointed a slow model every 1,024 images)' % (kept, N))
    r = subprocess.run(args(out, cache, '0.001'), capture_output=True, text=True, timeout=600)
    check(r.returncode == 0, 'the same command again: exit %d %s' % (r.returncode, r.stderr[-300:]))
    check(computed(r.stderr) == N - kept,
          'the resumed run computed %d images (want %d: the checkpoint kept %d)' % (computed(r.stderr), N - kept, kept))
    ref = os.path.join(TMP, 'clean')
    r2 = subprocess.run(args(ref, os.path.join(TMP, 'cache_clean'), '0'), capture_output=True, text=True,
                        timeout=600)
    check(r2.returncode == 0 and computed(r2.stderr) == N, 'an uninterrupted run computes all %d (got %d)'
          % (N, computed(r2.stderr)))
    for name in ('table.csv', 'predictions_RN2.csv'):
        a = open(os.path.join(out, name)).read() if os.path.exists(os.path.join(out, name)) else None
        b = open(os.path.join(ref, name)).read() if os.path.exists(os.path.join(ref, name)) else None
        if name == 'table.csv' and a and b:  # drop the timing columns
            a = [l.split(',')[:10] for l in a.splitlines()]
            b = [l.split(',')[:10] for l in b.splitlines()]
        check(a is not None and a == b, '%s identical to the uninterrupted run' % name)
    finish()


if __name__ == '__main__':
    main()
