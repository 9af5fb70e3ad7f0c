#!/usr/bin/python3
"""The report's thumbnails come from irbis's own decoder, so every format it classifies gets one,
upright: a PNG, a JPEG with EXIF orientation 6, a CMYK and a grayscale JPEG (odd-images), and a
plain camera-trap JPEG. Each thumbnail must exist, be 160 px wide (the image's upright aspect,
+-1 px) and look like PIL's exif_transpose + convert("RGB") + BOX resize of the same file (mean
|diff| <= 10 levels: JPEG quality 75 and DCT-scaled decoding differ a little, measured 3-8; a
wrongly converted thumbnail differs by far more). A file irbis cannot read keeps the file name
in the report instead of a thumbnail (it is listed as failed). An empty thumbnail (what a power cut
may leave of one, as they are not fsynced) is made again."""
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import BIN, CT, SHARED, check, finish, make_tree, tmpdir  # noqa: E402

TMP = tmpdir('report_thumbs')
ODD = os.path.join(SHARED, "data/odd-images")



class Imgs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img" and a.get("src", "").startswith("thumbs/"):
            self.imgs[a.get("alt")] = a["src"]


def main():
    fx = F.fixture()
    shutil.rmtree(TMP, ignore_errors=True)
    survey = os.path.join(TMP, "survey")
    files = {
        "png/frame.png": None,
        "rotated/r.jpg": os.path.join(ODD, "african_elephants_with_exif_orientation.jpg"),
        "cmyk/c.jpg": os.path.join(ODD, "african_elephants_cmyk.jpg"),
        "gray/g.jpg": os.path.join(ODD, "african_elephants_bw.jpg"),
        "plain/p.JPG": os.path.join(CT, "wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG"),
    }
    make_tree(survey, files)
    Image.open(os.path.join(CT, "mlwic_examples/images/CA-01_0006503.jpg")).save(os.path.join(survey, "png/frame.png"))
    os.makedirs(os.path.join(survey, "broken"))
    with open(os.path.join(survey, "broken/b.jpg"), "wb") as f:
        f.write(open(files["plain/p.JPG"], "rb").read()[:300])
    out = os.path.join(TMP, "out")
    r = subprocess.run([BIN, "classify", "--model", fx["model"], "--classifier", fx["clf"], survey, "-o", out],
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 1, "classify: exit 1 (the broken file) (got %d) %s" % (r.returncode, r.stderr[-300:]))
    p = Imgs()
    p.feed(open(os.path.join(out, "report.html")).read())
    for rel in files:
        src = os.path.join(survey, rel)
        th = p.imgs.get(rel)
        check(th is not None and os.path.exists(os.path.join(out, th)), "%s: thumbnail in the report (%s)" % (rel, th))
        if th is None or not os.path.exists(os.path.join(out, th)):
            continue
        got = np.asarray(Image.open(os.path.join(out, th)).convert("RGB")).astype(int)
        up = ImageOps.exif_transpose(Image.open(src)).convert("RGB")
        w = min(160, up.width)
        h = got.shape[0]
        want_h = up.height * w // up.width
        check(got.shape[1] == w and abs(h - want_h) <= 1,
              "%s: thumbnail %dx%d, upright %dx%d scaled to %dx%d" % (rel, got.shape[1], h, up.width, up.height, w,
                                                                     want_h))
        if got.shape[1] == w and abs(h - want_h) <= 1:
            ref = np.asarray(up.resize((w, h), Image.BOX)).astype(int)
            m = float(np.abs(got - ref).mean())
            check(m <= 10.0, "%s: looks like PIL's upright thumbnail (mean |diff| %.2f)" % (rel, m))
    html = open(os.path.join(out, "report.html")).read()
    check("broken/b.jpg" not in p.imgs and "broken/b.jpg" in html, "the broken file has no thumbnail, its name is shown")
    # thumbnails are written without fsync: a power cut may leave one empty; the next export makes
    # it again (regression: an empty file counted as made, and the report showed a broken image)
    th = os.path.join(out, p.imgs["plain/p.JPG"])
    want = open(th, "rb").read()
    open(th, "wb").close()
    r = subprocess.run([BIN, "export", out], capture_output=True, text=True, timeout=300)
    check(r.returncode == 0 and open(th, "rb").read() == want,
          "an empty thumbnail is made again by export, the same bytes (exit %d, %d bytes)" % (r.returncode,
                                                                                             os.path.getsize(th)))
    finish()


if __name__ == "__main__":
    main()
