#!/usr/bin/python3
"""End-to-end throughput and peak memory of `irbis classify` against the shared peer pipeline.

  /usr/bin/python3 bench/bench_classify.py --irbis build/irbis [--images 200] [--mem 1000,10000]
  /usr/bin/python3 bench/bench_classify.py --irbis build/irbis --precision fp32,int8 --rounds 3 --mem ''

Builds (or reuses) the classifier fixture of tests/py/test_classify_fixture.py, makes a survey of
N shared images (symlinks in /tmp, repeated when N exceeds the shared set), times
`irbis classify` and the peer `peer_pipeline.py featurize --net onnx:<mobilenet>` on the same
files in the same run, and reports max RSS (/usr/bin/time -v) of classify for each --mem count.

--precision P1,P2,...: instead of the fixture's fp32 classifier, a pipeline trained with
`irbis train --images --precision int8` (RN2 at 224, squash, on the fixture's training images;
its calibration tables recorded from them) is classified with `classify --pipeline --precision P`
for each P, interleaved over --rounds (same classifiers, the CNN at each precision: docs/int8.md);
the medians and the per-round ratios to the first P are printed. --pipeline FILE classifies that
pipeline instead (int8 needs one trained with --precision int8: classify refuses an fp32 one).
"""
import argparse
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def make_survey(root, n, shared):
    data = os.path.join(shared, 'data', 'camera-traps')
    rows = list(csv.DictReader(open(os.path.join(data, 'manifest.csv'))))
    rows = [r for r in rows if r['path'].lower().endswith(('.jpg', '.jpeg'))]
    shutil.rmtree(root, ignore_errors=True)
    paths = []
    for i in range(n):
        r = rows[i % len(rows)]
        cam = (r['camera'] or r['path'].split('/')[0]) + ('_r%d' % (i // len(rows)))
        dst = os.path.join(root, cam, os.path.basename(r['path']))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.lexists(dst):
            dst = os.path.join(root, cam, '%d_%s' % (i, os.path.basename(r['path'])))
        os.symlink(os.path.join(data, r['path']), dst)
        paths.append(dst)
    return paths


def run_classify(irbis, engine, survey, out, threads):
    """engine: the model/classifier or pipeline arguments of irbis classify."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = ['/usr/bin/time', '-v', irbis, 'classify', *engine, survey, '-o', out, '--threads', str(threads)]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t0
    rss = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', r.stderr).group(1))
    m = re.search(r'(\d+) images: .*?([\d.]+) s \(([\d.]+) s classifying[,)]', r.stderr)
    run_classify.stderr = r.stderr
    return wall, rss, int(m.group(1)) if m else 0, float(m.group(3)) if m else 0.0, r.returncode


def int8_pipeline(irbis, fx, tmp, shared, threads):
    """An int8 pipeline (RN2, 224) trained on the fixture's training images, made once per --tmp."""
    pipe = os.path.join(tmp, 'rn2_int8.irbis')
    if os.path.exists(pipe):
        return pipe
    data = os.path.join(shared, 'data', 'camera-traps')
    labels = os.path.join(tmp, 'train_labels.csv')
    with open(os.path.join(fx['root'], 'labels.csv'), newline='') as f, open(labels, 'w', newline='') as o:
        w = csv.writer(o)
        for i, r in enumerate(csv.reader(f)):
            w.writerow(r if i == 0 else [os.path.relpath(r[0], data), r[1]])
    r = subprocess.run([irbis, 'train', '--images', data, '--labels', labels, '--model', fx['model'], '--task',
                        'empty', '--recipe', 'RN2', '--size', '224', '--resize', 'squash', '--crop', 'none',
                        '--precision', 'int8', '--folds', '3', '--threads', str(threads), '--quiet', '-o', pipe],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit('irbis train --precision int8 failed: ' + r.stderr[-2000:])
    return pipe


def precision_rounds(a, fx, survey):
    precs = a.precision.split(',')
    pipe = a.pipeline or int8_pipeline(a.irbis, fx, a.tmp, a.shared, a.threads)
    rate = {p: [] for p in precs}
    for k in range(a.rounds):
        for p in precs:
            wall, rss, n, tcls, rc = run_classify(a.irbis, ['--pipeline', pipe, '--precision', p], survey,
                                                  os.path.join(a.tmp, 'out_' + p), a.threads)
            if rc not in (0, 1) or n == 0:
                raise SystemExit('classify --precision %s failed (exit %d): %s' % (p, rc, run_classify.stderr[-500:]))
            rate[p].append(n / tcls if tcls else 0)
            print('round %d: --precision %s  %d images, %.1f s wall, %.2f img/s in the classify phase, max RSS %.0f MB'
                  % (k + 1, p, n, wall, rate[p][-1], rss / 1024))
            sys.stdout.flush()
    for p in precs:
        ratios = [x / y for x, y in zip(rate[p], rate[precs[0]])]
        print('--precision %-5s median %.2f img/s (classify phase); per-round ratio to %s: %s'
              % (p, statistics.median(rate[p]), precs[0], ', '.join('%.2f' % x for x in ratios)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--irbis', required=True)
    ap.add_argument('--shared', default=os.path.join(HERE, '..', '..', 'shared'))
    ap.add_argument('--images', type=int, default=200)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--mem', default='1000,10000')
    ap.add_argument('--tmp', default='/tmp/irbis-bench-classify')
    ap.add_argument('--precision', default='', help='fp32,int8,...: an int8 pipeline at each precision (see above)')
    ap.add_argument('--pipeline', help='with --precision: this pipeline instead of the int8 one trained here '
                    '(an fp32 pipeline cannot run int8: classify refuses it)')
    ap.add_argument('--rounds', type=int, default=1, help='with --precision: interleaved rounds')
    a = ap.parse_args()
    os.environ.update(IRBIS_BIN=os.path.abspath(a.irbis), IRBIS_SHARED=os.path.abspath(a.shared), IRBIS_TMP=a.tmp)
    sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'py'))
    import test_classify_fixture as F
    fx = F.fixture()
    survey = os.path.join(a.tmp, 'survey')
    paths = make_survey(survey, a.images, a.shared)
    engine = ['--model', fx['model'], '--classifier', fx['clf']]
    if a.precision:
        precision_rounds(a, fx, survey)
        return
    wall, rss, n, tcls, rc = run_classify(a.irbis, engine, survey, os.path.join(a.tmp, 'out'), a.threads)
    print('irbis classify: %d images, %.1f s wall (%.2f img/s end to end, %.2f img/s in the classify phase), '
          'max RSS %.0f MB, exit %d' % (n, wall, n / wall, n / tcls if tcls else 0, rss / 1024, rc))
    lst = os.path.join(a.tmp, 'list.txt')
    open(lst, 'w').write('\n'.join(paths) + '\n')
    t0 = time.time()
    r = subprocess.run(['/usr/bin/python3', os.path.join(a.shared, 'bench', 'peer_pipeline.py'), 'featurize',
                        '--net', 'onnx:' + fx['model'], '--threads', str(a.threads), '--batch', '16', '--list', lst],
                       capture_output=True, text=True)
    pw = time.time() - t0
    print('peer featurize (PIL + torch, features only): %.1f s wall (%.2f img/s incl. start-up); %s'
          % (pw, len(paths) / pw, r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-300:]))
    for k in [int(x) for x in a.mem.split(',') if x]:
        s = os.path.join(a.tmp, 'survey_mem')
        make_survey(s, k, a.shared)
        wall, rss, n, tcls, rc = run_classify(a.irbis, engine, s, os.path.join(a.tmp, 'out_mem'), a.threads)
        print('memory: %6d images  max RSS %.0f MB  (%.1f s, %.2f img/s, exit %d)' % (n, rss / 1024, wall, n / wall, rc))
        sys.stdout.flush()


if __name__ == '__main__':
    main()
