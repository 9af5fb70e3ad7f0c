"""The demo's pipeline (RN2+A+M at 224/448/576, squash, strips cropped, sizes averaged) in fp32
and in int8: `irbis classify --pipeline` end to end on the same survey of MLWIC frames, rounds
interleaved (docs/int8.md).

Trains the recipe twice on the first --train MLWIC frames (fp32; --precision int8, which records
a calibration table per size from 64 of them and stores it in the pipeline), then classifies the
next --n frames, in each round: the fp32 pipeline, the int8 pipeline, and the int8 pipeline with
--precision fp32 (the same classifiers on an fp32 CNN). Prints images/s per round, the medians
of the per-round int8 / fp32 ratios, and how the int8 pipeline's labels and probabilities compare
with the fp32 pipeline's on the survey.

  /usr/bin/python3 bench/bench_pipeline_int8.py [--train 200] [--n 100] [--threads 2] [--rounds 3]
"""
import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_pipeline import BIN, CT, MODEL  # noqa: E402  (the same binary, frames and model)

RECIPE = ['--recipe', 'RN2+A+M', '--size', '224,448,576', '--resize', 'squash', '--crop', 'auto', '--combine', 'mean',
          '--task', 'empty', '--folds', '3']


def predictions(path):
    return {r['path']: (float(r['p_animal']), r['label']) for r in csv.DictReader(open(path))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--train', type=int, default=200)
    ap.add_argument('--n', type=int, default=100)
    ap.add_argument('--threads', default='2')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--keep', help='folder for the pipelines and outputs (default: a temporary one, removed)')
    a = ap.parse_args()
    tmp = a.keep or tempfile.mkdtemp(prefix='bench_pipeline_int8')
    os.makedirs(tmp, exist_ok=True)
    rows = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                   if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])
    train, survey_rows = rows[:a.train], rows[a.train:a.train + a.n]
    labels = os.path.join(tmp, 'labels.csv')
    with open(labels, 'w') as f:
        f.write('path,label\n' + ''.join('%s,%s\n' % (r['path'], r['label']) for r in train))
    survey = os.path.join(tmp, 'survey', 'cam')
    shutil.rmtree(os.path.dirname(survey), ignore_errors=True)
    os.makedirs(survey)
    for r in survey_rows:
        os.symlink(os.path.join(CT, r['path']), os.path.join(survey, os.path.basename(r['path'])))
    pipes = {}
    for prec in ('fp32', 'int8'):
        pipes[prec] = os.path.join(tmp, 'demo_%s.irbis' % prec)
        if not os.path.exists(pipes[prec]):
            t = time.time()
            subprocess.run([BIN, 'train', '--images', CT, '--labels', labels, '--model', MODEL, '--precision', prec,
                            '--threads', a.threads, '-o', pipes[prec], '--quiet'] + RECIPE, check=True,
                           capture_output=True)
            print('trained %s on %d frames in %.0f s' % (prec, len(train), time.time() - t), flush=True)
    runs = [('fp32 pipeline', pipes['fp32'], []), ('int8 pipeline', pipes['int8'], []),
            ('int8 pipeline --precision fp32', pipes['int8'], ['--precision', 'fp32'])]
    rate, preds = {}, {}
    for rnd in range(a.rounds):
        for name, p, extra in runs:
            out = os.path.join(tmp, 'out_%d' % runs.index((name, p, extra)))
            shutil.rmtree(out, ignore_errors=True)
            t = time.time()
            subprocess.run([BIN, 'classify', '--pipeline', p, os.path.dirname(survey), '-o', out, '--threads',
                            a.threads, '--quiet'] + extra, check=True, capture_output=True)
            rate.setdefault(name, []).append(a.n / (time.time() - t))
            preds[name] = predictions(os.path.join(out, 'predictions.csv'))
        print('round %d: %s' % (rnd + 1, '  '.join('%s %.2f' % (k, v[-1]) for k, v in rate.items())), flush=True)
    print('\n%d MLWIC frames, --threads %s, %d interleaved rounds (images/s)' % (a.n, a.threads, a.rounds))
    base = rate['fp32 pipeline']
    for name, v in rate.items():
        ratios = [x / b for x, b in zip(v, base)]
        print('  %-32s %s   median %.2f   / fp32: %s (median %.2f)' % (
            name, ' '.join('%6.2f' % x for x in v), statistics.median(v), ' '.join('%.2f' % r for r in ratios),
            statistics.median(ratios)))
    f32, i8 = preds['fp32 pipeline'], preds['int8 pipeline']
    same = sum(f32[k][1] == i8[k][1] for k in f32)
    dp = max(abs(f32[k][0] - i8[k][0]) for k in f32)
    print('labels: int8 pipeline = fp32 pipeline on %d of %d frames; max |p_animal difference| %.3f' % (
        same, len(f32), dp))
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
