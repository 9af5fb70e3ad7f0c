"""One pipeline from training to deployment: the equivalence acceptance test (issue 12).

MLWIC blocks: `irbis experiment` runs RN2+A+M (two input sizes averaged, info strips cropped,
the whole frame squashed) with 3 contiguous blocks as folds on the first 120 MLWIC frames. Then
for each block, `irbis train --images` trains the same recipe on the other two blocks' images
only, and `irbis classify --pipeline` classifies the held-out block as a survey folder of its
own. Each image's probability must equal the experiment's out-of-fold prediction of RN2+A and
RN2+A+M to 1e-5, the blocks' edge frames included (the experiment's motion features of a fold
link training frames to training frames and test frames to test frames, as a deployment
does). The same with leave-one-camera-out on the two
hannaboe tunnel cameras (`--group camera`), where the labels are plain path,label: the
experiment takes cameras from the folders and times from EXIF as classify's scan does.

Also: a pipeline file round trip (classes, parts, weights, the model's sha256); a model with
another sha256 is refused naming both files; a version-1 classifier still loads (classify
--pipeline with it equals classify --classifier); kill -9 at random moments of a classify
--pipeline with motion parts, then resume: the same predictions as an uninterrupted run; and
irbis-mpi classify --pipeline on 2 and 3 ranks, and with the camera cut into units of work (each
image sent with its neighbours), gives that run's predictions.
"""
import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, store_progress, tmpdir  # noqa: E402

TMP = tmpdir('pipeline')
N = 120
RECIPE = ['--size', '160,224', '--combine', 'mean', '--resize', 'squash', '--crop', 'auto']


def run(args, ok=(0,)):
    r = subprocess.run([BIN] + args, capture_output=True, text=True)
    if r.returncode not in ok:
        print(r.stdout[-3000:], r.stderr[-3000:])
    return r


def write_labels(path, rows):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['path', 'label', 'camera', 'timestamp'])
        for r in rows:
            w.writerow([r['path'], r['label'], r.get('camera', ''), r.get('timestamp', '')])


def survey_of(root, rows):
    """A survey folder of symbolic links to rows' images, one sub-folder per camera folder."""
    shutil.rmtree(root, ignore_errors=True)
    for r in rows:
        cam = os.path.basename(os.path.dirname(r['path']))
        os.makedirs(os.path.join(root, cam), exist_ok=True)
        os.symlink(os.path.join(CT, r['path']), os.path.join(root, cam, os.path.basename(r['path'])))
    return root


def predictions(path, key='p_animal'):
    return {os.path.basename(r['path']): float(r[key]) for r in csv.DictReader(open(path))}


def out_of_fold(exp, recipes):
    """The experiment's out-of-fold p_animal of each recipe (by file name) and each path's fold."""
    oof, fold = {}, {}
    for recipe in recipes:
        f = os.path.join(exp, 'predictions_%s.csv' % recipe.replace('+', '_'))
        oof[recipe] = {os.path.basename(p['path']): float(p['p_animal']) for p in csv.DictReader(open(f))}
        fold.update({p['path']: p['fold'] for p in csv.DictReader(open(f))})
    return oof, fold


def fold_split(tmp, rows, fold, f):
    """Fold f's test rows, the labels of the other folds' rows (tmp/train_F.csv) and a survey of
    the test rows (tmp/surveyF)."""
    test = [r for r in rows if fold[r['path']] == f]
    lab = os.path.join(tmp, 'train_%s.csv' % f)
    write_labels(lab, [r for r in rows if fold[r['path']] != f])
    return test, lab, survey_of(os.path.join(tmp, 'survey%s' % f), test)


