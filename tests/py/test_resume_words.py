#!/usr/bin/python3
"""A classify run on an output folder that holds a run with other parameters: the refusal says what
differs in words, for `irbis classify` and `irbis-mpi classify` (np 2) alike.

It said 'the output folder holds a run with classifier_sha256 = 'e8c48b...', this run has
'e8c48b...+fp32'' for a run at another --precision (a pipeline's hash with a suffix), and the
same for another pipeline, another --gap or --min-confidence (as internal key names and %.17g
numbers). Now: 'this folder was classified at int8; this run is fp32: add --restart ..., or use
--precision int8 to resume it', both ways round; another pipeline names the file of this run and
the files of the recorded one; an option names its flag and both values. The advice works: the
run with the option it names resumes (every image done by the earlier run). --camera-depth was
not recorded at all: a resume with another depth kept the cameras and sequences of the first
(predictions.csv unlike a fresh run's, nothing said); it is a parameter of the run now (a store
without it, of an earlier version, was made at the default and resumes so). --precision int8 on a
classifier of `irbis train FEATURES` said 'no int8 calibration table for input size 0'; now it
says what the file is and what int8 needs.

A tiny int8 pipeline (RN2, 24 MLWIC frames, --precision int8) and another one (--C 0.1) classify
6 linked camera-trap images in 2 cameras. Needs mpirun for the irbis-mpi half (else only irbis)."""
import os
import re
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from mpilib import MPI_BIN, link_survey  # noqa: E402
from testlib import BIN, CT, MODEL, check, finish, mlwic_labels, tmpdir  # noqa: E402

TMP = tmpdir('resume_words')
HEX = re.compile(r'(?=[0-9]*[a-f])[0-9a-f]{13,}')  # a hash (the messages show 12 digits at most)


