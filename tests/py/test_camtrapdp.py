#!/usr/bin/python3
"""The Camtrap DP package written by irbis classify and irbis export, checked by the official
TDWG Camtrap DP 1.0.2 schemas through the offline checker
(../shared/standards/validators/camtrapdp_validate.py, plain and --positional: 0 violations when
the cameras' coordinates are given), and against the run's own predictions.csv: columns in the
schemas' order, one media row per timed classified image, one event observation per timed
sequence with its label's type, taxon and probability, times with the --utc-offset zone,
deployment periods from the deployments file when it gives them (else the first and last
image), temporal coverage from the deployments. Also: bad --utc-offset and coordinates refused
with exit 2 (classify and export); without coordinates the package is written, the run says it
is not valid yet and names the cameras, and `irbis export` completes it without classifying;
untimed images counted in the summary and the report; images at the survey root do not collide
with a camera folder named `unknown`; a survey without timed images gets its deployments from
the file's periods."""
import csv
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import check, finish  # noqa: E402

STD = os.path.join(F.SHARED, 'standards')
SCHEMAS = os.path.join(STD, 'camtrap-dp-1.0.2')
VALIDATOR = os.path.join(STD, 'validators', 'camtrapdp_validate.py')
URL = 'https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/'


def validate(pkg, want_ok=True):
    """Runs the official checker plain and --positional; returns the plain run's output."""
    outs = []
    for extra in ([], ['--positional']):
        r = subprocess.run(['/usr/bin/python3', VALIDATOR, pkg, SCHEMAS] + extra, capture_output=True, text=True)
        last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()
        ok = r.returncode == 0 and '(0 violations' in last
        check(ok == want_ok, 'camtrapdp_validate.py %s %s: %s (want %s)'
              % (pkg, ' '.join(extra), last, 'valid' if want_ok else 'violations'))
        if ok != want_ok:
            print(r.stdout[-4000:], r.stderr[-2000:])
        outs.append(r.stdout)
    return outs[0]


def table(pkg, name):
    with open(os.path.join(pkg, name + '.csv'), newline='', encoding='utf-8') as f:
        rows = list(csv.reader(f))
    fields = [x['name'] for x in json.load(open(os.path.join(SCHEMAS, name + '-table-schema.json')))['fields']]
    check(rows and rows[0] == fields, '%s.csv: every schema column, in order' % name)
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def write_deployments(path, rows):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['camera', 'latitude', 'longitude', 'locationName', 'deploymentStart', 'deploymentEnd'])
        w.writerows(rows)


def run(*args):
    return subprocess.run([F.BIN] + list(args), capture_output=True, text=True)


def check_content(out, offset, periods, taxon):
    """The package against predictions.csv; periods: camera -> (start, end) given by the file."""
    pkg = os.path.join(out, 'camtrap-dp')
    meta = json.load(open(os.path.join(pkg, 'datapackage.json')))
    check(meta['profile'] == URL + 'camtrap-dp-profile.json', 'profile %s' % meta['profile'])
    check(all(r['schema'] == URL + r['name'] + '-table-schema.json' for r in meta['resources']), 'schema URLs 1.0.2')
    check(meta['irbis']['sequenceGap'] == 60 and '60 s' in meta['description'], 'sequence gap stated')
    dep, media, obs = table(pkg, 'deployments'), table(pkg, 'media'), table(pkg, 'observations')
    preds = [r for r in F.read_predictions(out) if r['status'] == 'ok']
    timed = [r for r in preds if r['timestamp']]
    check(len(media) == len(timed) and {m['filePath'] for m in media} == {r['path'] for r in timed},
          '%d media rows for %d timed classified images' % (len(media), len(timed)))
    check(all(m[k].endswith(offset) for m in media for k in ('timestamp',)), 'media times in zone %s' % offset)
    check(all(m['timestamp'][:19] == r['timestamp'][:19] for m in media for r in timed if r['path'] == m['filePath']),
          'media timestamps are the images\' times')
    seqs = {}
    for r in timed:
        seqs.setdefault(r['sequence'], []).append(r)
    check({o['eventID'] for o in obs} == set(seqs), 'one event observation per timed sequence (%d)' % len(seqs))
    for o in obs:
        ms = seqs.get(o['eventID'], [])
        if not ms:
            continue
        lab = ms[0]['seq_label']
        check(o['observationType'] == ('blank' if lab == 'empty' else 'animal') and o['observationLevel'] == 'event'
              and o['classificationMethod'] == 'machine', '%s: type %s for %s' % (o['eventID'], o['observationType'], lab))
        check(o['scientificName'] == (taxon if lab == 'animal' else ''), '%s: scientificName %r' % (o['eventID'], o['scientificName']))
        check(abs(float(o['classificationProbability']) - float(ms[0]['seq_p_' + lab])) < 1e-3, '%s: probability' % o['eventID'])
        ts = sorted(r['timestamp'][:19] for r in ms)
        check(o['eventStart'] == ts[0] + offset and o['eventEnd'] == ts[-1] + offset, '%s: start/end' % o['eventID'])
    by_cam = {}
    for r in timed:
        by_cam.setdefault(r['camera'] or '.', []).append(r['timestamp'][:19])
    for d in dep:
        cam = d['deploymentID']
        want = periods.get(cam) or (min(by_cam[cam]), max(by_cam[cam]))
        check((d['deploymentStart'], d['deploymentEnd']) == (want[0] + offset, want[1] + offset),
              'deployment %s period %s .. %s (want %s)' % (cam, d['deploymentStart'], d['deploymentEnd'], want))
    check({d['deploymentID'] for d in dep} >= set(by_cam), 'a deployment for every camera with timed images')
    t = meta.get('temporal', {})
    check((t.get('start'), t.get('end')) == (min(d['deploymentStart'][:10] for d in dep),
                                             max(d['deploymentEnd'][:10] for d in dep)), 'temporal %s' % t)
    return preds