def equivalence(name, rows, exp_args, exact, measured=()):
    """rows: the labelled images. The experiment's out-of-fold predictions of each row in exact
    must equal classify --pipeline's of that row trained on the other folds, to 1e-5; rows in
    measured are compared and reported."""
    tmp = os.path.join(TMP, name)
    os.makedirs(tmp, exist_ok=True)
    labels = os.path.join(tmp, 'labels.csv')
    write_labels(labels, rows)
    cache = os.path.join(tmp, 'cache')
    exp = os.path.join(tmp, 'experiment')
    recipes = list(exact) + list(measured)
    r = run(['experiment', '--images', CT, '--labels', labels, '--model', MODEL, '--task', 'empty',
             '--rows', ','.join(recipes), '--cache', cache, '-o', exp, '--quiet'] + exp_args)
    check(r.returncode == 0, '%s: experiment ran (%s)' % (name, r.stderr.strip()[-300:]))
    oof, fold = out_of_fold(exp, recipes)
    result = {}
    for f in sorted(set(fold.values())):
        test, lab, survey = fold_split(tmp, rows, fold, f)
        for recipe in recipes:
            pipe = os.path.join(tmp, '%s_fold%s.irbis' % (recipe.replace('+', '_'), f))
            r = run(['train', '--images', CT, '--labels', lab, '--model', MODEL, '--task', 'empty',
                     '--recipe', recipe, '--cache', cache, '-o', pipe, '--quiet'] + exp_args)
            check(r.returncode == 0 and 'cross-validated accuracy' in r.stdout,
                  '%s fold %s: train --images --recipe %s (%s)' % (name, f, recipe, r.stderr.strip()[-300:]))
            out = os.path.join(tmp, 'out_%s_%s' % (recipe.replace('+', '_'), f))
            shutil.rmtree(out, ignore_errors=True)
            r = run(['classify', '--pipeline', pipe, survey, '-o', out, '--quiet'])
            check(r.returncode == 0, '%s fold %s: classify --pipeline %s (%s)' % (name, f, recipe,
                                                                               r.stderr.strip()[-300:]))
            got = predictions(os.path.join(out, 'predictions.csv'))
            check(len(got) == len(test), '%s fold %s: %d of %d images classified' % (name, f, len(got), len(test)))
            d, k = max((abs(got[k] - oof[recipe][k]), k) for k in got)
            result[recipe] = max(result.get(recipe, 0), d)
            if recipe in exact:
                check(d < 1e-5, '%s fold %s: classify --pipeline %s = the experiment\'s out-of-fold %s (max |dp| '
                      '%.2g at %s over %d images)' % (name, f, recipe, recipe, d, k, len(got)))
    for recipe in recipes:
        print('%s %s: max |dp| %.2g over every fold (%s)' % (name, recipe, result.get(recipe, 1),
                                                            'checked' if recipe in exact else 'measured'))
    return exp


def file_checks(exp):
    """Round trip, a refused model, a version-1 classifier as a one-part pipeline."""
    pipe = os.path.join(TMP, 'mlwic', 'RN2_A_fold0.irbis')
    import hashlib
    sha = hashlib.sha256(open(MODEL, 'rb').read()).hexdigest()
    data = open(pipe, 'rb').read()
    check(data[:8] == b'IRBISCLF' and int.from_bytes(data[8:12], 'little') == 2 and sha.encode() in data,
          'pipeline file: envelope version 2 holding the model sha256')
    # the run's store records both files' sha256 (what a resume checks), as hashlib computes them
    import sqlite3
    db = sqlite3.connect(os.path.join(TMP, 'mlwic', 'out_RN2_A_0', 'irbis.sqlite'))
    params = dict(db.execute('SELECT key, value FROM params'))
    db.close()
    check(params.get('model_sha256') == sha and params.get('classifier_sha256') == hashlib.sha256(data).hexdigest(),
          'the store records the model and pipeline sha256: %s' % {k: params.get(k) for k in
                                                                   ('model_sha256', 'classifier_sha256')})
    # another model: a copy with one metadata byte changed is refused, both files named
    other = os.path.join(TMP, 'other.onnx')
    b = bytearray(open(MODEL, 'rb').read())
    b += b'\x00'  # trailing byte: still parses as the same graph
    open(other, 'wb').write(bytes(b))
    survey = os.path.join(TMP, 'mlwic', 'survey0')
    r = run(['classify', '--pipeline', pipe, '--model', other, survey, '-o', os.path.join(TMP, 'refused')],
            ok=(3,))
    check(r.returncode == 3 and 'other.onnx' in r.stderr and 'RN2_A_fold0.irbis' in r.stderr and 'sha256' in r.stderr,
          'a model with another sha256 is refused naming both files: %s' % r.stderr.strip())
    # a version-1 classifier through --pipeline equals --classifier
    feats = os.path.join(TMP, 'v1', 'feats')
    os.makedirs(os.path.dirname(feats), exist_ok=True)
    labels = os.path.join(TMP, 'mlwic', 'labels.csv')
    paths = [os.path.join(CT, r['path']) for r in csv.DictReader(open(labels))]
    r = run(['featurize', '--model', MODEL, '--cut', '2', '-o', feats] + paths, ok=(0, 1))
    clf = os.path.join(TMP, 'v1', 'c.irbis')
    r = run(['train', feats, '--labels', labels, '--root', CT, '--negative', 'empty', '--C', '0.1', '-o', clf])
    check(r.returncode == 0, 'v1 classifier trained (%s)' % r.stderr.strip()[-200:])
    a = os.path.join(TMP, 'v1', 'a')
    b2 = os.path.join(TMP, 'v1', 'b')
    run(['classify', '--model', MODEL, '--classifier', clf, survey, '-o', a, '--quiet'])
    run(['classify', '--pipeline', clf, survey, '-o', b2, '--quiet'])
    pa, pb = predictions(os.path.join(a, 'predictions.csv')), predictions(os.path.join(b2, 'predictions.csv'))
    d = max(abs(pa[k] - pb[k]) for k in pa) if pa and pa.keys() == pb.keys() else 1
    check(d < 1e-5, 'a version-1 classifier loads as a one-part pipeline (max |dp| %.2g)' % d)


