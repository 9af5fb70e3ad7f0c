#!/usr/bin/python3
"""Files on a card that are not still images: a hybrid camera's video clips (.MP4 with an ISO BMFF
`ftyp` box, .AVI with a RIFF header), a field team's notes.txt and a GPS track.gpx, next to a few
shared camera-trap photos. `irbis scan` lists them with status skipped and the reason ("a video
(irbis classifies still images)" / "not an image") and exits 0; `irbis classify` (and irbis-mpi
classify, when built) classifies the photos, lists none of those files in predictions.csv,
megadetector.json, coco-camera-traps.json or the Camtrap DP media, says them once in its summary
line ("skipped 4 files that are not still images (2 videos)") and in report.html, and exits 0: a
card from a camera that also films is not a failed run. The official checkers pass on the
outputs. A second run reclassifies nothing and says the same. A truncated .JPG and a .JPG that is
really text still are failures (rows of predictions.csv, exit 1). A folder of videos only is
refused with words that say so. A store of an earlier version that holds a video as a failed
image forgets it quietly. Before the fix every such file was a failed image and the run
exited 1."""
import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import check, finish  # noqa: E402

STD = os.path.join(F.SHARED, 'standards')
VALIDATORS = os.path.join(STD, 'validators')
PHOTOS = ['wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG', 'wakhan_snowleopard/C1_Avgarch_SL/IMG_0041.JPG']
CAM = 'cam_a'
# name -> (scan message ending, a video?)
OTHERS = {
    'CLIP0001.MP4': b'\0\0\0\x18ftypmp42\0\0\0\0mp42isom' + b'\0\0\0\x08free' + b'\0' * 64,
    'CLIP0002.AVI': b'RIFF\x24\0\0\0AVI LIST\x10\0\0\0hdrlavih' + b'\0' * 64,
    'notes.txt': b'card 3: battery flat on day 4, camera moved 10 m uphill\n',
    'track.gpx': b'<?xml version="1.0"?><gpx version="1.1"><trk><trkseg></trkseg></trk></gpx>\n',
}
VIDEOS = {'CLIP0001.MP4', 'CLIP0002.AVI'}
CLAUSE = 'skipped 4 files that are not still images (2 videos)'


def make_survey(root):
    shutil.rmtree(root, ignore_errors=True)
    d = os.path.join(root, CAM)
    os.makedirs(d)
    for p in PHOTOS:
        shutil.copyfile(os.path.join(F.DATA, p), os.path.join(d, os.path.basename(p)))
    for name, data in OTHERS.items():
        open(os.path.join(d, name), 'wb').write(data)
    return root


def add_broken(root):
    d = os.path.join(root, CAM)
    data = open(os.path.join(F.DATA, PHOTOS[0]), 'rb').read()
    open(os.path.join(d, 'IMG_0900.JPG'), 'wb').write(data[:300])  # cut inside its headers
    open(os.path.join(d, 'IMG_0901.JPG'), 'w').write('not a picture: a text file named .JPG\n')
    open(os.path.join(d, 'IMG_0902.JPG'), 'wb').write(OTHERS['CLIP0001.MP4'])  # a clip renamed as a photo


def classify(fx, survey, out, *extra, cmd=None):
    deployments = os.path.join(F.TMP, 'not_images_deployments.csv')
    open(deployments, 'w').write('camera,latitude,longitude\n%s,37.1,72.5\n' % CAM)
    args = ['classify', '--model', fx['model'], '--classifier', fx['clf'], survey, '-o', out, '--threads', '2',
            '--deployments', deployments] + list(extra)
    return subprocess.run((cmd or [F.BIN]) + args, capture_output=True, text=True)


def summary(stderr):
    lines = [ln for ln in stderr.splitlines() if re.search(r'\d+ images: \d+ classified', ln)]
    return lines[-1] if lines else ''


def validator(name, *args):
    r = subprocess.run(['/usr/bin/python3', os.path.join(VALIDATORS, name)] + list(args), capture_output=True,
                       text=True)
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()
    check(r.returncode == 0 and '(0 violations' in last, '%s: %s' % (name, last))


