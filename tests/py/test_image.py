#!/usr/bin/python3
"""Image decoding and preprocessing against PIL (the independent reference), bad inputs, EXIF.

Drives the helper mode of tests/c/test_image (see the top of that file) and `irbis scan`.
Tolerances:
  full-scale decode vs PIL: mean |diff| <= 1 level (same libjpeg-turbo IDCT and upsampling:
    in practice 0).
  full decode + our resize vs PIL resize: max |diff| <= 1 (same fixed-point arithmetic).
  DCT-scaled decode + resize vs PIL full decode + resize: BILINEAR mean |diff| <= 3 levels,
    99th percentile <= 16; BOX mean <= 8, p99 <= 40. The scaled IDCT is a different (smoother)
    low-pass filter than decoding fully and averaging, so fine texture and edges differ by a few
    levels; BOX keeps more aliasing than either, hence its wider bound. Measured (see the
    printout): bilinear means 0.3-2.8, box 1-7. A wrong crop box or filter gives means > 10.
"""
import csv
import os
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image, ImageFile, ImageOps

from testlib import check, failures

SHARED = os.environ.get('IRBIS_SHARED', '../shared')
BUILD = os.environ['IRBIS_BUILD']
TMP = os.path.join(os.environ.get('IRBIS_TMP', '/tmp/irbis-test'), 'image_py')
HELPER = os.path.join(BUILD, 'tests', 'test_image')
CT = os.path.join(SHARED, 'data', 'camera-traps')
ODD = os.path.join(SHARED, 'data', 'odd-images')
os.makedirs(TMP, exist_ok=True)


def run(*args):
    out = os.path.join(TMP, 'out.raw')
    p = subprocess.run([HELPER] + [str(a) for a in args[:1]] + [str(args[1]), out] + [str(a) for a in args[2:]],
                       capture_output=True, text=True, timeout=60)
    head, _, msg = p.stdout.partition('\n')
    f = head.split()
    st = {'status': f[0], 'w': int(f[1]), 'h': int(f[2]), 'scale': f[3], 'warning': f[4] == 'warning',
          'msg': msg.strip()}
    if f[0] == 'ok':
        st['px'] = np.fromfile(out, np.uint8).reshape(st['h'], st['w'], 3)
    return st


def pil_rgb(path, transpose=False):
    im = Image.open(path)
    if transpose:
        im = ImageOps.exif_transpose(im)
    return np.asarray(im.convert('RGB'))


def mad(a, b):
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def test_full_decode():
    paths = [os.path.join(CT, p) for p in (
        'wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG',
        'uruguay_curso_camtrapR/edita/camara1/e152.JPG',
        'hannaboe_smallmammal/vj_ga_hu_1/2020/vj_ga_hu_1_2019-07-08_0001.JPG',
        'mlwic_examples/images/CA-01_0006501.jpg',
        'speciesnet_testdata/african_elephants.jpg',
        'camtrapR/StationA/PBE/StationA__2009-04-21__00-40-00(1).JPG')]
    paths += [os.path.join(ODD, p) for p in ('african_elephants_bw.jpg', 'african_elephants_cmyk.jpg')]
    for p in paths:
        r = run('decode', p)
        ref = pil_rgb(p)
        check(r['status'] == 'ok' and r['px'].shape == ref.shape, '%s: %s %s' % (p, r['status'], r['msg']))
        if r['status'] == 'ok' and r['px'].shape == ref.shape:
            m = mad(r['px'], ref)
            print('full decode %-45s %dx%d mean|diff| %.3f' % (os.path.basename(p), r['w'], r['h'], m))
            check(m <= 1.0, '%s: mean |diff| %.3f > 1' % (p, m))
    # EXIF orientation 6: must come out upright like PIL's exif_transpose (and the original)
    p = os.path.join(ODD, 'african_elephants_with_exif_orientation.jpg')
    r = run('decode', p)
    ref = pil_rgb(p, transpose=True)
    check(r['status'] == 'ok' and (r['w'], r['h']) == (2048, 1536), 'orientation size %s' % r)
    if r['status'] == 'ok':
        m = mad(r['px'], ref)
        print('orientation 6 mean|diff| %.3f' % m)
        check(m <= 1.0, 'orientation: mean |diff| %.3f' % m)
    # truncated: a warning, and the readable part equals PIL's (LOAD_TRUNCATED_IMAGES)
    p = os.path.join(ODD, 'african_elephants_truncated_file.jpg')
    r = run('decode', p)
    check(r['status'] == 'ok' and r['warning'] and 'truncated_file' in r['msg'], 'truncated: %s' % r)
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    ref = pil_rgb(p)
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    if r['status'] == 'ok':
        top = ref.shape[0] // 3
        m = mad(r['px'][:top], ref[:top])
        print('truncated: warning "%s"; top third mean|diff| %.3f' % (r['msg'], m))
        check(m <= 1.0, 'truncated top part differs: %.3f' % m)


