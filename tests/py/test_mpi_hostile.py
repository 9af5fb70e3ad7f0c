#!/usr/bin/python3
"""irbis-mpi used as a hostile user would, against a one-process `irbis classify` of the same
survey (predictions.csv, Camtrap DP, report, thumbnails and sorted/ identical: test_mpi_classify's
compare).

- Usage errors and --help of classify, featurize and train on 3 ranks are said once (every rank
  printed them: three copies of 'unrecognized option' and of the whole usage); `irbis-mpi train
  --images` says that irbis-mpi trains on a feature set and where --images is (it said
  'unrecognized option' and then a usage that offered --images as "the usual path").
- More ranks than images and cameras: 3 ranks on 1 image, and on 2 images of one camera.
- Files that cannot be read among good ones (a FIFO, a dangling link, a link loop, a text file, a
  JPEG header claiming 65000 x 65000 with no data, a truncated and an empty JPEG): each named in
  predictions.csv with its cause, the others classified, exit 1, as one process.
- A rank killed with SIGKILL from outside (rank 1, then rank 0) once the first camera's part is
  committed; the same command again gives the one-process outputs. Then a kill, the survey
  changed (a camera added, an image removed, one replaced by another picture, a camera renamed),
  the command again: the outputs of one process run, the survey changed, run again (thumbnails
  too: test_resume_changes has the stale thumbnail this found).
- irbis-mpi featurize killed, then images swapped and replaced in cameras whose parts were
  committed: the feature set of irbis featurize (it failed for ever, or kept the old rows).
- A full disk (a small tmpfs, when it can be mounted: needs root): exit 3 with the cause, also
  when a rank's part cannot be written; enlarged, the same command completes to the same outputs.
- A read-only OUT (a read-only bind mount in a private mount namespace, as root): exit 3, one
  line saying it is read-only.
Skips (exit 0) when mpirun or irbis-mpi is absent."""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
import test_mpi_classify as T  # noqa: E402
from mpilib import MPI_BIN, link_survey, mpirun_or_skip, run  # noqa: E402
from testlib import BIN, CT, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('mpi_hostile')
MPI_NOISE = ('Primary job', 'a non-zero exit code', 'mpirun ', 'the job to be', 'Process name', 'Exit code',
             'process rank')


# LeakSanitizer's report of the suppressions it used (the ASan build; MPI's own allocations):
# "Suppressions used:", "  count      bytes template", "     14       9632 libmpi.so"
LSAN_NOISE = re.compile(r'^\s*(Suppressions used:|count\s+bytes\s+template|\d+\s+\d+\s+\S+\)?)\s*$')


def said(r):
    """stderr without mpirun's own lines (nor the sanitizer's report of its suppressions)."""
    return '\n'.join(l for l in r.stderr.splitlines()
                     if l.strip() and not l.startswith('---') and not any(n in l for n in MPI_NOISE)
                     and not LSAN_NOISE.match(l))


