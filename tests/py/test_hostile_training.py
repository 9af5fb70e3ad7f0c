#!/usr/bin/python3
"""The training side fed as real users feed it (the hostile training test):
- `irbis train FEATURES` with a labels file none of whose rows match a feature row said 'out of
  memory' (the CV units of zero images failed); it names the cause now;
- labels written on Windows (Timelapse, Excel): `CAM01\\IMG_0001.JPG`, or a drive letter and the
  folders of another machine in front, matched no image (train --images stopped with '0
  labelled images', and a file half of whose rows were so lost trained on the rest); a backslash
  is a '/' now;
- train --images -o naming an existing folder, or a file in a folder that does not exist (with
  --report elsewhere), ran the whole cross-validation and training and failed only at the save;
  it stops before computing anything now, naming the path; -o naming a FIFO (a pipe to another
  program) hung: that early check opened the FIFO and closed it, ending the reader's input, and
  the save then waited for a reader for ever;
- train --images with a missing --images folder said '0 labelled images under FOLDER' (the scan's
  'not found' was taken for its end); it says the folder cannot be opened now. A labels file none
  of whose rows matched (paths in another case) said only '0 labelled images': it names an
  unmatched row now;
- evaluate of an empty-vs-animal classifier's predictions against the species labels it was
  trained from (the README's loop: the same labels.csv) counted every animal as an error (a
  'bobcat' is no p_ column): accuracy = the share of empties. The task's rule applies now;
- a labels file saved by a European Excel ('path;label') or with 'Path,Label' said only "no
  column 'path'"; the message shows the header read and the rule."""
import csv
import re
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, make_tree, tmpdir, write_features  # noqa: E402

TMP = tmpdir('hostile_training')
SURVEY = os.path.join(TMP, 'survey')


def run(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True)


