#!/usr/bin/python3
"""Shared fixture of the classify tests (run alone it just builds the fixture and passes).

Builds, once per build tree (cached under $IRBIS_TMP/classify_fixture, guarded by a file lock):
  survey/       about 50 shared camera-trap images (symlinks; real bursts with EXIF times from
                wakhan_snowleopard and uruguay_curso_camtrapR, untimed mlwic frames) plus broken
                files: zero-byte, truncated, not an image, a huge-dimension header, a dangling link
  clf.irbis     an empty-vs-animal classifier trained by `irbis train` on mlwic_examples frames
                (not in the survey), from features made by `irbis featurize` when the CLI has it,
                else by PIL + the shared peer's torch evaluation of the same ONNX file
  deployments.csv  camera coordinates for Camtrap DP
"""
import csv
import fcntl
import hashlib
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np

BIN = os.environ.get('IRBIS_BIN', 'irbis')
SHARED = os.environ.get('IRBIS_SHARED', '../shared')
TMP = os.environ.get('IRBIS_TMP', '/tmp/irbis-test')
DATA = os.path.join(SHARED, 'data', 'camera-traps')
MODEL = os.path.join(SHARED, 'models', 'mobilenet_v2', 'mobilenet_v2_1.0_224.onnx')
ROOT = os.path.join(TMP, 'classify_fixture')

BROKEN = {  # name -> what the file is
    'broken/zero_bytes.jpg': 'zero-byte file',
    'broken/truncated.jpg': 'JPEG cut inside its headers',
    'broken/notes.jpg': 'a text file named .jpg',
    'broken/huge.jpg': 'JPEG header claiming 65000 x 65000 pixels',
    'broken/unreadable.jpg': 'dangling symbolic link',
}


def manifest():
    with open(os.path.join(DATA, 'manifest.csv'), newline='') as f:
        return list(csv.DictReader(f))


def survey_rows(rows):
    """The survey's good images: all Wakhan, 3 cameras of Uruguay (12 each), 12 untimed mlwic."""
    out = [r for r in rows if r['path'].startswith('wakhan_snowleopard/')]
    by_cam = {}
    for r in rows:
        if r['path'].startswith('uruguay_curso_camtrapR/') and r['timestamp']:
            by_cam.setdefault(r['camera'], []).append(r)
    for cam in sorted(by_cam)[:3]:
        out += sorted(by_cam[cam], key=lambda r: r['path'])[:8]
    ml = [r for r in rows if r['path'].startswith('mlwic_examples/')]
    out += ml[-10:]
    return out


def train_rows(rows, survey):
    used = {r['path'] for r in survey}
    ml = [r for r in rows if r['path'].startswith('mlwic_examples/') and r['path'] not in used]
    empty = [r for r in ml if r['label'] == 'empty'][:30]
    animal = [r for r in ml if r['label'] not in ('empty', 'human', 'vehicle')][:30]
    return empty + animal


def find_jpeg_sof(data):
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return -1
        m = data[i + 1]
        seg = (data[i + 2] << 8) | data[i + 3]
        if m in (0xC0, 0xC1, 0xC2):
            return i
        i += 2 + seg
    return -1


def make_broken(survey, a_jpeg):
    d = os.path.join(survey, 'broken')
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, 'zero_bytes.jpg'), 'wb').close()
    data = open(a_jpeg, 'rb').read()
    open(os.path.join(d, 'truncated.jpg'), 'wb').write(data[:300])
    open(os.path.join(d, 'notes.jpg'), 'w').write('field notes: camera 3 battery flat\n')
    huge = bytearray(data)
    k = find_jpeg_sof(huge)
    assert k > 0, 'no SOF in ' + a_jpeg
    huge[k + 5:k + 9] = bytes([0xFD, 0xE8, 0xFD, 0xE8])  # height, width = 65000
    open(os.path.join(d, 'huge.jpg'), 'wb').write(bytes(huge))
    os.symlink(os.path.join(d, 'does-not-exist.jpg'), os.path.join(d, 'unreadable.jpg'))


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''):
            h.update(b)
    return h.hexdigest()


