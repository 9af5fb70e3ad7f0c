#!/usr/bin/python3
"""The Camtrap DP package written by irbis classify, checked against the required fields and
types of the TDWG Camtrap DP 1.0 specification (table written here from the standard's
datapackage profile and its deployments/media/observations table schemas), plus foreign keys,
the event-level observations and the mapping of classes to observationType/scientificName."""
import csv
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402

DT = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$')
# Camtrap DP 1.0: field -> (required, type, enum or None)
SCHEMA = {
    'deployments': {
        'deploymentID': (True, 'string', None), 'locationID': (False, 'string', None),
        'locationName': (False, 'string', None), 'latitude': (True, 'lat', None), 'longitude': (True, 'lon', None),
        'deploymentStart': (True, 'datetime', None), 'deploymentEnd': (True, 'datetime', None),
        'cameraID': (False, 'string', None), 'timestampIssues': (False, 'boolean', None),
        'deploymentComments': (False, 'string', None)},
    'media': {
        'mediaID': (True, 'string', None), 'deploymentID': (True, 'string', None),
        'captureMethod': (False, 'string', {'activityDetection', 'timeLapse'}), 'timestamp': (True, 'datetime', None),
        'filePath': (True, 'string', None), 'filePublic': (True, 'boolean', None), 'fileName': (False, 'string', None),
        'fileMediatype': (True, 'mediatype', None), 'exifData': (False, 'object', None),
        'favorite': (False, 'boolean', None), 'mediaComments': (False, 'string', None)},
    'observations': {
        'observationID': (True, 'string', None), 'deploymentID': (True, 'string', None),
        'mediaID': (False, 'string', None), 'eventID': (False, 'string', None),
        'eventStart': (True, 'datetime', None), 'eventEnd': (True, 'datetime', None),
        'observationLevel': (True, 'string', {'media', 'event'}),
        'observationType': (True, 'string', {'animal', 'human', 'vehicle', 'blank', 'unknown', 'unclassified'}),
        'scientificName': (False, 'string', None), 'count': (False, 'integer', None),
        'classificationMethod': (False, 'string', {'human', 'machine'}), 'classifiedBy': (False, 'string', None),
        'classificationTimestamp': (False, 'datetime', None), 'classificationProbability': (False, 'prob', None),
        'observationComments': (False, 'string', None)},
}
PACKAGE_REQUIRED = ['resources', 'profile', 'created', 'contributors', 'project', 'spatial', 'temporal']
PROJECT_REQUIRED = ['title', 'samplingDesign', 'captureMethod', 'individualAnimals', 'observationLevel']

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print('FAIL:', msg)


def valid(kind, v):
    if kind == 'string':
        return True
    if kind == 'datetime':
        return bool(DT.match(v))
    if kind == 'boolean':
        return v in ('true', 'false')
    if kind == 'integer':
        return re.fullmatch(r'-?\d+', v) is not None
    if kind == 'object':
        return isinstance(json.loads(v), dict)
    if kind == 'mediatype':
        return re.fullmatch(r'(image|video|audio)/.+', v) is not None
    x = float(v)
    return {'lat': -90 <= x <= 90, 'lon': -180 <= x <= 180, 'prob': 0 <= x <= 1}[kind]