def check_outputs(survey, out, photos_ok, failed):
    """predictions.csv holds exactly the photos (ok) and the failed .JPGs; the skipped files are in
    no output file; the official checkers pass."""
    rows = {r['path']: r for r in F.read_predictions(out)}
    want = {'%s/%s' % (CAM, os.path.basename(p)) for p in photos_ok} | set(failed)
    check(set(rows) == want, 'predictions.csv rows: %s' % sorted(rows))
    check(all(rows[p]['status'] == 'ok' for p in rows if p not in failed), 'the photos are classified')
    for p, status in failed.items():
        check(p in rows and rows[p]['status'] == status and p.split('/')[-1] in rows[p]['message'],
              '%s failed: %s' % (p, rows.get(p, {}).get('status')))
    texts = {n: open(os.path.join(out, n), encoding='utf-8').read()
             for n in ('predictions.csv', 'megadetector.json', 'coco-camera-traps.json', 'camtrap-dp/media.csv',
                       'camtrap-dp/observations.csv')}
    for name in OTHERS:
        check(not any(name in t for t in texts.values()), '%s is in no output file' % name)
    md = json.load(open(os.path.join(out, 'megadetector.json')))
    check(len(md['images']) == len(rows), 'megadetector.json: %d images' % len(md['images']))
    validator('md_validate.py', os.path.join(out, 'megadetector.json'))
    validator('cct_validate.py', os.path.join(out, 'coco-camera-traps.json'), '--base-dir', survey)
    for extra in ([], ['--positional']):
        validator('camtrapdp_validate.py', os.path.join(out, 'camtrap-dp'), os.path.join(STD, 'camtrap-dp-1.0.2'),
                  *extra)
    html = open(os.path.join(out, 'report.html'), encoding='utf-8').read()
    m = re.search(r'id="skipped">([^<]*)<', html)
    check(m is not None and m.group(1) == '4 files (2 videos)', 'report.html: skipped %s'
          % (m.group(1) if m else 'missing'))


