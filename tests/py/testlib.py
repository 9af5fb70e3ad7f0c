"""Shared bits of the Python tests: the environment ctest passes, and check/finish reporting
(each check prints ok/FAIL with its message; finish exits 1 if any failed)."""
import csv
import os
import sys

SHARED = os.environ.get('IRBIS_SHARED', '../shared')
BIN = os.environ.get('IRBIS_BIN', '')
MODEL = os.path.join(SHARED, 'models/mobilenet_v2/mobilenet_v2_1.0_224.onnx')
CT = os.path.join(SHARED, 'data/camera-traps')
failures = []


def tmpdir(name):
    return os.path.join(os.environ.get('IRBIS_TMP', '/tmp'), name)


def check(cond, msg):
    print(('ok   ' if cond else 'FAIL ') + msg)
    if not cond:
        failures.append(msg)
    return cond


def require_test_hooks(what):
    """Returns when the build has the test hooks (cmake -DIRBIS_TEST_HOOKS=ON, as scripts/test.sh
    builds; ctest passes IRBIS_TEST_HOOKS=1). Otherwise the test is skipped (exit 77, which
    ctest reports as skipped), except under CI=true, where a build without them fails: CI must
    run these tests."""
    if os.environ.get('IRBIS_TEST_HOOKS') == '1':
        return
    msg = '%s needs a build with the test hooks (cmake -DIRBIS_TEST_HOOKS=ON; scripts/test.sh builds so)' % what
    if os.environ.get('CI'):
        print('FAIL ' + msg)
        sys.exit(1)
    print('SKIP ' + msg)
    sys.exit(77)


def build_option(name):
    """The value of a cache entry (e.g. IRBIS_SANITIZE) of the build under test, or ''."""
    try:
        for line in open(os.path.join(os.environ.get('IRBIS_BUILD', '.'), 'CMakeCache.txt')):
            if line.startswith(name + ':'):
                return line.split('=', 1)[1].strip()
    except OSError:
        pass
    return ''


def skip_fuzz_build(why):
    """Skips the test (exit 77) in a libFuzzer build (IRBIS_FUZZ=ON), saying why."""
    if build_option('IRBIS_FUZZ') == 'ON':
        print('SKIP: a libFuzzer build (IRBIS_FUZZ=ON): %s' % why)
        sys.exit(77)


def cc_flags():
    """Extra cc flags for a program built against this build's libirbis (its sanitizers). A
    libFuzzer build's library cannot be linked by a plain program: the test is skipped."""
    skip_fuzz_build('programs cannot link its instrumented library')
    return ['-fsanitize=address,undefined', '-fno-omit-frame-pointer'] if build_option('IRBIS_SANITIZE') == 'ON' else []


def finish():
    if failures:
        print('%d FAILED' % len(failures))
        sys.exit(1)
    print('all passed')


def make_tree(root, files, place=os.symlink):
    """root/REL for each REL -> SRC of files: SRC placed there by place(SRC, path) (a symlink, or
    e.g. shutil.copy); a SRC of None makes only REL's folder."""
    for rel, src in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if src:
            place(src, path)


def write_features(base, x, paths, meta=None):
    """A feature set (base.npy/.csv/.json, docs/features.md) of rows x, unflipped, at paths."""
    import json
    import numpy as np
    np.save(base + '.npy', np.asarray(x).astype('<f4'))
    with open(base + '.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['row', 'path', 'flipped'])
        for i, p in enumerate(paths):
            w.writerow([i, p, 0])
    m = {'format': 'irbis-features', 'version': 1, 'dim': int(np.asarray(x).shape[1])}
    m.update(meta or {})
    json.dump(m, open(base + '.json', 'w'))


def mlwic_labels(path, n):
    """Writes path,label for the first n MLWIC frames in path order; returns their manifest rows."""
    rows = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                   if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])[:n]
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        for r in rows:
            w.writerow([r['path'], r['label']])
    return rows


def small_classifier(tmp, empty_name='empty', animal_name='animal'):
    """Featurizes 4 empty and 4 animal MLWIC frames (shared MobileNetV2) and trains a two-class
    classifier on them with the given class names. Returns (clf path, feature base, the 8
    image paths, labels.csv)."""
    import subprocess
    rows = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                   if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])
    empty = [r for r in rows if r['label'] == 'empty'][:4]
    animal = [r for r in rows if r['label'] not in ('empty', 'human', 'vehicle')][:4]
    paths = [os.path.join(CT, r['path']) for r in empty + animal]
    labels = os.path.join(tmp, 'labels.csv')
    with open(labels, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        for p, r in zip(paths, empty + animal):
            w.writerow([p, empty_name if r['label'] == 'empty' else animal_name])
    base = os.path.join(tmp, 'feat')
    subprocess.run([BIN, 'featurize', '--model', MODEL, '-o', base, '--threads', '2'] + paths, check=True,
                   capture_output=True)
    clf = os.path.join(tmp, 'clf.irbis')
    subprocess.run([BIN, 'train', base, '--labels', labels, '--C', '1', '-o', clf], check=True, capture_output=True)
    return clf, base, paths, labels


def store_progress(out):
    """(images done, images) in the results store of classify output folder out; (0, 0) while
    there is none."""
    import sqlite3
    try:
        db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'), timeout=5)
        d, t = db.execute('SELECT sum(state != 0), count(*) FROM images').fetchone()
        db.close()
        return d or 0, t or 0
    except sqlite3.Error:
        return 0, 0


def files_under(d):
    """Every file under d: relative path -> its bytes."""
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            with open(p, 'rb') as fh:
                out[os.path.relpath(p, d)] = fh.read()
    return out
