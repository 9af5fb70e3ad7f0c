"""irbis classify --pipeline end to end on the shared camera-trap frames, for a 224 RN2 pipeline
and for the demo's best pipeline (out/pipeline.irbis, RN2+A+M at 224/448/576; --best FILE for
another), each stage alone beside the whole, measured in the same run, interleaved by round:

  decode      the featurizer with no nets: read + decode + preprocess for every input of the
              pipeline (build/bench_stages, bench/bench_stages.c)
  cnn         every input's net (mirrors included) on tensors already in memory
  classifier  every part's classifier on rows in memory
  featurizer  decode and CNN together as classify runs them (the library's irb_featurizer)
  whole       `irbis classify --pipeline SURVEY -o OUT` (scan, EXIF, store, decode, CNN,
              classifiers, outputs), --threads 2

Rates are images/s of wall time (CPU clocks are no steadier here: on this paravirtualised host
a live process's CPU time counts the time its vCPUs were stolen). whole/slowest is the whole
run's rate over its slowest stage alone; "whole, marginal" is the rate of the N images the 2N
run adds (N / (t(2N) - t(N))), so the run's fixed costs (loading the model, compiling the nets,
the outputs' setup) are left out. With several rounds, the median of the rounds' ratios follows
(a round's stages alone and its whole runs run one after the other, so a slow spell of the host
that falls on one round moves that round only). Peak RSS of the whole run is measured on N and
on 2N images (memory flat in survey size: the two should be about equal).

Each pipeline's line says its CNN passes per image (an input's net on the image, and on its
mirror): a pipeline whose appearance parts share the motion parts' inputs runs one pass per
size for both (and one per mirror). --best takes several files, comma-separated (e.g. a
pipeline saved before and after a recipe change), all measured in the same rounds.

Two builds in the same rounds (e.g. main before a change and the branch after it): --build
NAME=DIR for each (DIR holds irbis and bench_stages; default: this tree's build/). Each round
runs every build on every pipeline, so a ratio between builds is measured under the same load.
--data hannaboe runs the surveys on the hannaboe frames (1280 x 720, where each input size picks
its own DCT scale unless the pipeline decodes once) instead of MLWIC's (256 x 256); there are 200
(MLWIC: 1,733 the RN2 pipeline did not train on), so a longer survey repeats them under new names
(the same work per image): a survey of thousands shows the production rate, where the run's fixed
costs (about 0.2 s for RN2 at 224, 0.3 s for the demo recipe, and the report's thumbnails, at most
300: docs/pipeline.md, "Session 22") no longer count.

"cores busy" is the whole run's CPU time (user + system, every thread) over its wall time times
--threads: near 100 %, no core waits, and only less work per image makes the run faster.

"cores bound" is what the whole could reach if every stage's work had to share the same cores:
each stage alone keeps the --threads cores busy, so an image costs 1/rate core-time per
stage, and 1 / sum(1 / rate) is the best the whole can do when nothing overlaps for free.

"entropy floor" is what no decode of these frames can go below: libjpeg-turbo at 1/8, which only
entropy-decodes (build/bench_decode --floor, one thread, on up to 200 of the frames); with the CNN
alone at R images/s on T cores (T / R core-s an image), the whole is at most
(T / R) / (T / R + floor) of the CNN alone, however the rest of the decode is made.

  /usr/bin/python3 bench/bench_pipeline.py [--n 300] [--threads 2] [--rounds 2] [--best FILE[,FILE...]]
      [--best-n N] [--data mlwic|hannaboe] [--build NAME=DIR ...] [--demo fp32,int8]

--demo PRECISIONS adds, for each precision, the demo's recipe (RN2+A+M, 224/448/576 averaged,
squashed, info strips cropped: scripts/demo.sh) trained at that precision on the first 300 MLWIC
frames of the manifest: out/demo300_PREC.irbis, trained once (irbis train --images, feature cache
out/cache_demo300) and reused by later runs. An int8 pipeline runs int8 (its own tables), with
the shared pass when its appearance parts are marked map-mean (docs/pipeline.md). E.g. the int8
measurement of docs/int8.md:

  /usr/bin/python3 bench/bench_pipeline.py --n 200 --best-n 32 --rounds 3 --best none --demo fp32,int8
"""
import argparse
import csv
import os
import shutil
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.environ.get('IRBIS_BIN', os.path.join(ROOT, 'build', 'irbis'))
SHARED = os.environ.get('IRBIS_SHARED', os.path.join(ROOT, '..', 'shared'))
CT = os.path.join(SHARED, 'data/camera-traps')
MODEL = os.path.join(SHARED, 'models/mobilenet_v2/mobilenet_v2_1.0_224.onnx')


STAGES = os.environ.get('IRBIS_BENCH_STAGES', os.path.join(ROOT, 'build', 'bench_stages'))


