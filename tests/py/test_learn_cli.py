"""irbis train / predict from the command line: label matching (--root, './', '//', suffixes),
flipped rows sharing their image's label, --positive / --negative / --classes mappings (class
counts computed here from the labels), --cv with --group-column, and predict refusing features
whose dim or backbone provenance differs."""
import csv
import json
import os
import re
import subprocess

import numpy as np

from testlib import check, finish

BIN, TMP = os.environ['IRBIS_BIN'], os.environ['IRBIS_TMP']
D = os.path.join(TMP, 'py_learn_cli')
os.makedirs(D, exist_ok=True)


def write_features(base, x, paths, flipped, meta, cameras):
    np.save(base + '.npy', x.astype('<f4'))
    with open(base + '.csv', 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['row', 'path', 'flipped', 'camera'])
        for i, (p, fl, c) in enumerate(zip(paths, flipped, cameras)):
            w.writerow([i, p, fl, c])
    json.dump(dict({'format': 'irbis-features', 'version': 1, 'dim': x.shape[1]}, **meta), open(base + '.json', 'w'))


def run(*args):
    r = subprocess.run([BIN] + list(args), capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


rng = np.random.default_rng(3)
species = ['empty', 'ibex', 'snow_leopard', 'fox']
n_img = 120
labels = [species[i % 4] if i % 7 else 'empty' for i in range(n_img)]
cams = ['cam%d' % (i % 6) for i in range(n_img)]
centers = rng.standard_normal((4, 16)) * 2
rel = ['site/cam%d/IMG_%04d.JPG' % (i % 6, i) for i in range(n_img)]
root = '/surveys/wakhan'
# features: absolute paths, every image plus its flip, some written with './' and '//'
paths, flipped, xs, fcams = [], [], [], []
for i, p in enumerate(rel):
    for fl in (0, 1):
        q = root + '/' + p
        if i % 5 == 0:
            q = q.replace('/cam', '/./cam')
        if i % 5 == 1:
            q = q.replace('site/', 'site//')
        paths.append(q)
        flipped.append(fl)
        xs.append(centers[species.index(labels[i])] + rng.standard_normal(16))
        fcams.append(cams[i])
x = np.array(xs)
meta = {'model_sha256': 'cd' * 32, 'layer': 'pool', 'cut': 'Conv_last', 'pool': 'avg', 'preprocessing': 'resize 224'}
base = os.path.join(D, 'feat')
write_features(base, x, paths, flipped, meta, fcams)
lab_csv = os.path.join(D, 'labels.csv')
with open(lab_csv, 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow(['path', 'label', 'camera'])
    for p, l, c in zip(rel, labels, cams):
        if p.endswith('0119.JPG'):
            continue  # one image without a label: its two rows are skipped
        w.writerow([p, l, c])

model = os.path.join(D, 'm.irbis')
rc, out, err = run('train', base, '--labels', lab_csv, '--root', root, '--C', '0.3', '-o', model)
print(out, err)
check(rc == 0, 'train with --root: exit %d' % rc)
check('rows: 238 used, 2 without a label' in out, 'all but the unlabelled image matched, flips included')
for s in species:
    cnt = 2 * sum(1 for i, l in enumerate(labels) if l == s and i != 119)
    check(re.search(r'class %s\s+%d\b' % (s, cnt), out) is not None, 'count of %s = %d' % (s, cnt))
m = re.search(r'train accuracy ([0-9.]+)', out)
check(m is not None and float(m.group(1)) > 0.9, 'train accuracy on separable clusters')

# without --root the labels' relative paths still match as path suffixes
rc, out, err = run('train', base, '--labels', lab_csv, '--C', '0.3', '-o', model)
check(rc == 0 and 'rows: 238 used' in out, 'suffix matching without --root')
# a wrong root matches nothing
rc, out, err = run('train', base, '--labels', lab_csv, '--root', '/elsewhere', '--C', '1', '-o', model)
check(rc == 3 and 'matched' in err, 'wrong --root refused: ' + err.strip())

# --positive: CLASS vs other
rc, out, err = run('train', base, '--labels', lab_csv, '--positive', 'snow_leopard', '--C', '1', '-o', model)
n_sl = 2 * sum(1 for i, l in enumerate(labels) if l == 'snow_leopard' and i != 119)
check(rc == 0 and re.search(r'class other\s+%d\b' % (238 - n_sl), out) and
      re.search(r'class snow_leopard\s+%d\b' % n_sl, out), '--positive counts')
pred = os.path.join(D, 'pred.csv')
rc, out, err = run('predict', model, base, '-o', pred)
rows = list(csv.DictReader(open(pred)))
check(rc == 0 and list(rows[0].keys()) == ['path', 'flipped', 'p_other', 'p_snow_leopard', 'label'],
      'predict columns %s' % list(rows[0].keys()))
check(len(rows) == 240 and rows[3]['path'] == paths[3] and rows[3]['flipped'] == '1', 'predict keeps every row')
check(all(abs(float(r['p_other']) + float(r['p_snow_leopard']) - 1) < 1e-6 for r in rows), 'probabilities sum to 1')
acc = np.mean([(r['label'] == 'snow_leopard') == (labels[i // 2] == 'snow_leopard') for i, r in enumerate(rows)])
check(acc > 0.9, 'positive-class accuracy %.3f' % acc)

# --negative empty: empty vs animal
rc, out, err = run('train', base, '--labels', lab_csv, '--negative', 'empty', '--class-weight', 'balanced',
                   '--C', '1', '-o', model)
n_empty = 2 * sum(1 for i, l in enumerate(labels) if l == 'empty' and i != 119)
check(rc == 0 and re.search(r'class empty\s+%d\b' % n_empty, out) and
      re.search(r'class animal\s+%d\b' % (238 - n_empty), out), '--negative empty counts')

# --classes subset and order
rc, out, err = run('train', base, '--labels', lab_csv, '--classes', 'fox,ibex,empty', '--C', '1', '-o', model)
check(rc == 0 and out.index('class fox') < out.index('class ibex') < out.index('class empty') and
      'snow_leopard' not in out.split('C ')[0], '--classes order and filter')

# --cv with groups from a labels column: every candidate reported, the chosen one is the minimum
rc, out, err = run('train', base, '--labels', lab_csv, '--cv', '3', '--group-column', 'camera', '-o', model)
cv = [(float(a), float(b)) for a, b in re.findall(r'cv C=(\S+)\s+mean held-out log-loss (\S+)', out)]
chosen = re.search(r'cv C=(\S+).*<- chosen', out)
check(rc == 0 and len(cv) == 13 and chosen and float(chosen.group(1)) == min(cv, key=lambda t: t[1])[0],
      '--cv picks the minimum mean held-out log-loss')
rc, out, err = run('train', base, '--labels', lab_csv, '--cv', '3', '--group-column', 'nope', '-o', model)
check(rc == 3 and 'nope' in err, 'unknown group column refused')

# predict refuses mismatched features
rc, out, err = run('train', base, '--labels', lab_csv, '--C', '1', '-o', model)
other = os.path.join(D, 'other')
write_features(other, x, paths, flipped, dict(meta, layer='block_16'), fcams)
rc, out, err = run('predict', model, other, '-o', pred)
check(rc == 3 and 'layer' in err and 'pool' in err and 'block_16' in err, 'provenance mismatch: ' + err.strip())
write_features(other, x[:, :8], paths, flipped, meta, fcams)
rc, out, err = run('predict', model, other, '-o', pred)
check(rc == 3 and 'dim' in err, 'dim mismatch: ' + err.strip())
rc, out, err = run('train', base, '--labels', lab_csv, '--C', '1', '--cv', '3', '-o', model)
check(rc == 2, '--C with --cv is a usage error')
finish()
