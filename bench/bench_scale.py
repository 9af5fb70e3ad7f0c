"""irbis at the scale of a real survey: `irbis classify` on 10,000 to 300,000 distinct pictures.

A synthetic survey is built once and cached in --dir (default /tmp/irbis-scale, ~34 KB an image:
10 GB for 300,000): the shared MLWIC frames (256 x 256; the first 200 of them train the pipeline,
the others are the pictures), each file made distinct by a few bytes after its JPEG's end (EOI):
the content digest's `sha_data` covers every byte but APPn/COM segments, trailing ones included,
so no two files are the same picture to irbis (`irbis classify` says no copies), while the pixels
and the decoding work stay those of the frame. Each file gets an EXIF APP1 with its
DateTimeOriginal. Cameras are folders C001, C002, ... of 1,000-3,000 images each (2,000 on
average; a survey of N has about N / 2,000 cameras: 150 for 300,000), shot in bursts of 3-5 a
second apart, bursts minutes to days apart (a mean of 6 hours), so every burst is a sequence
(gap 60 s) and Camtrap DP, COCO and the report have real timestamps. The pool holds every camera
once with 1 % more images (a second card: later times); the survey of N is the first N of the
pool's files in camera order, as hard links (no more disk).

The pipeline's CNN is cheap, so a run measures irbis's own costs: RN2 on MobileNetV2 at 64 x 64
(squash, no crop), trained on the first 200 MLWIC frames (--size 224 for a real one). For each N
and each --build (interleaved: every build runs each N before the next N), the script measures:

  fresh      `irbis classify --pipeline P SURVEY -o OUT --threads T` on an empty OUT: wall time by
             phase (scan, classify, sequences, outputs: from the times the CLI prints each phase's
             last line; each output file's own share from its modification time: predictions.csv,
             camtrap-dp/, coco-camera-traps.json, megadetector.json, report.html), the rest after
             the outputs (copies query, summary), peak RSS (/usr/bin/time), output sizes, and the
             classify phase's rate over its first and last tenth of the images (from the CLI's
             progress lines: a per-image cost that grows with the store shows as a drop);
             --sort MODE adds sorted/ (its time and size)
  resume     the same command again with nothing new
  grow       the same command after adding 1 % new images (the next card of each camera)
  export     `irbis export OUT`
  review     `irbis review OUT`: time to the printed URL, then the first page as the app loads it
             (/, /api/info, /api/sequences?queue=uncertain&limit=24, its 100th page, the camera
             queue): time to first byte and size; the server's peak RSS

  /usr/bin/python3 bench/bench_scale.py [--n 10000,30000,100000] [--dir /tmp/irbis-scale]
      [--threads 2] [--size 64] [--build NAME=DIR ...] [--context-n 2000] [--sort MODE] [--long K,...]
      [--clean]

--long K[,K...] times, for each K, `irbis export` and the start of `irbis review` on a survey of one
camera whose K frames are 30 s apart (a timelapse camera, or cattle triggering one again and again:
one sequence of K at the default gap), after its sequence was labelled in irbis review (--n ''
runs only these).

--context-n N (0: none) also times the fresh run of a 224 RN2 pipeline on the first N images
(the real rate, for context). The last run's OUT stays in --dir/out (for a profile: perf record
irbis export DIR/out); --clean deletes --dir at the end.
"""
import argparse
import csv
import json
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_pipeline as BP  # noqa: E402  (CT, MODEL, builds: one of each)

OUTPUTS = ('predictions.csv', 'camtrap-dp', 'coco-camera-traps.json', 'megadetector.json', 'sorted', 'report.html')
MEAN_EVENT_GAP = 6 * 3600.0


# ---- the synthetic survey -----------------------------------------------------------------------

def exif_app1(dt):
    """A minimal EXIF APP1 segment: IFD0 holding only the Exif IFD pointer, which holds only
    DateTimeOriginal (dt: 'YYYY:MM:DD HH:MM:SS')."""
    ifd0 = struct.pack('<HHHII', 1, 0x8769, 4, 1, 26) + struct.pack('<I', 0)
    exif_ifd = struct.pack('<HHHII', 1, 0x9003, 2, 20, 44) + struct.pack('<I', 0)
    tiff = b'II*\0' + struct.pack('<I', 8) + ifd0 + exif_ifd + dt.encode() + b'\0'
    payload = b'Exif\0\0' + tiff
    return b'\xff\xe1' + struct.pack('>H', len(payload) + 2) + payload


