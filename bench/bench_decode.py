#!/usr/bin/python3
"""Decode + resize to the 224x224 input: irbis (bench_decode) vs PIL, in the same run.

  bench_decode.py BUILD_DIR [REPEATS]
Images: the 2048x1536 Wakhan frames and a 12-megapixel JPEG made here (a Wakhan frame upscaled
to 4000x3000 with PIL, quality 90, in /tmp). Both sides: short side to 256, centre crop 224,
bilinear; PIL decodes fully (as the peer does). Times are the best of REPEATS, in ms per image.
"""
import glob
import os
import subprocess
import sys
import time

from PIL import Image

build = sys.argv[1]
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
shared = os.environ.get('IRBIS_SHARED', os.path.join(os.path.dirname(__file__), '..', '..', 'shared'))
wak = sorted(glob.glob(os.path.join(shared, 'data/camera-traps/wakhan_snowleopard/*/*.JPG')))[:5]
big = '/tmp/irbis_bench_12mp.jpg'
if not os.path.exists(big):
    Image.open(wak[0]).convert('RGB').resize((4000, 3000), Image.BICUBIC).save(big, quality=90)


def pil_once(path, size=224, short=256):
    im = Image.open(path).convert('RGB')
    w, h = im.size
    s = short / min(w, h)
    im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    return im.crop((left, top, left + size, top + size)).tobytes()


def pil_ms(path):
    best = 1e30
    for _ in range(reps):
        t = time.perf_counter()
        pil_once(path)
        best = min(best, time.perf_counter() - t)
    return best * 1e3


exe = os.path.join(build, 'bench_decode')
for group, files in (('Wakhan 2048x1536', wak), ('12 MP 4000x3000', [big])):
    out = subprocess.run([exe, str(reps)] + files, capture_output=True, text=True, check=True).stdout.split('\n')
    ours = [tuple(map(float, l.split()[1:])) for l in out if l.strip()]
    dct = sum(o[0] for o in ours) / len(ours)
    full = sum(o[1] for o in ours) / len(ours)
    pil = sum(pil_ms(f) for f in files) / len(files)
    print('%-18s irbis DCT-scaled %6.2f ms | irbis full decode %6.2f ms | PIL %6.2f ms | speed-up vs PIL %.1fx'
          % (group, dct, full, pil, pil / dct))