def write_rows(path, rows, header=('path', 'label')):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def make_survey():
    """12 MLWIC frames (6 empty, 6 animal) as SURVEY/CAM01 and CAM02/IMG_000N.JPG (links); returns
    the rows (relative path, label)."""
    rows = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                   if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])
    empty = [r for r in rows if r['label'] == 'empty'][:6]
    animal = [r for r in rows if r['label'] not in ('empty', 'human', 'vehicle')][:6]
    files, out = {}, []
    for i, r in enumerate(x for pair in zip(empty, animal) for x in pair):
        rel = 'CAM%02d/IMG_%04d.JPG' % (1 + i // 6, i)
        files[rel] = os.path.abspath(os.path.join(CT, r['path']))
        out.append((rel, r['label']))
    make_tree(SURVEY, files)
    return out


def train_images(name, labels, *extra):
    """irbis train --images SURVEY, the smallest recipe; returns (result, the out-of-fold predictions'
    paths or None)."""
    out = os.path.join(TMP, name + '.irbis')
    r = run('train', '--images', SURVEY, '--labels', labels, '--model', MODEL, '--size', '64', '--recipe', 'RN2',
            '--quiet', '-o', out, *extra)
    pred = os.path.join(TMP, name + '.train', 'predictions_RN2.csv')
    paths = sorted(row['path'] for row in csv.DictReader(open(pred))) if r.returncode in (0, 1) else None
    return r, paths


def backslash_paths(rows):
    """Windows separators select the same images as '/' (counted here from the labels)."""
    lab = os.path.join(TMP, 'windows.csv')
    win = [[p.replace('/', '\\'), l] for p, l in rows[:6]]
    win += [['C:\\Users\\jane\\Survey 2023\\' + p.replace('/', '\\'), l] for p, l in rows[6:]]
    write_rows(lab, win)
    r, paths = train_images('windows', lab)
    want = sorted(p for p, _ in rows)
    check(r.returncode == 0 and paths == want,
          'train --images, backslash label paths: all %d images selected (rc %d, %s; %s)' %
          (len(want), r.returncode, paths and len(paths), r.stderr.strip()[-300:]))


def save_path_first(lab):
    """An unusable -o stops train --images before any feature is computed."""
    folder = os.path.join(TMP, 'a_folder')
    os.makedirs(folder)
    r = run('train', '--images', SURVEY, '--labels', lab, '--model', MODEL, '--size', '64', '--recipe', 'RN2',
            '--quiet', '-o', folder)
    table = os.path.join(folder + '.train', 'table.csv')
    check(r.returncode == 3 and 'a folder' in r.stderr and not os.path.exists(table),
          'train --images -o FOLDER: refused before the work (rc %d: %s)' % (r.returncode, r.stderr.strip()))
    report = os.path.join(TMP, 'elsewhere.train')
    r = run('train', '--images', SURVEY, '--labels', lab, '--model', MODEL, '--size', '64', '--recipe', 'RN2',
            '--quiet', '--report', report, '-o', os.path.join(TMP, 'no', 'such', 'p.irbis'))
    check(r.returncode == 3 and 'no/such/p.irbis' in r.stderr and not os.path.exists(os.path.join(report, 'table.csv')),
          'train --images -o MISSING/p.irbis: refused before the work (rc %d: %s)' % (r.returncode, r.stderr.strip()))


def save_to_fifo(lab):
    """-o naming a FIFO (a pipe to another program): the early check of the save path opened it,
    which waited for the reader and then closed it, so the reader saw an empty file and the real
    save waited for ever. Now the pipeline arrives through the FIFO whole: the same bytes as -o
    FILE would hold (training is deterministic)."""
    fifo = os.path.join(TMP, 'pipe.irbis')
    os.mkfifo(fifo)
    got = os.path.join(TMP, 'from_pipe.irbis')
    with open(got, 'wb') as sink:
        reader = subprocess.Popen(['cat', fifo], stdout=sink)
        try:
            r = subprocess.run([BIN, 'train', '--images', SURVEY, '--labels', lab, '--model', MODEL, '--size', '64',
                                '--recipe', 'RN2', '--quiet', '--report', os.path.join(TMP, 'pipe.train'), '-o', fifo],
                               capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            r = None
        finally:
            try:
                reader.wait(timeout=5)
            except subprocess.TimeoutExpired:
                reader.kill()
    ref, _ = train_images('to_file', lab)
    want = open(os.path.join(TMP, 'to_file.irbis'), 'rb').read() if ref.returncode == 0 else None
    check(r is not None and r.returncode == 0 and want and open(got, 'rb').read() == want,
          'train --images -o FIFO: the pipeline written through the pipe whole (%s; %d of %d bytes)' %
          ('timed out' if r is None else 'rc %d: %s' % (r.returncode, r.stderr.strip()[-300:]),
           os.path.getsize(got), len(want or b'')))


def nothing_selected(rows, lab):
    """A missing images folder, and labels whose paths differ in case from the files: the cause."""
    r = run('train', '--images', os.path.join(TMP, 'nosuch'), '--labels', lab, '--model', MODEL, '--size', '64',
            '--quiet', '-o', os.path.join(TMP, 'nosuch.irbis'))
    check(r.returncode == 3 and 'nosuch: cannot open the folder' in r.stderr,
          'train --images MISSING: the folder is named (rc %d: %s)' % (r.returncode, r.stderr.strip()))
    lower = os.path.join(TMP, 'lower.csv')
    write_rows(lower, [[p.lower(), l] for p, l in rows])
    r, _ = train_images('lower', lower)
    check(r.returncode == 3 and "e.g. 'cam01/img_0000.jpg' (row 1" in r.stderr and
          "the file 'CAM01/IMG_0000.JPG' differs only in case" in r.stderr,
          'train --images, labels in another case: an unmatched row is named, and the file it misses by case '
          '(rc %d: %s)' % (r.returncode, r.stderr.strip()))


def evaluate_empty_task():
    """Species labels against p_empty/p_animal: every label but empty is an animal."""
    pred = os.path.join(TMP, 'pred.csv')
    truth = [('c/%d.jpg' % i, ['empty', 'bobcat', 'Empty', 'Snow leopard'][i % 4]) for i in range(8)]
    with open(pred, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'p_empty', 'p_animal'])
        for p, l in truth:
            e = 0.9 if l.lower() == 'empty' else 0.1
            w.writerow([p, e, 1 - e])
    lab = os.path.join(TMP, 'species.csv')
    write_rows(lab, truth)
    r = run('evaluate', pred, '--labels', lab)
    check(r.returncode == 0 and 'accuracy           1.0000' in r.stdout and "e.g. 'bobcat'" in r.stderr,
          'evaluate empty/animal predictions with species labels: the task rule (%s %s)' %
          (r.stdout.strip()[:200], r.stderr.strip()))


def header_said(rows):
    """Labels files as spreadsheets save them: ';'-separated (a European locale), tab-separated, a
    header in another case with blanks ('Path', ' Label '), old Mac line ends (a lone CR): each
    selects all 12 images (they were refused: "no column 'path'", or read as one line); a header
    that really lacks the column shows what was read."""
    for name, sep, head, end in (('semicolon', ';', ('path', 'label'), '\r\n'), ('tabs', '\t', ('path', 'label'), '\n'),
                                 ('capital', ',', ('Path', ' Label '), '\r\n'), ('mac', ',', ('path', 'label'), '\r')):
        lab = os.path.join(TMP, name + '.csv')
        with open(lab, 'w', newline='') as f:
            csv.writer(f, delimiter=sep, lineterminator=end).writerows([head] + rows)
        r, paths = train_images(name, lab)
        check(r.returncode == 0 and paths is not None and len(paths) == len(rows),
              'train --images, a %s labels file: all %d images selected (rc %d, %s; %s)'
              % (name, len(rows), r.returncode, len(paths or []), r.stderr.strip()[-300:]))
    import zipfile
    book = os.path.join(TMP, 'labels.xlsx')
    with zipfile.ZipFile(book, 'w') as z:  # the shape of an Excel workbook: a zip of XML parts
        z.writestr('[Content_Types].xml', '<Types/>')
        z.writestr('xl/worksheets/sheet1.xml', '<worksheet/>')
    r, _ = train_images('book', book)
    check(r.returncode == 3 and 'a spreadsheet workbook (.xlsx or .xls), not a CSV file' in r.stderr,
          'train --images, labels.xlsx: said to be a workbook (rc %d: %s)' % (r.returncode, r.stderr.strip()))
    bad = os.path.join(TMP, 'nolabel.csv')
    write_rows(bad, rows, header=('path', 'species'))
    r, _ = train_images('nolabel', bad)
    check(r.returncode == 3 and "no column 'label': its header has 2 column(s): 'path', 'species'" in r.stderr,
          "train --images, no label column: the header read is shown (rc %d: %s)" % (r.returncode, r.stderr.strip()))


def train_features_unmatched():
    """Labels that match no feature row: said as such, not 'out of memory'."""
    import numpy as np
    base = os.path.join(TMP, 'feats')
    paths = ['/data/cam1/IMG_%04d.JPG' % i for i in range(8)]
    write_features(base, np.random.default_rng(0).normal(size=(8, 4)), paths)
    lab = os.path.join(TMP, 'elsewhere.csv')
    write_rows(lab, [['other/IMG_9%03d.JPG' % i, 'empty' if i % 2 else 'deer'] for i in range(8)])
    r = run('train', base, '--labels', lab, '-o', os.path.join(TMP, 'x.irbis'))
    check(r.returncode == 3 and 'matched a label' in r.stderr and 'out of memory' not in r.stderr,
          'train FEATURES, no label matches: says so (rc %d: %s)' % (r.returncode, r.stderr.strip()))


def lookalike_labels(rows):
    """Species labels spelt two ways ('Snow leopard', 'snow_leopard'): two classes, said in a warning
    (train FEATURES and train --images alike)."""
    import numpy as np
    names = ['Snow leopard', 'snow_leopard', 'empty']
    base = os.path.join(TMP, 'feats_alike')
    paths = ['/data/cam1/IMG_%04d.JPG' % i for i in range(12)]
    write_features(base, np.random.default_rng(1).normal(size=(12, 4)), paths)
    lab = os.path.join(TMP, 'alike_feats.csv')
    write_rows(lab, [[p, names[i % 3]] for i, p in enumerate(paths)])
    r = run('train', base, '--labels', lab, '--cv', '2', '-o', os.path.join(TMP, 'alike.irbis'))
    check(r.returncode == 0 and "'Snow leopard' and 'snow_leopard' differ only in case" in r.stderr,
          'train FEATURES, look-alike labels: a warning names both (rc %d: %s)' % (r.returncode, r.stderr.strip()))
    lab = os.path.join(TMP, 'alike.csv')
    write_rows(lab, [[p, names[i % 3]] for i, (p, _) in enumerate(rows)])
    r, _ = train_images('alike', lab, '--task', 'species', '--folds', '2')
    check(r.returncode == 0 and "'Snow leopard' and 'snow_leopard' differ only in case" in r.stderr,
          'train --images --task species, look-alike labels: a warning names both (rc %d: %s)'
          % (r.returncode, r.stderr.strip()[-300:]))
    r = run('train', base, '--labels', os.path.join(TMP, 'alike_feats.csv'), '--negative', 'empty', '--cv', '2',
            '-o', os.path.join(TMP, 'alike2.irbis'))
    check(r.returncode == 0 and 'differ only' not in r.stderr, 'no warning when the labels map to empty/animal')


def failed_said(rows):
    """A labelled image that cannot be read: train goes on without it (exit 1) and says where the
    failures are listed (it said only '(1 failed)' in the table's heading)."""
    bad = 'CAM02/IMG_9999.JPG'
    open(os.path.join(SURVEY, bad), 'wb').write(b'\xff\xd8\xff\xe0 truncated')
    lab = os.path.join(TMP, 'with_bad.csv')
    write_rows(lab, list(rows) + [(bad, 'empty')])
    r, paths = train_images('with_bad', lab)
    listed = open(os.path.join(TMP, 'with_bad.train', 'failed.csv')).read() if r.returncode == 1 else ''
    check(r.returncode == 1 and 'failed.csv' in r.stderr and bad in listed and paths is not None and
          bad not in paths, 'an unreadable labelled image: left out, exit 1, failed.csv named (rc %d: %s)'
          % (r.returncode, r.stderr.strip()[-300:]))
    os.remove(os.path.join(SURVEY, bad))


def feature_copies():
    """train FEATURES on a feature set of 20 pictures each featurized twice (a card copied into two
    camera folders): each copy was its own sequence, so the cross-validation held out a picture
    whose copy it trained on. The copies' groups are merged (20 groups, not 40), said in a warning."""
    import numpy as np
    rng = np.random.default_rng(7)
    pics = rng.normal(size=(20, 16))
    labels = rng.permutation(['empty', 'deer'] * 10)
    base = os.path.join(TMP, 'feats_copies')
    paths, x, rows = [], [], []
    for cam in ('camA', 'camB'):
        for i in range(20):
            p = '/survey/%s/IMG_%04d.JPG' % (cam, i)
            paths.append(p)
            x.append(pics[i])
            t = 600 * i + (0 if cam == 'camA' else 300)
            rows.append([p, labels[i], cam, '2024-05-01T%02d:%02d:%02d' % (t // 3600, t // 60 % 60, t % 60)])
    write_features(base, np.asarray(x), paths)
    lab = os.path.join(TMP, 'copies_feats.csv')
    write_rows(lab, rows, header=('path', 'label', 'camera', 'timestamp'))
    r = run('train', base, '--labels', lab, '--cv', '5', '-o', os.path.join(TMP, 'copies.irbis'))
    check(r.returncode == 0 and '20 feature row(s) are the same values as a row of another CV group' in r.stderr and
          'cv groups: 20 ' in r.stdout, 'train FEATURES, copies in two folders: their CV groups merged, said '
          '(rc %d: %s; %s)' % (r.returncode, r.stderr.strip()[-300:], re.findall(r'cv groups: .*', r.stdout)))


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    train_features_unmatched()
    feature_copies()
    evaluate_empty_task()
    rows = make_survey()
    backslash_paths(rows)
    lab = os.path.join(TMP, 'labels.csv')
    write_rows(lab, rows)
    save_path_first(lab)
    save_to_fifo(lab)
    nothing_selected(rows, lab)
    header_said(rows)
    lookalike_labels(rows)
    failed_said(rows)
    finish()


if __name__ == '__main__':
    main()