def frames():
    """The MLWIC frames sorted by path: the first 200 train the pipeline, the others are the survey's."""
    rows = list(csv.DictReader(open(os.path.join(BP.CT, 'manifest.csv'))))
    return sorted((r for r in rows if r['path'].startswith('mlwic_examples/')), key=lambda r: r['path'])


def camera_times(rng, n, t0):
    """n EXIF times of one camera: bursts of 3-5 a second apart, bursts exponentially spaced."""
    out, t = [], t0
    while len(out) < n:
        for k in range(rng.randint(3, 5)):
            out.append(t + k)
        t += max(120.0, rng.expovariate(1.0 / MEAN_EVENT_GAP))
    return [time.strftime('%Y:%m:%d %H:%M:%S', time.gmtime(x)) for x in out[:n]]


def build_pool(d, n_max):
    """d/pool: cameras of 1,000-3,000 images (+1 % later ones) until n_max; cached (layout.json)."""
    pool = os.path.join(d, 'pool')
    layout_file = os.path.join(pool, 'layout.json')
    if os.path.exists(layout_file):
        layout = json.load(open(layout_file))
        if sum(k for _, k, _ in layout) >= n_max:
            return pool, layout
    shutil.rmtree(pool, ignore_errors=True)
    rng = random.Random(20261205)
    srcs = [open(os.path.join(BP.CT, r['path']), 'rb').read() for r in frames()[200:]]
    layout, total, serial = [], 0, 0
    t_start = time.time()
    while total < n_max:
        cam = 'C%03d' % (len(layout) + 1)
        n_main = rng.randint(1000, 3000)
        n_all = n_main + math.ceil(n_main / 100)
        os.makedirs(os.path.join(pool, cam))
        t0 = time.mktime((2025, 4, 1, 0, 0, 0, 0, 0, 0)) + rng.uniform(0, 30 * 86400)
        for i, dt in enumerate(camera_times(rng, n_all, t0)):
            src = srcs[serial % len(srcs)]
            # SOI, APP1 (EXIF), the frame's own segments (its JFIF APP0 ...), EOI, then unique bytes
            body = src[:2] + exif_app1(dt) + src[2:] + b'irbis-scale %d' % serial
            with open(os.path.join(pool, cam, 'IMG_%05d.JPG' % (i + 1)), 'wb') as f:
                f.write(body)
            serial += 1
        layout.append([cam, n_main, n_all])
        total += n_main
    json.dump(layout, open(layout_file, 'w'))
    print('pool: %d images (+%d for the second card) in %d cameras, %.0f s' %
          (total, serial - total, len(layout), time.time() - t_start), flush=True)
    return pool, layout


def survey(d, pool, layout, n):
    """d/survey_N: the first n pool images in camera order, hard-linked; and the 1 % a second card
    adds (the next files of each camera), as [(pool file, survey file)]."""
    sv = os.path.join(d, 'survey_%d' % n)
    plan, grow, left = [], [], n
    for cam, n_main, n_all in layout:
        k = min(left, n_main)
        if k <= 0:
            break
        names = ['IMG_%05d.JPG' % (i + 1) for i in range(n_all)]
        plan += [(os.path.join(pool, cam, f), os.path.join(sv, cam, f)) for f in names[:k]]
        grow += [(os.path.join(pool, cam, f), os.path.join(sv, cam, f)) for f in names[k:k + math.ceil(k / 100)]]
        left -= k
    if not os.path.exists(os.path.join(sv, '.complete')):
        shutil.rmtree(sv, ignore_errors=True)
        for src, dst in plan:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.link(src, dst)
        open(os.path.join(sv, '.complete'), 'w').close()
    for _, dst in grow:  # a run killed while grown leaves them
        if os.path.exists(dst):
            os.unlink(dst)
    return sv, grow


def long_survey(d, k):
    """d/long_K/T01: one camera of k distinct frames 30 s apart (a timelapse camera, or one that cattle
    grazing in front of it trigger again and again): one sequence of k at the default gap of 60 s."""
    sv = os.path.join(d, 'long_%d' % k)
    if os.path.exists(os.path.join(sv, '.complete')):
        return sv
    shutil.rmtree(sv, ignore_errors=True)
    os.makedirs(os.path.join(sv, 'T01'))
    srcs = [open(os.path.join(BP.CT, r['path']), 'rb').read() for r in frames()[200:]]
    t0 = time.mktime((2025, 6, 1, 6, 0, 0, 0, 0, 0))
    for i in range(k):
        dt = time.strftime('%Y:%m:%d %H:%M:%S', time.gmtime(t0 + 30 * i))
        src = srcs[i % len(srcs)]
        with open(os.path.join(sv, 'T01', 'IMG_%05d.JPG' % (i + 1)), 'wb') as f:
            f.write(src[:2] + exif_app1(dt) + src[2:] + b'irbis-scale long %d' % i)
    open(os.path.join(sv, '.complete'), 'w').close()
    return sv