class Runs:
    def __init__(self, mpirun, fx):
        self.mpirun, self.fx = mpirun, fx

    def args(self, survey, out, extra):
        return ['classify', '--model', self.fx['model'], '--classifier', self.fx['clf'], '--sort', 'symlink',
                '--threads', '1', '-o', out, *extra, survey]

    def one(self, survey, out, *extra, again=False):
        if not again:
            shutil.rmtree(out, ignore_errors=True)
        return run([BIN] + self.args(survey, out, extra))

    def cmd(self, np_, survey, out, extra=()):
        return [self.mpirun, '--allow-run-as-root', '--oversubscribe', '-np', str(np_), MPI_BIN] + \
            self.args(survey, out, extra)

    def mpi(self, np_, survey, out, *extra, prefix=()):
        return run(list(prefix) + self.cmd(np_, survey, out, extra))

    def killed(self, survey, out, victim):
        """np 3 with one image per batch; rank `victim` gets SIGKILL once a part is committed."""
        p = subprocess.Popen(self.cmd(3, survey, out, ['--batch', '1']), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        t0, ranks = time.time(), {}
        while p.poll() is None and time.time() - t0 < 120 and not glob.glob(os.path.join(out, 'mpi-parts', '*.part')):
            time.sleep(0.01)
        for pid in filter(str.isdigit, os.listdir('/proc')):
            try:
                if int(open('/proc/%s/stat' % pid).read().rsplit(')', 1)[1].split()[1]) != p.pid:
                    continue
                env = open('/proc/%s/environ' % pid, 'rb').read().split(b'\0')
                rank = [int(e.split(b'=')[1]) for e in env if e.startswith(b'OMPI_COMM_WORLD_RANK=')]
                if rank:
                    ranks[rank[0]] = int(pid)
            except (OSError, ValueError, IndexError):
                pass
        if victim in ranks:
            os.kill(ranks[victim], signal.SIGKILL)
        p.communicate(timeout=240)
        return victim in ranks and p.returncode != 0


def said_once():
    for sub in ('classify', 'featurize', 'train'):
        for arg, want in (('--bogus', "unrecognized option '--bogus'"), ('--help', 'usage:')):
            r = run([shutil.which('mpirun'), '--allow-run-as-root', '--oversubscribe', '-np', '3', MPI_BIN, sub, arg])
            text = r.stdout + r.stderr
            check(r.returncode == (0 if arg == '--help' else 2) and text.count(want) == 1,
                  'irbis-mpi %s %s on 3 ranks: said once (%d times, exit %d)' % (sub, arg, text.count(want),
                                                                                r.returncode))
            if arg == '--help':  # regression: irbis-mpi train --help printed irbis train's usage
                first = text.split('usage:', 1)[-1].splitlines()[0]
                check('irbis-mpi %s' % sub in first and ' irbis %s' % sub not in first,
                      'irbis-mpi %s --help names irbis-mpi and its own command line: %s' % (sub, first))
    r = run([shutil.which('mpirun'), '--allow-run-as-root', '--oversubscribe', '-np', '2', MPI_BIN, 'train',
             '--images', CT, '--labels', 'l.csv', '-o', os.path.join(TMP, 'x.irbis')])
    check(r.returncode == 2 and said(r).count('irbis-mpi train trains a classifier on a feature set') == 1 and
          'irbis train --images' in said(r) and 'unrecognized' not in r.stderr,
          'irbis-mpi train --images: says what irbis-mpi train does and where --images is (%s)' % said(r)[-300:])


def odd_files(survey):
    """Unreadable files among good ones: {name: the cause predictions.csv must give}."""
    d = os.path.join(survey, 'oddcam')
    os.makedirs(d)
    good = sorted(glob.glob(os.path.join(CT, 'camtrapR/StationA/PBE/*.JPG')))[:2]
    for g in good:
        os.symlink(g, os.path.join(d, os.path.basename(g)))
    os.mkfifo(os.path.join(d, 'fifo.jpg'))
    os.symlink('/nonexistent/x.jpg', os.path.join(d, 'dangling.jpg'))
    os.symlink('loop.jpg', os.path.join(d, 'loop.jpg'))
    open(os.path.join(d, 'text.jpg'), 'w').write('hello')
    open(os.path.join(d, 'bomb.jpg'), 'wb').write(bytes.fromhex(
        'ffd8ffe000104a46494600010100000100010000ffc0000b08fde8fde80101110000ffd9'))
    return {'fifo.jpg': 'FIFO', 'dangling.jpg': 'No such file', 'loop.jpg': 'symbolic links',
            'text.jpg': 'not an image', 'bomb.jpg': 'JPEG', 'truncated.jpg': 'truncated',
            'zero_bytes.jpg': 'empty file'}


def change(survey):
    """A camera added, an image removed, one replaced by another picture, a camera renamed."""
    new = os.path.join(survey, 'newcam')
    os.makedirs(new)
    for f in sorted(glob.glob(os.path.join(CT, 'hannaboe_smallmammal', '**', '*.JPG'), recursive=True))[:4]:
        os.symlink(f, os.path.join(new, os.path.basename(f)))
    os.remove(sorted(glob.glob(os.path.join(survey, 'camtrapR/StationA/PBE/*')))[0])
    cam = os.path.join(survey, 'wakhan_snowleopard/C1_Avgarch_SL')
    victim = sorted(os.listdir(cam))[1]
    os.remove(os.path.join(cam, victim))
    os.symlink(sorted(glob.glob(os.path.join(CT, 'wakhan_snowleopard/C1_Avgarch_SL/*')))[-1],
               os.path.join(cam, victim))
    os.rename(os.path.join(survey, 'uruguay_curso_camtrapR/edita/camara2'),
              os.path.join(survey, 'uruguay_curso_camtrapR/edita/camara2b'))


def featurize_changed(mpirun):
    """irbis-mpi featurize killed, then one image of a camera with a committed part swapped for
    another file (the camera's count kept) and one replaced by another picture: the part was
    taken as it was (exit 3 for ever: 'part of camera ... has X where Y was expected'; or the old
    picture's rows). Now both parts are computed again: irbis featurize's feature set."""
    sv = T.make_survey(os.path.join(TMP, 'fsurvey'), per_camera=40)
    out, fresh = os.path.join(TMP, 'feats'), os.path.join(TMP, 'feats_fresh')
    cmd = [mpirun, '--allow-run-as-root', '--oversubscribe', '-np', '3', MPI_BIN, 'featurize', '--model',
           T.F.MODEL, '--threads', '1', '-o', out, sv]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while p.poll() is None and time.time() - t0 < 120 and len(glob.glob(out + '.parts/*.part')) < 3:
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)  # mpirun: its ranks die with it
    p.wait()
    done = sorted(glob.glob(out + '.parts/*.part'))
    cams = [c for c in T.CAMERAS if any((sv + '/' + c).encode() in open(f, 'rb').read() for f in done)]
    check(len(cams) >= 2, 'featurize killed with committed parts of cameras %s' % cams)
    a, b = (os.path.join(sv, c) for c in cams[:2])
    os.remove(os.path.join(a, sorted(os.listdir(a))[0]))  # one swapped for another file
    os.symlink(sorted(glob.glob(os.path.join(CT, 'hannaboe_smallmammal', '**', '*.JPG'), recursive=True))[0],
               os.path.join(a, 'zzz.JPG'))
    victim = os.path.join(b, sorted(os.listdir(b))[-1])  # one replaced by another picture
    os.remove(victim)
    os.symlink(sorted(glob.glob(os.path.join(CT, 'speciesnet_testdata', '*.jpg')))[0], victim)
    r = run(cmd)
    run([BIN, 'featurize', '--model', T.F.MODEL, '-o', fresh, sv])
    same = all(os.path.exists(out + e) and open(out + e, 'rb').read() == open(fresh + e, 'rb').read()
               for e in ('.npy', '.csv', '.json'))
    check(r.returncode == 1 and same, 'featurize after a kill and changed images: irbis featurize\'s feature set '
          '(exit %d: %s)' % (r.returncode, said(r)[-300:]))


