"""int8 through a pipeline file (issue 14 item 1): train --precision int8, classify --pipeline.

1. Equivalence, as tests/py/test_pipeline.py does for fp32: `irbis experiment --precision int8`
   runs RN2+A and RN2+A+M (two input sizes averaged, strips cropped, mirrors, motion) with 3
   contiguous blocks as folds on the first 120 MLWIC frames; for each block, `irbis train --images
   --precision int8` trains the recipe on the other two blocks and `irbis classify --pipeline`
   classifies the held-out block. Both are given the same calibration tables (`--calib`, recorded
   by `irbis calibrate`), so each image's probability must equal the experiment's out-of-fold
   prediction to 1e-5: the pipeline runs int8 with the tables it stores, on every part and size.
   RN2+A+M's appearance parts are marked in the file's 'map-mean' section (trained on the spatial
   mean of the motion map, taken after the net, as the experiment makes them at bf16 / int8), so
   classify serves them from the motion inputs' pass: 4 CNN passes per image (2 sizes x image and
   mirror, build/bench_stages counts them) instead of 6. The same file without that section (as
   files saved before it) runs its appearance parts on their own nets again: 6 passes.
1b. The same at bf16 (when the CPU has AVX512-BF16), --crop none, RN2+A beside RN2+A+M in one
   experiment and cache: at bf16 the net's own pooling rounds otherwise than the map's mean (by
   far more than 1e-5, checked on the file without the section), so this is the check that
   classify pools as the experiment does, and that the feature cache keeps the map-mean rows
   apart from RN2+A's net-pooled ones (uncropped, they have the same input).
2. Calibration at train time: without --calib, the table the pipeline stores for each size is
   the one `irbis calibrate` records on the same 64 of the training images (read from the file's
   'precision' section as docs/pipeline.md lays it out, compared byte for byte).
3. `classify --precision fp32` on that int8 pipeline runs fp32 (close to int8, not equal: the
   classifiers were trained on int8 features; the difference is reported); `--precision int8` on
   an fp32 pipeline is refused (no tables), naming the file.
4. `irbis-mpi classify --precision` (when mpirun and irbis-mpi exist): np 2 with the images split
   over both ranks gives the single-process predictions of the same precision, for int8 (the
   pipeline's) and fp32 (the override); int8 on the fp32 pipeline is refused the same way.
5. The recorded tables are cached in the feature cache's folder: a second training run on the
   same images uses the cached table (a table edited in the cache ends up in the pipeline, so it
   was read, not recorded again); training on other images records a new one.
"""
import csv
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import CT, MODEL, check, finish, tmpdir  # noqa: E402
# fp32's helpers
from test_pipeline import fold_split, mlwic_rows, out_of_fold, predictions, run, survey_of, write_labels  # noqa: E402

TMP = tmpdir('pipeline_int8')
N = 120
SIZES = [160, 224]
RECIPE = ['--size', ','.join(map(str, SIZES)), '--combine', 'mean', '--resize', 'squash', '--crop', 'auto',
          '--precision', 'int8']
STAGES = os.path.join(os.environ.get('IRBIS_BUILD', '.'), 'bench_stages')


def map_mean_marks(path):
    """The 'map-mean' section of a pipeline file (docs/pipeline.md): a flag per part, or None."""
    data = open(path, 'rb').read()
    tag = struct.pack('<I', 8) + b'map-mean'
    at = data.rfind(tag)
    if at < 0:
        return None
    length, n = struct.unpack_from('<QI', data, at + len(tag))
    check(length == 4 + 4 * n, 'the map-mean section holds a u32 per part (%d bytes, %d parts)' % (length, n))
    return list(struct.unpack_from('<%dI' % n, data, at + len(tag) + 12))


def without_map_mean(path, out):
    """A copy of the pipeline file without its 'map-mean' section (a file as saved before it):
    the section cut out of the body, the body length and the CRC-32 of the envelope fixed."""
    data = open(path, 'rb').read()
    at = data.rfind(struct.pack('<I', 8) + b'map-mean')
    length, = struct.unpack_from('<Q', data, at + 12)
    body = data[:at] + data[at + 12 + 8 + length:-4]
    body = body[:16] + struct.pack('<Q', len(body) - 24) + body[24:]
    open(out, 'wb').write(body + struct.pack('<I', zlib.crc32(body)))
    return out


