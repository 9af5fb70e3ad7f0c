#!/usr/bin/python3
"""CSV files as Excel saves them on Windows (src/core/csv.h): "CSV (Comma delimited)" is
Windows-1252, not UTF-8. A labels CSV and a Timelapse export written with .encode('cp1252'),
with accented folders (Cámara 1, Ñandú, São Paulo) and labels holding bytes of 0x80-0x9F (the
Euro sign, curly quotes, a dash), name images stored under UTF-8 names: `irbis labels` gives the
UTF-8 reading of the same file, `train --images` matches every row (the same out-of-fold
predictions as from the UTF-8 copy), and one warning names the file. UTF-8 with a BOM, without,
and pure ASCII give no warning; UTF-16 with a BOM (either order) is refused saying to save as
"CSV UTF-8". Also Timelapse's DeleteFlag as spreadsheets write true (1, yes, y, x) and
--blank-label "" (a usage error, where it was the same as no option)."""
import csv
import io
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, MODEL, SHARED, check, finish, make_tree, tmpdir  # noqa: E402

TMP = tmpdir('csv_encoding')
CT = os.path.join(SHARED, 'data', 'camera-traps')
FOLDERS = ['Cámara 1', 'Ñandú/São Paulo', 'Ñandú/Estación “B”']
NAMES = {'empty': 'empty', 'animal': 'Tatú – €1 “grande”'}


def run(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, errors='replace')


def survey():
    """18 images (9 empty, 9 animals) under accented UTF-8 folder names; rows (rel, label)."""
    rows = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                   if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])
    empty = [r for r in rows if r['label'] == 'empty'][:9]
    animal = [r for r in rows if r['label'] not in ('empty', 'human', 'vehicle')][:9]
    files, recs = {}, []
    for i, r in enumerate(x for pair in zip(empty, animal) for x in pair):
        rel = '%s/IMG_%04d.JPG' % (FOLDERS[i % 3], i)
        files[rel] = os.path.join(CT, r['path'])
        recs.append((rel, NAMES['empty' if r['label'] == 'empty' else 'animal']))
    return files, recs


def plain_text(recs):
    out = io.StringIO()
    w = csv.writer(out, lineterminator='\r\n')
    w.writerow(['path', 'label'])
    w.writerows(recs)
    return out.getvalue()


def timelapse_text(recs, flags=()):
    out = io.StringIO()
    w = csv.writer(out, lineterminator='\r\n')
    w.writerow(['File', 'RelativePath', 'DeleteFlag', 'Species'])
    for rel, label in recs:
        folder, name = rel.rsplit('/', 1)
        w.writerow([name, folder.replace('/', '\\'), 'false', label])
    for k, flag in enumerate(flags):  # rows to be left out: wrong labels, files that are there
        w.writerow(['IMG_%04d.JPG' % k, FOLDERS[k % 3].replace('/', '\\'), flag, 'wrong'])
    return out.getvalue()


def write(name, data):
    path = os.path.join(TMP, name)
    open(path, 'wb').write(data)
    return path


def labels_of(path, *opts):
    r = run('labels', path, *opts)
    return r, r.stdout


