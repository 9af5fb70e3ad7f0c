"""Regression: `irbis classify` must prepare images exactly as the classifier's training images
were prepared (the preprocessing featurize records and train copies into the classifier).
A classifier trained on `--resize squash` features, applied by classify to the same images, must
give the same probabilities as `irbis predict` on those features. (classify used to apply the
default centre-crop preprocessing whatever the classifier was trained on.)"""
import csv
import os
import shutil
import subprocess
import sys

SHARED = os.environ.get('IRBIS_SHARED', '../shared')
BIN = os.environ['IRBIS_BIN']
TMP = os.path.join(os.environ.get('IRBIS_TMP', '/tmp'), 'preproc_roundtrip')
ROOT = os.path.join(SHARED, 'data/camera-traps')
MODEL = os.path.join(SHARED, 'models/mobilenet_v2/mobilenet_v2_1.0_224.onnx')


def run(*args):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stdout, p.stderr)
        raise SystemExit('irbis %s failed (%d)' % (args[0], p.returncode))
    return p


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    survey = os.path.join(TMP, 'survey')
    rows = [r for r in csv.DictReader(open(os.path.join(ROOT, 'manifest.csv')))
            if r['path'].startswith(('wakhan_snowleopard/', 'uruguay_curso_camtrapR/'))]
    rows = rows[::6][:16]
    os.makedirs(survey)
    labels = os.path.join(TMP, 'labels.csv')
    with open(labels, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        for r in rows:
            dst = os.path.join(survey, r['path'])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.symlink(os.path.abspath(os.path.join(ROOT, r['path'])), dst)
            w.writerow([r['path'], 'snow_leopard' if r['label'] == 'snow_leopard' else 'other'])
    feats = os.path.join(TMP, 'feats')
    run('featurize', '--model', MODEL, '--cut', '2', '--resize', 'squash', '-o', feats, survey)
    clf = os.path.join(TMP, 'm.irbis')
    run('train', feats, '--labels', labels, '--root', survey, '--C', '1', '-o', clf)
    pred = os.path.join(TMP, 'pred.csv')
    run('predict', clf, feats, '-o', pred)
    out = os.path.join(TMP, 'out')
    run('classify', '--model', MODEL, '--classifier', clf, survey, '-o', out, '--quiet')

    def probs(path, key):
        return {os.path.relpath(r['path'], survey) if os.path.isabs(r['path']) else r['path']:
                float(r[key]) for r in csv.DictReader(open(path))}
    a = probs(pred, 'p_snow_leopard')
    b = probs(os.path.join(out, 'predictions.csv'), 'p_snow_leopard')
    common = set(a) & set(b)
    worst = max(abs(a[k] - b[k]) for k in common) if common else 1.0
    ok = len(common) == len(rows) and worst < 1e-4
    print('%d images, max |p_predict - p_classify| = %.2e' % (len(common), worst))
    print('%d passed, %d failed' % (int(ok), int(not ok)))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