def cnn_passes(pipe, image):
    """CNN passes per image that classify --pipeline runs (bench_stages' count from the classify
    engine's own featurizer inputs), or None when bench_stages is not built."""
    if not os.path.exists(STAGES):
        return None
    lst = pipe + '.list'
    open(lst, 'w').write(image + '\n')
    r = subprocess.run([STAGES, pipe, MODEL, '1', lst, '1', '1', '-'], capture_output=True, text=True)
    m = re.search(r'passes (\d+)', r.stdout)
    return int(m.group(1)) if r.returncode == 0 and m else -1


def calib_section(path):
    """The 'precision' section of a pipeline file (docs/pipeline.md): (precision, {size: table text})."""
    data = open(path, 'rb').read()
    tag = struct.pack('<I', 9) + b'precision'
    at = data.rfind(tag)
    if at < 0:
        return None, {}
    off = at + len(tag)
    length, = struct.unpack_from('<Q', data, off)
    off += 8
    end = off + length
    prec, n = struct.unpack_from('<II', data, off)
    off += 8
    tables = {}
    for _ in range(n):
        size, tl = struct.unpack_from('<II', data, off)
        off += 8
        tables[size] = data[off:off + tl].decode()
        off += tl
    check(off == end, 'the precision section is read to its last byte (%d of %d)' % (off - at, end - at))
    return prec, tables


def equivalence(rows, calib, name='folds', prec='int8', recipe_args=RECIPE, recipes=('RN2+A', 'RN2+A+M'),
                trained=('RN2+A', 'RN2+A+M')):
    """The experiment's out-of-fold predictions of each recipe in `recipes` at precision prec
    (int8: with the tables calib) = classify --pipeline's of the recipes in `trained`, each trained
    on the other folds. RN2+A+M's pipeline must run the shared pass."""
    tmp = os.path.join(TMP, name)
    os.makedirs(tmp, exist_ok=True)
    labels = os.path.join(tmp, 'labels.csv')
    write_labels(labels, rows)
    cache, exp = os.path.join(tmp, 'cache'), os.path.join(tmp, 'experiment')
    calib_args = ['--calib', ','.join(calib[s] for s in SIZES)] if calib else []
    r = run(['experiment', '--images', CT, '--labels', labels, '--model', MODEL, '--task', 'empty', '--rows',
             ','.join(recipes), '--cache', cache, '-o', exp, '--quiet', '--folds', '3'] + recipe_args + calib_args,
            ok=(0, 3))
    if prec == 'bf16' and r.returncode == 3 and 'bf16' in r.stderr:
        print('SKIPPED bf16 equivalence: %s' % r.stderr.strip()[-200:])
        return
    check(r.returncode == 0, 'experiment --precision %s ran (%s)' % (prec, r.stderr.strip()[-300:]))
    if prec == 'bf16':  # its maps are written in f32 now: rows cached from rounded maps are another key
        keys = [json.load(open(j)).get('irbis_cache_key', '') for j in glob.glob(os.path.join(cache, '*.json'))]
        check(keys and all(' out=f32' in k for k in keys),
              'bf16 feature cache keys say out=f32 (%d of %d)' % (sum(' out=f32' in k for k in keys), len(keys)))
    oof, fold = out_of_fold(exp, recipes)
    for f in sorted(set(fold.values())):
        test, lab, survey = fold_split(tmp, rows, fold, f)
        for recipe in trained:
            pipe = os.path.join(tmp, '%s_fold%s.irbis' % (recipe.replace('+', '_'), f))
            r = run(['train', '--images', CT, '--labels', lab, '--model', MODEL, '--task', 'empty', '--recipe', recipe,
                     '--cache', cache, '-o', pipe, '--quiet'] + recipe_args + calib_args)
            check(r.returncode == 0, 'fold %s: train --images --precision %s --recipe %s (%s)' %
                  (f, prec, recipe, r.stderr.strip()[-300:]))
            code, tables = calib_section(pipe)
            check(code == {'int8': 2, 'bf16': 1}[prec] and tables == ({s: open(calib[s]).read() for s in SIZES}
                                                                     if calib else {}),
                  'fold %s %s: the pipeline holds %s and the given tables byte for byte' % (f, recipe, prec))
            d, k, n = classified(pipe, survey, os.path.join(tmp, 'out_%s_%s' % (recipe.replace('+', '_'), f)),
                                 oof[recipe])
            check(n == len(test) and d < 1e-5, 'fold %s: classify --pipeline %s (%s) = the experiment\'s %s '
                  'out-of-fold %s (max |dp| %.2g at %s over %d of %d images)' % (f, recipe, prec, prec, recipe, d,
                                                                               k, n, len(test)))
            if recipe == 'RN2+A+M':
                shared_pass(pipe, prec, f, test, survey, oof[recipe], tmp)