# ---- runs ---------------------------------------------------------------------------------------

def run(binary, args):
    """One irbis run: (wall s, peak RSS MiB, [(first word of a stderr line, its time)], stderr tail).
    The CLI prints each phase's last line when the phase ends (stderr not a terminal)."""
    t0 = time.time()
    # peak RSS by /usr/bin/time: the child of a large Python (the survey's file lists) would count
    # the forked interpreter's pages in its own ru_maxrss (100 MiB at 300,000 images)
    rss_file = tempfile.NamedTemporaryFile(prefix='bench_scale_rss', delete=False)
    rss_file.close()
    p = subprocess.Popen(['/usr/bin/time', '-f', '%M', '-o', rss_file.name, binary] + args,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines, tail = [], []
    run.rates = []  # (images done, img/s over the CLI's recent window) of each classify line
    for raw in p.stderr:
        now = time.time()
        line = raw.decode(errors='replace').rstrip()
        lines.append((line.split(' ', 1)[0], now))
        tail = (tail + [line])[-5:]
        m = re.match(r'classify (\d+)/\d+ images +([\d.]+) img/s', line)
        if m:
            run.rates.append((int(m.group(1)), float(m.group(2))))
    status = p.wait()
    wall = time.time() - t0
    rss = int(open(rss_file.name).read().split()[-1]) / 1024.0
    os.unlink(rss_file.name)
    if status not in (0, 1):
        raise SystemExit('irbis %s failed: %s' % (' '.join(args[:3]), '\n'.join(tail)))
    return wall, rss, [(w, t - t0) for w, t in lines], tail


def phases(lines, wall):
    """{phase: seconds}: each phase from the previous one's last line to its own last line."""
    ends = {}
    for w, t in lines:
        if w in ('scan', 'digests', 'classify', 'sequences', 'outputs'):
            ends[w] = t
    out, prev = {}, 0.0
    for w, t in sorted(ends.items(), key=lambda x: x[1]):
        out[w] = t - prev
        prev = t
    out['after'] = wall - prev
    return out


def tree_files(p):
    """p, or every file under it (links as links: sorted/ may hold symlinks)."""
    return [p] if not os.path.isdir(p) else [os.path.join(d, f) for d, _, fs in os.walk(p) for f in fs]


def tree_size(p):
    return sum(os.lstat(f).st_size for f in tree_files(p))


def tree_mtime(p):
    return max([os.lstat(f).st_mtime for f in tree_files(p)] or [0])


def output_times(out, t_start_outputs):
    """{output: seconds}: from the end of the one written before (its file's mtime) to its own."""
    res, prev = {}, t_start_outputs
    for name in OUTPUTS:
        p = os.path.join(out, name)
        if os.path.exists(p):
            m = tree_mtime(p)
            res[name] = max(0.0, m - prev)
            prev = m
    return res


def get(url, headers):
    """(seconds to the first byte, seconds to the last, bytes) of one GET."""
    t0 = time.time()
    r = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=600)
    first = r.read(1)
    t1 = time.time()
    body = first + r.read()
    return t1 - t0, time.time() - t0, len(body)