def kill_resume():
    """kill -9 during classify --pipeline with motion parts, then resume: the same outputs."""
    pipe = os.path.join(TMP, 'mlwic', 'RN2_A_M_fold1.irbis')
    rows = sorted((r for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv')))
                   if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])[N:N + 60]
    survey = survey_of(os.path.join(TMP, 'kill_survey'), rows)
    ref = os.path.join(TMP, 'kill_ref')
    shutil.rmtree(ref, ignore_errors=True)
    base = ['classify', '--pipeline', pipe, survey, '--batch', '4', '--threads', '2', '--quiet']
    r = run(base[:-1] + ['-o', ref])
    # runs of 16 images: each run's first image and its previous neighbour come from the run
    # before (kept rows), not decoded again; one run of all 60 gives the same bytes
    m = re.search(r'(\d+) images decoded', r.stderr)
    check(m is not None and int(m.group(1)) == len(rows), 'runs of 16 with motion parts decode each of the %d '
          'images once: %s' % (len(rows), m.group(0) if m else r.stderr.strip()[-300:]))
    one = os.path.join(TMP, 'kill_one_run')
    shutil.rmtree(one, ignore_errors=True)
    run(base[:4] + ['--batch', '64'] + base[6:] + ['-o', one])
    a, b = (list(csv.DictReader(open(os.path.join(d, 'predictions.csv')))) for d in (ref, one))
    check(len(a) == len(rows) and a == b, 'runs of 16 (rows kept across runs) = one run of %d: the same '
          'predictions.csv rows (%d of %d equal)' % (len(rows), sum(x == y for x, y in zip(a, b)), len(a)))
    out = os.path.join(TMP, 'kill_out')
    shutil.rmtree(out, ignore_errors=True)
    run(base + ['-o', out, '--limit', '1'])

    def done():
        return store_progress(out)

    rnd = random.Random(int(time.time()))
    partial = 0
    for round_ in range(12):
        d0, total = done()
        if d0 >= total - 1:
            break
        p = subprocess.Popen([BIN] + base + ['-o', out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        target = rnd.randint(d0 + 1, min(total - 1, d0 + 12))
        while p.poll() is None and done()[0] < target:
            time.sleep(0.01)
        p.send_signal(signal.SIGKILL)
        p.wait()
        d, t = done()
        partial += 0 < d < t
    r = run(base + ['-o', out])
    check(r.returncode == 0, 'resumed classify --pipeline: exit %d' % r.returncode)
    a = list(csv.DictReader(open(os.path.join(ref, 'predictions.csv'))))
    b = list(csv.DictReader(open(os.path.join(out, 'predictions.csv'))))
    same_rows = [x['path'] for x in a] == [x['path'] for x in b] and all(
        x['label'] == y['label'] and x['seq_label'] == y['seq_label'] for x, y in zip(a, b))
    dp = max(abs(float(x['p_animal']) - float(y['p_animal'])) for x, y in zip(a, b)) if same_rows else 1
    check(same_rows and dp < 1e-5, 'killed %d times mid-run and resumed: the same predictions (max |dp| %.2g)'
          % (partial, dp))
    check(partial >= 1, 'a kill landed during classification')
    grow(pipe, rows, base[4:], ref)
    damaged_edges(pipe, rows[:12])
    return pipe, survey, ref


def damaged_edges(pipe, rows):
    """Frames decoded in part (each cut to 70 % of its bytes) in runs of 4: an image with a warning
    is not kept for the next run, which decodes it again, so every frame keeps its 'damaged JPEG'
    message and the predictions equal one run's (regression guard: a replayed first image would
    come without its warning)."""
    survey = os.path.join(TMP, 'damaged_survey', 'cam')
    shutil.rmtree(os.path.dirname(survey), ignore_errors=True)
    os.makedirs(survey)
    for r in rows:
        data = open(os.path.join(CT, r['path']), 'rb').read()
        open(os.path.join(survey, os.path.basename(r['path'])), 'wb').write(data[:len(data) * 7 // 10])
    outs = []
    for batch in ('1', '64'):
        out = os.path.join(TMP, 'damaged_out_' + batch)
        shutil.rmtree(out, ignore_errors=True)
        r = run(['classify', '--pipeline', pipe, os.path.dirname(survey), '-o', out, '--batch', batch, '--quiet'])
        outs.append(list(csv.DictReader(open(os.path.join(out, 'predictions.csv')))) if r.returncode == 0 else [])
    damaged = sum('damaged JPEG' in x['message'] for x in outs[0])
    check(len(outs[0]) == len(rows) and outs[0] == outs[1] and damaged == len(rows),
          'frames decoded in part, runs of 4 = one run: the same predictions.csv rows, %d of %d with their '
          '"damaged JPEG" message' % (damaged, len(rows)))


def grow(pipe, rows, opts, ref):
    """A survey classified in two parts (the first 30 frames, then all 60 in the same folder) gives
    the single run's predictions: the frame whose next neighbour arrived with the second part is
    classified again (regression: it kept the motion features it had without that neighbour)."""
    survey = survey_of(os.path.join(TMP, 'grow_survey'), rows[:30])
    out = os.path.join(TMP, 'grow_out')
    shutil.rmtree(out, ignore_errors=True)
    run(['classify', '--pipeline', pipe, survey, '-o', out] + opts)
    first = predictions(os.path.join(out, 'predictions.csv'))
    for r in rows[30:]:
        cam = os.path.basename(os.path.dirname(r['path']))
        os.makedirs(os.path.join(survey, cam), exist_ok=True)
        os.symlink(os.path.join(CT, r['path']), os.path.join(survey, cam, os.path.basename(r['path'])))
    run(['classify', '--pipeline', pipe, survey, '-o', out] + opts)
    same, dp = same_predictions(ref, out)
    edge = os.path.basename(rows[29]['path'])
    moved = abs(first[edge] - predictions(os.path.join(ref, 'predictions.csv'))[edge])
    check(same and dp < 1e-5, 'a survey grown by a second card: the single run\'s predictions (max |dp| %.2g; the '
          'first part\'s last frame moved by %.2g)' % (dp, moved))


def same_predictions(ref, out):
    """(rows and labels equal, max |dp|) of two classify outputs."""
    a = list(csv.DictReader(open(os.path.join(ref, 'predictions.csv'))))
    b = list(csv.DictReader(open(os.path.join(out, 'predictions.csv')))) if os.path.exists(
        os.path.join(out, 'predictions.csv')) else []
    same = [x['path'] for x in a] == [x['path'] for x in b] and all(
        x['label'] == y['label'] and x['seq_label'] == y['seq_label'] for x, y in zip(a, b))
    # the novelty columns (a pipeline with a novelty model) travel with the probabilities
    nov = [k for k in (a[0].keys() if a else []) if 'novel' in k]
    same = same and bool(b) and set(a[0].keys()) == set(b[0].keys()) and all(
        (x[k] == y[k]) or abs(float(x[k]) - float(y[k])) <= 1e-6 for x, y in zip(a, b) for k in nov)
    return same, max(abs(float(x['p_animal']) - float(y['p_animal'])) for x, y in zip(a, b)) if same else 1


def mpi_pipeline(pipe, survey, ref):
    """irbis-mpi classify --pipeline with motion parts: np 2 and 3, and units of work that cut the
    camera (each image sent with its neighbours), equal the single-process run."""
    mpirun = shutil.which('mpirun')
    mpi_bin = os.path.join(os.path.dirname(BIN), 'tools', 'mpi', 'irbis-mpi')
    if not mpirun or not os.path.exists(mpi_bin):
        print('SKIPPED irbis-mpi: %s' % ('no mpirun' if not mpirun else 'irbis-mpi not built'))
        return
    for np_, units in ((2, None), (3, None), (2, '2')):
        out = os.path.join(TMP, 'mpi_%d_%s' % (np_, units))
        shutil.rmtree(out, ignore_errors=True)
        env = dict(os.environ, IRBIS_MPI_TIMING='1')
        if units:
            env['IRBIS_MPI_UNIT_IMAGES'] = units
        r = subprocess.run([mpirun, '--allow-run-as-root', '--oversubscribe', '-np', str(np_), mpi_bin, 'classify',
                            '--pipeline', pipe, survey, '-o', out, '--batch', '4', '--threads', '1', '--quiet'],
                           capture_output=True, text=True, env=env)
        worked = [int(x) for x in re.findall(r'rank \d+: (\d+) images in', r.stderr)]
        same, dp = same_predictions(ref, out)
        check(r.returncode == 0 and same and dp < 1e-5,
              'irbis-mpi -np %d%s classify --pipeline (motion): the single run\'s predictions (max |dp| %.2g; '
              'images per rank %s) %s' % (np_, ' in units of ~%s images' % units if units else '', dp, worked,
                                          r.stderr.strip()[-300:] if r.returncode else ''))
        if units:
            check(sum(1 for x in worked if x) >= 2, 'units of work cut the camera: both ranks worked (%s)' % worked)


def mlwic_rows(manifest, n):
    """The first n MLWIC rows of the manifest in path order, as plain path,label rows (no camera,
    no time: CV blocks of path order, one camera)."""
    mlwic = sorted((r for r in manifest if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])[:n]
    for r in mlwic:
        r['camera'], r['timestamp'] = '', ''
    return mlwic


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP, exist_ok=True)
    manifest = list(csv.DictReader(open(os.path.join(CT, 'manifest.csv'))))
    mlwic = mlwic_rows(manifest, N)
    # contiguous blocks: in the experiment a fold's training frames see training neighbours only
    # and its test frames test neighbours only, as a pipeline trained on the other blocks and
    # deployed on this one does: every image matches, the blocks' edges too
    exp = equivalence('mlwic', mlwic, RECIPE + ['--folds', '3'], ['RN2+A', 'RN2+A+M'])
    hanna = sorted((r for r in manifest if r['path'].startswith('hannaboe_smallmammal/')), key=lambda r: r['path'])
    for r in hanna:
        r['camera'], r['timestamp'] = '', ''  # plain path,label: cameras and times as classify's scan takes them
    # leave-one-camera-out: a camera's frames are each other's only neighbours, in both
    hexp = equivalence('hannaboe', hanna, ['--size', '224', '--resize', 'squash', '--crop', 'auto', '--group',
                                           'camera', '--folds', '2'], ['RN2+A', 'RN2+A+M'])
    res = json.load(open(os.path.join(hexp, 'results.json')))
    check(res['fold_unit'] == 'camera' and res['folds'] == 2 and 100 < res['sequences'] < len(hanna),
          'labels without camera or time columns: cameras from the folders, times from EXIF (%d sequences of %d '
          'images, folds over %s)' % (res['sequences'], len(hanna), res['fold_unit']))
    file_checks(exp)
    mpi_pipeline(*kill_resume())
    finish()


if __name__ == '__main__':
    main()
