"""Feature files against numpy: a streamed irbis feature set loads with np.load to the same
matrix (header, dtype, shape patched at close), the CSV rows align, and a .npy written by numpy
reads back in irbis unchanged."""
import csv
import json
import os
import subprocess

import numpy as np

from testlib import check, finish

build, tmp = os.environ['IRBIS_BUILD'], os.environ['IRBIS_TMP']
helper = os.path.join(build, 'tests', 'test_learn_features')
d = os.path.join(tmp, 'py_features')
os.makedirs(d, exist_ok=True)
rng = np.random.default_rng(7)


for n, dim in ((0, 3), (1, 1), (517, 1280)):
    x = (rng.standard_normal((n, dim)) * 10).astype('<f4')
    if n:
        x[0, 0] = np.float32(1e-42)  # a subnormal survives
    raw, base = os.path.join(d, 'in.raw'), os.path.join(d, 'set%d' % n)
    x.tofile(raw)
    subprocess.run([helper, '--write', base, raw, str(n), str(dim)], check=True)
    y = np.load(base + '.npy')
    check(y.dtype == np.dtype('<f4') and y.shape == (n, dim), 'shape/dtype %s %s' % (y.dtype, y.shape))
    check(np.array_equal(y.view(np.uint32), x.view(np.uint32)), 'matrix bits n=%d' % n)
    with open(base + '.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    check(len(rows) == n, 'csv rows %d vs %d' % (len(rows), n))
    check(all(int(r['row']) == i and int(r['flipped']) == i % 2 for i, r in enumerate(rows)), 'csv row/flipped')
    check(all(r['camera'] == 'cam%d' % (i % 3) for i, r in enumerate(rows)), 'csv camera')
    check(n == 0 or rows[0]['path'] == 'dir, with comma/img0.jpg', 'quoted path')
    meta = json.load(open(base + '.json'))
    check(meta['format'] == 'irbis-features' and meta['version'] == 1 and meta['dim'] == dim and meta['rows'] == n,
          'json %r' % meta)
    check(meta['model'] == 'models/m "v2".onnx' and meta['preprocessing']['crop'] == 224, 'json meta')
    check(not [f for f in os.listdir(d) if '.tmp' in f], 'temporary files left')

# numpy-written .npy (numpy's own header layout) read by irbis
x = rng.standard_normal((40, 17)).astype('<f4')
base = os.path.join(d, 'np')
np.save(base + '.npy', x)
with open(base + '.csv', 'w') as f:
    f.write('row,path,flipped\n' + ''.join('%d,p%d.jpg,0\n' % (i, i) for i in range(40)))
json.dump({'format': 'irbis-features', 'version': 1, 'dim': 17}, open(base + '.json', 'w'))
out = os.path.join(d, 'out.raw')
r = subprocess.run([helper, '--read', base, out], capture_output=True, text=True)
check(r.returncode == 0, 'read numpy file: ' + r.stderr)
check(np.array_equal(np.fromfile(out, '<f4').reshape(40, 17), x), 'numpy -> irbis matrix')
check(r.stdout.splitlines()[39] == 'p39.jpg\t0', 'paths')
# float64 is refused with a message naming the file
np.save(base + '.npy', x.astype('<f8'))
r = subprocess.run([helper, '--read', base, out], capture_output=True, text=True)
check(r.returncode != 0 and 'np.npy' in r.stderr and 'dtype' in r.stderr, 'f8 refused: ' + r.stderr)
finish()