def train(labels, out, *extra):
    r = subprocess.run([BIN, 'train', '--images', CT, '--labels', labels, '--model', MODEL, '--task', 'species',
                        '--recipe', 'RN2', '--size', '224', '--resize', 'squash', '--crop', 'none', '--precision',
                        'int8', '--folds', '3', '--report', os.path.join(TMP, 'report'), '--threads', '2', '-o', out,
                        *extra], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise SystemExit('train failed: ' + r.stderr)
    return out


def runner(mpirun):
    """classify(pipeline, out, *extra) for irbis, or irbis-mpi on 2 ranks."""
    def classify(pipe, out, *extra):
        cmd = ['classify', '--pipeline', pipe, os.path.join(TMP, 'survey'), '-o', out, '--threads', '1', *extra]
        if mpirun:
            cmd = [mpirun, '--allow-run-as-root', '--oversubscribe', '-np', '2', MPI_BIN] + cmd
        else:
            cmd = [BIN] + cmd
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    return classify


def said(r):
    """The refusal line of a run."""
    lines = [l for l in r.stderr.splitlines() if 'this folder was classified' in l]
    return lines[0] if lines else r.stderr.strip()[-400:]


def refused(name, r, *want):
    msg = said(r)
    check(r.returncode == 3 and all(w in msg for w in want) and '--restart' in msg and not HEX.search(msg),
          '%s: refused in words, no hash (exit %d: %s)' % (name, r.returncode, msg))


def words(tool, classify, p8, other):
    out8, out32 = os.path.join(TMP, tool + '_int8'), os.path.join(TMP, tool + '_fp32')
    for d in (out8, out32):
        shutil.rmtree(d, ignore_errors=True)
    r = classify(p8, out8)
    check(r.returncode == 0, '%s: first run at the pipeline\'s int8 (exit %d %s)' % (tool, r.returncode,
                                                                                     r.stderr[-300:]))
    refused('%s: --precision fp32 after int8' % tool, classify(p8, out8, '--precision', 'fp32'),
            'this folder was classified at int8; this run is fp32', 'use --precision int8 to resume')
    r = classify(p8, out32, '--precision', 'fp32')
    check(r.returncode == 0, '%s: first run at fp32 (exit %d)' % (tool, r.returncode))
    refused('%s: int8 (the pipeline\'s) after --precision fp32' % tool, classify(p8, out32),
            'this folder was classified at fp32; this run is int8', 'use --precision fp32 to resume')
    refused('%s: --precision int8 after --precision fp32' % tool, classify(p8, out32, '--precision', 'int8'),
            'classified at fp32; this run is int8')
    refused('%s: another pipeline' % tool, classify(other, out8), 'with another pipeline', 'p8.irbis',
            'this run has the pipeline %s' % other, 'give the pipeline of that run')
    refused('%s: another --gap' % tool, classify(p8, out8, '--gap', '30'),
            'classified with --gap 60; this run has --gap 30', 'use --gap 60 to resume')
    r = classify(p8, out8, '--min-confidence', '0.9')
    m = re.search(r'classified with --min-confidence ([0-9.]+); this run has --min-confidence 0\.9\b', said(r))
    refused('%s: another --min-confidence' % tool, r, 'use --min-confidence %s' % (m.group(1) if m else '?'))
    advice = re.search(r'use (--min-confidence \S+) to resume', said(r))
    r = classify(p8, out8, *(advice.group(1).split() if advice else []))
    check(advice and r.returncode == 0 and '6 done by an earlier run' in r.stderr,
          '%s: %s resumes as the message said (exit %d)' % (tool, advice.group(1) if advice else '?', r.returncode))
    refused('%s: another --camera-depth' % tool, classify(p8, out8, '--camera-depth', '1'),
            'classified with --camera-depth 0; this run has --camera-depth 1', 'use --camera-depth 0 to resume')
    refused('%s: --positive' % tool, classify(p8, out8, '--positive', 'human'),
            'classified without --positive; this run has --positive human', 'leave out --positive')
    # the advice works; a store of an earlier version (no camera_depth) resumes at the default
    db = sqlite3.connect(os.path.join(out8, 'irbis.sqlite'))
    db.execute("DELETE FROM params WHERE key = 'camera_depth'")
    db.commit()
    db.close()
    for out, extra in ((out8, ['--precision', 'int8']), (out32, ['--precision', 'fp32'])):
        r = classify(p8, out, *extra)
        check(r.returncode == 0 and '6 done by an earlier run' in r.stderr,
              '%s: %s resumes as the message said (exit %d: %s)' % (tool, ' '.join(extra), r.returncode,
                                                                   r.stderr.strip()[-200:]))


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    labels = os.path.join(TMP, 'labels.csv')
    mlwic_labels(labels, 24)
    p8 = train(labels, os.path.join(TMP, 'p8.irbis'), '--C', '1')
    other = train(labels, os.path.join(TMP, 'other.irbis'), '--C', '0.1')
    link_survey(os.path.join(TMP, 'survey'), ['camtrapR/StationA/PBE', 'wakhan_snowleopard/C1_Avgarch_SL'], 3)
    words('irbis', runner(None), p8, other)
    mpirun = shutil.which('mpirun')
    if mpirun and os.path.exists(MPI_BIN):
        words('irbis-mpi', runner(mpirun), p8, other)
    else:
        print('irbis-mpi half skipped (no mpirun or irbis-mpi)')

    # int8 on a classifier of irbis train FEATURES: what the file is, not 'input size 0'
    fx = F.fixture()
    r = subprocess.run([BIN, 'classify', '--model', MODEL, '--classifier', fx['clf'], os.path.join(TMP, 'survey'),
                        '-o', os.path.join(TMP, 'clf_int8'), '--precision', 'int8'], capture_output=True, text=True)
    check(r.returncode == 2 and 'is a classifier of irbis train FEATURES' in r.stderr and
          'trained with --precision int8' in r.stderr and 'size 0' not in r.stderr,
          'int8 on a classifier file: said what the file is (exit %d: %s)' % (r.returncode, r.stderr.strip()))
    finish()


if __name__ == '__main__':
    main()
