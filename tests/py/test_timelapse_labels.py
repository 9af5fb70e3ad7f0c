#!/usr/bin/python3
"""Labels from the spreadsheets biologists keep (irb_labels_table_load with irb_labels_opts;
--path-column, --label-column, --blank-label wherever --labels is taken):
- a Timelapse 2 export (File, RelativePath with Windows '\\' separators, DateTime, DeleteFlag, the
  user's Species, Empty, Count), written as Excel/Timelapse on Windows write it (a BOM, CRLF, a
  space before dates): `irbis labels --label-column Species --blank-label empty` gives exactly the
  rows an independent reading of it gives (rows marked DeleteFlag left out and counted, a blank
  species is `empty`, the path RelativePath/File, the timestamp the DateTime); the older export
  with Date (dd-MMM-yyyy) and Time columns gives the same times;
- `train --images` with the Timelapse file gives byte-identical out-of-fold predictions to the
  same training from the equivalent plain path,label,timestamp CSV; `train FEATURES`, `irbis-mpi
  train` (when built) and `evaluate` read it alike too;
- any column names: --path-column/--label-column on a CSV with Image,Species columns;
- refusals naming their cause: a named column that does not exist (the file, the column asked
  for and the columns it has), a Timelapse file without --label-column (its candidate columns)."""
import csv
import datetime
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpilib  # noqa: E402
from testlib import BIN, CT, MODEL, check, finish, make_tree, tmpdir, write_features  # noqa: E402

TMP = tmpdir('timelapse_labels')
FOLDERS = ['', 'Site1\\CAM01', 'Site1\\CAM02\\100RECNX']  # '' is the image set's root


def run(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True)


