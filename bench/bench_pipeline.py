"""irbis classify --pipeline end to end on the shared camera-trap frames: images/s of the whole
run (scan, decode, CNN, classifiers, store, outputs) for a 224 RN2 pipeline and for the demo's
best pipeline (out/pipeline.irbis, RN2+A+M at 224/448/576), beside the featurizer alone (decode
+ CNN, `irbis featurize`) at each size, measured in the same run, interleaved.

  /usr/bin/python3 bench/bench_pipeline.py [--n 300] [--threads 2] [--rounds 2]

Not done yet: decode alone and the classifiers alone as separate stages (the classifiers are a
few dot products per image; the CNN dominates), and a comparison with a peer.
"""
import argparse
import csv
import os
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.environ.get('IRBIS_BIN', os.path.join(ROOT, 'build', 'irbis'))
SHARED = os.environ.get('IRBIS_SHARED', os.path.join(ROOT, '..', 'shared'))
CT = os.path.join(SHARED, 'data/camera-traps')
MODEL = os.path.join(SHARED, 'models/mobilenet_v2/mobilenet_v2_1.0_224.onnx')


def timed(args):
    t = time.time()
    subprocess.run([BIN] + args, check=True, capture_output=True)
    return time.time() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=300)
    ap.add_argument('--threads', default='2')
    ap.add_argument('--rounds', type=int, default=2)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix='bench_pipeline')
    rows = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                   if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])
    train, survey_rows = rows[:200], rows[200:200 + a.n]
    labels = os.path.join(tmp, 'labels.csv')
    with open(labels, 'w') as f:
        f.write('path,label\n' + ''.join('%s,%s\n' % (r['path'], r['label']) for r in train))
    survey = os.path.join(tmp, 'survey', 'cam')
    os.makedirs(survey)
    for r in survey_rows:
        os.symlink(os.path.join(CT, r['path']), os.path.join(survey, os.path.basename(r['path'])))
    rn2 = os.path.join(tmp, 'rn2.irbis')
    subprocess.run([BIN, 'train', '--images', CT, '--labels', labels, '--model', MODEL, '--recipe', 'RN2',
                    '--size', '224', '--crop', 'none', '--resize', 'squash', '--folds', '3', '-o', rn2, '--quiet'],
                   check=True, capture_output=True)
    pipes = [('RN2 at 224', rn2)]
    best = os.path.join(ROOT, 'out', 'pipeline.irbis')
    if os.path.exists(best):
        pipes.append(('demo best (out/pipeline.irbis)', best))
    lst = os.path.join(tmp, 'list.txt')
    open(lst, 'w').write(''.join(os.path.join(survey, f) + '\n' for f in sorted(os.listdir(survey))))
    res = {}
    for rnd in range(a.rounds):
        for size in (224, 448, 576):
            dt = timed(['featurize', '--model', MODEL, '--cut', '2', '--size', str(size), '--resize', 'squash',
                        '--threads', a.threads, '--list', lst, '-o', os.path.join(tmp, 'f%d' % size)])
            res.setdefault('featurize (decode + CNN) at %d' % size, []).append(a.n / dt)
        for name, p in pipes:
            out = os.path.join(tmp, 'out')
            shutil.rmtree(out, ignore_errors=True)
            dt = timed(['classify', '--pipeline', p, os.path.dirname(survey), '-o', out, '--threads', a.threads,
                        '--quiet'])
            res.setdefault('classify --pipeline, %s' % name, []).append(a.n / dt)
    print('%d MLWIC frames, --threads %s, %d interleaved rounds (images/s, each round)' % (a.n, a.threads,
                                                                                          a.rounds))
    for k, v in res.items():
        print('  %-48s %s' % (k, '  '.join('%7.1f' % x for x in v)))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