def timed(args, binary=None):
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system, every thread) of one irbis run."""
    t = time.time()
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen([binary or BIN] + args, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit('irbis %s failed: %s' % (' '.join(args[:3]), err.read().decode()[-500:]))
    return time.time() - t, ru.ru_maxrss / 1024.0, ru.ru_utime + ru.ru_stime


def stages(pipe, lst, threads, binary=None):
    """{stage: images/s} of bench_stages on the images of list file lst."""
    r = subprocess.run([binary or STAGES, pipe, MODEL, threads, lst, '4', '1'], check=True, capture_output=True,
                       text=True)
    return {w[0]: float(w[1]) for w in (l.split() for l in r.stdout.splitlines()) if len(w) == 2}


def demo_pipeline(prec):
    """out/demo300_PREC.irbis: the demo's recipe at precision prec on the first 300 MLWIC frames."""
    out = os.path.join(ROOT, 'out')
    pipe = os.path.join(out, 'demo300_%s.irbis' % prec)
    if os.path.exists(pipe):
        return pipe
    os.makedirs(out, exist_ok=True)
    lines = open(os.path.join(CT, 'manifest.csv')).read().splitlines(True)  # the manifest's rows as they are
    labels = os.path.join(out, 'labels_demo300.csv')
    with open(labels, 'w') as f:
        f.write(lines[0] + ''.join([l for l in lines[1:] if l.startswith('mlwic_examples/')][:300]))
    print('training %s (demo recipe at %s, 300 MLWIC frames) ...' % (pipe, prec), flush=True)
    subprocess.run([BIN, 'train', '--images', CT, '--labels', labels, '--model', MODEL, '--recipe', 'RN2+A+M',
                    '--task', 'empty', '--size', '224,448,576', '--combine', 'mean', '--resize', 'squash',
                    '--crop', 'auto', '--precision', prec, '--cache', os.path.join(out, 'cache_demo300'),
                    '-o', pipe, '--quiet'], check=True)
    return pipe


