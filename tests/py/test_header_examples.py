"""The examples in the public headers are real programs. Every "Example (...):" block of
include/irbis.h and include/irbis/*.h is extracted, wrapped as the body of main() (with
<stdio.h>, <stdlib.h>, <string.h> and <irbis.h>; #line points compiler messages at the header),
compiled with -std=c17 -Wall -Wextra -Werror -pedantic against the public headers and
libirbis.so only (so an internal macro such as IRB_TRY fails to build), and run in a folder
holding the files the examples name: mobilenet_v2.onnx (the shared MobileNetV2), cam1/IMG_0001.JPG
and survey/ (shared camera-trap JPEGs), feat.* and classifier.irbis (8 MLWIC frames featurized and
trained with the CLI), labels.csv. Each must exit 0, and what it prints is checked against an
independent reference: features against `irbis featurize`'s row, sizes against PIL, the input
shape against the ONNX graph, probabilities against `irbis predict`, checksums against hashlib
and zlib, the scan against the folder listing and manifest times, metrics against sklearn (on the
example's own arrays), sequences and folds against hand-worked values, the written feature set
through numpy. Also: the public headers define no function-like macro, each has one include
guard around all of it, and each compiles on its own (it includes what it uses)."""
import csv
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import zlib

import numpy as np
import onnx
from PIL import Image
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score
from testlib import BIN, CT, MODEL, cc_flags, check, finish, small_classifier, tmpdir  # noqa: E402

SRC = os.environ['IRBIS_SRC']
BUILD = os.environ['IRBIS_BUILD']
TMP = tmpdir('header_examples')
IMAGE = os.path.join(CT, 'wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG')
SURVEY = {'cam1': ['wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG', 'wakhan_snowleopard/C1_Avgarch_SL/IMG_0041.JPG'],
          'cam2': ['camtrapR/StationA/PBE/StationA__2009-04-21__00-40-00(1).JPG']}


def headers():
    return [os.path.join(SRC, 'include/irbis.h')] + sorted(glob.glob(os.path.join(SRC, 'include/irbis/*.h')))


def examples(path):
    """[(first line number, title, code)] of the Example blocks in one header's comments."""
    lines = open(path).read().split('\n')
    out, i = [], 0
    while i < len(lines):
        m = re.match(r' \* Example\b *\(?(.*?)\)?:$', lines[i])
        i += 1
        if not m:
            continue
        while i < len(lines) and lines[i].rstrip() == ' *':
            i += 1
        first, code = i + 1, []
        while i < len(lines) and (lines[i].startswith(' *   ') or lines[i].rstrip() == ' *'):
            code.append(lines[i][5:] if lines[i].startswith(' *   ') else '')
            i += 1
        while code and not code[-1].strip():
            code.pop()
        out.append((first, m.group(1).strip(), '\n'.join(code)))
    return out


def fixture():
    """The folder the examples run in."""
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(os.path.join(TMP, 'train'))
    run = os.path.join(TMP, 'run')
    os.makedirs(os.path.join(run, 'cam1'))
    os.symlink(MODEL, os.path.join(run, 'mobilenet_v2.onnx'))
    shutil.copy(IMAGE, os.path.join(run, 'cam1/IMG_0001.JPG'))
    for cam, files in SURVEY.items():
        os.makedirs(os.path.join(run, 'survey', cam))
        for f in files:
            shutil.copy(os.path.join(CT, f), os.path.join(run, 'survey', cam, os.path.basename(f)))
    clf, base, paths, labels = small_classifier(os.path.join(TMP, 'train'))
    shutil.copy(clf, os.path.join(run, 'classifier.irbis'))
    for e in ('.npy', '.csv', '.json'):
        shutil.copy(base + e, os.path.join(run, 'feat' + e))
    shutil.copy(labels, os.path.join(run, 'labels.csv'))
    return run, base, clf


def build(name, header, first, code):
    src = os.path.join(TMP, name + '.c')
    with open(src, 'w') as f:
        f.write('#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <irbis.h>\n\n'
                'int main(void)\n{\n#line %d "%s"\n%s\n}\n' % (first, header, code))
    exe = os.path.join(TMP, name)
    r = subprocess.run(['cc', '-std=c17', '-Wall', '-Wextra', '-Werror', '-pedantic', *cc_flags(), '-I', os.path.join(SRC, 'include'),
                        src, '-o', exe, '-L', BUILD, '-lirbis', '-Wl,-rpath,' + BUILD],
                       capture_output=True, text=True)
    check(r.returncode == 0, '%s: compiles against <irbis.h> and libirbis.so %s' % (name, r.stderr[-1500:]))
    return exe if r.returncode == 0 else None


def floats(text):
    return [float(v) for v in re.findall(r'-?\d+\.\d+(?:e[-+]?\d+)?', text)]