def classified(pipe, survey, out, ref):
    """classify --pipeline pipe on survey into out: (max |dp| against ref, its image, images)."""
    shutil.rmtree(out, ignore_errors=True)
    r = run(['classify', '--pipeline', pipe, survey, '-o', out, '--quiet'])
    check(r.returncode == 0, 'classify --pipeline %s (%s)' % (os.path.basename(pipe), r.stderr.strip()[-300:]))
    got = predictions(os.path.join(out, 'predictions.csv')) if r.returncode == 0 else {}
    d, k = max((abs(got[k] - ref[k]), k) for k in got) if got else (1, '-')
    return d, k, len(got)


def shared_pass(pipe, prec, f, test, survey, ref, tmp):
    """RN2+A+M at bf16 / int8: its appearance parts are marked map-mean and served by the motion
    inputs' pass; the same file without the mark (as saved before) runs them on their own nets."""
    marks = map_mean_marks(pipe)
    check(marks == [1] * len(SIZES) + [0], 'fold %s RN2+A+M (%s): the appearance parts (one per size) are marked '
          'map-mean, the motion part not: %s' % (f, prec, marks))
    image = os.path.join(CT, test[0]['path'])
    passes = cnn_passes(pipe, image)
    if passes is None:
        print('SKIPPED CNN passes: bench_stages is not built')
    else:
        check(passes == 2 * len(SIZES), 'fold %s RN2+A+M (%s): %d CNN passes per image (want %d: one per size and '
              'mirror, the shared pass; %d without it)' % (f, prec, passes, 2 * len(SIZES), 3 * len(SIZES)))
    if f != '0':
        return
    old = without_map_mean(pipe, os.path.join(tmp, 'old_style_%s.irbis' % prec))
    passes = cnn_passes(old, image)
    check(map_mean_marks(old) is None and passes in (None, 3 * len(SIZES)), 'the file without the map-mean '
          'section (as saved before it) runs its appearance parts on their own nets: %s passes' % passes)
    d, k, n = classified(old, survey, os.path.join(tmp, 'out_old_style'), ref)
    if prec == 'int8':  # the net's own pooling equals the map's mean to float rounding at int8 (measured)
        check(n == len(test) and d < 1e-5, 'the old-style int8 file runs: max |dp| %.2g from the experiment (the '
              'net pooling its int8 map against the mean of it, %d images)' % (d, n))
    else:  # bf16: the net's pooling rounds otherwise, so the mark is what makes classify the experiment
        check(n == len(test) and d > 1e-5, 'without the mark, bf16 pools in the net: max |dp| %.2g at %s from the '
              'experiment (the mark is what keeps it to 1e-5)' % (d, k))