def rows_of(path):
    with open(path, newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


def survey():
    """24 MLWIC frames (12 empty, 12 animals) in three folders, 6 s apart in bursts of 3; plus 3
    more marked DeleteFlag (labelled wrongly: they must not be read). Returns (files, records)."""
    rows = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                   if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])
    empty = [r for r in rows if r['label'] == 'empty'][:14]
    animal = [r for r in rows if r['label'] not in ('empty', 'human', 'vehicle')][:14]
    files, recs = {}, []
    base = datetime.datetime(2024, 6, 1, 8, 0, 0)
    for i, r in enumerate(x for pair in zip(empty, animal) for x in pair):
        if i >= 27:
            break
        folder = FOLDERS[i % 3]
        name = 'IMG_%04d.JPG' % i
        rel = (folder.replace('\\', '/') + '/' + name) if folder else name
        files[rel] = os.path.join(CT, r['path'])
        t = base + datetime.timedelta(minutes=10 * (i // 9), seconds=6 * (i % 9 // 3))
        recs.append({'File': name, 'RelativePath': folder, 'when': t, 'deleted': i >= 24,
                     'label': 'Canis latrans' if r['label'] == 'empty' and i >= 24 else r['label']})
    return files, recs


def write_timelapse(path, recs, old_dates=False):
    """As Timelapse exports on Windows: UTF-8 with a BOM, CRLF, a space before dates (its option
    against Excel reformatting them), DeleteFlag true/false, a blank Species on an empty frame."""
    head = ['File', 'RelativePath'] + (['Date', 'Time'] if old_dates else ['DateTime']) + \
        ['ImageQuality', 'DeleteFlag', 'Species', 'Empty', 'Count', 'Notes']
    with open(path, 'w', newline='', encoding='utf-8-sig') as f:
        w = csv.writer(f, lineterminator='\r\n')
        w.writerow(head)
        for k, r in enumerate(recs):
            t = r['when']
            when = [' ' + t.strftime('%d-%b-%Y'), ' ' + t.strftime('%H:%M:%S')] if old_dates else \
                [(' ' if k % 2 else '') + t.strftime('%Y-%m-%d %H:%M:%S')]
            empty = r['label'] == 'empty'
            w.writerow([r['File'], r['RelativePath']] + when +
                       ['Ok', 'true' if r['deleted'] else 'false', '' if empty else r['label'],
                        'true' if empty else 'false', '0' if empty else '1', 'a, "quoted" note'])


def read_timelapse(path):
    """An independent reading: [(path, label, timestamp)] of the rows not marked DeleteFlag."""
    out = []
    with open(path, newline='', encoding='utf-8-sig') as f:
        for r in csv.DictReader(f):
            if r['DeleteFlag'].strip().lower() == 'true':
                continue
            rel = r['RelativePath'].replace('\\', '/')
            p = rel + '/' + r['File'] if rel else r['File']
            if 'DateTime' in r:
                t = datetime.datetime.strptime(r['DateTime'].strip(), '%Y-%m-%d %H:%M:%S')
            else:
                t = datetime.datetime.strptime(r['Date'].strip() + ' ' + r['Time'].strip(), '%d-%b-%Y %H:%M:%S')
            out.append((p, r['Species'].strip() or 'empty', t.strftime('%Y-%m-%dT%H:%M:%S')))
    return out


def labels_as_read(recs, tl, plain):
    want = read_timelapse(tl)
    out = os.path.join(TMP, 'tl_read.csv')
    r = run('labels', tl, '--label-column', 'Species', '--blank-label', 'empty', '-o', out)
    got = [(x['path'], x['label'], x['timestamp']) for x in rows_of(out)] if r.returncode == 0 else []
    check(r.returncode == 0 and got == want and len(want) == 24,
          'irbis labels TIMELAPSE.csv: the %d rows an independent reading gives (rc %d: %s; %s)' %
          (len(got), r.returncode, r.stderr.strip()[-300:], got[:2]))
    check('3 row(s) marked DeleteFlag' in r.stderr, 'the DeleteFlag rows are counted (%s)' % r.stderr.strip())
    first = rows_of(out)[0] if r.returncode == 0 else {}
    check(first.get('Notes') == 'a, "quoted" note' and first.get('RelativePath') == '' and 'Species' not in first,
          'the other columns are kept as read; the label column is `label` (%s)' % sorted(first))
    old = os.path.join(TMP, 'timelapse_old.csv')
    write_timelapse(old, recs, old_dates=True)
    r = run('labels', old, '--label-column', 'Species', '--blank-label', 'empty')
    got_old = [(x['path'], x['label'], x['timestamp']) for x in csv.DictReader(r.stdout.splitlines())]
    check(r.returncode == 0 and got_old == want,
          'the older export (Date dd-MMM-yyyy, Time): the same rows and times (rc %d: %s; %s)' %
          (r.returncode, r.stderr.strip()[-300:], got_old[:2]))
    # without --blank-label the empty frames have no label (skipped, as before)
    r = run('labels', tl, '--label-column', 'Species')
    n = sum(1 for x in csv.DictReader(r.stdout.splitlines()) if x['label'])
    check(r.returncode == 0 and n == sum(1 for w in want if w[1] != 'empty'),
          'without --blank-label a blank species is no label (%d labelled; %s)' % (n, r.stderr.strip()[-200:]))
    with open(plain, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label', 'timestamp'])
        w.writerows(want)
    return want


def train_alike(root, tl, plain):
    """train --images: the Timelapse file and the plain CSV train on the same images, labels and
    sequences: the same out-of-fold predictions, byte for byte."""
    preds = []
    for name, labels, extra in (('tl', tl, ['--label-column', 'Species', '--blank-label', 'empty']),
                                ('plain', plain, [])):
        r = run('train', '--images', root, '--labels', labels, '--model', MODEL, '--size', '64', '--recipe', 'RN2',
                '--folds', '3', '--quiet', '-o', os.path.join(TMP, name + '.irbis'), *extra)
        p = os.path.join(TMP, name + '.train', 'predictions_RN2.csv')
        preds.append(open(p).read() if r.returncode == 0 and os.path.exists(p) else '')
        check(r.returncode == 0, 'train --images --labels %s (rc %d: %s)' % (name, r.returncode, r.stderr[-300:]))
    rows = list(csv.DictReader(preds[0].splitlines())) if preds[0] else []
    check(preds[0] and preds[0] == preds[1] and len(rows) == 24 and len({x['sequence'] for x in rows}) == 9,
          'train --images: Timelapse and plain CSV give the same out-of-fold predictions (%d rows, %d sequences)' %
          (len(rows), len({x['sequence'] for x in rows})))


def features_and_evaluate(files, tl, plain, want):
    """train FEATURES and evaluate read the Timelapse file as the plain CSV."""
    import numpy as np
    paths = sorted(files)
    base = os.path.join(TMP, 'feats')
    lab = dict((p, l) for p, l, _ in want)
    x = np.random.default_rng(1).normal(size=(len(paths), 6))
    for i, p in enumerate(paths):
        x[i, 0] += 3 if lab.get(p) == 'empty' else 0
    write_features(base, x, paths)
    outs = []
    for name, labels, extra in (('tl', tl, ['--label-column', 'Species', '--blank-label', 'empty']),
                                ('plain', plain, [])):
        r = run('train', base, '--labels', labels, '--negative', 'empty', '--C', '1',
                '-o', os.path.join(TMP, name + '_f.irbis'), *extra)
        text = re.sub(r', [0-9.]+ s\n', '\n', r.stdout)  # the fit's time
        outs.append(text.replace(labels, 'LABELS').replace(name + '_f.irbis', 'OUT') if r.returncode == 0 else '')
        check(r.returncode == 0, 'train FEATURES --labels %s (rc %d: %s)' % (name, r.returncode, r.stderr[-300:]))
    check(outs[0] and outs[0] == outs[1], 'train FEATURES: the same rows, groups and fit from both (%s | %s)' %
          (outs[0][-300:], outs[1][-300:]))
    mpirun = shutil.which('mpirun')
    if mpirun and os.path.exists(mpilib.MPI_BIN):  # irbis-mpi train: train's options and label join
        r = mpilib.mpi(mpirun, 2, 'train', base, '--labels', tl, '--label-column', 'Species', '--blank-label',
                       'empty', '--negative', 'empty', '--C', '1', '-o', os.path.join(TMP, 'mpi_f.irbis'))
        check(r.returncode == 0 and outs[0].split('\nC 1')[0] in r.stdout,
              'irbis-mpi train: the same rows and classes (rc %d: %s%s)' % (r.returncode, r.stdout[-300:],
                                                                           r.stderr[-300:]))
    pred = os.path.join(TMP, 'pred.csv')
    with open(pred, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'p_empty', 'p_animal'])
        for p in paths:
            w.writerow([p, 0.8, 0.2] if lab.get(p) == 'empty' else [p, 0.3, 0.7])
    ms = []
    for name, labels, extra in (('tl', tl, ['--label-column', 'Species', '--blank-label', 'empty']),
                                ('plain', plain, [])):
        r = run('evaluate', pred, '--labels', labels, '-o', os.path.join(TMP, 'eval_' + name), *extra)
        ms.append(json.load(open(os.path.join(TMP, 'eval_' + name, 'metrics.json'))) if r.returncode == 0 else {})
    check(ms[0] and ms[0] == ms[1] and ms[0]['image']['n'] == 24 and ms[0]['image']['accuracy'] == 1.0,
          'evaluate: the same 24 images scored from both (%s)' % ms[0].get('image', {}).get('n'))


def any_columns(want):
    """--path-column/--label-column name the columns of any CSV; a missing one is said."""
    sheet = os.path.join(TMP, 'sheet.csv')
    with open(sheet, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['Image', 'Species', 'label', 'Observer'])
        for p, lab, _ in want:
            w.writerow([p, '' if lab == 'empty' else lab, 'not this one', 'AB'])
    r = run('labels', sheet, '--path-column', 'Image', '--label-column', 'Species', '--blank-label', 'empty')
    got = [(x['path'], x['label']) for x in csv.DictReader(r.stdout.splitlines())]
    head = r.stdout.splitlines()[0] if r.stdout else ''
    check(r.returncode == 0 and got == [(p, lab) for p, lab, _ in want] and head == 'path,label,Observer',
          'any CSV: --path-column Image --label-column Species (rc %d: %s; %s)' % (r.returncode, r.stderr[-200:],
                                                                                   head))
    r = run('labels', sheet, '--path-column', 'Image', '--label-column', 'Speces')
    check(r.returncode == 3 and sheet in r.stderr and "no column 'Speces'" in r.stderr and
          "'Image', 'Species', 'label', 'Observer'" in r.stderr,
          'a named column that does not exist: the file, the column, the columns it has (%s)' % r.stderr.strip())
    pred, feats = os.path.join(TMP, 'pred.csv'), os.path.join(TMP, 'feats')
    for cmd in (['evaluate', pred, '--labels', sheet],
                ['train', feats, '--labels', sheet, '-o', os.path.join(TMP, 'x.irbis')]):
        r = run(*cmd, '--path-column', 'Image', '--label-column', 'Speces')
        check(r.returncode == 3 and "no column 'Speces'" in r.stderr,
              '%s --label-column Speces: said (rc %d: %s)' % (cmd[0], r.returncode, r.stderr.strip()[-200:]))


def timelapse_without_label(tl, root):
    r = run('labels', tl)
    check(r.returncode == 3 and tl in r.stderr and 'Timelapse' in r.stderr and '--label-column' in r.stderr and
          "'Species', 'Empty', 'Count', 'Notes'" in r.stderr,
          'a Timelapse file without --label-column: refused, its candidate columns named (%s)' % r.stderr.strip())
    r = run('train', '--images', root, '--labels', tl, '--model', MODEL, '--size', '64', '--quiet',
            '-o', os.path.join(TMP, 'x.irbis'))
    check(r.returncode == 3 and '--label-column' in r.stderr,
          'train --images with it: the same refusal (rc %d: %s)' % (r.returncode, r.stderr.strip()[-300:]))


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    files, recs = survey()
    root = os.path.join(TMP, 'images')
    make_tree(root, files)
    tl, plain = os.path.join(TMP, 'timelapse.csv'), os.path.join(TMP, 'plain.csv')
    write_timelapse(tl, recs)
    want = labels_as_read(recs, tl, plain)
    timelapse_without_label(tl, root)
    features_and_evaluate(files, tl, plain, want)
    any_columns(want)
    train_alike(root, tl, plain)
    finish()


if __name__ == '__main__':
    main()