def verify(name, code, out, run, base, clf):
    """Checks what example `name` printed (out) against a reference."""
    if name == 'irbis_1':
        got = np.array(out.split(':', 1)[1].split(), dtype=np.float64) if ':' in out else np.zeros(0)
        ref = os.path.join(TMP, 'ref')
        subprocess.run([BIN, 'featurize', '--model', MODEL, '--cut', '2', '-o', ref,
                        os.path.join(run, 'cam1/IMG_0001.JPG')], check=True, capture_output=True)
        want = np.load(ref + '.npy')[0]
        check(got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-5),
              '%s: %d features equal to irbis featurize --cut 2 (max diff %.3g)'
              % (name, got.size, np.abs(got - want).max() if got.shape == want.shape else -1))
    elif name == 'review_1':
        seq = out.split(':', 1)[0]
        rows = list(csv.DictReader(open(os.path.join(run, 'out', 'predictions.csv'))))
        mine = [r for r in rows if r['sequence'] == seq]
        others = [r for r in rows if r['sequence'] != seq]
        check(mine and all(r['label'] == 'animal' and r['method'] == 'human' for r in mine)
              and all(r['method'] == 'machine' for r in others if r['status'] == 'ok'),
              '%s: %r: predictions.csv gives the images of %s the human label, the others the machine\'s'
              % (name, out.strip(), seq))
    elif name == 'image_1':
        w, h = Image.open(IMAGE).size
        check(out.startswith('%dx%d image decoded at scale ' % (w, h)) and '1/1' not in out,
              '%s: %r: PIL size %dx%d, DCT-scaled decode' % (name, out.strip(), w, h))
    elif name == 'nn_1':
        dims = [d.dim_value for d in onnx.load(MODEL).graph.input[0].type.tensor_type.shape.dim][1:]
        check(out.startswith('input %dx%dx%d, 1280 features' % tuple(dims)) and out.strip().endswith('rows equal: 1'),
              '%s: %r: input as the ONNX graph says (%s), 1280 features, equal rows for equal images'
              % (name, out.strip(), dims))
    elif name == 'learn_1':
        x = np.load(os.path.join(run, 'written.npy'))
        rows = list(csv.reader(open(os.path.join(run, 'written.csv'))))
        meta = json.load(open(os.path.join(run, 'written.json')))
        want = np.array([[i, i + 0.5, -i, 1] for i in range(3)], dtype=np.float32)
        check(x.dtype == np.float32 and np.array_equal(x, want), '%s: written.npy holds the 3 rows' % name)
        check(rows == [['row', 'path', 'flipped', 'camera']] +
              [[str(i), 'cam1/IMG_%04d.JPG' % (i + 1), '0', 'cam1'] for i in range(3)], '%s: written.csv rows' % name)
        check(meta.get('model') == 'mobilenet_v2.onnx' and meta.get('dim') == 4 and meta.get('rows') == 3,
              '%s: written.json: model, dim 4, rows 3' % name)
    elif name == 'learn_2':
        pred = os.path.join(TMP, 'pred.csv')
        subprocess.run([BIN, 'predict', clf, base, '-o', pred], check=True, capture_output=True)
        ref = list(csv.DictReader(open(pred)))
        col = [c for c in ref[0] if c.startswith('p_')][0] if ref else ''
        lines = out.strip().split('\n')
        ok = len(lines) == len(ref) and all(
            l.startswith('%s p(%s) = ' % (r['path'], col[2:])) and abs(floats(l)[-1] - float(r[col])) < 2e-6
            for l, r in zip(lines, ref))
        check(ok, '%s: %d probabilities equal to irbis predict\'s %s' % (name, len(lines), col))
    elif name == 'files_1':
        sha = hashlib.sha256(open(MODEL, 'rb').read()).hexdigest()
        rows = list(csv.DictReader(open(os.path.join(run, 'labels.csv'))))
        want = 'sha256 %s\n%d rows, first label %s\ncrc32 %08x\n' % (sha, len(rows), rows[0]['label'],
                                                                     zlib.crc32(b'123456789'))
        check(out == want, '%s: %r == hashlib, csv and zlib %r' % (name, out, want))
    elif name == 'scan_1':
        man = {r['path']: r['timestamp'] for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))}
        want = sorted('%s/%s,%s,%s,ok' % (cam, os.path.basename(f), cam, man[f]) for cam, fs in SURVEY.items() for f in fs)
        check(out.strip().split('\n') == want, '%s: %r; want the sorted listing with manifest times %r'
              % (name, out.strip().split('\n'), want))
    elif name == 'survey_1':
        # by hand: cam1 a (16:59:05) and b (16:59:50, 45 s later) one burst, c (17:30) another;
        # cam2 d alone. Two folds: a and b share one.
        got = dict((l.split()[0], l.split()[2:]) for l in out.strip().split('\n') if len(l.split()) == 5)
        seqs = {p: v[0] for p, v in got.items()}
        folds = {p: int(v[2]) for p, v in got.items()}
        check(seqs == {'cam1/a.jpg': 'cam1#1', 'cam1/b.jpg': 'cam1#1', 'cam1/c.jpg': 'cam1#2', 'cam2/d.jpg': 'cam2#1'},
              '%s: sequences %s' % (name, seqs))
        check(len(folds) == 4 and folds['cam1/a.jpg'] == folds['cam1/b.jpg'] and set(folds.values()) == {0, 1},
              '%s: folds %s: a burst in one fold, both folds used' % (name, folds))
    elif name == 'eval_1':
        arrays = {k: [float(v) for v in vals.split(',')]
                  for k, vals in re.findall(r'(\w+)\[6\] = \{([^}]*)\}', code)}
        t, p, s = [int(v) for v in arrays['truth']], [int(v) for v in arrays['pred']], arrays['score']
        want = [accuracy_score(t, p), balanced_accuracy_score(t, p), roc_auc_score(t, s)]
        got = floats(out)
        check(len(got) == 3 and np.allclose(got, want, atol=1e-6), '%s: %s == sklearn %s' % (name, got, want))
    elif name == 'classify_1':
        n = sum(len(f) for f in SURVEY.values())
        with open(os.path.join(run, 'out/predictions.csv')) as f:
            paths = sorted(r['path'] for r in csv.DictReader(f))
        check(out.strip() == '%d images, %d classified, 0 failed' % (n, n), '%s: %r for %d images' % (name, out.strip(), n))
        check(paths == sorted('%s/%s' % (c, os.path.basename(f)) for c, fs in SURVEY.items() for f in fs),
              '%s: out/predictions.csv lists the survey' % name)
    elif name == 'pipeline_1':
        check(out.strip().endswith(': 1 parts, 2 classes'), '%s: %r: a version-1 classifier is one part, 2 classes'
              % (name, out.strip()))
    else:
        return False
    return True