def full_disk(R, survey, ref):
    mnt = os.path.join(TMP, 'mnt')
    os.makedirs(mnt, exist_ok=True)
    subprocess.run(['umount', mnt], capture_output=True)
    if os.geteuid() != 0 or subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt],
                                           capture_output=True).returncode != 0:
        print('full disk: SKIPPED (cannot mount a tmpfs here)')
        return
    # Sizes from the store's first pages up, 8 KiB apart until the disk fills while a rank writes its
    # part, then two sizes 64 KiB apart (the outputs), or until the run completes: the disk fills in
    # the store, then in the parts, then in the outputs, wherever this survey's sizes put those
    # (they move when the store's rows grow). Each failure must be exit 3 with the
    # cause; the first, the first in the parts and the last are then run again on a larger disk.
    part_failed, last = False, None
    try:
        kib, after_part = 0, 0
        while kib < 2048 and after_part < 2:
            kib = 64 if not kib else max(kib, 192) + (8 if not part_failed else 64)
            after_part += part_failed
            size = '%dk' % kib
            subprocess.run(['umount', mnt], capture_output=True)
            subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=' + size, 'tmpfs', mnt], check=True)
            out = os.path.join(mnt, 'out')
            r = R.mpi(3, survey, out)
            text = said(r)
            if r.returncode == 1 and kib > 64:
                break
            in_part = 'mpi-parts' in text and not part_failed
            part_failed |= in_part
            check(r.returncode == 3 and ('No space left' in text or 'disk is full' in text),
                  'full disk at %s: exit 3 with the cause (exit %d: %s)' % (size, r.returncode, text[-300:]))
            if kib == 64 or in_part:
                again(R, survey, ref, mnt, out, size)
            last = size
        if last:
            subprocess.run(['umount', mnt], capture_output=True)
            subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=' + last, 'tmpfs', mnt], check=True)
            r = R.mpi(3, survey, os.path.join(mnt, 'out'))
            again(R, survey, ref, mnt, os.path.join(mnt, 'out'), last)
        check(part_failed, 'full disk: some size filled it while a rank wrote its part')
    finally:
        subprocess.run(['umount', mnt], capture_output=True)


