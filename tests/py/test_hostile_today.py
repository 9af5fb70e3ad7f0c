#!/usr/bin/python3
"""Hostile users of the labels loader and the not-still-image rule together:
- a Timelapse export of a card from a camera that also films lists its video clips (Timelapse
  reads videos too) with their species: `train --images` leaves the clips out as files that are
  not still images (said once in a warning naming one), not as images that could not be read:
  exit 0, failed.csv empty, and the same out-of-fold predictions as the export without the clip
  rows (before: every clip was a failed image, `unsupported image format (HEIF/MP4)`, exit 1);
- a sheet with a column named twice (Species, Species; two DateTime columns; path,label,label)
  is refused naming the column, where before the first of the two was taken silently (and the
  other kept beside it under the same name)."""
import csv
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_timelapse_labels as T  # noqa: E402
from testlib import BIN, MODEL, check, finish, make_tree, tmpdir  # noqa: E402

TMP = tmpdir('hostile_today')
MP4 = b'\0\0\0\x18ftypmp42\0\0\0\0mp42isom' + b'\0\0\0\x08free' + b'\0' * 64
AVI = b'RIFF\x24\0\0\0AVI LIST\x10\0\0\0hdrlavih' + b'\0' * 64


def run(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True)


def train(root, labels, name):
    r = run('train', '--images', root, '--labels', labels, '--label-column', 'Species', '--blank-label', 'empty',
            '--model', MODEL, '--size', '64', '--recipe', 'RN2', '--folds', '3', '--quiet', '-o',
            os.path.join(TMP, name + '.irbis'))
    d = os.path.join(TMP, name + '.train')
    pred = os.path.join(d, 'predictions_RN2.csv')
    failed = os.path.join(d, 'failed.csv')
    return r, open(pred).read() if os.path.exists(pred) else '', \
        list(csv.DictReader(open(failed))) if os.path.exists(failed) else None


def labelled_videos():
    files, recs = T.survey()
    root = os.path.join(TMP, 'images')
    make_tree(root, files)
    plain = os.path.join(TMP, 'stills.csv')
    T.write_timelapse(plain, recs)
    clips = [('CLIP0001.MP4', 'Site1\\CAM01', MP4), ('CLIP0002.AVI', 'Site1\\CAM02\\100RECNX', AVI)]
    for name, folder, data in clips:
        open(os.path.join(root, folder.replace('\\', '/'), name), 'wb').write(data)
    with_clips = os.path.join(TMP, 'with_clips.csv')
    with open(plain, encoding='utf-8-sig', newline='') as f:
        text = f.read()
    with open(with_clips, 'w', encoding='utf-8-sig', newline='') as f:
        f.write(text)
        for name, folder, _ in clips:
            f.write('%s,%s,2024-06-01 09:00:00,Ok,false,Canis latrans,false,1,a clip\r\n' % (name, folder))
    r0, p0, _ = train(root, plain, 'stills')
    r, p, failed = train(root, with_clips, 'clips')
    check(r0.returncode == 0 and p0, 'train on the stills only (rc %d: %s)' % (r0.returncode, r0.stderr[-300:]))
    check(r.returncode == 0, 'train --images with labelled video clips exits 0 (rc %d: %s)' %
          (r.returncode, r.stderr.strip()[-400:]))
    check(failed == [], 'the clips are not in failed.csv (%s)' % failed)
    check(p and p == p0, 'the clips are left out: the same out-of-fold predictions as without their rows')
    check('2 labelled file(s) under %s are not still images (2 videos)' % root in r.stderr and
          'CLIP0001.MP4' in r.stderr, 'the warning says the clips left out (%s)' % r.stderr.strip()[-400:])


def twice():
    cases = {
        'species_twice.csv': ('File,RelativePath,DateTime,Species,Species\r\nA.JPG,x,2021-01-01 10:00:00,deer,fox\r\n',
                              ['--label-column', 'Species'], "column 'Species'"),
        'datetime_twice.csv': ('File,RelativePath,DateTime,DateTime,Species\r\nA.JPG,x,2021-01-01 10:00:00,junk,deer'
                               '\r\n', ['--label-column', 'Species'], "column 'DateTime'"),
        'label_twice.csv': ('path,label,label\na.jpg,deer,fox\n', [], "column 'label'"),
        'path_twice.csv': ('Image,Image,Species\na.jpg,b.jpg,deer\n', ['--path-column', 'Image', '--label-column',
                                                                        'Species'], "column 'Image'"),
    }
    for name, (text, opts, says) in cases.items():
        p = os.path.join(TMP, name)
        open(p, 'w').write(text)
        r = run('labels', p, *opts)
        check(r.returncode == 3 and says in r.stderr and 'twice' in r.stderr and p in r.stderr,
              '%s: a column named twice is refused naming it (rc %d: %s)' % (name, r.returncode, r.stderr.strip()))
    # a column the loader does not read may be named twice (a user's data fields)
    p = os.path.join(TMP, 'notes_twice.csv')
    open(p, 'w').write('path,label,Notes,Notes\na.jpg,deer,x,y\n')
    r = run('labels', p)
    check(r.returncode == 0, 'a column it does not read may be named twice (rc %d: %s)' % (r.returncode, r.stderr))


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    twice()
    labelled_videos()
    finish()


if __name__ == '__main__':
    main()