def survey_dir(tmp, name, frames, m):
    """A survey of m frames: the first m, or (when m is more) all of them again and again
    under new names (r1_NAME, r2_NAME, ...: the same pixels and EXIF times, so the same work)."""
    d = os.path.join(tmp, name, 'cam')
    os.makedirs(d)
    for i in range(m):
        r = frames[i % len(frames)]
        base = os.path.basename(r['path'])
        os.symlink(os.path.join(CT, r['path']), os.path.join(d, base if i < len(frames) else
                                                             'r%d_%s' % (i // len(frames), base)))
    return os.path.dirname(d)


def builds(specs):
    """[(name, irbis, bench_stages)] from NAME=DIR specs (default: this tree's build)."""
    if not specs:
        return [('', BIN, STAGES)]
    out = []
    for spec in specs:
        name, _, d = spec.partition('=')
        out.append((name, os.path.join(d, 'irbis'), os.path.join(d, 'bench_stages')))
    return out


def entropy_floor(frames, stages_bin):
    """ms a frame of libjpeg-turbo's decode at 1/8 (entropy decoding, DC only), the mean over up
    to 200 of the frames (bench_decode --floor beside bench_stages); None without it."""
    dec = os.path.join(os.path.dirname(stages_bin), 'bench_decode')
    if not os.path.exists(dec):
        return None
    out = subprocess.run([dec, '--floor', '5'] + [os.path.join(CT, r['path']) for r in frames[:200]],
                         capture_output=True, text=True)
    words = out.stdout.split()
    return float(words[1]) if out.returncode == 0 and words[:1] == ['floor'] else None


def print_results(a, bs, pipes, res, rss):
    print('%s frames, --threads %s, %d interleaved rounds: images/s, each round' % (a.data, a.threads, a.rounds))
    for bname, _, _ in bs:
        for name, pipe, n in pipes:
            key = (bname, name)
            print('%s%s, %d images, %d CNN passes per image:'
                  % ('[%s] ' % bname if bname else '', name, n, res[key + ('passes',)][0]))
            for stage in ('decode', 'cnn', 'classifier', 'featurizer', 'whole', 'whole, marginal'):
                v = res.get(key + (stage,), [])
                print('  %-16s %s' % (stage, '  '.join('%8.1f' % x for x in v)))
            for r in range(a.rounds):
                alone = [res[key + (s,)][r] for s in ('decode', 'cnn', 'classifier')]
                slowest, bound = min(alone), 1.0 / sum(1.0 / x for x in alone)
                w, wm, fz = res[key + ('whole',)][r], res[key + ('whole, marginal',)][r], res[key + ('featurizer',)][r]
                print('  round %d: whole / slowest stage alone %.0f %% (marginal %.0f %%), whole / featurizer %.0f %% '
                      '(marginal %.0f %%); cores bound %.1f: marginal / bound %.0f %%; cores busy in the whole run %.0f %%'
                      % (r + 1, 100 * w / slowest, 100 * wm / slowest, 100 * w / fz, 100 * wm / fz, bound,
                         100 * wm / bound, 100 * res[key + ('busy',)][r]))
                if a.floor:  # the CNN's core-time per image against it plus the decode's floor
                    c = int(a.threads) / res[key + ('cnn',)][r]
                    print('           entropy floor %.3f ms a frame: whole / CNN alone at most %.0f %%'
                          % (a.floor, 100 * c / (c + a.floor / 1000)))
            if a.rounds > 1:  # a round is one slowest-stage run beside its whole runs: its ratio, the median
                ratios = [[res[key + (w,)][r] / min(res[key + (s,)][r] for s in ('decode', 'cnn', 'classifier'))
                           for r in range(a.rounds)] for w in ('whole', 'whole, marginal')]
                print('  median of the %d rounds: whole / slowest stage alone %.0f %% (marginal %.0f %%)'
                      % (a.rounds, 100 * statistics.median(ratios[0]), 100 * statistics.median(ratios[1])))
            print('  peak RSS of the whole run: %d images %s MiB, %d images %s MiB'
                  % (n, '/'.join('%.0f' % x for x in rss[key + (n,)]), 2 * n,
                     '/'.join('%.0f' % x for x in rss[key + (2 * n,)])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=300)
    ap.add_argument('--threads', default='2')
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--best', default=os.path.join(ROOT, 'out', 'pipeline.irbis'),
                    help='pipeline file(s), comma-separated')
    ap.add_argument('--best-n', type=int, default=0, help='images for the best pipeline (default --n / 4)')
    ap.add_argument('--data', choices=('mlwic', 'hannaboe'), default='mlwic', help='the survey frames')
    ap.add_argument('--build', action='append', default=[], metavar='NAME=DIR',
                    help='a build to time (irbis and bench_stages in DIR); repeat to compare builds')
    ap.add_argument('--demo', default='', help='precisions (fp32,bf16,int8): the demo recipe trained at each on '
                    '300 MLWIC frames (out/demo300_PREC.irbis, trained once), measured beside --best')
    a = ap.parse_args()
    demos = [demo_pipeline(p) for p in a.demo.split(',') if p]
    bs = builds(a.build)
    tmp = tempfile.mkdtemp(prefix='bench_pipeline')
    manifest = list(csv.DictReader(open(os.path.join(CT, 'manifest.csv'))))
    rows = sorted((r for r in manifest if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])
    train = rows[:200]
    # the survey frames: MLWIC's after the 200 the RN2 pipeline trains on, or hannaboe's
    frames = rows[200:] if a.data == 'mlwic' else sorted(
        (r for r in manifest if r['path'].startswith('hannaboe_smallmammal/')), key=lambda r: r['path'])
    a.floor = entropy_floor(frames, bs[0][2])
    labels = os.path.join(tmp, 'labels.csv')
    with open(labels, 'w') as f:
        f.write('path,label\n' + ''.join('%s,%s\n' % (r['path'], r['label']) for r in train))
    rn2 = os.path.join(tmp, 'rn2.irbis')
    subprocess.run([bs[0][1], 'train', '--images', CT, '--labels', labels, '--model', MODEL, '--recipe', 'RN2',
                    '--size', '224', '--crop', 'none', '--resize', 'squash', '--folds', '3', '-o', rn2, '--quiet'],
                   check=True, capture_output=True)
    pipes = [('RN2 at 224', rn2, a.n)]
    for best in a.best.split(',') + demos:
        if os.path.exists(best):
            pipes.append(('%s' % best, best, a.best_n or max(a.n // 4, 16)))
    for _, pipe, n in pipes:
        # N survey images and 2N (for the peak RSS), from the frames the pipeline did not train on
        for k, m in (('n', n), ('2n', 2 * n)):
            survey_dir(tmp, '%s_%s' % (k, id(pipe)), frames, m)
    res, rss = {}, {}
    for rnd in range(a.rounds):
        for bname, binary, stages_bin in bs:
            for name, pipe, n in pipes:
                key = (bname, name)
                survey = os.path.join(tmp, 'n_%s' % id(pipe))
                lst = os.path.join(tmp, 'list_%s.txt' % id(pipe))
                cam = os.path.join(survey, 'cam')
                open(lst, 'w').write(''.join(os.path.join(cam, f) + '\n' for f in sorted(os.listdir(cam))))
                for stage, v in stages(pipe, lst, a.threads, stages_bin).items():
                    res.setdefault(key + (stage,), []).append(v)
                for k, m in (('n', n), ('2n', 2 * n)):
                    out = os.path.join(tmp, 'out')
                    shutil.rmtree(out, ignore_errors=True)
                    wall, peak, cpu = timed(['classify', '--pipeline', pipe, os.path.join(tmp, '%s_%s' % (k, id(pipe))),
                                        '-o', out, '--threads', a.threads, '--quiet'], binary)
                    if k == 'n':
                        res.setdefault(key + ('whole',), []).append(m / wall)
                        res.setdefault(key + ('busy',), []).append(cpu / (wall * int(a.threads)))
                        t_n = wall
                    else:  # the N more images' rate: the run's fixed costs (model, nets, outputs' setup) left out
                        res.setdefault(key + ('whole, marginal',), []).append((m - n) / max(wall - t_n, 1e-9))
                    rss.setdefault(key + (m,), []).append(peak)
    print_results(a, bs, pipes, res, rss)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
