#!/usr/bin/python3
"""Labels from a Camtrap DP package (irb_labels_table_load; `irbis labels`; train/evaluate/experiment
--labels PACKAGE):
- the official TDWG example package: every media file's label equals what a separate reading of
  the standard here gives (media-level observations first, else the deployment's events whose
  span holds the file's time, compared as instants across time zones; machine, unknown and
  unclassified observations give none; a file with two different labels is left out);
- irbis's own camtrap-dp/ after a review: the human labels it holds are the ones `irbis review
  --write-labels` writes (machine observations give none);
- `train --images ROOT --labels PACKAGE` trains on the same images, labels and sequences (the
  eventIDs) as `--labels` the CSV `irbis labels PACKAGE` writes: the same out-of-fold predictions;
- a package whose datapackage.json puts its tables elsewhere is read there; a table at a URL, a
  folder without datapackage.json, a table without a column the standard requires, and a package
  with no label people gave are refused naming the cause."""
import csv
import datetime
import json
import os
import shutil
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import review_lib as R  # noqa: E402
import test_classify_fixture as F  # noqa: E402
from testlib import BIN, CT, MODEL, SHARED, check, finish, make_tree, small_classifier, tmpdir  # noqa: E402

TMP = tmpdir('camtrap_labels')
EXAMPLE = os.path.join(SHARED, 'standards', 'camtrap-dp-1.0.2', 'example')
WAKHAN = os.path.join(CT, 'wakhan_snowleopard', 'C1_Avgarch_SL')
HANNA = os.path.join(CT, 'hannaboe_smallmammal', 'vj_ga_hu_1', '2020')


def run(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True)


def rows_of(path):
    with open(path, newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


def instant(text):
    """A Camtrap DP datetime as an aware datetime (Python's own ISO reader)."""
    return datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))


def expected_labels(pkg):
    """{path: label} as the standard reads: observationType animal -> scientificName, blank ->
    empty, human/vehicle; an observation of the file wins over the events' (same deployment,
    eventStart <= timestamp <= eventEnd); classificationMethod machine, unknown and unclassified
    give none; two different labels for one file: none."""
    media = rows_of(os.path.join(pkg, 'media.csv'))
    obs = rows_of(os.path.join(pkg, 'observations.csv'))

    def label(o):
        if o['classificationMethod'] == 'machine':
            return None
        t = o['observationType']
        if t == 'animal':
            return o['scientificName'] or 'animal'
        return {'blank': 'empty', 'human': 'human', 'vehicle': 'vehicle'}.get(t)

    own, events = {}, []
    for o in obs:
        lab = label(o)
        if lab is None:
            continue
        if o['observationLevel'] == 'media':
            own.setdefault(o['mediaID'], set()).add(lab)
        else:
            events.append((o['deploymentID'], instant(o['eventStart']), instant(o['eventEnd']), lab))
    out = {}
    for m in media:
        labs = own.get(m['mediaID'])
        if not labs:
            t = instant(m['timestamp'])
            labs = {lab for dep, a, b, lab in events if dep == m['deploymentID'] and a <= t <= b}
        if len(labs) == 1:
            path = m['filePath'] if m['filePath'] and '://' not in m['filePath'] else m['fileName']
            out[path] = labs.pop()
    return out


def official_example():
    want = expected_labels(EXAMPLE)
    out = os.path.join(TMP, 'example.csv')
    r = run('labels', EXAMPLE, '-o', out)
    got = {x['path']: x['label'] for x in rows_of(out)} if r.returncode == 0 else {}
    check(r.returncode == 0 and got == want and len(want) > 300,
          'the official example package: %d labelled files, as the standard reads them (%d expected; rc %d: %s)' %
          (len(got), len(want), r.returncode, r.stderr.strip()[-300:]))
    media = {m['fileName']: m for m in rows_of(os.path.join(EXAMPLE, 'media.csv'))}
    rows = rows_of(out) if r.returncode == 0 else []
    check(rows and all(x['camera'] == media[x['path']]['deploymentID'] and
                       x['timestamp'] == media[x['path']]['timestamp'][:19] for x in rows),
          'the example: camera is the deploymentID, timestamp the local time without its zone')
    check('22 by a machine' in r.stderr and 'more than one kind left out' in r.stderr,
          'the example: what gave no label is said (%s)' % r.stderr.strip()[-400:])
    # a labels CSV is written as read (every column), so `irbis labels` shows any --labels source
    r3 = run('labels', out)
    check(r3.returncode == 0 and list(csv.DictReader(r3.stdout.splitlines())) == rows_of(out),
          'irbis labels CSV: the same rows and columns (rc %d: %s)' % (r3.returncode, r3.stderr.strip()[-200:]))
    r2 = run('labels', os.path.join(EXAMPLE, 'datapackage.json'))
    check(r2.returncode == 0 and r2.stdout == open(out).read(), 'the package named by its datapackage.json: the same')
    # irbis evaluate reads a package as labels
    pred = os.path.join(TMP, 'pred.csv')
    with open(pred, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'p_empty', 'p_animal'])
        for p, lab in sorted(want.items()):
            w.writerow([p, 0.9, 0.1] if lab == 'empty' else [p, 0.2, 0.8])
    r = run('evaluate', pred, '--labels', EXAMPLE, '-o', os.path.join(TMP, 'eval'))
    m = json.load(open(os.path.join(TMP, 'eval', 'metrics.json'))) if r.returncode == 0 else {}
    check(m.get('image', {}).get('n') == len(want) and m['image']['accuracy'] == 1.0,
          'evaluate --labels PACKAGE: every labelled file scored, all right (rc %d: %s; %s)' %
          (r.returncode, r.stderr.strip()[-200:], m.get('image', {}).get('n')))


