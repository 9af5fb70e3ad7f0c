#!/usr/bin/python3
"""`irbis scan` on a survey folder built here: rows, statuses, messages, sorted order, cameras."""
import csv
import os
import shutil
import subprocess
import sys

from testlib import check, failures, make_tree

SHARED = os.environ.get('IRBIS_SHARED', '../shared')
BIN = os.environ['IRBIS_BIN']
ROOT = os.path.join(os.environ.get('IRBIS_TMP', '/tmp/irbis-test'), 'scan_py', 'survey')
CT = os.path.join(SHARED, 'data', 'camera-traps')


shutil.rmtree(os.path.dirname(ROOT), ignore_errors=True)
wak = os.path.join(CT, 'wakhan_snowleopard/C1_Avgarch_SL')
files = {
    'StationB/LEO/b2.JPG': os.path.join(wak, 'IMG_0041.JPG'),
    'StationB/LEO/B1.JPG': os.path.join(wak, 'IMG_0042.JPG'),
    'StationA/PBE/a.JPG': os.path.join(wak, 'IMG_0021.JPG'),
    'StationA/rotated.jpg': os.path.join(SHARED, 'data/odd-images/african_elephants_with_exif_orientation.jpg'),
    'StationA/cut.jpg': os.path.join(SHARED, 'data/odd-images/african_elephants_truncated_file.jpg'),
    'top.jpg': os.path.join(wak, 'IMG_0043.JPG'),
}
make_tree(ROOT, files, shutil.copy)
with open(os.path.join(ROOT, 'StationA/notes.txt'), 'w') as f:
    f.write('field notes\n')
open(os.path.join(ROOT, 'StationA/empty.jpg'), 'w').close()
with open(os.path.join(ROOT, 'StationA/.hidden.jpg'), 'w') as f:
    f.write('x')
# what Windows leaves on a card: skipped like hidden files (they were error rows, exit 1)
for litter in ('StationA/Thumbs.db', 'StationB/LEO/desktop.ini', 'System Volume Information/IndexerVolumeGuid',
               '$RECYCLE.BIN/S-1-5-21/desktop.ini'):
    os.makedirs(os.path.dirname(os.path.join(ROOT, litter)), exist_ok=True)
    with open(os.path.join(ROOT, litter), 'w') as f:
        f.write('x')
os.makedirs(os.path.join(ROOT, '.git'))
with open(os.path.join(ROOT, '.git/config'), 'w') as f:
    f.write('x')
# comma and quote in a name: RFC 4180 quoting
shutil.copy(os.path.join(wak, 'IMG_0044.JPG'), os.path.join(ROOT, 'StationB/LEO/x,"y".JPG'))
locked = os.path.join(ROOT, 'StationC')
os.makedirs(locked)
shutil.copy(os.path.join(wak, 'IMG_0045.JPG'), os.path.join(locked, 'c.JPG'))
os.chmod(locked, 0)
enforced = not os.access(locked, os.R_OK | os.X_OK)

out = os.path.join(os.path.dirname(ROOT), 'scan.csv')
p = subprocess.run([BIN, 'scan', ROOT, '-o', out], capture_output=True, text=True, timeout=60)
os.chmod(locked, 0o755)
print(p.stderr.strip())
rows = list(csv.DictReader(open(out, newline='')))
check(list(rows[0].keys()) == ['path', 'camera', 'timestamp', 'width', 'height', 'status', 'message'], 'header')
paths = [r['path'] for r in rows]
want = ['StationA/PBE/a.JPG', 'StationA/cut.jpg', 'StationA/empty.jpg', 'StationA/notes.txt', 'StationA/rotated.jpg',
        'StationB/LEO/B1.JPG', 'StationB/LEO/b2.JPG', 'StationB/LEO/x,"y".JPG']
want += ['StationC/'] if enforced else ['StationC/c.JPG']
want += ['top.jpg']
check(paths == want, 'order/paths:\n  got  %s\n  want %s' % (paths, want))
by = {r['path']: r for r in rows}
r = by.get('StationA/PBE/a.JPG', {})
check(r.get('camera') == 'StationA/PBE' and r.get('timestamp') == '2012-11-24T16:59:05' and r.get('width') == '2048'
      and r.get('status') == 'ok' and r.get('message') == '', 'a.JPG row %s' % r)
check(by.get('top.jpg', {}).get('camera') == '', 'top-level file has camera ""')
r = by.get('StationA/rotated.jpg', {})
check((r.get('width'), r.get('height')) == ('2048', '1536'), 'rotated size is upright: %s' % r)
r = by.get('StationA/empty.jpg', {})
check(r.get('status') == 'error' and 'empty' in r.get('message', '') and 'empty.jpg' in r.get('message', ''),
      'empty row %s' % r)
r = by.get('StationA/notes.txt', {})
check(r.get('status') == 'skipped' and r.get('message', '').endswith('notes.txt: not an image'),
      'a text file is skipped (not a still image), not an error: %s' % r)
check(by.get('StationB/LEO/B1.JPG', {}).get('timestamp') == '2012-12-29T23:33:48', 'B1 timestamp')
if enforced:
    r = by.get('StationC/', {})
    check(r.get('status') == 'error' and 'Permission denied' in r.get('message', ''), 'locked folder %s' % r)
else:
    print('permissions not enforced (running as root): the chmod 000 folder was read normally')
check(p.returncode == 1, 'exit status 1 when some files are errors (got %d)' % p.returncode)
# camera depth 1: the station
p = subprocess.run([BIN, 'scan', ROOT, '--camera-depth', '1'], capture_output=True, text=True, timeout=60)
rows = {r['path']: r for r in csv.DictReader(p.stdout.splitlines())}
check(rows.get('StationB/LEO/B1.JPG', {}).get('camera') == 'StationB', 'camera depth 1')
check(rows.get('StationA/cut.jpg', {}).get('camera') == 'StationA', 'camera depth 1 (shallow)')
p2 = subprocess.run([BIN, 'scan', ROOT, '--camera-depth', '1'], capture_output=True, text=True, timeout=60)
check(p.stdout == p2.stdout, 'deterministic output')
p = subprocess.run([BIN, 'scan', os.path.join(ROOT, 'nope')], capture_output=True, text=True, timeout=60)
check(p.returncode == 3 and 'nope' in p.stderr, 'missing root: %d %s' % (p.returncode, p.stderr))
p = subprocess.run([BIN, 'scan'], capture_output=True, text=True, timeout=60)
check(p.returncode == 2, 'usage error')
print('%d failures' % len(failures))
sys.exit(1 if failures else 0)
