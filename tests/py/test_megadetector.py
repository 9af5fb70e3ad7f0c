#!/usr/bin/python3
"""OUT/megadetector.json written by irbis classify: 0 violations from the offline MegaDetector
batch-format checker (../shared/standards/validators/md_validate.py), and its content against
the run's own predictions.csv (independently parsed): one entry per classified or failed image
with its path relative to the survey (forward slashes), failures with a failure string and
null detections, empty labels with no detection, other labels with one whole-image detection
(bbox [0, 0, 1, 1]) of category animal/person/vehicle whose conf is the probability of that
category and whose classifications are the non-blank classes sorted by probability.
Two runs: the fixture's empty-vs-animal classifier, and a 4-class one (empty, person, car,
snow_leopard) trained here on the fixture's features, so the person and vehicle categories and
the classification order are exercised on real outputs."""
import csv
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import check, finish  # noqa: E402

VALIDATOR = os.path.join(F.SHARED, 'standards', 'validators', 'md_validate.py')
MD_TYPE = {'empty': None, 'person': 'person', 'car': 'vehicle', 'snow_leopard': 'animal', 'animal': 'animal'}


def validate(path):
    r = subprocess.run(['/usr/bin/python3', VALIDATOR, path], capture_output=True, text=True)
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr
    check(r.returncode == 0 and '(0 violations' in last, 'md_validate.py %s: %s' % (path, last))
    if r.returncode:
        print(r.stdout[-3000:])


def check_content(fx, out, classes):
    doc = json.load(open(os.path.join(out, 'megadetector.json'), encoding='utf-8'))
    info = doc['info']
    check(info.get('format_version') == '1.6', 'format_version %r' % info.get('format_version'))
    check(info.get('classifier_metadata', {}).get('classes') == classes, 'classifier metadata names the classes')
    check('irbis' in info.get('classifier', ''), 'classifier %r' % info.get('classifier'))
    cats = doc['detection_categories']
    check(cats == {'1': 'animal', '2': 'person', '3': 'vehicle'}, 'detection categories %s' % cats)
    cc = doc['classification_categories']
    check([cc[str(k)] for k in range(len(cc))] == classes, 'classification categories %s' % cc)
    rows = F.read_predictions(out)
    images = {i['file']: i for i in doc['images']}
    check(len(images) == len(doc['images']) == len(rows), '%d images for %d rows of predictions.csv'
          % (len(doc['images']), len(rows)))
    n_det = n_empty = n_fail = 0
    kinds = set()
    for r in rows:
        im = images.get(r['path'])
        if not check(im is not None, '%s in megadetector.json' % r['path']):
            continue
        check('\\' not in im['file'] and not os.path.isabs(im['file']), '%s relative, forward slashes' % im['file'])
        if r['status'] != 'ok':
            n_fail += 1
            check(im.get('detections', 'missing') is None and isinstance(im.get('failure'), str)
                  and r['status'] in im['failure'], '%s failed: %r' % (r['path'], im.get('failure')))
            continue
        check(os.path.isfile(os.path.join(fx['survey'], im['file'])), '%s exists under the survey' % im['file'])
        check('failure' not in im, '%s: no failure' % r['path'])
        p = {c: float(r['p_' + c]) for c in classes}
        want = MD_TYPE[r['label']]
        if want is None:
            n_empty += 1
            check(im['detections'] == [], '%s labelled %s: no detection' % (r['path'], r['label']))
            continue
        n_det += 1
        kinds.add(want)
        if not check(len(im['detections']) == 1, '%s: one detection' % r['path']):
            continue
        d = im['detections'][0]
        check(cats[d['category']] == want, '%s: category %s for label %s' % (r['path'], cats[d['category']], r['label']))
        check(d['bbox'] == [0, 0, 1, 1], '%s: whole-image bbox %s' % (r['path'], d['bbox']))
        conf = sum(v for c, v in p.items() if MD_TYPE[c] == want)
        check(isinstance(d['conf'], float) and abs(d['conf'] - conf) < 2e-6, '%s: conf %s vs %f' % (r['path'], d['conf'], conf))
        cl = d['classifications']
        want_cl = sorted((c for c in classes if MD_TYPE[c]), key=lambda c: -p[c])
        check(sorted(cc[i] for i, _ in cl) == sorted(want_cl) and all(a[1] >= b[1] for a, b in zip(cl, cl[1:])),
              '%s: classifications %s: the non-blank classes, sorted by p' % (r['path'], cl))
        check(all(abs(v - p[cc[i]]) < 2e-6 for i, v in cl), '%s: classification probabilities' % r['path'])
    print('%s: %d detections (%s), %d empty, %d failed' % (out, n_det, sorted(kinds), n_empty, n_fail))
    check(n_fail >= 5 and n_empty > 0 and n_det > 0, 'failures, empty images and detections all present')
    return kinds


def four_class_classifier(fx):
    """A classifier with classes empty/person/car/snow_leopard, trained on the fixture's features
    (animal frames split into three arbitrary groups: the labels are made up, the run is real)."""
    root = fx['root']
    rows = list(csv.DictReader(open(os.path.join(root, 'labels.csv'))))
    names = ['person', 'car', 'snow_leopard']
    lab = os.path.join(F.TMP, 'md_labels4.csv')
    with open(lab, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        k = 0
        for r in rows:
            if r['label'] == 'empty':
                w.writerow([r['path'], 'empty'])
            else:
                w.writerow([r['path'], names[k % 3]])
                k += 1
    clf = os.path.join(F.TMP, 'md_clf4.irbis')
    r = subprocess.run([F.BIN, 'train', os.path.join(root, 'train'), '--labels', lab, '--C', '1', '-o', clf],
                       capture_output=True, text=True)
    check(r.returncode == 0, 'irbis train (4 classes): %s' % r.stderr[-300:])
    return clf


def main():
    fx = F.fixture()
    out = os.path.join(F.TMP, 'md')
    shutil.rmtree(out, ignore_errors=True)
    F.classify(fx, out, check=1)
    validate(os.path.join(out, 'megadetector.json'))
    check_content(fx, out, ['animal', 'empty'])

    clf = four_class_classifier(fx)
    out4 = os.path.join(F.TMP, 'md4')
    shutil.rmtree(out4, ignore_errors=True)
    cmd = [F.BIN, 'classify', '--model', fx['model'], '--classifier', clf, fx['survey'], '-o', out4, '--threads', '2',
           '--taxa', 'snow_leopard=Panthera uncia', '--quiet']
    r = subprocess.run(cmd, capture_output=True, text=True)
    check(r.returncode == 1, 'classify with 4 classes: exit %d %s' % (r.returncode, r.stderr[-300:]))
    validate(os.path.join(out4, 'megadetector.json'))
    doc = json.load(open(os.path.join(out4, 'megadetector.json')))
    classes = [doc['classification_categories'][str(k)] for k in range(4)]
    check(sorted(classes) == sorted(['empty', 'person', 'car', 'snow_leopard']), 'classes %s' % classes)
    desc = doc.get('classification_category_descriptions', {})
    check(desc.get(str(classes.index('snow_leopard'))) == 'Panthera uncia', 'taxon in the descriptions %s' % desc)
    kinds = check_content(fx, out4, classes)
    check(len(kinds) >= 2, 'more than one detection category in the 4-class run: %s' % sorted(kinds))
    finish()


if __name__ == '__main__':
    main()
