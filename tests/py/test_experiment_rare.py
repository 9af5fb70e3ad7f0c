"""Regression: a class that is absent from some training folds (rare species) must not stop
the species experiment (it used to fail with "class ... has no training rows"). The absent
class gets probability 0 in the folds that never saw it; every probability row sums to 1."""
import csv
import os
import subprocess
import sys

SHARED = os.environ.get('IRBIS_SHARED', '../shared')
BIN = os.environ['IRBIS_BIN']
TMP = os.path.join(os.environ.get('IRBIS_TMP', '/tmp'), 'experiment_rare')
ROOT = os.path.join(SHARED, 'data/camera-traps')
MODEL = os.path.join(SHARED, 'models/mobilenet_v2/mobilenet_v2_1.0_224.onnx')


def main():
    os.makedirs(TMP, exist_ok=True)
    rows = sorted((r for r in csv.DictReader(open(os.path.join(ROOT, 'manifest.csv')))
                   if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])[:60]
    labels = os.path.join(TMP, 'labels.csv')
    with open(labels, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        for i, r in enumerate(rows):
            # three classes; 'rare' only in the first contiguous block (rows 0-1)
            w.writerow([r['path'], 'rare' if i < 2 else ('empty' if r['label'] == 'empty' else 'animal')])
    out = os.path.join(TMP, 'out')
    p = subprocess.run([BIN, 'experiment', '--images', ROOT, '--labels', labels, '--model', MODEL, '--task', 'species',
                        '--rows', 'RN2', '--C', '1', '--crop', 'none', '--folds', '3', '-o', out, '--quiet',
                        '--cache', os.path.join(TMP, 'cache')], capture_output=True, text=True)
    print(p.stdout, p.stderr)
    failures = []
    if p.returncode != 0:
        failures.append('exit %d' % p.returncode)
    else:
        pred = list(csv.DictReader(open(os.path.join(out, 'predictions_RN2.csv'))))
        cols = [c for c in pred[0] if c.startswith('p_')]
        if sorted(cols) != ['p_animal', 'p_empty', 'p_rare']:
            failures.append('columns %s' % cols)
        for r in pred:
            total = sum(float(r[c]) for c in cols)
            if abs(total - 1) > 1e-4:
                failures.append('%s: probabilities sum to %g' % (r['path'], total))
        # the fold that holds both 'rare' rows trained without them: p_rare is 0 there
        rare_fold = {r['fold'] for r in pred if r['label'] == 'rare'}
        if any(float(r['p_rare']) != 0 for r in pred if r['fold'] in rare_fold):
            failures.append('a fold without rare training rows gave p_rare > 0')
        # no positive class: no AUC anywhere, said alike (regression: table.md printed "nan",
        # results.json null, and roc.svg / report.html an AUC of the first class vs the rest)
        md = open(os.path.join(out, 'table.md')).read()
        row = next((l for l in md.splitlines() if l.startswith('| RN2 ')), '')
        if row.split('|')[5].strip() != '-' or 'nan' in md:
            failures.append('table.md AUC of a species run without --positive: %r' % row)
        line = next((l for l in p.stdout.splitlines() if l.startswith('RN2 ')), '')
        if len(line.split()) < 5 or line.split()[4] != '-' or 'nan' in p.stdout:
            failures.append('the printed table\'s AUC of a species run without --positive: %r' % line)
        if os.path.exists(os.path.join(out, 'roc.svg')) or 'AUC 0.' in open(os.path.join(out, 'report.html')).read():
            failures.append('an ROC figure for a run without a positive class')
    for f in failures:
        print('FAIL ' + f)
    print('%d passed, %d failed' % (0 if failures else 1, len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