def train_time_calibration(rows):
    tmp = os.path.join(TMP, 'default')
    os.makedirs(tmp, exist_ok=True)
    labels = os.path.join(tmp, 'labels.csv')
    write_labels(labels, rows)
    pipe = os.path.join(tmp, 'p8.irbis')
    r = run(['train', '--images', CT, '--labels', labels, '--model', MODEL, '--task', 'empty', '--recipe', 'RN2+A',
             '--size', '224', '--resize', 'squash', '--crop', 'none', '--precision', 'int8', '--folds', '3',
             '-o', pipe, '--quiet'])
    check(r.returncode == 0 and 'precision: int8' in r.stdout and 'from 64 of the images' in r.stdout,
          'train --images --precision int8, tables recorded and said so (%s)' % r.stderr.strip()[-300:])
    prec, tables = calib_section(pipe)
    table = os.path.join(tmp, 'ref.calib')
    paths = sorted(os.path.join(CT, r['path']) for r in rows)
    r = run(['calibrate', '--model', MODEL, '--size', '224', '--resize', 'squash', '--count', '64', '-o', table]
            + paths)
    check(r.returncode == 0 and prec == 2 and list(tables) == [224] and tables[224] == open(table).read(),
          'the stored table is irbis calibrate\'s on the same 64 training images, byte for byte (%d tensors)' %
          (tables.get(224, '').count('\n') - 2))
    survey = survey_of(os.path.join(tmp, 'survey'), rows[:40])
    outs = {}
    for prec_arg in ([], ['--precision', 'fp32'], ['--precision', 'int8']):
        out = os.path.join(tmp, 'out' + ''.join(prec_arg))
        r = run(['classify', '--pipeline', pipe, survey, '-o', out, '--quiet'] + prec_arg)
        check(r.returncode == 0, 'classify --pipeline %s (%s)' % (' '.join(prec_arg), r.stderr.strip()[-200:]))
        outs[' '.join(prec_arg)] = predictions(os.path.join(out, 'predictions.csv'))
        by = open(os.path.join(out, 'megadetector.json')).read()
        check(('int8' in by) == (prec_arg != ['--precision', 'fp32']),
              'the outputs name the precision run (%s)' % (' '.join(prec_arg) or 'default: int8'))
    a, b, c = outs[''], outs['--precision fp32'], outs['--precision int8']
    check(a == c, 'default = --precision int8 on an int8 pipeline')
    d = max(abs(a[k] - b[k]) for k in a)
    agree = sum((a[k] >= 0.5) == (b[k] >= 0.5) for k in a)
    check(0 < d < 0.2 and agree >= len(a) - 1, '--precision fp32 on an int8 pipeline runs fp32: max |dp| %.3g, '
          'labels agree on %d of %d images' % (d, agree, len(a)))
    # an fp32 pipeline cannot run int8: it has no tables
    fp = os.path.join(tmp, 'p32.irbis')
    r = run(['train', '--images', CT, '--labels', labels, '--model', MODEL, '--task', 'empty', '--recipe', 'RN2',
             '--size', '224', '--resize', 'squash', '--crop', 'none', '--folds', '3', '-o', fp, '--quiet'])
    check(r.returncode == 0 and calib_section(fp) == (None, {}), 'an fp32 pipeline has no precision section')
    r = run(['classify', '--pipeline', fp, survey, '-o', os.path.join(tmp, 'refused'), '--quiet', '--precision',
             'int8'], ok=(2,))
    check(r.returncode == 2 and 'p32.irbis' in r.stderr and 'calibration' in r.stderr,
          '--precision int8 on an fp32 pipeline is refused (usage error): %s' % r.stderr.strip())
    r = run(['train', '--images', CT, '--labels', labels, '--model', MODEL, '--calib', table, '-o', fp], ok=(2,))
    check(r.returncode == 2 and '--precision int8' in r.stderr, '--calib without int8 is a usage error: %s' %
          r.stderr.strip())
    mpi_precision(pipe, fp, survey, outs, tmp)


def mpi_precision(pipe, fp, survey, outs, tmp):
    """irbis-mpi classify --precision: np 2 equals the single process at the same precision."""
    mpirun, mpi_bin = shutil.which('mpirun'), os.path.join(os.environ.get('IRBIS_BUILD', '.'), 'tools/mpi/irbis-mpi')
    if not mpirun or not os.path.exists(mpi_bin):
        print('SKIPPED irbis-mpi classify --precision: %s' % ('no mpirun' if not mpirun else 'no irbis-mpi'))
        return
    mpi = [mpirun, '--allow-run-as-root', '--oversubscribe', '-np', '2', mpi_bin, 'classify']
    env = dict(os.environ, IRBIS_MPI_UNIT_IMAGES='8', IRBIS_MPI_TIMING='1')  # one camera: split it over the ranks
    for prec_arg, ref in ((['--precision', 'int8'], outs['']), (['--precision', 'fp32'], outs['--precision fp32'])):
        out = os.path.join(tmp, 'mpi' + ''.join(prec_arg))
        shutil.rmtree(out, ignore_errors=True)
        r = subprocess.run(mpi + ['--pipeline', pipe, survey, '-o', out, '--threads', '1'] + prec_arg,
                           capture_output=True, text=True, env=env, timeout=600)
        per_rank = [int(x) for x in re.findall(r'rank \d+: (\d+) images in', r.stderr)]
        got = predictions(os.path.join(out, 'predictions.csv')) if r.returncode == 0 else {}
        check(r.returncode == 0 and len(per_rank) == 2 and all(per_rank) and got == ref,
              'irbis-mpi classify -np 2 %s: the single process\'s predictions (%d images, ranks %s, exit %d) %s'
              % (' '.join(prec_arg), len(got), per_rank, r.returncode, r.stderr.strip()[-300:] if r.returncode else ''))
        by = open(os.path.join(out, 'megadetector.json')).read() if got else ''
        check(('int8' in by) == (prec_arg[1] == 'int8'), 'irbis-mpi %s: the outputs name the precision run'
              % ' '.join(prec_arg))
    r = subprocess.run(mpi + ['--pipeline', fp, survey, '-o', os.path.join(tmp, 'mpi_refused'), '--precision', 'int8'],
                       capture_output=True, text=True, timeout=600)
    check(r.returncode == 2 and 'p32.irbis' in r.stderr and 'calibration' in r.stderr,
          'irbis-mpi classify --precision int8 on an fp32 pipeline is refused (usage error): %s' % r.stderr.strip())
    r = subprocess.run(mpi + ['--pipeline', pipe, survey, '-o', os.path.join(tmp, 'mpi_bad'), '--precision', 'int4'],
                       capture_output=True, text=True, timeout=600)
    check(r.returncode == 2 and "got 'int4'" in r.stderr, 'irbis-mpi --precision int4: usage error: %s' %
          r.stderr.strip()[-200:])