def main():
    macros = []
    for h in headers():
        macros += [(os.path.basename(h), m) for m in re.findall(r'^\s*#\s*define\s+(\w+)\(', open(h).read(), re.M)]
    check(not macros, 'the public headers define no function-like macro: %s' % macros)
    os.makedirs(TMP, exist_ok=True)
    for h in headers():
        text = re.sub(r'/\*.*?\*/', '', open(h).read(), flags=re.S)
        directives = re.findall(r'^\s*#\s*(\w+)[ \t]*(\w*)', text, re.M)
        guards = [d for d in directives if d[0] == 'ifndef' and d[1].startswith('IRBIS_')]
        check(len(guards) == 1 and directives[0] == guards[0] and directives[1] == ('define', guards[0][1])
              and directives[-1][0] == 'endif' and text.rstrip().endswith('#endif'),
              '%s: one include guard (%s) around the whole header' % (os.path.basename(h), [g[1] for g in guards]))
        src = os.path.join(TMP, 'alone.c')
        inc = 'irbis.h' if h.endswith('/irbis.h') else 'irbis/' + os.path.basename(h)
        open(src, 'w').write('#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' % (inc, inc))
        r = subprocess.run(['cc', '-std=c17', '-Wall', '-Wextra', '-Werror', '-pedantic', '-fsyntax-only',
                            '-I', os.path.join(SRC, 'include'), src], capture_output=True, text=True)
        check(r.returncode == 0, '<%s> compiles alone, included twice %s' % (inc, r.stderr[-600:]))
    run, base, clf = fixture()
    found = []
    for h in headers():
        stem = os.path.basename(h)[:-2]
        for k, (first, title, code) in enumerate(examples(h), 1):
            found.append(('%s_%d' % (stem, k), h, first, title, code))
    stems = {f[0].rsplit('_', 1)[0] for f in found}
    want = {'irbis', 'files', 'image', 'nn', 'learn', 'scan', 'survey', 'eval', 'classify', 'pipeline'}
    check(want <= stems, 'examples found in %s (want at least %s)' % (sorted(stems), sorted(want)))
    for name, h, first, title, code in found:
        exe = build(name, h, first, code)
        if not exe:
            continue
        r = subprocess.run([exe], cwd=run, capture_output=True, text=True, timeout=300)
        if not check(r.returncode == 0, '%s (%s): runs, exit 0 %s' % (name, title, r.stderr[-800:])):
            continue
        if not verify(name, code, r.stdout, run, base, clf):
            check(False, '%s: no check of its output in this test: add one to verify()' % name)
    finish()


if __name__ == '__main__':
    main()