def again(R, survey, ref, mnt, out, size):
    """The same command on a larger disk completes with the one-process results."""
    subprocess.run(['mount', '-o', 'remount,size=64m', mnt], check=True)
    r = R.mpi(3, survey, out)
    check(r.returncode == 1, 'full disk at %s: the same command on a larger disk completes (exit %d: %s)'
          % (size, r.returncode, said(r)[-300:]))
    if r.returncode == 1:
        T.compare(ref, out, 'full disk at %s, then room' % size)


def read_only(R, survey, out):
    ro = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
    prefix = ['unshare', '-m', 'sh', '-c', ro, out]
    if os.geteuid() != 0 or subprocess.run(prefix + ['true'], capture_output=True).returncode != 0:
        print('read-only OUT: SKIPPED (needs root and unshare -m)')
        return
    r = R.mpi(2, survey, out, prefix=prefix)
    lines = said(r).splitlines()
    check(r.returncode == 3 and len(lines) == 1 and 'is read-only' in lines[0],
          'read-only OUT: exit 3, one line saying it (exit %d: %s)' % (r.returncode, said(r)[-300:]))


def main():
    mpirun = mpirun_or_skip()
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    R = Runs(mpirun, F.fixture())
    said_once()

    for name, per in (('one', 1), ('two', 2)):
        sv = link_survey(os.path.join(TMP, name), ['camtrapR/StationA/PBE'], per)
        ref, out = os.path.join(TMP, name + '_ref'), os.path.join(TMP, name + '_mpi')
        r1, r = R.one(sv, ref), R.mpi(3, sv, out)
        check(r1.returncode == 0 and r.returncode == 0, '%d image(s) on 3 ranks: exit 0 (%s)' % (per, said(r)[-300:]))
        T.compare(ref, out, '%d image(s) on 3 ranks' % per)

    odd = T.make_survey(os.path.join(TMP, 'odd'), per_camera=3)
    causes = odd_files(odd)
    ref, out = os.path.join(TMP, 'odd_ref'), os.path.join(TMP, 'odd_mpi')
    r1, r = R.one(odd, ref), R.mpi(3, odd, out)
    check(r1.returncode == 1 and r.returncode == 1, 'unreadable files: exit 1 as one process (%d %d: %s)'
          % (r.returncode, r1.returncode, said(r)[-300:]))
    rows = {os.path.basename(x['path']): x for x in T.F.read_predictions(out)} if r.returncode == 1 else {}
    for name, cause in causes.items():
        row = rows.get(name, {})
        check(row.get('status') not in (None, 'ok') and name in row.get('message', '') and cause in row['message'],
              'unreadable %s: named in predictions.csv with its cause (%s)' % (name, row.get('message')))
    check(sum(x['status'] == 'ok' for x in rows.values()) == len(rows) - len(causes) > 10,
          'unreadable files: every other image classified')
    if r.returncode == 1:
        T.compare(ref, out, 'unreadable files')

    big = T.make_survey(os.path.join(TMP, 'big'), per_camera=40)
    ref = os.path.join(TMP, 'big_ref')
    R.one(big, ref)
    for victim in (1, 0):
        out = os.path.join(TMP, 'killed%d' % victim)
        shutil.rmtree(out, ignore_errors=True)
        check(R.killed(big, out, victim), 'rank %d killed with SIGKILL mid-run' % victim)
        r = R.mpi(3, big, out)
        check(r.returncode == 1, 'after the kill of rank %d: the same command completes (exit %d: %s)'
              % (victim, r.returncode, said(r)[-300:]))
        T.compare(ref, out, 'rank %d killed, run again' % victim)

    # the same history for one process: a run, the change, the run again (image ids are given
    # at the scan, which the killed run had done)
    out, ref = os.path.join(TMP, 'changed'), os.path.join(TMP, 'changed_ref')
    shutil.rmtree(out, ignore_errors=True)
    R.one(big, ref)
    check(R.killed(big, out, 1), 'rank 1 killed before the survey changes')
    change(big)
    r, r1 = R.mpi(3, big, out), R.one(big, ref, again=True)
    check(r.returncode == 1 and r1.returncode == 1 and 'image(s) changed since' in said(r) and
          'no longer in the survey' in said(r), 'the changed survey: the same command completes, saying what '
          'changed (exit %d: %s)' % (r.returncode, said(r)[-400:]))
    T.compare(ref, out, 'killed, survey changed, run again')

    featurize_changed(mpirun)

    ref = os.path.join(TMP, 'fresh_ref')
    R.one(big, ref)
    full_disk(R, big, ref)
    read_only(R, big, out)
    finish()


if __name__ == '__main__':
    main()