def python_features(paths, base):
    """PIL (centre crop 87.5 %, bilinear 224, (x-128)/128) + the peer's torch ONNX evaluation."""
    from PIL import Image
    spec = importlib.util.spec_from_file_location('peer', os.path.join(SHARED, 'bench', 'peer_pipeline.py'))
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    import torch
    torch.set_num_threads(2)
    net, mean, std = peer.torch_net('onnx:' + MODEL)
    xs = []
    for p in paths:
        im = Image.open(p).convert('RGB')
        w, h = im.size
        cw, ch = w * 0.875, h * 0.875
        box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
        xs.append(np.asarray(im.resize((224, 224), Image.BILINEAR, box=box), dtype=np.float32))
    x = ((np.stack(xs) - 128.0) / 128.0).transpose(0, 3, 1, 2).copy()
    with torch.no_grad():
        f = np.concatenate([net(x[i:i + 16]) for i in range(0, len(x), 16)]).astype('<f4')
    np.save(base + '.npy', f)
    with open(base + '.csv', 'w', newline='') as o:
        w = csv.writer(o)
        w.writerow(['row', 'path', 'flipped'])
        for i, p in enumerate(paths):
            w.writerow([i, p, 0])
    json.dump({'format': 'irbis-features', 'version': 1, 'dim': int(f.shape[1]), 'rows': len(paths),
               'model': os.path.basename(MODEL), 'model_sha256': sha256(MODEL), 'layer': 'features'},
              open(base + '.json', 'w'))


def has_featurize():
    r = subprocess.run([BIN, 'help'], capture_output=True, text=True)
    return ' featurize ' in r.stdout


def build(root):
    rows = manifest()
    srows = survey_rows(rows)
    survey = os.path.join(root, 'survey')
    for r in srows:
        src = os.path.join(DATA, r['path'])
        parts = r['path'].split('/')
        cam = r['camera'] or parts[0]
        dst = os.path.join(survey, cam, parts[-1])
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.symlink(os.path.abspath(src), dst)
    make_broken(survey, os.path.join(DATA, srows[0]['path']))
    trows = train_rows(rows, srows)
    tpaths = [os.path.abspath(os.path.join(DATA, r['path'])) for r in trows]
    with open(os.path.join(root, 'labels.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label'])
        for p, r in zip(tpaths, trows):
            w.writerow([p, 'empty' if r['label'] == 'empty' else 'animal'])
    base = os.path.join(root, 'train')
    if has_featurize():
        lst = os.path.join(root, 'train_list.txt')
        open(lst, 'w').write('\n'.join(tpaths) + '\n')
        subprocess.run([BIN, 'featurize', '--model', MODEL, '--list', lst, '-o', base], check=True,
                       capture_output=True)
    else:
        python_features(tpaths, base)
    r = subprocess.run([BIN, 'train', base, '--labels', os.path.join(root, 'labels.csv'), '--C', '1',
                        '-o', os.path.join(root, 'clf.irbis')], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit('irbis train failed: ' + r.stderr)
    cams = sorted({(r['camera'] or r['path'].split('/')[0]) for r in srows})
    with open(os.path.join(root, 'deployments.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['camera', 'latitude', 'longitude', 'locationName'])
        for i, c in enumerate(cams):
            w.writerow([c, '%.4f' % (37.1 + i * 0.01), '%.4f' % (72.5 + i * 0.02), 'site ' + c])
    json.dump({'good': [r['path'] for r in srows], 'cameras': cams}, open(os.path.join(root, 'fixture.json'), 'w'))


def fixture():
    """Builds the fixture if needed; returns a dict of its paths."""
    os.makedirs(TMP, exist_ok=True)
    with open(os.path.join(TMP, 'classify_fixture.lock'), 'w') as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        done = os.path.join(ROOT, 'fixture.json')
        if not os.path.exists(done):
            import shutil
            shutil.rmtree(ROOT, ignore_errors=True)
            os.makedirs(ROOT)
            build(ROOT)
    meta = json.load(open(os.path.join(ROOT, 'fixture.json')))
    return {'root': ROOT, 'survey': os.path.join(ROOT, 'survey'), 'clf': os.path.join(ROOT, 'clf.irbis'),
            'model': MODEL, 'deployments': os.path.join(ROOT, 'deployments.csv'), 'n_good': len(meta['good']),
            'cameras': meta['cameras'], 'manifest': {r['path']: r for r in manifest()}}


def classify(fx, out, *extra, check=None):
    cmd = [BIN, 'classify', '--model', fx['model'], '--classifier', fx['clf'], fx['survey'], '-o', out,
           '--threads', '2', '--deployments', fx['deployments'], '--positive', 'animal', '--threshold', '0.5',
           '--gap', '60'] + list(extra)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check is not None and r.returncode != check:
        raise AssertionError('exit %d (wanted %d): %s\n%s' % (r.returncode, check, ' '.join(cmd), r.stderr))
    return r


def read_predictions(out):
    with open(os.path.join(out, 'predictions.csv'), newline='') as f:
        return list(csv.DictReader(f))


if __name__ == '__main__':
    fx = fixture()
    print('fixture: %d good images + %d broken files in %s' % (fx['n_good'], len(BROKEN), fx['survey']))
    sys.exit(0)