def main():
    fx = F.fixture()
    root = F.TMP
    cams = list(csv.DictReader(open(fx['deployments'])))
    # 1. deployments with a period for the first camera
    deps = os.path.join(root, 'ctdp_deployments.csv')
    first = cams[0]['camera']
    periods = {first: ('2012-11-01T00:00:00', '2013-01-31T23:59:59')}
    write_deployments(deps, [[c['camera'], c['latitude'], c['longitude'], c['locationName']]
                             + (['2012-11-01', '2013-01-31'] if c['camera'] == first else ['', '']) for c in cams])
    out = os.path.join(root, 'camtrapdp')
    shutil.rmtree(out, ignore_errors=True)
    r = F.classify(fx, out, '--deployments', deps, '--taxa', 'animal=Animalia', '--utc-offset', '+04:30', check=1)
    validate(os.path.join(out, 'camtrap-dp'))
    preds = check_content(out, '+04:30', periods, 'Animalia')
    untimed = sum(1 for p in preds if not p['timestamp'])
    check(untimed > 0 and re.search(r'\b%d classified image\(s\) have no time' % untimed, r.stderr),
          'summary counts the %d untimed images: %s' % (untimed, r.stderr.strip().splitlines()[-1:]))
    html = open(os.path.join(out, 'report.html'), encoding='utf-8').read()
    check(re.search(r'id="untimed">%d<' % untimed, html), 'report.html counts the untimed images')
    meta = json.load(open(os.path.join(out, 'camtrap-dp', 'datapackage.json')))
    check([x['scientificName'] for x in meta.get('taxonomic', [])] == ['Animalia'], 'taxonomic %s' % meta.get('taxonomic'))

    # 2. no coordinates: written, said to be invalid with the cameras named; export completes it
    out2 = os.path.join(root, 'camtrapdp_nocoords')
    shutil.rmtree(out2, ignore_errors=True)
    cmd = [F.BIN, 'classify', '--model', fx['model'], '--classifier', fx['clf'], fx['survey'], '-o', out2,
           '--threads', '2', '--quiet']
    r = subprocess.run(cmd, capture_output=True, text=True)
    named = [c['camera'] for c in cams if c['camera'] in {p['camera'] for p in preds if p['timestamp']}]
    check(r.returncode == 1 and 'not a valid Camtrap DP package yet' in r.stderr and all(c in r.stderr for c in named),
          'without coordinates: "not valid yet" naming %s: %s' % (named, r.stderr.strip()))
    meta = json.load(open(os.path.join(out2, 'camtrap-dp', 'datapackage.json')))
    check(meta.get('taxonomic') == [], 'taxonomic is [] without --taxa')
    validate(os.path.join(out2, 'camtrap-dp'), want_ok=False)
    before = open(os.path.join(out2, 'predictions.csv')).read()
    r = run('export', out2, '--deployments', fx['deployments'], '--utc-offset', '+05:00')
    check(r.returncode == 0 and 'not a valid' not in r.stderr, 'irbis export: exit %d %s' % (r.returncode, r.stderr))
    validate(os.path.join(out2, 'camtrap-dp'))
    check_content(out2, '+05:00', {}, '')
    check(open(os.path.join(out2, 'predictions.csv')).read() == before, 'export keeps the predictions')
    r = run('export', out2)
    check(r.returncode == 0 and 'not a valid' not in r.stderr, 'a second export keeps the recorded deployments')
    validate(os.path.join(out2, 'camtrap-dp'))

    # 3. bad zone and coordinates: exit 2, for classify and export
    bad = os.path.join(root, 'ctdp_bad.csv')
    for off in ('05:00', '+5', 'Asia/Kabul', '+05:60', '+5:00', '+14:01', '-12:30', '+15:00'):
        r = F.classify(fx, os.path.join(root, 'camtrapdp_badoff'), '--utc-offset', off)
        check(r.returncode == 2 and off in r.stderr and 'UTC offset' in r.stderr, 'classify --utc-offset %s: exit %d %s'
              % (off, r.returncode, r.stderr.strip()))
        r = run('export', out2, '--utc-offset', off)
        check(r.returncode == 2, 'export --utc-offset %s: exit %d' % (off, r.returncode))
    for lat, lon in (('nan', '72.5'), ('0x1A', '72.5'), ('91', '72.5'), ('37.1', '-180.5'), ('inf', '1'), ('', '1'),
                     ('1.', '2'), ('1e1', '2')):
        write_deployments(bad, [[first, lat, lon, 'x', '', '']])
        r = F.classify(fx, os.path.join(root, 'camtrapdp_badcoord'), '--deployments', bad)
        check(r.returncode == 2 and 'ctdp_bad.csv:2' in r.stderr, 'coordinates %r,%r: exit %d %s'
              % (lat, lon, r.returncode, r.stderr.strip()))
        r = run('export', out2, '--deployments', bad)
        check(r.returncode == 2, 'export with coordinates %r,%r: exit %d' % (lat, lon, r.returncode))
    check(not os.path.exists(os.path.join(root, 'camtrapdp_badcoord')), 'nothing written for a bad command line')
    # --taxa entries that name no class, lack a name or map a class twice (regression: accepted,
    # and "taxonomic": [] or the first name written without a word)
    for taxa in ('zebra=Equus', 'animal', '=;=', 'animal=', 'animal=Panthera;animal=Lynx'):
        r = F.classify(fx, os.path.join(root, 'camtrapdp_badtaxa'), '--taxa', taxa)
        check(r.returncode == 2 and '--taxa' in r.stderr, '--taxa %r: exit %d (want 2) %s'
              % (taxa, r.returncode, r.stderr.strip()[-200:]))
    check(not os.path.exists(os.path.join(root, 'camtrapdp_badtaxa')), 'nothing written for a bad --taxa')

    # 4. images at the survey root and a camera folder named "unknown"; 5. no timed image
    timed_src = [os.path.join(fx['survey'], p['path']) for p in preds if p['timestamp']][:4]
    untimed_src = [os.path.join(fx['survey'], p['path']) for p in preds if not p['timestamp']][:3]
    for name, files, layout in (('camtrapdp_root', timed_src, ['', '', 'unknown', 'unknown']),
                                ('camtrapdp_untimed', untimed_src, ['camA', 'camA', 'camB'])):
        survey = os.path.join(root, name + '_survey')
        shutil.rmtree(survey, ignore_errors=True)
        for i, (src, cam) in enumerate(zip(files, layout)):
            os.makedirs(os.path.join(survey, cam), exist_ok=True)
            os.symlink(os.path.realpath(src), os.path.join(survey, cam, 'img%d%s' % (i, os.path.splitext(src)[1])))
        out3 = os.path.join(root, name)
        shutil.rmtree(out3, ignore_errors=True)
        if name == 'camtrapdp_root':
            write_deployments(bad, [['', '37.5', '72.1', 'root', '', ''], ['unknown', '37.6', '72.2', 'unk', '', '']])
        else:
            write_deployments(bad, [['camA', '37.5', '72.1', 'A', '2020-01-01', '2020-02-01'],
                                    ['camB', '37.6', '72.2', 'B', '2020-01-05T10:00:00', '2020-01-20T12:00:00']])
        r = run('classify', '--model', fx['model'], '--classifier', fx['clf'], survey, '-o', out3, '--threads', '2',
                '--deployments', bad, '--quiet')
        check(r.returncode == 0, '%s: exit %d %s' % (name, r.returncode, r.stderr))
        validate(os.path.join(out3, 'camtrap-dp'))
        dep = table(os.path.join(out3, 'camtrap-dp'), 'deployments')
        ids = sorted(d['deploymentID'] for d in dep)
        if name == 'camtrapdp_root':
            check(ids == ['.', 'unknown'], 'root images and folder "unknown" are two deployments: %s' % ids)
        else:
            check([(d['deploymentID'], d['deploymentStart'], d['deploymentEnd']) for d in dep] ==
                  [('camA', '2020-01-01T00:00:00Z', '2020-02-01T23:59:59Z'),
                   ('camB', '2020-01-05T10:00:00Z', '2020-01-20T12:00:00Z')], 'periods from the file: %s' % dep)
            check('3 classified image(s) have no time' in run('export', out3).stderr, 'export reports the untimed images')

    # 6. legal names that break media.filePath's pattern (a folder starting with '~', '..' inside
    # a name): the package is written and the run names them, the same paths the checker flags
    # (regression: exit 0 and no word about them)
    survey = os.path.join(root, 'camtrapdp_names_survey')
    shutil.rmtree(survey, ignore_errors=True)
    layout = [('~cam', 'a.jpg'), ('cam2', 'IMG..0001.JPG'), ('cam2', 'ok.jpg')]
    for (cam, fname), src in zip(layout, timed_src):
        os.makedirs(os.path.join(survey, cam), exist_ok=True)
        os.symlink(os.path.realpath(src), os.path.join(survey, cam, fname))
    write_deployments(bad, [['~cam', '37.5', '72.1', 'tilde', '', ''], ['cam2', '37.6', '72.2', 'two', '', '']])
    out4 = os.path.join(root, 'camtrapdp_names')
    shutil.rmtree(out4, ignore_errors=True)
    r = run('classify', '--model', fx['model'], '--classifier', fx['clf'], survey, '-o', out4, '--threads', '2',
            '--deployments', bad, '--quiet')
    flagged = {'~cam/a.jpg', 'cam2/IMG..0001.JPG'}
    check(r.returncode == 0 and 'filePath pattern' in r.stderr and all("'%s'" % p in r.stderr for p in flagged)
          and 'ok.jpg' not in r.stderr, 'names outside the filePath pattern named: exit %d %s'
          % (r.returncode, r.stderr.strip()))
    text = validate(os.path.join(out4, 'camtrap-dp'), want_ok=False)
    found = set(re.findall(r"filePath: pattern: '([^']*)'", text))
    check(found == flagged, 'the checker flags the same paths: %s' % sorted(found))
    # a camera name with a typo in the deployments file is named as matching no camera (it was
    # ignored without a word; only the other camera's missing coordinates were said)
    write_deployments(bad, [['~cam', '37.5', '72.1', 'tilde', '', ''], ['cam_2', '37.6', '72.2', 'two', '', '']])
    r = run('export', out4, '--deployments', bad)
    check("camera(s) have no coordinates: cam2" in r.stderr and "'cam_2' match no camera" in r.stderr,
          'a deployments row matching no camera is named: %s' % r.stderr.strip())
    # a deployment period that leaves out the camera's images: said, as the checker's warnings
    # (regression: exit 0 and no word)
    write_deployments(bad, [['~cam', '37.5', '72.1', 'tilde', '', ''],
                            ['cam2', '37.6', '72.2', 'two', '2000-01-01', '2000-01-02']])
    r = run('export', out4, '--deployments', bad)
    text = validate(os.path.join(out4, 'camtrap-dp'), want_ok=False)
    n_checker = len(re.findall(r'media.csv:\d+: timestamp is outside its deployment', text))
    m = re.search(r"(\d+) image\(s\) lie outside their camera's deployment period", r.stderr)
    check(m and int(m.group(1)) == n_checker == 2 and 'IMG..0001.JPG at ' in r.stderr,
          'images outside their deployment period are counted as the checker warns (%s vs %d): %s'
          % (m.group(1) if m else None, n_checker, r.stderr.strip()[-300:]))
    finish()


if __name__ == '__main__':
    main()