def check_table(d, name):
    with open(os.path.join(d, name + '.csv'), newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
        header = rows[0].keys() if rows else []
    schema = SCHEMA[name]
    for col in header:
        check(col in schema, '%s: column %s is not in the Camtrap DP 1.0 schema' % (name, col))
    for i, r in enumerate(rows):
        for col, (req, kind, enum) in schema.items():
            v = r.get(col, '')
            if v == '':
                check(not req, '%s row %d: required %s is empty' % (name, i + 2, col))
                continue
            try:
                ok = valid(kind, v)
            except ValueError:
                ok = False
            check(ok, '%s row %d: %s=%r is not a %s' % (name, i + 2, col, v, kind))
            if enum:
                check(v in enum, '%s row %d: %s=%r not in %s' % (name, i + 2, col, v, sorted(enum)))
    return rows


def main():
    fx = F.fixture()
    out = os.path.join(F.TMP, 'camtrapdp')
    shutil.rmtree(out, ignore_errors=True)
    F.classify(fx, out, '--taxa', 'animal=Animalia', '--utc-offset', '+04:30', check=1)
    d = os.path.join(out, 'camtrap-dp')
    pkg = json.load(open(os.path.join(d, 'datapackage.json')))
    for k in PACKAGE_REQUIRED:
        check(k in pkg, 'datapackage.json lacks required %s' % k)
    check(pkg.get('profile') == 'https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0/camtrap-dp-profile.json',
          'profile %r' % pkg.get('profile'))
    for k in PROJECT_REQUIRED:
        check(k in pkg.get('project', {}), 'project lacks %s' % k)
    check(DT.match(pkg.get('created', '')), 'created %r' % pkg.get('created'))
    check(pkg['project'].get('observationLevel') == ['event'], 'observationLevel')
    t = pkg.get('temporal', {})
    check(re.fullmatch(r'\d{4}-\d{2}-\d{2}', t.get('start', '')) and re.fullmatch(r'\d{4}-\d{2}-\d{2}', t.get('end', '')),
          'temporal %r' % t)
    names = {r['name']: r for r in pkg['resources']}
    check(set(names) == {'deployments', 'media', 'observations'}, 'resources %s' % sorted(names))
    for n, r in names.items():
        check(r['path'] == n + '.csv' and r['profile'] == 'tabular-data-resource', 'resource %s' % n)
        check(r['schema'] == 'https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0/%s-table-schema.json' % n,
              'schema of %s' % n)
    check(pkg.get('irbis', {}).get('sequenceGap') == 60, 'sequence gap stated')
    check('60 s' in pkg.get('description', ''), 'gap in the description')
    check([x['scientificName'] for x in pkg.get('taxonomic', [])] == ['Animalia'], 'taxonomic %r' % pkg.get('taxonomic'))

    dep = check_table(d, 'deployments')
    media = check_table(d, 'media')
    obs = check_table(d, 'observations')
    dep_ids = {r['deploymentID'] for r in dep}
    check(len(dep_ids) == len(dep), 'deploymentID unique')
    check(all(r['timestamp'].endswith('+04:30') for r in media), 'utc offset applied')
    check(all(r['deploymentID'] in dep_ids for r in media + obs), 'deploymentID foreign keys')
    check(len({r['mediaID'] for r in media}) == len(media), 'mediaID unique')
    check(len({r['observationID'] for r in obs}) == len(obs), 'observationID unique')
    preds = [r for r in F.read_predictions(out) if r['status'] == 'ok']
    timed = [r for r in preds if r['timestamp']]
    check(len(media) == len(timed), '%d media rows for %d timed classified images' % (len(media), len(timed)))
    seqs = {}
    for r in timed:
        seqs.setdefault(r['sequence'], []).append(r)
    check({o['eventID'] for o in obs} == set(seqs), 'one event observation per timed sequence')
    for o in obs:
        ms = seqs.get(o['eventID'], [])
        check(o['observationLevel'] == 'event' and o['classificationMethod'] == 'machine', 'event/machine')
        check('irbis' in o['classifiedBy'] and 'mobilenet' in o['classifiedBy'], 'classifiedBy %r' % o['classifiedBy'])
        if not ms:
            continue
        lab = ms[0]['seq_label']
        check(o['observationType'] == ('blank' if lab == 'empty' else 'animal'), '%s type %s for %s' % (o['eventID'], o['observationType'], lab))
        check(o['scientificName'] == ('Animalia' if lab == 'animal' else ''), 'scientificName %r' % o['scientificName'])
        p = float(ms[0]['seq_p_' + lab])
        check(abs(float(o['classificationProbability']) - p) < 1e-3, 'probability %s vs %f' % (o['classificationProbability'], p))
        ts = sorted(r['timestamp'][:19] for r in ms)
        check(o['eventStart'][:19] == ts[0] and o['eventEnd'][:19] == ts[-1], '%s start/end' % o['eventID'])
    print('camtrap-dp: %d deployments, %d media, %d observations; %d failures' % (len(dep), len(media), len(obs), len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
