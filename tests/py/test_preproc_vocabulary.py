"""One preprocessing vocabulary (issue 16 item 3; docs/images.md): every command takes
--resize center|short|squash with the same meaning, and the short mode's default short side is
one rule, size * 8 / 7 (256 for 224), in featurize as in the experiment (featurize used S = size).
- featurize --resize short without --short-side gives exactly the rows of --short-side 256 at
  224, and records short_side 256 in the feature set;
- center equals the old featurize spelling center-fraction; squash differs from both;
- the old spelling crop keeps its old meaning in each command, with a note naming it (featurize
  and calibrate: short; experiment: center), and a bad name is refused naming the three."""
import csv
import json
import os
import shutil
import subprocess

import numpy as np
from testlib import BIN, CT, MODEL, check, finish, tmpdir  # noqa: E402


def featurize(tmp, name, images, *opts):
    base = os.path.join(tmp, name)
    p = subprocess.run([BIN, 'featurize', '--model', MODEL, '--cut', '2', '--size', '224', '--threads', '2',
                        '-o', base] + list(opts) + images, capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, 'featurize %s: exit 0 (%s)' % (' '.join(opts), p.stderr.strip()[-300:]))
    meta = json.load(open(base + '.json'))
    pp = meta.get('preprocessing')
    return np.load(base + '.npy'), (json.loads(pp) if isinstance(pp, str) else pp), p.stderr


def main():
    tmp = tmpdir('preproc_vocabulary')
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    rows = [r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
            if r['path'].startswith('wakhan_snowleopard/')][:3]
    images = [os.path.join(CT, r['path']) for r in rows]

    short, pp_short, err = featurize(tmp, 'short', images, '--resize', 'short')
    s256, pp_256, _ = featurize(tmp, 's256', images, '--resize', 'short', '--short-side', '256')
    s224, _, _ = featurize(tmp, 's224', images, '--resize', 'short', '--short-side', '224')
    check(pp_short.get('resize') == 'crop' and pp_short.get('short_side') == 256,
          'short at 224 records short_side 256 (%s)' % pp_short)
    check(short.shape == s256.shape and np.array_equal(short, s256), 'short = short --short-side 256')
    check(not np.allclose(short, s224, atol=1e-3), 'and differs from --short-side 224 (the old default)')
    check('note' not in err, 'the new name gives no note')

    old, _, err = featurize(tmp, 'crop', images, '--resize', 'crop')
    check(np.array_equal(old, short) and 'means --resize short' in err,
          'featurize --resize crop: still short, with a note (%s)' % err.strip())
    center, pp_center, _ = featurize(tmp, 'center', images, '--resize', 'center')
    cf, _, err = featurize(tmp, 'cf', images, '--resize', 'center-fraction')
    check(np.array_equal(center, cf) and 'note' not in err and pp_center.get('resize') == 'center-fraction',
          'featurize --resize center = center-fraction (%s)' % pp_center)
    squash, _, _ = featurize(tmp, 'squash', images, '--resize', 'squash')
    check(not np.allclose(squash, center, atol=1e-3) and not np.allclose(short, center, atol=1e-3),
          'the three modes give three different rows')

    # the old spelling in the other commands: parsed before anything runs (the labels do not exist)
    missing = os.path.join(tmp, 'no-such-labels.csv')
    p = subprocess.run([BIN, 'experiment', '--images', CT, '--labels', missing, '--model', MODEL, '--resize', 'crop',
                        '-o', os.path.join(tmp, 'exp')], capture_output=True, text=True, timeout=300)
    check('means --resize center' in p.stderr, 'experiment --resize crop: center, with a note (%s)' % p.stderr.strip())
    p = subprocess.run([BIN, 'calibrate', '--model', os.path.join(tmp, 'none.onnx'), '--resize', 'crop', '-o',
                        os.path.join(tmp, 'c.calib'), images[0]], capture_output=True, text=True, timeout=300)
    check('means --resize short' in p.stderr, 'calibrate --resize crop: short, with a note (%s)' % p.stderr.strip())
    for cmd in ('featurize', 'experiment'):
        p = subprocess.run([BIN, cmd, '--resize', 'zoom', '--model', MODEL, '-o', os.path.join(tmp, 'x')],
                           capture_output=True, text=True, timeout=300)
        check(p.returncode == 2 and 'center, short or squash' in p.stderr,
              '%s --resize zoom: refused naming center, short, squash (%d, %s)' % (cmd, p.returncode, p.stderr.strip()))
    finish()


if __name__ == '__main__':
    main()
