#!/usr/bin/python3
"""OUT/coco-camera-traps.json written by irbis classify, against the COCO Camera Traps format
(the fields of the LILA / MegaDetector data_management spec: info; images with id, file_name,
location, datetime "YYYY-MM-DD HH:MM:SS", seq_id, seq_num_frames, frame_num, width, height;
categories with id 0 = empty; annotations with id, image_id, category_id) and against the run's
own predictions.csv (independently parsed): one image and one annotation per classified image,
failed images absent, the same labels and confidences, sequences and their frame order (frames
numbered by timestamp) as in predictions.csv, and the frame sizes PIL reads."""
import json
import os
import shutil
import sys
from collections import defaultdict

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import check, finish  # noqa: E402


def main():
    fx = F.fixture()
    out = os.path.join(F.TMP, 'cct')
    shutil.rmtree(out, ignore_errors=True)
    F.classify(fx, out, check=1)
    doc = json.load(open(os.path.join(out, 'coco-camera-traps.json')))
    check(set(doc) == {'info', 'images', 'categories', 'annotations'}, 'top-level keys %s' % sorted(doc))
    cats = {c['id']: c['name'] for c in doc['categories']}
    check(cats.get(0) == 'empty' and sorted(cats) == list(range(len(cats))), 'categories %s (0 = empty)' % cats)
    rows = F.read_predictions(out)
    ok = {r['path']: r for r in rows if r['status'] == 'ok'}
    failed = {r['path'] for r in rows if r['status'] != 'ok'}
    check(len(failed) >= 5, '%d failed images in the survey' % len(failed))
    imgs = {i['id']: i for i in doc['images']}
    check(set(imgs) == set(ok) and len(imgs) == len(doc['images']), 'one image per classified image '
          '(%d images, %d ok, %d failed absent: %s)' % (len(imgs), len(ok), len(failed), not (failed & set(imgs))))
    anns = {a['image_id']: a for a in doc['annotations']}
    check(set(anns) == set(ok) and len(anns) == len(doc['annotations']), 'one annotation per classified image')
    by_name = {v: k for k, v in cats.items()}
    bad_label = [p for p, r in ok.items() if anns.get(p, {}).get('category_id') != by_name.get(r['label'])]
    check(not bad_label, 'annotation categories are the predicted labels (%d differ)' % len(bad_label))
    bad_conf = [p for p, r in ok.items() if abs(anns[p]['conf'] - float(r['p_' + r['label']])) > 2e-6]
    check(not bad_conf, 'conf is the probability of the label (%d differ)' % len(bad_conf))
    check(all(a['sequence_level_annotation'] is False for a in anns.values()), 'image-level annotations')

    seqs = defaultdict(list)
    for p, r in ok.items():
        i = imgs[p]
        check(i['file_name'] == p and i['location'] == r['camera'], '%s: file_name and location' % p)
        if r['timestamp']:
            check(i.get('datetime') == r['timestamp'].replace('T', ' '), '%s: datetime %r vs %r'
                  % (p, i.get('datetime'), r['timestamp']))
        else:
            check('datetime' not in i, '%s: no datetime when the image has no time' % p)
        check(i.get('seq_id') == r['sequence'], '%s: seq_id %r vs %r' % (p, i.get('seq_id'), r['sequence']))
        seqs[r['sequence']].append((r['timestamp'], p))
        w, h = Image.open(os.path.join(fx['survey'], p)).size
        check((i.get('width'), i.get('height')) == (w, h), '%s: %sx%s, PIL %dx%d' % (p, i.get('width'),
                                                                                     i.get('height'), w, h))
    multi = 0
    for s, members in seqs.items():
        members.sort()
        multi += len(members) > 1
        for k, (_, p) in enumerate(members):
            i = imgs[p]
            check(i['seq_num_frames'] == len(members) and i['frame_num'] == k,
                  '%s in %s: frame %s of %s, want %d of %d' % (p, s, i['frame_num'], i['seq_num_frames'], k,
                                                              len(members)))
    check(multi >= 3, '%d sequences of several frames checked' % multi)
    finish()


if __name__ == '__main__':
    main()