def review(binary, out):
    """irbis review OUT: seconds to its URL, the app's first page requests, and its peak RSS."""
    t0 = time.time()
    p = subprocess.Popen([binary, 'review', out, '--port', '0'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        m = None
        for line in p.stdout:
            m = re.search(r'http://([^/\s]+)/\?token=(\w+)', line)
            if m:
                break
        if not m:
            raise SystemExit('irbis review printed no URL: ' + p.stderr.read()[-500:])
        res = {'start': time.time() - t0}
        base, h = 'http://' + m.group(1), {'X-Irbis-Token': m.group(2)}
        for name, path in (('/', '/'), ('/api/info', '/api/info'),
                           ('/api/sequences', '/api/sequences?queue=uncertain&offset=0&limit=24'),
                           ('/api/sequences page 100', '/api/sequences?queue=uncertain&offset=2400&limit=24'),
                           ('/api/sequences camera', '/api/sequences?queue=camera&offset=0&limit=24')):
            res[name] = get(base + path, h)
        with open('/proc/%d/status' % p.pid) as f:
            res['peak RSS MiB'] = next(int(l.split()[1]) for l in f if l.startswith('VmHWM')) / 1024.0
        return res
    finally:
        p.send_signal(2)
        try:
            p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()


def drift(rates, n):
    """The classify phase's rate over its first and last tenth of the images (img/s, the CLI's
    recent-window rates there averaged): a per-image cost that grows with the store shows here."""
    rates = [(d, r) for d, r in rates if r > 0]  # not the phase's first line (no rate yet)
    first = [r for d, r in rates if d <= n / 10]
    last = [r for d, r in rates if d >= n - n / 10]
    return (sum(first) / len(first) if first else 0, sum(last) / len(last) if last else 0)


def label_first_sequence(binary, out):
    """Labels the camera queue's first sequence (every frame of it) through irbis review's API."""
    import http.client
    import urllib.parse
    p = subprocess.Popen([binary, 'review', out, '--port', '0', '--no-export'], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        m = next(filter(None, (re.search(r'http://[^:/\s]+:(\d+)/\?token=(\w+)', l) for l in p.stdout)))
        h = {'X-Irbis-Token': m.group(2)}
        c = http.client.HTTPConnection('127.0.0.1', int(m.group(1)), timeout=600)
        for path in ('/api/info', '/api/sequences?queue=camera&limit=1'):
            c.request('GET', path, headers=h)
            got = json.loads(c.getresponse().read())
            info = got if path == '/api/info' else info
        seq = got['sequences'][0]
        c.request('POST', '/api/label', body=urllib.parse.urlencode([('seq', seq['name']),
                                                                     ('label', info['classes'][0])]),
                  headers=dict(h, **{'Content-Type': 'application/x-www-form-urlencoded'}))
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit('irbis review refused the label: %d' % r.status)
        return seq['n']
    finally:
        p.send_signal(2)
        p.communicate(timeout=120)


def measure_long(binary, pipe, sv, out, threads):
    """(frames of the reviewed sequence, export s, review s to its URL) of a survey that is one long
    sequence, every frame of it labelled by a person."""
    shutil.rmtree(out, ignore_errors=True)
    run(binary, ['classify', '--pipeline', pipe, sv, '-o', out, '--threads', threads])
    n = label_first_sequence(binary, out)
    return n, run(binary, ['export', out])[0], review(binary, out)['start']


def measure(binary, pipe, sv, grow, out, threads, sort):
    r = {}
    shutil.rmtree(out, ignore_errors=True)
    cmd = ['classify', '--pipeline', pipe, sv, '-o', out, '--threads', threads] + (['--sort', sort] if sort else [])
    t_abs = time.time()
    wall, rss, lines, tail = run(binary, cmd)
    r["drift"] = drift(run.rates, max((d for d, _ in run.rates), default=0))
    r['fresh'] = (wall, rss)
    r['phases'] = phases(lines, wall)
    seq_end = dict((w, t) for w, t in lines).get('sequences', 0)
    r['outputs'] = output_times(out, t_abs + seq_end)
    r['sizes'] = {name: tree_size(os.path.join(out, name)) for name in OUTPUTS + ('irbis.sqlite', 'thumbs')
                  if os.path.exists(os.path.join(out, name))}
    r['summary'] = next((l for l in tail if re.match(r'irbis classify: \d+ images', l)), '')
    wall, rss, lines, _ = run(binary, cmd)
    r['resume'] = (wall, rss)
    r['resume_phases'] = phases(lines, wall)
    for src, dst in grow:
        os.link(src, dst)
    try:
        wall, rss, lines, _ = run(binary, cmd)
    finally:
        for _, dst in grow:
            os.unlink(dst)
    r['grow'] = (wall, rss)
    r['grow_phases'] = phases(lines, wall)
    r['export'] = run(binary, ['export', out])[:2]
    r['review'] = review(binary, out)
    return r


def pipeline(d, binary, size, threads):
    """d/rn2_SIZE.irbis: RN2 on MobileNetV2 at SIZE, squash, no crop, on the first 200 MLWIC frames."""
    pipe = os.path.join(d, 'rn2_%d.irbis' % size)
    if os.path.exists(pipe):
        return pipe
    labels = os.path.join(d, 'labels.csv')
    with open(labels, 'w') as f:
        f.write('path,label\n' + ''.join('%s,%s\n' % (r['path'], r['label']) for r in frames()[:200]))
    subprocess.run([binary, 'train', '--images', BP.CT, '--labels', labels, '--model', BP.MODEL, '--recipe', 'RN2',
                    '--size', str(size), '--crop', 'none', '--resize', 'squash', '--folds', '3', '--threads', threads,
                    '-o', pipe, '--quiet'], check=True)
    return pipe


# ---- report -------------------------------------------------------------------------------------

def size(x):
    return '%.1f MB' % (x / 1048576.0) if x >= 1048576 else '%.0f KB' % (x / 1024.0)


def print_result(bname, n, r):
    w, rss = r['fresh']
    print('%s%d images: fresh %.1f s (%.0f img/s, %.2f ms/img), peak RSS %.0f MiB'
          % ('[%s] ' % bname if bname else '', n, w, n / w, 1000 * w / n, rss))
    print('  phases: ' + ', '.join('%s %.1f s' % kv for kv in r['phases'].items()))
    print('  classify rate: first tenth %.0f img/s, last tenth %.0f img/s' % r['drift'])
    print('  outputs: ' + ', '.join('%s %.1f s' % kv for kv in r['outputs'].items()))
    print('  sizes: ' + ', '.join('%s %s' % (k, size(v)) for k, v in r['sizes'].items()))
    print('  summary: ' + r['summary'])
    for k in ('resume', 'grow'):
        print('  %s: %.1f s, peak RSS %.0f MiB; %s' % (k, r[k][0], r[k][1],
                                                     ', '.join('%s %.1f s' % kv for kv in r[k + '_phases'].items())))
    print('  export: %.1f s, peak RSS %.0f MiB' % r['export'])
    rv = r['review']
    print('  review: URL after %.2f s, peak RSS %.0f MiB; ' % (rv['start'], rv['peak RSS MiB']) +
          '; '.join('%s first byte %.3f s, all %.3f s, %d bytes' % ((k,) + v) for k, v in rv.items()
                    if k not in ('start', 'peak RSS MiB')))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', default='10000,30000,100000', help='survey sizes, comma-separated')
    ap.add_argument('--dir', default='/tmp/irbis-scale', help='the cached pool, surveys, pipelines and outputs')
    ap.add_argument('--threads', default='2')
    ap.add_argument('--size', type=int, default=64, help='the cheap pipeline\'s input size')
    ap.add_argument('--build', action='append', default=[], metavar='NAME=DIR',
                    help='a build to time (irbis in DIR); repeat to compare builds, interleaved')
    ap.add_argument('--context-n', type=int, default=2000, help='images for the 224 pipeline\'s rate (0: none)')
    ap.add_argument('--sort', choices=('copy', 'hardlink', 'symlink'), help='classify --sort MODE (sorted/ timed too)')
    ap.add_argument('--long', default='', help='frames, comma-separated: a one-camera survey whose frames are 30 s '
                    'apart (one sequence), its sequence labelled in irbis review, then export and review timed')
    ap.add_argument('--clean', action='store_true', help='delete --dir at the end')
    a = ap.parse_args()
    ns = [int(x) for x in a.n.split(',') if x]
    bs = BP.builds(a.build)
    os.makedirs(a.dir, exist_ok=True)
    pool, layout = build_pool(a.dir, max(ns + [a.context_n]))
    pipe = pipeline(a.dir, bs[0][1], a.size, a.threads)
    out = os.path.join(a.dir, 'out')
    print('RN2 at %d (%s), --threads %s; builds interleaved per N' % (a.size, pipe, a.threads), flush=True)
    if a.context_n:
        p224 = pipeline(a.dir, bs[0][1], 224, a.threads)
        sv, _ = survey(a.dir, pool, layout, a.context_n)
        for bname, binary, _ in bs:
            shutil.rmtree(out, ignore_errors=True)
            w, rss, _, _ = run(binary, ['classify', '--pipeline', p224, sv, '-o', out, '--threads', a.threads])
            print('%sRN2 at 224, %d images: %.1f s, %.1f img/s, peak RSS %.0f MiB'
                  % ('[%s] ' % bname if bname else '', a.context_n, w, a.context_n / w, rss), flush=True)
    for k in [int(x) for x in a.long.split(',') if x]:
        sv = long_survey(a.dir, k)
        for bname, binary, _ in bs:
            n, t_export, t_review = measure_long(binary, pipe, sv, out, a.threads)
            print('%sone reviewed sequence of %d frames: export %.2f s, review to its URL %.2f s'
                  % ('[%s] ' % bname if bname else '', n, t_export, t_review), flush=True)
    for n in ns:
        sv, grow = survey(a.dir, pool, layout, n)
        for bname, binary, _ in bs:
            print_result(bname, n, measure(binary, pipe, sv, grow, out, a.threads, a.sort))
    if a.clean:
        shutil.rmtree(a.dir, ignore_errors=True)


if __name__ == '__main__':
    main()