def calibration_cache(rows):
    """Tables recorded by train --precision int8 are kept in the cache folder and reused."""
    tmp = os.path.join(TMP, 'calib_cache')
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    cache = os.path.join(tmp, 'cache')

    def train(name, rows_used):
        labels = os.path.join(tmp, name + '.csv')
        write_labels(labels, rows_used)
        pipe = os.path.join(tmp, name + '.irbis')
        r = run(['train', '--images', CT, '--labels', labels, '--model', MODEL, '--task', 'empty', '--recipe', 'RN2',
                 '--size', '224', '--resize', 'squash', '--crop', 'none', '--precision', 'int8', '--folds', '3',
                 '--cache', cache, '-o', pipe, '--quiet'])
        check(r.returncode == 0, 'train %s --precision int8 --cache (%s)' % (name, r.stderr.strip()[-300:]))
        return calib_section(pipe)[1].get(224, '')

    first = train('a', rows)
    files = glob.glob(os.path.join(cache, 'calib-*.calib'))
    check(len(files) == 1 and open(files[0]).read() == first and first.count('\n') > 60,
          'the recorded table is in the cache folder, byte for byte the one the pipeline stores (%d files)' %
          len(files))
    if len(files) != 1:
        return
    lines = first.splitlines()
    lo, hi, name = lines[2].split(' ', 2)
    lines[2] = '%s 100 %s' % (lo, name)  # a range no recording gives (ReLU6, or far wider than seen)
    edited = '\n'.join(lines) + '\n'
    open(files[0], 'w').write(edited)
    check(train('b', rows) == edited, 'a second train on the same images uses the cached table (the edited one '
          'is stored: %s)' % lines[2])
    third = train('c', rows[:100])
    check(len(glob.glob(os.path.join(cache, 'calib-*.calib'))) == 2 and third != edited and third.count('\n') > 60,
          'train on other images records a new table beside it')


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP, exist_ok=True)
    manifest = list(csv.DictReader(open(os.path.join(CT, 'manifest.csv'))))
    mlwic = mlwic_rows(manifest, N)
    calib = {}
    for s in SIZES:  # tables from other MLWIC frames than the ones classified
        calib[s] = os.path.join(TMP, 'mlwic_%d.calib' % s)
        r = run(['calibrate', '--model', MODEL, '--size', str(s), '--resize', 'squash', '--count', '12', '-o',
                 calib[s]] + [os.path.join(CT, r['path']) for r in
                              sorted(manifest, key=lambda r: r['path'])[-400:] if r['path'].startswith('mlwic')])
        check(r.returncode == 0, 'irbis calibrate at %d (%s)' % (s, r.stderr.strip()[-200:]))
    equivalence(mlwic, calib)
    equivalence(mlwic, None, name='folds_bf16', prec='bf16', recipes=('RN2+A', 'RN2+A+M'), trained=('RN2+A+M',),
                recipe_args=['--size', ','.join(map(str, SIZES)), '--combine', 'mean', '--resize', 'squash', '--crop',
                             'none', '--precision', 'bf16'])
    train_time_calibration(mlwic)
    calibration_cache(mlwic)
    finish()


if __name__ == '__main__':
    main()