def main():
    files, recs = survey()
    root = os.path.join(TMP, 'images')
    shutil.rmtree(root, ignore_errors=True)
    make_tree(root, files)
    for text_of, kind, opts in ((plain_text, 'plain', ()), (timelapse_text, 'timelapse', ('--label-column', 'Species'))):
        text = text_of(recs)
        ansi = write(kind + '_ansi.csv', text.encode('cp1252'))
        utf8 = write(kind + '_utf8.csv', text.encode('utf-8'))
        r8, want = labels_of(utf8, *opts)
        r, got = labels_of(ansi, *opts)
        check(r8.returncode == 0 and 'Windows-1252' not in r8.stderr, '%s UTF-8: read, no warning' % kind)
        check(r.returncode == 0 and got == want and 'Cámara 1/IMG_0000.JPG' in got and NAMES['animal'] in got,
              '%s Windows-1252: irbis labels gives the UTF-8 reading (rc %d: %s)' % (kind, r.returncode, r.stderr))
        warns = [x for x in r.stderr.splitlines() if 'Windows-1252' in x]
        check(len(warns) == 1 and ansi in warns[0] and 'not UTF-8' in warns[0] and 'line 2' in warns[0],
              '%s: one warning naming the file and line: %s' % (kind, warns))
        preds = []
        for src in (utf8, ansi):
            out = os.path.join(TMP, os.path.basename(src) + '.irbis')
            t = run('train', '--images', root, '--labels', src, *opts, '--model', MODEL, '--size', '64', '--recipe',
                    'RN2', '--folds', '3', '--quiet', '-o', out)
            pred = os.path.join(TMP, os.path.basename(src) + '.train', 'predictions_RN2.csv')
            p = list(csv.DictReader(open(pred, encoding='utf-8'))) if os.path.exists(pred) else []
            check(t.returncode == 0 and len(p) == len(recs),
                  '%s: train --images matches all %d rows (rc %d, %d predicted: %s)' %
                  (os.path.basename(src), len(recs), t.returncode, len(p), t.stderr[-400:]))
            preds.append(open(pred).read() if p else None)
            if src == ansi:
                check(sum('Windows-1252' in x for x in t.stderr.splitlines()) == 1, 'train: the warning once')
        check(preds[0] and preds[0] == preds[1], '%s: the same out-of-fold predictions as the UTF-8 copy' % kind)

    # UTF-8 with a BOM, without, pure ASCII: no warning
    text = plain_text(recs)
    for name, data in (('bom.csv', text.encode('utf-8-sig')), ('utf8.csv', text.encode('utf-8')),
                       ('ascii.csv', b'path,label\r\ncam/a.jpg,deer\r\n')):
        r, _ = labels_of(write(name, data))
        check(r.returncode == 0 and 'warning' not in r.stderr, '%s: no warning (%s)' % (name, r.stderr.strip()))
    # UTF-16 (Excel's "Unicode Text", tab-separated) with its BOM
    tab = text.replace(',', '\t')
    for name, data in (('utf16le.csv', b'\xff\xfe' + tab.encode('utf-16-le')),
                       ('utf16be.csv', b'\xfe\xff' + tab.encode('utf-16-be'))):
        path = write(name, data)
        r, _ = labels_of(path)
        check(r.returncode != 0 and path + ': saved as UTF-16' in r.stderr and '"CSV UTF-8"' in r.stderr,
              '%s refused, saying to save as CSV UTF-8: %s' % (name, r.stderr.strip()))

    # Timelapse's DeleteFlag as spreadsheets write true; the warning says what was left out
    flags = ('true', '1', 'yes', 'Y', 'x', 'TRUE')
    path = write('deleteflag.csv', timelapse_text(recs[:3], flags).encode('utf-8'))
    r, got = labels_of(path, '--label-column', 'Species')
    rows = list(csv.DictReader(io.StringIO(got)))
    check(r.returncode == 0 and len(rows) == 3 and all(x['label'] != 'wrong' for x in rows),
          'DeleteFlag true, 1, yes, Y, x, TRUE: every marked row left out (%d rows)' % len(rows))
    check('6 row(s) marked DeleteFlag' in r.stderr and 'row 4 (Cámara 1/IMG_0000.JPG)' in r.stderr,
          'the warning counts them and names the first: %s' % r.stderr.strip())
    r, _ = labels_of(path, '--label-column', 'Species', '--blank-label', '')
    check(r.returncode == 2 and '--blank-label' in r.stderr, '--blank-label "": usage error, exit 2: %s' % r.stderr)

    deployments(root)


def deployments(root):
    """A deployments file for `classify --deployments` in Windows-1252 (cameras are the accented
    folders, names with curly quotes): the Camtrap DP package's deployments equal those of the
    UTF-8 copy given to `irbis export`, and the official checker passes."""
    pipeline = os.path.join(TMP, 'plain_ansi.csv.irbis')
    out = io.StringIO()
    w = csv.writer(out, lineterminator='\r\n')
    w.writerow(['camera', 'latitude', 'longitude', 'locationName', 'deploymentStart', 'deploymentEnd'])
    for k, f in enumerate(FOLDERS):  # periods: the images have no times, and a deployment needs one
        w.writerow([f, '-32.%d' % k, '-55.%d' % k, 'Río Negro “%s”' % f.split('/')[-1], '2021-03-01', '2021-04-30'])
    ansi = write('deployments_ansi.csv', out.getvalue().encode('cp1252'))
    utf8 = write('deployments_utf8.csv', out.getvalue().encode('utf-8'))
    res = os.path.join(TMP, 'classified')
    shutil.rmtree(res, ignore_errors=True)
    r = run('classify', '--pipeline', pipeline, root, '-o', res, '--deployments', ansi, '--utc-offset', '-03:00',
            '--quiet')
    deps = os.path.join(res, 'camtrap-dp', 'deployments.csv')
    got = open(deps, encoding='utf-8').read() if os.path.exists(deps) else ''
    check(r.returncode == 0 and all('Río Negro “%s”' % f.split('/')[-1] in got for f in FOLDERS),
          'classify --deployments in Windows-1252: the package names the places in UTF-8 (rc %d: %s)'
          % (r.returncode, r.stderr[-300:]))
    check(sum('Windows-1252' in x for x in r.stderr.splitlines()) == 1 and ansi in r.stderr,
          'classify: one warning naming the deployments file: %s' % r.stderr.strip()[-300:])
    r = run('export', res, '--deployments', utf8, '--utc-offset', '-03:00', '-q')
    again = open(deps, encoding='utf-8').read() if os.path.exists(deps) else None
    check(r.returncode == 0 and again == got, 'the UTF-8 copy gives the same deployments.csv (rc %d)' % r.returncode)
    std = os.path.join(SHARED, 'standards')
    v = subprocess.run(['/usr/bin/python3', os.path.join(std, 'validators', 'camtrapdp_validate.py'),
                        os.path.join(res, 'camtrap-dp'), os.path.join(std, 'camtrap-dp-1.0.2')],
                       capture_output=True, text=True)
    check(v.returncode == 0 and '(0 violations' in v.stdout,
          'the official Camtrap DP checker passes: %s' % (v.stdout + v.stderr).strip()[-300:])


main()
finish()
