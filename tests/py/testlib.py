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


def finish():
    if failures:
        print('%d FAILED' % len(failures))
        sys.exit(1)
    print('all passed')


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