def test_orientations_and_png():
    """Synthetic JPEGs with every EXIF orientation, and PNG variants, against PIL."""
    base = Image.open(os.path.join(CT, 'mlwic_examples/images/CA-01_0006501.jpg')).convert('RGB').crop((0, 0, 96, 64))
    for o in range(1, 9):
        p = os.path.join(TMP, 'orient%d.jpg' % o)
        ex = Image.Exif()
        ex[0x0112] = o
        base.save(p, quality=95, exif=ex.tobytes())
        r = run('decode', p)
        ref = pil_rgb(p, transpose=True)
        ok = r['status'] == 'ok' and r['px'].shape == ref.shape
        check(ok, 'orientation %d: %s %s' % (o, r['status'], r.get('px', np.zeros(0)).shape))
        if ok:
            check(mad(r['px'], ref) <= 1.0, 'orientation %d: mean |diff| %.3f' % (o, mad(r['px'], ref)))
    variants = {'rgb': base, 'rgba': base.convert('RGBA'), 'gray': base.convert('L'), 'la': base.convert('LA'),
                'pal': base.convert('P'), 'bw': base.convert('1')}
    for name, im in variants.items():
        p = os.path.join(TMP, 'v_%s.png' % name)
        im.save(p)
        r = run('decode', p)
        ref = pil_rgb(p)
        check(r['status'] == 'ok' and np.array_equal(r['px'], ref), 'png %s: %s %s' % (name, r['status'], r['msg']))
    # regression (issue 15, item 9): a tRNS chunk (palette, gray, RGB) is ignored as PIL's
    # convert('RGB') does; a palette PNG with tRNS was refused ("unexpected PNG layout")
    for name, im, t in (('pal_trns', base.convert('P'), 0), ('gray_trns', base.convert('L'), 40),
                        ('rgb_trns', base, tuple(base.getpixel((0, 0)))),
                        ('pal4_trns', base.convert('P', palette=Image.ADAPTIVE, colors=16), 3)):
        p = os.path.join(TMP, 'v_%s.png' % name)
        im.save(p, transparency=t, bits=4) if name == 'pal4_trns' else im.save(p, transparency=t)
        r = run('decode', p)
        ref = pil_rgb(p)
        check(r['status'] == 'ok' and np.array_equal(r['px'], ref), 'png %s: %s %s' % (name, r['status'], r['msg']))
    # EXIF in a PNG (eXIf chunk, written by PIL): every orientation applied as for a JPEG
    for o in range(1, 9):
        p = os.path.join(TMP, 'orient%d.png' % o)
        ex = Image.Exif()
        ex[0x0112] = o
        base.save(p, exif=ex.tobytes())
        check(b'eXIf' in open(p, 'rb').read(), 'PIL wrote an eXIf chunk into %s' % p)
        r = run('decode', p)
        ref = pil_rgb(p, transpose=True)
        ok = r['status'] == 'ok' and r['px'].shape == ref.shape and np.array_equal(r['px'], ref)
        check(ok, 'png orientation %d: %s %s vs %s' % (o, r['status'], r.get('px', np.zeros(0)).shape, ref.shape))
    # and its times: a real frame's EXIF block (DateTimeOriginal 2012-11-24 16:59:05) moved into a PNG
    src = os.path.join(CT, 'wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG')
    im = Image.open(src)
    d = os.path.join(TMP, 'png_survey', 'cam1')
    os.makedirs(d, exist_ok=True)
    im.convert('RGB').resize((256, 192)).save(os.path.join(d, 'frame.png'), exif=im.info['exif'])
    # a damaged eXIf (its TIFF block cut to 10 bytes): still decodes, no time, never a failure
    bad = Image.Exif()
    bad[0x0112] = 3
    im.convert('RGB').resize((64, 48)).save(os.path.join(d, 'bad_exif.png'), exif=b'Exif\x00\x00' + bad.tobytes()[6:16])
    out = os.path.join(TMP, 'png_scan.csv')
    subprocess.run([os.environ['IRBIS_BIN'], 'scan', os.path.dirname(d), '-o', out], capture_output=True,
                   timeout=60)
    rows = {r['path']: r for r in csv.DictReader(open(out, newline=''))}
    r = rows.get('cam1/frame.png', {})
    check(r.get('timestamp', '')[:19] == '2012-11-24T16:59:05' and r.get('status') == 'ok',
          'png EXIF time read by scan: %s' % r)
    r = rows.get('cam1/bad_exif.png', {})
    check(r.get('status') in ('ok', 'warning') and r.get('timestamp') == '' and r.get('width') == '64',
          'png with a damaged eXIf: %s' % r)
    # a PNG cut inside its pixels: a warning, the rows decoded kept (equal to PIL's with
    # LOAD_TRUNCATED_IMAGES), the rest black; cut before any row: an error (interlaced: below)
    frame = Image.open(os.path.join(CT, 'mlwic_examples/images/CA-01_0006501.jpg')).convert('RGB')
    full = os.path.join(TMP, 'frame.png')
    frame.save(full, compress_level=1)
    data = open(full, 'rb').read()
    cut = os.path.join(TMP, 'frame_cut.png')
    open(cut, 'wb').write(data[:len(data) * 6 // 10])
    r = run('decode', cut)
    m = re.search(r'(\d+) of 256 rows decoded', r['msg'])
    rows = int(m.group(1)) if m else 0
    check(r['status'] == 'ok' and r['warning'] and 'frame_cut.png' in r['msg'] and 0 < rows < 256,
          'truncated png: %s %s' % (r['status'], r['msg']))
    if rows:
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        ref = np.asarray(Image.open(cut).convert('RGB'))
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        check(np.array_equal(r['px'][:rows - 1], ref[:rows - 1]) and not r['px'][rows:].any(),
              'truncated png: the %d rows equal PIL\'s, the rest black' % rows)
    interlaced_png(frame)
    early = os.path.join(TMP, 'frame_early.png')
    open(early, 'wb').write(data[:120])
    r = run('decode', early)
    check(r['status'] == 'corrupt_input' and 'frame_early.png' in r['msg'], 'png cut before any row: %s' % r)
    # 16-bit gray and RGB: PIL keeps the high byte when converting to 8 bits
    g16 = (np.arange(64 * 96, dtype=np.uint16).reshape(64, 96) * 10)
    p = os.path.join(TMP, 'v_gray16.png')
    Image.fromarray(g16).save(p)
    r = run('decode', p)
    want = np.repeat((g16 >> 8).astype(np.uint8)[:, :, None], 3, axis=2)
    check(r['status'] == 'ok' and np.array_equal(r['px'], want), 'png gray16: %s %s' % (r['status'], r['msg']))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_interlaced_png(path, px):
    """An Adam7-interlaced RGB PNG written here (PIL writes none): stored (level 0) zlib, so the
    file's bytes follow the passes' raw bytes; IDAT in 1 KiB chunks. Returns the byte offset in
    the file at which each pass's data ends."""
    h, w, _ = px.shape
    raw, ends = b'', []
    for xs, ys, dx, dy in ADAM7:
        sub = px[ys::dy, xs::dx]
        for row in sub:
            raw += b'\x00' + row.tobytes()
        ends.append(len(raw))

    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    z = zlib.compress(raw, 0)
    head = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 1))
    idat = b''.join(chunk(b'IDAT', z[i:i + 1024]) for i in range(0, len(z), 1024))
    open(path, 'wb').write(head + idat + chunk(b'IEND', b''))
    # stored deflate: 2 bytes of zlib header, 5 per 64 KiB block, 12 per IDAT chunk (about:
    # libpng reads a chunk's data whole, so a cut keeps the chunks before it)
    return [len(head) + 2 + 5 * (e // 65535 + 1) + 12 * (e // 1024 + 1) + e for e in ends]


def interlaced_png(frame):
    """A complete interlaced PNG decodes as PIL decodes it; one cut inside pass 6 keeps passes
    1-5 (a warning naming them): every pixel those passes carry is exact, the others are filled
    in from them (close to the image); one cut inside the first pass keeps its rows, the rest black."""
    px = np.asarray(frame)
    full = os.path.join(TMP, 'interlaced.png')
    ends = write_interlaced_png(full, px)
    r = run('decode', full)
    check(r['status'] == 'ok' and not r['warning'] and np.array_equal(r['px'], np.asarray(Image.open(full).convert('RGB')))
          and np.array_equal(r['px'], px), 'interlaced png = PIL = the pixels written (%s)' % r['msg'])
    data = open(full, 'rb').read()
    cut = os.path.join(TMP, 'interlaced_cut.png')
    open(cut, 'wb').write(data[:(ends[4] + ends[5]) // 2])
    r = run('decode', cut)
    check(r['status'] == 'ok' and r['warning'] and 'interlaced_cut.png' in r['msg'] and '5 of 7 passes' in r['msg'],
          'interlaced png cut in pass 6: a warning naming 5 of 7 passes (%s %s)' % (r['status'], r['msg']))
    got = r['px'].astype(int) if 'px' in r else np.zeros(px.shape, int)
    exact = np.zeros(px.shape[:2], bool)
    for xs, ys, dx, dy in ADAM7[:5]:
        exact[ys::dy, xs::dx] = True
    check(np.array_equal(got[exact], px[exact]), 'the pixels of the 5 passes are exact')
    err = np.abs(got[~exact] - px[~exact]).mean()
    spread = np.abs(px[~exact].astype(int) - px.mean()).mean()
    check(err < spread / 3, 'the others are filled in close to the image (mean |d| %.1f, spread %.1f)' % (err, spread))
    early = os.path.join(TMP, 'interlaced_early.png')
    open(early, 'wb').write(data[:ends[0] // 2])
    r = run('decode', early)
    m = re.search(r'(\d+) of 256 rows decoded \(coarsely', r['msg'])
    check(r['status'] == 'ok' and m and 0 < int(m.group(1)) < 256 and 'px' in r
          and not r['px'][int(m.group(1)):].any() and r['px'][:int(m.group(1))].any(),
          'interlaced png cut in pass 1: its rows kept, the rest black (%s %s)' % (r['status'], r['msg']))


def pil_short_crop(path, size=224, short=256, filt=Image.BILINEAR):
    im = Image.open(path).convert('RGB')
    w, h = im.size
    s = short / min(w, h)
    im = im.resize((max(size, round(w * s)), max(size, round(h * s))), filt, reducing_gap=None)
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    return np.asarray(im.crop((left, top, left + size, top + size)))


def pil_fraction(path, size=224, f=0.875, filt=Image.BILINEAR):
    im = Image.open(path).convert('RGB')
    w, h = im.size
    cw, ch = round(w * f), round(h * f)
    left, top = (w - cw) // 2, (h - ch) // 2
    return np.asarray(im.crop((left, top, left + cw, top + ch)).resize((size, size), filt, reducing_gap=None))


def test_resize_vs_pil():
    paths = [os.path.join(CT, p) for p in ('wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG',
                                           'uruguay_curso_camtrapR/edita/camara1/e152.JPG',
                                           'speciesnet_testdata/african_elephants.jpg',
                                           'mlwic_examples/images/CA-01_0006501.jpg')]
    for p in paths:
        for mode, arg, filt, ref in (('short', 256, 'bilinear', pil_short_crop(p)),
                                     ('short', 256, 'box', pil_short_crop(p, filt=Image.BOX)),
                                     ('fraction', 0.875, 'bilinear', pil_fraction(p)),
                                     ('squash', 0, 'bilinear', np.asarray(Image.open(p).convert('RGB').resize(
                                         (224, 224), Image.BILINEAR, reducing_gap=None)))):
            full = run('prep', p, mode, 224, arg, filt, 1)
            fast = run('prep', p, mode, 224, arg, filt, 0)
            if full['status'] != 'ok' or fast['status'] != 'ok':
                check(False, '%s %s: %s %s' % (p, mode, full['msg'], fast['msg']))
                continue
            dfull = np.abs(full['px'].astype(int) - ref.astype(int))
            dfast = np.abs(fast['px'].astype(int) - ref.astype(int))
            print('%-22s %-8s %-8s full: max %d mean %.3f | DCT %s: mean %.2f p99 %d' % (
                os.path.basename(p), mode, filt, dfull.max(), dfull.mean(), fast['scale'], dfast.mean(),
                np.percentile(dfast, 99)))
            check(dfull.max() <= 1, '%s %s %s: full decode+resize max diff %d' % (p, mode, filt, dfull.max()))
            lim = (3.0, 16) if filt == 'bilinear' else (8.0, 40)
            check(dfast.mean() <= lim[0] and np.percentile(dfast, 99) <= lim[1],
                  '%s %s %s: DCT-scaled mean %.2f p99 %d' % (p, mode, filt, dfast.mean(), np.percentile(dfast, 99)))


def test_extreme_aspect():
    """A 300000 x 1 PNG with the short side taken to 8192 (regression: the resized width, 2.5e9,
    overflowed int in the crop's geometry: garbage geometry, UBSan's signed-overflow report): the
    224 x 224 centre crop equals PIL's resize of the same box of the source."""
    row = (np.random.RandomState(3).rand(1, 300000, 3) * 255).astype(np.uint8)
    for name, a in (('wide', row), ('tall', row.transpose(1, 0, 2))):
        p = os.path.join(TMP, name + '.png')
        Image.fromarray(a).save(p)
        h, w = a.shape[:2]
        s = 8192 / min(w, h)
        rw, rh = max(224, round(w * s)), max(224, round(h * s))
        left, top = (rw - 224) // 2, (rh - 224) // 2
        box = (left * w / rw, top * h / rh, (left + 224) * w / rw, (top + 224) * h / rh)
        ref = np.asarray(Image.fromarray(a).resize((224, 224), Image.BILINEAR, box=box, reducing_gap=None))
        got = run('prep', p, 'short', 224, 8192, 'bilinear', 1)
        check(got['status'] == 'ok' and 'runtime error' not in got['msg'], '%s: ok (%s)' % (name, got['msg']))
        if got['status'] == 'ok':
            d = np.abs(got['px'].astype(int) - ref.astype(int))
            check(d.max() <= 2, '%s 300000 px at short side 8192: PIL\'s box, max diff %d' % (name, d.max()))


def test_decode_size():
    """decode_size (a multi-size pipeline's one decode, docs/images.md): the 224 input is PIL's
    resize of the decode the 576 input picks (the helper's decode at that target; PIL resizes it),
    on frames large enough that the two sizes pick different DCT scales, with either set of
    scales (fast: the default since the set was added; any: preprocessings recorded before)."""
    for rel, scales, big_scale in (
            ('hannaboe_smallmammal/vj_ga_hu_1/2020/vj_ga_hu_1_2019-07-08_0001.JPG', 'any', '7/8'),
            ('wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG', 'any', '3/8'),
            ('hannaboe_smallmammal/vj_ga_hu_1/2020/vj_ga_hu_1_2019-07-08_0001.JPG', 'fast', '1/1'),
            ('wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG', 'fast', '1/2')):
        p = os.path.join(CT, rel)
        own = run('prep', p, 'squash', 224, 0, 'bilinear', 0, 'none', 0, scales)
        once = run('prep', p, 'squash', 224, 0, 'bilinear', 0, 'none', 576, scales)
        big = run('decode', p, 576, scales)
        if 'px' not in own or 'px' not in once or 'px' not in big:
            check(False, '%s: %s / %s / %s' % (rel, own['msg'], once['msg'], big['msg']))
            continue
        ref = np.asarray(Image.fromarray(big['px']).resize((224, 224), Image.BILINEAR, reducing_gap=None))
        d = np.abs(once['px'].astype(int) - ref.astype(int))
        d_own = np.abs(own['px'].astype(int) - ref.astype(int))
        print('%-32s decode_size 576: scale %s (own %s), max |diff| to PIL on that decode %d (own scale: mean %.2f)'
              % (os.path.basename(p), once['scale'], own['scale'], d.max(), d_own.mean()))
        check(once['scale'] == big['scale'] == big_scale and own['scale'] != big_scale,
              '%s: scales %s / %s / %s' % (rel, once['scale'], big['scale'], own['scale']))
        check(d.max() <= 1, '%s: decode_size 576 vs PIL on the 576 decode: max |diff| %d' % (rel, d.max()))
        check(d_own.mean() > 0.05, '%s: its own scale should differ from the 576 decode (mean %.3f)'
              % (rel, d_own.mean()))


def jpeg_segments(data):
    """(offset, marker, length) of each segment before SOS."""
    i, out = 2, []
    while i < len(data):
        m = data[i + 1]
        ln = struct.unpack('>H', data[i + 2:i + 4])[0]
        out.append((i, m, ln))
        if m == 0xDA:
            break
        i += 2 + ln
    return out


def covering(w, h, target, nums):
    """The smallest scale num/8 of nums whose decode (ceil(dim * num / 8)) keeps the short side >= target."""
    for num in sorted(nums):
        if min(-(-w * num // 8), -(-h * num // 8)) >= target:
            return num
    return 8


def test_dct_scales():
    """The DCT scale a decode picks: IRB_DCT_ANY the smallest covering k/8 of all eight, IRB_DCT_FAST
    (every new preprocessing) the smallest covering of 1/8, 1/4, 1/2, 1/1 (libjpeg-turbo's SIMD
    decodes; its 3/8, 5/8, 6/8, 7/8 run plain C and are slower than the next of these), checked
    against the rule computed here for many targets on frames of five sizes; and a fast decode
    below full scale is exactly PIL's: Image.draft at the same scale, then the same resize."""
    frames = ['hannaboe_smallmammal/vj_ga_hu_1/2020/vj_ga_hu_1_2019-07-08_0001.JPG',
              'wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG', 'uruguay_curso_camtrapR/edita/camara1/e152.JPG',
              'speciesnet_testdata/african_elephants.jpg', 'mlwic_examples/images/CA-01_0006501.jpg']
    for rel in frames:
        p = os.path.join(CT, rel)
        w, h = Image.open(p).size
        for target in sorted({96, 160, 200, 224, 256, 300, 448, 500, 576, min(w, h) // 3, min(w, h) // 2 + 1}):
            fast = run('decode', p, target, 'fast')
            anys = run('decode', p, target, 'any')
            want_fast = '%d/8' % covering(w, h, target, (1, 2, 4, 8))
            want_any = '%d/8' % covering(w, h, target, range(1, 9))

            def frac(s):
                n, d = map(int, s.split('/'))
                return '%d/8' % (n * 8 // d)
            check(frac(fast['scale']) == want_fast and frac(anys['scale']) == want_any,
                  '%s at %d: fast %s (want %s), any %s (want %s)' % (rel, target, fast['scale'], want_fast,
                                                                     anys['scale'], want_any))
            if fast['status'] != 'ok' or fast['scale'] == '1/1':
                continue
            den = int(fast['scale'].split('/')[1])
            im = Image.open(p)
            im.draft('RGB', (w // den, h // den))
            ref = np.asarray(im.convert('RGB'))
            check(ref.shape == fast['px'].shape and np.array_equal(ref, fast['px']),
                  '%s at %d: the 1/%d decode differs from PIL\'s draft at 1/%d (%s vs %s)'
                  % (rel, target, den, den, fast['px'].shape, ref.shape))
    # the preprocessing: a squash to 224 of a fast decode at 1/2 is PIL's resize of its draft
    p = os.path.join(CT, frames[0])
    got = run('prep', p, 'squash', 224, 0, 'bilinear', 0, 'none', 0, 'fast')
    im = Image.open(p)
    im.draft('RGB', (im.size[0] // 2, im.size[1] // 2))
    ref = np.asarray(im.convert('RGB').resize((224, 224), Image.BILINEAR, reducing_gap=None))
    d = np.abs(got['px'].astype(int) - ref.astype(int)) if 'px' in got else None
    check(got['scale'] == '1/2' and d is not None and d.max() <= 1,
          'squash 224 of a 1280 x 720 frame: scale %s, max |diff| to PIL draft + resize %s'
          % (got['scale'], None if d is None else d.max()))


def test_bad_inputs():
    src = os.path.join(CT, 'uruguay_curso_camtrapR/edita/camara1/e152.JPG')
    data = open(src, 'rb').read()
    cases = {}

    def write(name, b):
        p = os.path.join(TMP, name)
        with open(p, 'wb') as f:
            f.write(b)
        return p

    cases['zero.jpg'] = (write('zero.jpg', b''), 'corrupt_input', 'empty')
    cases['text.jpg'] = (write('text.jpg', b'just some text\n' * 20), 'unsupported', 'not an image')
    cases['gif.gif'] = (write('gif.gif', b'GIF89a' + b'\0' * 40), 'unsupported', 'GIF')
    segs = jpeg_segments(data)
    sos = [s for s in segs if s[1] == 0xDA][0][0]
    cases['cut_header.jpg'] = (write('cut_header.jpg', data[:300]), 'corrupt_input', 'cut_header.jpg')
    cases['cut_sos.jpg'] = (write('cut_sos.jpg', data[:sos + 20]), 'ok-warning', 'cut_sos.jpg')
    for frac in (0.3, 0.6, 0.95):
        n = 'cut_%d.jpg' % int(frac * 100)
        cases[n] = (write(n, data[:int(len(data) * frac)]), 'ok-warning', n)
    # huge dimensions declared in the SOF (65000 x 65000)
    sof = [s for s in segs if s[1] in (0xC0, 0xC1, 0xC2)][0][0]
    big = bytearray(data)
    big[sof + 5:sof + 9] = struct.pack('>HH', 65000, 65000)
    cases['huge.jpg'] = (write('huge.jpg', bytes(big)), 'too_large', '65000x65000')
    png = bytearray(open(os.path.join(TMP, 'v_rgb.png'), 'rb').read())
    png[16:24] = struct.pack('>II', 100000, 100000)
    cases['huge.png'] = (write('huge.png', bytes(png)), 'too_large', '100000x100000')
    # garbage EXIF: bad IFD offset, an IFD that points at itself (loop), random bytes
    app1 = [s for s in segs if s[1] == 0xE1][0]
    t0 = app1[0] + 10  # TIFF header start
    le = data[t0:t0 + 2] == b'II'
    fmt = '<I' if le else '>I'
    bad = bytearray(data)
    bad[t0 + 4:t0 + 8] = struct.pack(fmt, 0x7FFFFFF0)
    cases['exif_offset.jpg'] = (write('exif_offset.jpg', bytes(bad)), 'ok', None)
    loop = bytearray(data)
    ifd0 = struct.unpack(fmt, data[t0 + 4:t0 + 8])[0]
    n0 = struct.unpack('<H' if le else '>H', data[t0 + ifd0:t0 + ifd0 + 2])[0]
    loop[t0 + ifd0 + 2 + 12 * n0:t0 + ifd0 + 6 + 12 * n0] = struct.pack(fmt, ifd0)  # next IFD = itself
    cases['exif_loop.jpg'] = (write('exif_loop.jpg', bytes(loop)), 'ok', None)
    rnd = bytearray(data)
    rng = np.random.default_rng(1)
    rnd[t0 + 8:app1[0] + 2 + app1[2]] = rng.integers(0, 256, app1[2] - 8 - 8, dtype=np.uint8).tobytes()
    cases['exif_random.jpg'] = (write('exif_random.jpg', bytes(rnd)), 'ok', None)
    cases['missing.jpg'] = (os.path.join(TMP, 'does_not_exist.jpg'), 'not_found', 'No such file')
    for name, (p, want, text) in cases.items():
        r = run('decode', p, 224)
        got = r['status'] + ('-warning' if r['warning'] and want == 'ok-warning' else '')
        print('%-18s %-12s %s' % (name, got, r['msg'][:110]))
        check(got == want, '%s: got %s, want %s (%s)' % (name, got, want, r['msg']))
        if text:
            check(text in r['msg'], '%s: message "%s" lacks "%s"' % (name, r['msg'], text))
        if r['status'] != 'ok' or r['warning']:
            check(os.path.basename(p) in r['msg'], '%s: message does not name the file: %s' % (name, r['msg']))
        if name.startswith('exif_') and r['status'] == 'ok':
            ref = pil_rgb(src)
            check(r['w'] * ref.shape[0] == r['h'] * ref.shape[1] and r['w'] > r['h'],
                  '%s: garbage EXIF ignored: %dx%d, unrotated like the source (%dx%d)'
                  % (name, r['w'], r['h'], ref.shape[1], ref.shape[0]))
    # unreadable file: tests run as root, where chmod 000 is not enforced
    p = write('noread.jpg', data)
    os.chmod(p, 0)
    enforced = not os.access(p, os.R_OK)
    r = run('decode', p)
    if enforced:
        check(r['status'] == 'i/o_error' and 'Permission denied' in r['msg'], 'unreadable: %s' % r)
    else:
        print('unreadable file: permissions not enforced (running as root); checked that it decodes')
        check(r['status'] == 'ok', 'root can read a chmod 000 file: %s' % r)
    os.chmod(p, 0o644)


def test_exif_timestamps():
    out = os.path.join(TMP, 'scan.csv')
    subprocess.run([os.environ['IRBIS_BIN'], 'scan', CT, '-o', out], capture_output=True, timeout=120)
    ours = {r['path']: r for r in csv.DictReader(open(out, newline=''))}
    n = bad = 0
    for r in csv.DictReader(open(os.path.join(CT, 'manifest.csv'), newline='')):
        o = ours.get(r['path'])
        check(o is not None, 'scan lacks %s' % r['path'])
        if o is None:
            continue
        check((o['width'], o['height']) == (r['width'], r['height']), '%s: size %sx%s vs manifest %sx%s' % (
            r['path'], o['width'], o['height'], r['width'], r['height']))
        if r['timestamp']:
            n += 1
            if o['timestamp'][:19] != r['timestamp']:
                bad += 1
                check(False, '%s: timestamp %s, manifest %s' % (r['path'], o['timestamp'], r['timestamp']))
    print('EXIF timestamps: %d of %d equal to the manifest' % (n - bad, n))
    check(n >= 390, 'only %d manifest timestamps' % n)


for t in (test_full_decode, test_orientations_and_png, test_resize_vs_pil, test_extreme_aspect, test_decode_size,
          test_dct_scales,
          test_bad_inputs, test_exif_timestamps):
    print('==', t.__name__)
    t()
print('%d failures' % len(failures))
sys.exit(1 if failures else 0)
