"""A killed `irbis featurize` keeps what it committed: rows go to OUT.parts/ in segments
(IRBIS_FEATURIZE_SEGMENT=40 here; 1,024 by default). 300 inputs (real MLWIC frames, with a
zero-byte and a garbage file among the first segments) are featurized with --flip; the run is
SIGKILLed after its second segment is committed. Started again with the same command it
replays the committed segments (it says how many images it took from them), computes the
rest, prints every per-file message of an uninterrupted run in the same order, exits 1 (the
two bad files) and writes .npy/.csv/.json byte-identical to an uninterrupted run's; the parts
folder is gone afterwards. A rerun with other options (no --flip) reuses nothing.
An input replaced by another picture after its segment was committed (a link pointed elsewhere):
the segment was replayed with the old picture's rows; now a segment whose images changed since
(inode change time, the link's own too) is computed again, so the feature set equals a fresh run's
(parts.c part_current, shared with irbis-mpi featurize: test_mpi_hostile)."""
import glob
import os
import shutil
import signal
import subprocess
import time
from testlib import BIN, CT, MODEL, check, finish, require_test_hooks, tmpdir  # noqa: E402

TMP = tmpdir('featurize_resume')
IMAGES = os.path.join(CT, 'mlwic_examples/images')



def messages(stderr):
    return [l for l in stderr.splitlines() if l.startswith('irbis featurize: ') and ': ' in l[17:]
            and 'taken from' not in l and ' images, ' not in l]


def main():
    require_test_hooks('test_featurize_resume (IRBIS_FEATURIZE_SEGMENT)')
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    files = [os.path.join(IMAGES, f) for f in sorted(os.listdir(IMAGES))[:298]]
    open(os.path.join(TMP, 'zero.jpg'), 'wb').close()
    with open(os.path.join(TMP, 'garbage.jpg'), 'wb') as f:
        f.write(b'\xff\xd8\xff' + os.urandom(500))
    files.insert(10, os.path.join(TMP, 'zero.jpg'))
    files.insert(55, os.path.join(TMP, 'garbage.jpg'))
    lst = os.path.join(TMP, 'list.txt')
    open(lst, 'w').write('\n'.join(files) + '\n')
    env = dict(os.environ, IRBIS_FEATURIZE_SEGMENT='40')

    def cmd(out, *extra):
        return [BIN, 'featurize', '--model', MODEL, '--cut', '2', '--threads', '2', *extra, '--list', lst, '-o', out]

    ref = os.path.join(TMP, 'ref')
    r0 = subprocess.run(cmd(ref, '--flip'), capture_output=True, text=True, env=env, timeout=300)
    check(r0.returncode == 1 and not os.path.exists(ref + '.parts'),
          'uninterrupted run: exit %d, no parts left' % r0.returncode)
    out = os.path.join(TMP, 'out')
    p = subprocess.Popen(cmd(out, '--flip'), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    t0 = time.monotonic()
    while p.poll() is None and len(glob.glob(os.path.join(out + '.parts', '*.part'))) < 2 and \
            time.monotonic() - t0 < 300:
        time.sleep(0.01)
    killed = p.poll() is None
    if killed:
        p.send_signal(signal.SIGKILL)
    p.communicate()
    kept = len(glob.glob(os.path.join(out + '.parts', '*.part')))
    check(killed and kept >= 2 and not os.path.exists(out + '.npy'),
          'killed after %d committed segments, no feature set yet' % kept)
    r = subprocess.run(cmd(out, '--flip'), capture_output=True, text=True, env=env, timeout=300)
    taken = [l for l in r.stderr.splitlines() if 'taken from the committed segments' in l]
    check(r.returncode == 1 and taken and int(taken[0].split()[2]) == 40 * kept,
          'resumed: exit %d, %s' % (r.returncode, taken or r.stderr[-300:]))
    check(messages(r.stderr) == messages(r0.stderr) and len(messages(r0.stderr)) == 2,
          'the same per-file messages in the same order: %s' % messages(r.stderr))
    same = all(os.path.exists(out + e) and open(out + e, 'rb').read() == open(ref + e, 'rb').read()
               for e in ('.npy', '.csv', '.json'))
    check(same, '.npy/.csv/.json byte-identical to the uninterrupted run')
    check(not os.path.exists(out + '.parts'), 'parts folder removed after the feature set is complete')
    # other options: nothing reused (kill again after a segment, rerun without --flip)
    p = subprocess.Popen(cmd(out, '--flip'), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    t0 = time.monotonic()
    while p.poll() is None and not glob.glob(os.path.join(out + '.parts', '*.part')) and time.monotonic() - t0 < 300:
        time.sleep(0.01)
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
    p.wait()
    r = subprocess.run(cmd(out), capture_output=True, text=True, env=env, timeout=300)
    check(r.returncode == 1 and 'taken from' not in r.stderr,
          'a run with other options (no --flip) reuses no segment (exit %d)' % r.returncode)
    changed_input(env)
    finish()


def changed_input(env):
    """80 links (2 segments); killed after the first; its 5th link pointed at another picture."""
    d = os.path.join(TMP, 'links')
    os.makedirs(d)
    for f in sorted(os.listdir(IMAGES))[:80]:
        os.symlink(os.path.join(IMAGES, f), os.path.join(d, f))

    def cmd(out):
        return [BIN, 'featurize', '--model', MODEL, '--cut', '2', '--threads', '1', '-o', out, d]
    out, fresh = os.path.join(TMP, 'changed'), os.path.join(TMP, 'changed_fresh')
    p = subprocess.Popen(cmd(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    t0 = time.monotonic()
    while p.poll() is None and not glob.glob(os.path.join(out + '.parts', '*.part')) and time.monotonic() - t0 < 300:
        time.sleep(0.01)
    killed = p.poll() is None
    if killed:
        p.send_signal(signal.SIGKILL)
    p.wait()
    fifth = os.path.join(d, sorted(os.listdir(d))[4])
    os.remove(fifth)
    os.symlink(os.path.join(IMAGES, sorted(os.listdir(IMAGES))[200]), fifth)
    r = subprocess.run(cmd(out), capture_output=True, text=True, env=env, timeout=300)
    subprocess.run(cmd(fresh), capture_output=True, env=env, timeout=300)
    same = all(os.path.exists(out + e) and open(out + e, 'rb').read() == open(fresh + e, 'rb').read()
               for e in ('.npy', '.csv', '.json'))
    check(killed and r.returncode == 0 and 'taken from' not in r.stderr and same,
          'a link changed after its segment was committed: the segment computed again, the feature set a fresh '
          'run\'s (killed %s, exit %d, %s)' % (killed, r.returncode, r.stderr.strip()[-200:]))


if __name__ == '__main__':
    main()