def moved_tables():
    """datapackage.json's resource paths are followed; refusals name their cause."""
    pkg = os.path.join(TMP, 'moved')
    os.makedirs(os.path.join(pkg, 'tables'))
    dp = json.load(open(os.path.join(EXAMPLE, 'datapackage.json')))
    for res in dp['resources']:
        if res['name'] in ('media', 'observations', 'deployments'):
            shutil.copy(os.path.join(EXAMPLE, res['path']), os.path.join(pkg, 'tables', res['path']))
            res['path'] = 'tables/' + res['path']
    json.dump(dp, open(os.path.join(pkg, 'datapackage.json'), 'w'))
    r = run('labels', pkg)
    check(r.returncode == 0 and r.stdout == open(os.path.join(TMP, 'example.csv')).read(),
          'tables where datapackage.json says (tables/media.csv): read there (rc %d: %s)' % (r.returncode,
                                                                                               r.stderr.strip()[-200:]))
    for res in dp['resources']:
        if res['name'] == 'media':
            res['path'] = 'https://example.org/media.csv'
    json.dump(dp, open(os.path.join(pkg, 'datapackage.json'), 'w'))
    r = run('labels', pkg)
    check(r.returncode == 3 and "'media' is at https://example.org/media.csv" in r.stderr,
          'a table at a URL: refused, said (rc %d: %s)' % (r.returncode, r.stderr.strip()))
    empty_dir = os.path.join(TMP, 'no_package')
    os.makedirs(empty_dir)
    r = run('labels', empty_dir)
    check(r.returncode == 3 and 'no datapackage.json' in r.stderr, 'a folder without datapackage.json: said (%s)' %
          r.stderr.strip())
    bad = os.path.join(TMP, 'bad')
    shutil.copytree(EXAMPLE, bad)
    with open(os.path.join(bad, 'observations.csv')) as f:
        text = f.read()
    open(os.path.join(bad, 'observations.csv'), 'w').write(text.replace('observationType', 'type', 1))
    r = run('labels', bad)
    check(r.returncode == 3 and "no column 'observationType'" in r.stderr, 'a table without observationType: said (%s)'
          % r.stderr.strip())
    open(os.path.join(bad, 'observations.csv'), 'w').write(text.replace(',human,', ',machine,'))
    r = run('labels', bad)
    check(r.returncode == 3 and 'no media file has a label' in r.stderr,
          'only machine observations: no labels, said (%s)' % r.stderr.strip())


def label_all(out, labels):
    srv = R.Server(out, '--no-export')
    seqs = [s['name'] for s in srv.get_json('/api/sequences?queue=camera&limit=500')['sequences']]
    for i, s in enumerate(seqs[:-1]):  # the last sequence stays the machine's
        st, body, _ = srv.request('POST', '/api/label', body=urllib.parse.urlencode(
            [('seq', s), ('label', labels[i % len(labels)])]),
            headers={'Content-Type': 'application/x-www-form-urlencoded'})
        assert st == 200, (st, body)
    srv.stop()
    return len(seqs)


def irbis_package(clf):
    """irbis classify -> review -> camtrap-dp/: its labels are the review's."""
    sv, out = os.path.join(TMP, 'survey'), os.path.join(TMP, 'out')
    files = {}
    for cam, src in (('camA', WAKHAN), ('camB', HANNA)):
        for n in sorted(os.listdir(src))[:5]:
            files['%s/%s' % (cam, n)] = os.path.join(src, n)
    make_tree(sv, files)
    r = subprocess.run([BIN, 'classify', '--model', MODEL, '--classifier', clf, sv, '-o', out, '--threads', '2',
                        '--quiet'], capture_output=True, text=True)
    check(r.returncode == 0, 'the survey classified (%s)' % r.stderr[-200:])
    nseq = label_all(out, ['empty', 'animal'])
    r = run('export', out)
    want = os.path.join(TMP, 'reviewed.csv')
    r2 = run('review', out, '--write-labels', want)
    pkg = os.path.join(out, 'camtrap-dp')
    r3 = run('labels', pkg, '-o', os.path.join(TMP, 'from_package.csv'))
    got = {x['path']: x['label'] for x in rows_of(os.path.join(TMP, 'from_package.csv'))} if r3.returncode == 0 else {}
    rev = {x['path']: x['label'] for x in rows_of(want)} if r2.returncode == 0 else {}
    check(r.returncode == 0 and nseq >= 3 and got and got == rev and len(got) < len(files),
          "irbis's camtrap-dp/ after a review: the human labels, not the machine's (%d files; review's %d; rc %d %d %d: %s)"
          % (len(got), len(rev), r.returncode, r2.returncode, r3.returncode, (r.stderr + r2.stderr + r3.stderr)[-300:]))
    check('by a machine' in r3.stderr, 'the machine observation is said (%s)' % r3.stderr.strip()[-200:])