def main():
    fx = F.fixture()
    root = os.path.join(F.TMP, 'not_images')
    survey = make_survey(os.path.join(root, 'survey'))
    out = os.path.join(root, 'out')
    shutil.rmtree(out, ignore_errors=True)

    # irbis scan: the four files are skipped rows, with their reasons; not errors (exit 0)
    r = subprocess.run([F.BIN, 'scan', survey], capture_output=True, text=True)
    check(r.returncode == 0, 'irbis scan exits 0 with videos and notes (%d): %s' % (r.returncode, r.stderr.strip()))
    scan = {row['path']: row for row in csv.DictReader(r.stdout.splitlines())}
    for name in OTHERS:
        row = scan.get('%s/%s' % (CAM, name), {})
        reason = 'a video (irbis classifies still images)' if name in VIDEOS else 'not an image'
        check(row.get('status') == 'skipped' and row.get('message', '').endswith(name + ': ' + reason),
              'scan: %s skipped: %s' % (name, row.get('message')))
    check('4 skipped' in r.stderr, 'scan summary: %s' % r.stderr.strip())

    # the regression: photos plus videos and notes is a complete run (exit 0)
    r = classify(fx, survey, out)
    check(r.returncode == 0, 'classify exits 0 with only videos and notes besides the photos (%d): %s'
          % (r.returncode, summary(r.stderr) or r.stderr[-500:]))
    line = summary(r.stderr)
    check(line.startswith('irbis classify: 2 images: 2 classified, 0 failed') and r.stderr.count(CLAUSE) == 1,
          'summary says the skipped files once: %s' % line)
    check_outputs(survey, out, PHOTOS, {})
    before = open(os.path.join(out, 'predictions.csv'), 'rb').read()

    # resume: nothing classified again, the same words
    r = classify(fx, survey, out)
    line2 = summary(r.stderr)
    check(r.returncode == 0 and '2 done by an earlier run' in line2 and CLAUSE in line2,
          'a second run resumes everything and says the same (%d): %s' % (r.returncode, line2))
    check('classify 1/' not in r.stderr and 'classify 2/' not in r.stderr, 'the second run classifies nothing')
    check(open(os.path.join(out, 'predictions.csv'), 'rb').read() == before, 'predictions.csv unchanged')
    r = subprocess.run([F.BIN, 'export', out], capture_output=True, text=True)
    check(r.returncode == 0 and CLAUSE in r.stderr, 'irbis export says them too: %s' % r.stderr.strip()[-300:])
    check_outputs(survey, out, PHOTOS, {})

    # a store of an earlier version, which stored a video as a failed image: the row goes quietly
    # (not "no longer in the survey"), and the run is complete
    db = sqlite3.connect(os.path.join(out, 'irbis.sqlite'))
    db.execute("INSERT INTO images(path, camera, timestamp, state, status, message, seen) VALUES(?, ?, '', 2,"
               " 'unsupported', 'unsupported image format (HEIF/MP4)', 1)", ('%s/CLIP0001.MP4' % CAM, CAM))
    db.commit()
    db.close()
    r = classify(fx, survey, out)
    line = summary(r.stderr)
    check(r.returncode == 0 and line.startswith('irbis classify: 2 images: 2 classified, 0 failed') and CLAUSE in line
          and 'no longer in the survey' not in r.stderr, 'an earlier version\'s failed video row is forgotten (%d): %s'
          % (r.returncode, r.stderr.strip()[-400:]))
    check_outputs(survey, out, PHOTOS, {})

    # images that cannot be read still fail the run, next to the skipped files
    add_broken(survey)
    r = classify(fx, survey, out)
    line = summary(r.stderr)
    check(r.returncode == 1, 'a truncated .JPG, a text .JPG and a clip named .JPG fail the run (exit %d): %s'
          % (r.returncode, line))
    check(line.startswith('irbis classify: 5 images: 2 classified, 3 failed') and CLAUSE in line,
          'summary with failures: %s' % line)
    check_outputs(survey, out, PHOTOS, {'%s/IMG_0900.JPG' % CAM: 'corrupt', '%s/IMG_0901.JPG' % CAM: 'unsupported',
                                        '%s/IMG_0902.JPG' % CAM: 'unsupported'})
    msg = {r['path']: r['message'] for r in F.read_predictions(out)}.get('%s/IMG_0902.JPG' % CAM, '')
    check('IMG_0902.JPG: a video, not a still image' in msg,
          'the clip named .JPG is said to be a video (it was "unsupported image format (HEIF/MP4)"): %s' % msg)

    # irbis-mpi classify, when built: the same decision on the same survey
    mpirun = shutil.which('mpirun')
    mpi_bin = os.path.join(os.environ.get('IRBIS_BUILD', '.'), 'tools/mpi/irbis-mpi')
    if mpirun and os.path.exists(mpi_bin):
        clean = make_survey(os.path.join(root, 'survey_mpi'))
        mout = os.path.join(root, 'out_mpi')
        shutil.rmtree(mout, ignore_errors=True)
        r = classify(fx, clean, mout, cmd=[mpirun, '--allow-run-as-root', '--oversubscribe', '-np', '2', mpi_bin])
        check(r.returncode == 0 and CLAUSE in summary(r.stderr), 'irbis-mpi classify exits 0 and says them (%d): %s'
              % (r.returncode, summary(r.stderr) or r.stderr[-500:]))
        check(set(p['path'] for p in F.read_predictions(mout)) == {'%s/%s' % (CAM, os.path.basename(p))
                                                                   for p in PHOTOS}, 'irbis-mpi: only the photos')

    # a folder of videos only: refused, in words that say why
    vids = os.path.join(root, 'videos_only')
    shutil.rmtree(vids, ignore_errors=True)
    os.makedirs(vids)
    for name in VIDEOS:
        open(os.path.join(vids, name), 'wb').write(OTHERS[name])
    vout = os.path.join(root, 'out_videos')
    shutil.rmtree(vout, ignore_errors=True)
    r = classify(fx, vids, vout)
    check(r.returncode == 3 and 'no still images' in r.stderr and '2 videos' in r.stderr,
          'a folder of videos only is refused (%d): %s' % (r.returncode, r.stderr.strip()[-300:]))
    finish()


if __name__ == '__main__':
    main()
