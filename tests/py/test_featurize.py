"""irbis featurize end to end on the shared MobileNetV2 (oneDNN engine).

The four reference images (SOURCE.md: 224x224 RGB already cropped and resized) are written as
lossless PNGs with PIL, plus PIL-mirrored copies and a file that is not an image. featurize
--cut 2 --flip --resize squash must give, per good image, a row within 1e-4 of the independent
reference features and a flipped row within 1e-4 of the row of the PIL-mirrored file; the bad
file is named on stderr, skipped, and the exit status is 1. Also bf16 (cosine >= 0.999).
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

from testlib import check, failures

SHARED = os.environ["IRBIS_SHARED"]
TMP = os.path.join(os.environ["IRBIS_TMP"], "featurize")
BIN = os.environ["IRBIS_BIN"]
MODEL = os.path.join(SHARED, "models/mobilenet_v2/mobilenet_v2_1.0_224.onnx")
REF = os.path.join(SHARED, "models/mobilenet_v2/reference")
NAMES = ["dog", "eagle", "giraffe", "horses"]



def featurize(out, files, *extra):
    cmd = [BIN, "featurize", "--model", MODEL, "--cut", "2", "--flip", "--resize", "squash",
           "--batch", "3", "--threads", "2", "-o", out, *extra, *files]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def main():
    os.makedirs(TMP, exist_ok=True)
    files, ref = [], {}
    for n in NAMES:
        a = np.fromfile(os.path.join(REF, n + "_224_rgb_u8_hwc.bin"), np.uint8).reshape(224, 224, 3)
        p = os.path.join(TMP, n + ".png")
        Image.fromarray(a).save(p)
        pm = os.path.join(TMP, n + "_mirror.png")
        Image.fromarray(a).transpose(Image.FLIP_LEFT_RIGHT).save(pm)
        files += [p, pm]
        ref[p] = np.fromfile(os.path.join(REF, n + "_features_f32.bin"), np.float32)
    bad = os.path.join(TMP, "not_an_image.jpg")
    with open(bad, "wb") as f:
        f.write(b"this is not a JPEG file at all" * 10)
    files.insert(3, bad)

    out = os.path.join(TMP, "mnv2")
    r = featurize(out, files)
    print(r.stderr)
    check(r.returncode == 1, "exit status 1 when a file fails (got %d)" % r.returncode)
    check("not_an_image.jpg" in r.stderr, "the failed file is named on stderr")
    x = np.load(out + ".npy")
    lines = open(out + ".csv").read().splitlines()
    meta = json.load(open(out + ".json"))
    check(x.dtype == np.float32 and x.shape == (16, 1280), "npy shape %s" % (x.shape,))
    check(lines[0] == "row,path,flipped" and len(lines) == 17, "csv header and %d lines" % len(lines))
    rows = [l.split(",") for l in lines[1:]]
    check(all(rw[1] != bad for rw in rows), "the bad file has no rows")
    check(meta["dim"] == 1280 and meta["rows"] == 16 and meta["pool"] == "avg" and meta["precision"] == "fp32",
          "json metadata %s" % {k: meta.get(k) for k in ("dim", "rows", "pool", "precision", "cut")})
    import hashlib
    check(meta["model_sha256"] == hashlib.sha256(open(MODEL, "rb").read()).hexdigest(), "model sha256")
    by = {(rw[1], int(rw[2])): x[int(rw[0])] for rw in rows}
    for n in NAMES:
        p, pm = os.path.join(TMP, n + ".png"), os.path.join(TMP, n + "_mirror.png")
        e = np.abs(by[(p, 0)] - ref[p]).max()
        check(e <= 1e-4, "%s features vs reference: max abs error %.2e" % (n, e))
        e = np.abs(by[(p, 1)] - by[(pm, 0)]).max()
        check(e <= 1e-4, "%s flipped row vs PIL-mirrored file: max abs error %.2e" % (n, e))
        e = np.abs(by[(pm, 1)] - ref[p]).max()
        check(e <= 1e-4, "%s mirrored file flipped back vs reference: %.2e" % (n, e))

    # bf16 (AVX512-BF16 here); on a CPU without it the run must refuse cleanly
    r = featurize(out + "_bf16", files, "--precision", "bf16")
    if r.returncode == 3 and "bf16" in r.stderr:
        print("bf16 not available on this CPU: refused")
    else:
        xb = np.load(out + "_bf16.npy")
        check(xb.shape == x.shape, "bf16 shape")
        cos = (xb * x).sum(1) / np.linalg.norm(xb, axis=1) / np.linalg.norm(x, axis=1)
        check(cos.min() >= 0.999, "bf16 cosine to fp32 rows: min %.5f" % cos.min())

    # awkward real files: EXIF-rotated and CMYK copies featurize like the original; the truncated
    # one is kept with a warning naming it (exit 0)
    odd = os.path.join(SHARED, "data", "odd-images")
    orig = os.path.join(SHARED, "data", "camera-traps", "speciesnet_testdata", "african_elephants.jpg")
    names = ["african_elephants_with_exif_orientation.jpg", "african_elephants_cmyk.jpg",
             "african_elephants_truncated_file.jpg"]
    r = subprocess.run([BIN, "featurize", "--model", MODEL, "--cut", "2", "-o", out + "_odd", orig] +
                       [os.path.join(odd, n) for n in names], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "odd images: exit 0 (got %d)" % r.returncode)
    check("truncated_file.jpg: warning" in r.stderr, "truncated file: warning on stderr")
    xo = np.load(out + "_odd.npy")
    check(xo.shape == (4, 1280), "odd images: 4 rows")
    xo = xo / np.linalg.norm(xo, axis=1, keepdims=True)
    cs = xo[1:] @ xo[0]
    check(cs[0] >= 0.99 and cs[1] >= 0.99, "EXIF-rotated / CMYK vs original: cosine %.4f %.4f" % (cs[0], cs[1]))

    # --list (blank lines ignored), no --flip: one row per image, in list order
    lst = os.path.join(TMP, "list.txt")
    with open(lst, "w") as f:
        f.write(files[2] + "\n\n" + files[0] + "\n")
    r = subprocess.run([BIN, "featurize", "--model", MODEL, "--cut", "2", "--resize", "squash", "--list", lst,
                        "-o", out + "_list"], capture_output=True, text=True, timeout=120)
    xl = np.load(out + "_list.npy")
    ll = open(out + "_list.csv").read().splitlines()[1:]
    check(r.returncode == 0 and xl.shape == (2, 1280), "--list: 2 rows (exit %d)" % r.returncode)
    check([l.split(",")[1] for l in ll] == [files[2], files[0]] and all(l.endswith(",0") for l in ll),
          "--list: rows in list order, flipped 0")
    check(np.abs(xl[1] - ref[files[0]]).max() <= 1e-4, "--list: row matches the reference")

    # a folder walk through sub-folders without images (one empty, one with a text file only):
    # regression, the walk sorted a NULL list (undefined behaviour, reported by the sanitizer build)
    tree = os.path.join(TMP, "tree")
    shutil.rmtree(tree, ignore_errors=True)
    for sub in ("a/empty", "a/notes", "b"):
        os.makedirs(os.path.join(tree, sub))
    open(os.path.join(tree, "a/notes/readme.txt"), "w").write("field notes\n")
    shutil.copy(files[0], os.path.join(tree, "b/x.jpg"))
    # links to folders that make cycles (regression: the walk followed them, and "a/loop" ->
    # ".." with "b/self" -> "." recursed without end, a path longer at every level), as the
    # survey scanner of classify does: links to folders are not followed, links to files are
    os.symlink("..", os.path.join(tree, "a/loop"))
    os.symlink(".", os.path.join(tree, "b/self"))
    os.symlink("../a", os.path.join(tree, "b/up"))
    os.symlink("x.jpg", os.path.join(tree, "b/y.jpg"))
    try:
        r = subprocess.run([BIN, "featurize", "--model", MODEL, "--cut", "2", "-o", out + "_tree", tree],
                           capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        r = subprocess.CompletedProcess([], -1, "", "timed out after 60 s")
    rows = open(out + "_tree.csv").read().splitlines()[1:] if r.returncode == 0 else []
    check(r.returncode == 0 and [row.split(",")[1][len(tree):] for row in rows] == ["/b/x.jpg", "/b/y.jpg"]
          and "runtime error" not in r.stderr,
          "folders without images and links to folders are walked cleanly (exit %d, rows %s) %s"
          % (r.returncode, rows, r.stderr[-200:]))

    # usage errors
    r = subprocess.run([BIN, "featurize", "--model", MODEL, "-o", out, "--cut", "2", "--layer", "x", files[0]],
                       capture_output=True, text=True)
    check(r.returncode == 2, "--cut with --layer is a usage error")
    r = subprocess.run([BIN, "featurize", "--model", os.path.join(TMP, "missing.onnx"), "-o", out, files[0]],
                       capture_output=True, text=True)
    check(r.returncode == 3 and "missing.onnx" in r.stderr, "missing model: exit 3 naming the file")
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