def train_from_package():
    """A package of 16 MLWIC frames in two deployments, events of 2 frames: train --images with the
    package and with the CSV `irbis labels` makes of it give the same out-of-fold predictions,
    grouped by the package's events."""
    rows = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                   if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])
    empty = [r for r in rows if r['label'] == 'empty'][:8]
    animal = [r for r in rows if r['label'] not in ('empty', 'human', 'vehicle')][:8]
    root, pkg = os.path.join(TMP, 'images'), os.path.join(TMP, 'package')
    os.makedirs(pkg)
    files, media, obs = {}, [], []
    base = datetime.datetime(2024, 6, 1, 8, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=5)))
    for i, r in enumerate(x for pair in zip(empty, animal) for x in pair):
        dep = 'dep%d' % (i % 2)
        rel = '%s/IMG_%04d.JPG' % (dep, i)
        files[rel] = os.path.join(CT, r['path'])
        t = base + datetime.timedelta(minutes=10 * (i // 4), seconds=i % 4)
        media.append({'mediaID': 'm%d' % i, 'deploymentID': dep, 'captureMethod': 'activityDetection',
                      'timestamp': t.isoformat(), 'filePath': rel, 'filePublic': 'false',
                      'fileName': os.path.basename(rel), 'fileMediatype': 'image/jpeg'})
        ev = 'e%d' % (i // 4 * 2 + i % 2)
        utc = t.astimezone(datetime.timezone.utc)
        if i % 4 < 2:  # one observation for the event's two frames (in UTC: the zones differ)
            lab = 'blank' if r['label'] == 'empty' else 'animal'
            obs.append({'observationID': 'o%d' % i, 'deploymentID': dep, 'mediaID': '', 'eventID': ev,
                        'eventStart': utc.strftime('%Y-%m-%dT%H:%M:%SZ'),
                        'eventEnd': (utc + datetime.timedelta(seconds=2)).strftime('%Y-%m-%dT%H:%M:%SZ'),
                        'observationLevel': 'event', 'observationType': lab,
                        'scientificName': 'Canis lupus' if lab == 'animal' else '', 'classificationMethod': 'human'})
    make_tree(root, files)
    for name, table in (('media', media), ('observations', obs)):
        with open(os.path.join(pkg, name + '.csv'), 'w', newline='') as f:
            w = csv.DictWriter(f, fieldnames=list(table[0]))
            w.writeheader()
            w.writerows(table)
    json.dump({'name': 'x', 'resources': [{'name': 'media', 'path': 'media.csv'},
                                          {'name': 'observations', 'path': 'observations.csv'}]},
              open(os.path.join(pkg, 'datapackage.json'), 'w'))
    lab = os.path.join(TMP, 'package_labels.csv')
    r = run('labels', pkg, '-o', lab)
    got = rows_of(lab) if r.returncode == 0 else []
    check(len(got) == 16 and {x['sequence'] for x in got} == {'e%d' % k for k in range(8)},
          'the made package: 16 labelled frames in 8 events (rc %d: %s)' % (r.returncode, r.stderr.strip()[-200:]))
    preds = []
    for name, labels in (('pkg', pkg), ('csv', lab)):
        r = run('train', '--images', root, '--labels', labels, '--model', MODEL, '--size', '64', '--recipe', 'RN2',
                '--folds', '4', '--quiet', '-o', os.path.join(TMP, name + '.irbis'))
        p = os.path.join(TMP, name + '.train', 'predictions_RN2.csv')
        preds.append(open(p).read() if r.returncode == 0 else '')
        check(r.returncode == 0, 'train --images --labels %s (rc %d: %s)' % (name, r.returncode, r.stderr[-300:]))
    seqs = {x['sequence'] for x in csv.DictReader(preds[0].splitlines())} if preds[0] else set()
    check(preds[0] and preds[0] == preds[1] and len(seqs) == 8,
          'train --images: the package and its CSV give the same out-of-fold predictions, over the 8 events (%s)' %
          sorted(seqs))


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    official_example()
    moved_tables()
    clf, _, _, _ = small_classifier(TMP)
    irbis_package(clf)
    train_from_package()
    finish()


if __name__ == '__main__':
    main()
