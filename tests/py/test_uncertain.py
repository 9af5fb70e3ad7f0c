#!/usr/bin/python3
"""irbis classify --min-confidence P: images and sequences whose top probability is below P are
labelled `uncertain` in every output, the others keep the label rule's label (compared with the
same run without the option). Checked on real outputs of the fixture survey: predictions.csv
(image and sequence labels recomputed here from its probabilities), megadetector.json and
coco-camera-traps.json (their offline checkers: 0 violations; an `uncertain` category), the
Camtrap DP package (official checker plain and --positional: 0 violations; uncertain sequences
are observationType `unknown`), sorted/uncertain/, the report's counts. A different
--min-confidence on the same OUT/ needs --restart (exit 3); bad values exit 2."""
import html as htmlmod
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
P = 0.8


def checker(*args):
    r = subprocess.run(['/usr/bin/python3'] + list(args), capture_output=True, text=True)
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr.strip()
    check(r.returncode == 0 and '(0 violations' in last, '%s: %s' % (' '.join(os.path.basename(a) for a in args[:2]), last))


def rule(p_animal, p_empty):
    """The fixture's label rule (--positive animal --threshold 0.5) plus --min-confidence."""
    if max(p_animal, p_empty) < P:
        return 'uncertain'
    return 'animal' if p_animal >= 0.5 else 'empty'


def main():
    fx = F.fixture()
    out = os.path.join(F.TMP, 'uncertain')
    base = os.path.join(F.TMP, 'uncertain_base')
    for d in (out, base):
        shutil.rmtree(d, ignore_errors=True)
    F.classify(fx, out, '--min-confidence', str(P), '--sort', 'symlink', check=1)
    F.classify(fx, base, check=1)
    rows = [r for r in F.read_predictions(out) if r['status'] == 'ok']
    plain = {r['path']: r for r in F.read_predictions(base)}
    n_img = n_seq = 0
    for r in rows:
        want = rule(float(r['p_animal']), float(r['p_empty']))
        want_seq = rule(float(r['seq_p_animal']), float(r['seq_p_empty']))
        check(r['label'] == want and r['seq_label'] == want_seq, '%s: labels %s/%s, want %s/%s'
              % (r['path'], r['label'], r['seq_label'], want, want_seq))
        b = plain[r['path']]
        check(want == 'uncertain' or r['label'] == b['label'], '%s: certain image keeps its label' % r['path'])
        check(want_seq == 'uncertain' or r['seq_label'] == b['seq_label'], '%s: certain sequence keeps its label' % r['path'])
        n_img += want == 'uncertain'
        n_seq += want_seq == 'uncertain'
    check(0 < n_img < len(rows) and 0 < n_seq < len(rows), '%d uncertain images, %d in uncertain sequences, of %d'
          % (n_img, n_seq, len(rows)))
    by_path = {r['path']: r for r in rows}

    # MegaDetector: an uncertain category, first in an uncertain image's classifications
    md_path = os.path.join(out, 'megadetector.json')
    checker(os.path.join(STD, 'validators', 'md_validate.py'), md_path)
    md = json.load(open(md_path))
    cats = md['classification_categories']
    unc = [k for k, v in cats.items() if v == 'uncertain']
    check(len(unc) == 1, 'megadetector.json: an "uncertain" classification category: %s' % cats)
    for im in md['images']:
        r = by_path.get(im['file'])
        if not r or r['label'] != 'uncertain':
            continue
        d = im['detections']
        top = max(float(r['p_animal']), float(r['p_empty']))
        check(len(d) == 1 and d[0]['classifications'][0][0] == unc[0]
              and abs(d[0]['classifications'][0][1] - top) < 2e-6, '%s: uncertain first, with p %f' % (im['file'], top))

    # COCO Camera Traps
    cct_path = os.path.join(out, 'coco-camera-traps.json')
    checker(os.path.join(STD, 'validators', 'cct_validate.py'), cct_path)
    cct = json.load(open(cct_path))
    names = {c['id']: c['name'] for c in cct['categories']}
    got = {a['image_id']: names[a['category_id']] for a in cct['annotations']}
    check(all(got[p] == r['label'] for p, r in by_path.items()), 'coco-camera-traps.json: the same labels, uncertain included')

    # Camtrap DP: unknown observations, valid package
    pkg = os.path.join(out, 'camtrap-dp')
    for extra in ([], ['--positional']):
        checker(os.path.join(STD, 'validators', 'camtrapdp_validate.py'), pkg, os.path.join(STD, 'camtrap-dp-1.0.2'),
                *extra)
    import csv
    obs = list(csv.DictReader(open(os.path.join(pkg, 'observations.csv'), newline='')))
    seq_label = {r['sequence']: r['seq_label'] for r in rows if r['timestamp']}
    check(obs and all((o['observationType'] == 'unknown') == (seq_label[o['eventID']] == 'uncertain') for o in obs),
          'observations.csv: uncertain sequences are unknown, the others not (%d unknown)'
          % sum(o['observationType'] == 'unknown' for o in obs))

    # sorted/ and report.html
    sorted_unc = set()
    for dirpath, _, files in os.walk(os.path.join(out, 'sorted', 'uncertain')):
        sorted_unc |= {os.path.relpath(os.path.join(dirpath, f), os.path.join(out, 'sorted', 'uncertain')) for f in files}
    check(sorted_unc == {p for p, r in by_path.items() if r['seq_label'] == 'uncertain'}, 'sorted/uncertain/ holds the '
          'images of uncertain sequences (%d)' % len(sorted_unc))
    page = open(os.path.join(out, 'report.html'), encoding='utf-8').read()
    m = re.search(r'<tr><td>uncertain</td><td class="n">(\d+)</td><td class="n">(\d+)</td>', page)
    n_seqs = len({r['sequence'] for r in rows if r['seq_label'] == 'uncertain'})
    check(m and (int(m.group(1)), int(m.group(2))) == (n_img, n_seqs), 'report.html counts uncertain: %s vs %d/%d'
          % (m and m.groups(), n_img, n_seqs))
    check('uncertain below' in htmlmod.unescape(page), 'report.html states the min-confidence')

    # the option is part of the run's parameters; bad values are refused
    r = F.classify(fx, out, '--min-confidence', '0.7')
    check(r.returncode == 3 and 'this run has --min-confidence 0.7' in r.stderr, 'another --min-confidence needs --restart: exit %d %s'
          % (r.returncode, r.stderr.strip()[-200:]))
    r = F.classify(fx, out)
    check(r.returncode == 3, 'leaving --min-confidence out on its OUT/ needs --restart: exit %d' % r.returncode)
    for bad in ('1.5', '-0.1', 'x', 'nan'):
        r = F.classify(fx, os.path.join(F.TMP, 'uncertain_bad'), '--min-confidence', bad)
        check(r.returncode == 2, '--min-confidence %s: exit %d' % (bad, r.returncode))
    finish()


if __name__ == '__main__':
    main()
