"""irbis-mpi classify against the single-process irbis classify (the independent reference).

A small survey of symlinked shared images (5 each from 6 cameras of camtrapR,
wakhan_snowleopard and uruguay_curso_camtrapR, real bursts with EXIF times) plus a zero-byte and
a truncated JPEG in one camera, and the empty-vs-animal classifier that the classify tests train
with `irbis featurize` + `irbis train` (test_classify_fixture.py). `mpirun -np 2` and `-np 3`
must give the same exit status (1: files failed), the same predictions.csv bytes, the same
Camtrap DP files (the two wall-clock fields, `created` and `classificationTimestamp`, masked:
they differ between any two runs), the same report.html and thumbnails, and the same sorted/
links as `irbis classify`; the broken files are reported with their causes. A run whose ranks
die after committing their first camera (IRBIS_MPI_KILL_AFTER_PARTS=1) leaves complete parts;
started again (with a damaged part, and --limit so that rank 0 stores only some images) it
classifies only the cameras without an intact part; a last run stores the rest from the kept
parts without classifying anything, and the outputs are identical; so are the content digests
in the store, which the ranks that decode the images read and send in their parts. With small units of work
(IRBIS_MPI_UNIT_IMAGES=2) cameras are split, never inside a sequence, with the same outputs, and
after --limit the next run recomputes at most one unit. Skips
(exit 0) when mpirun or irbis-mpi is absent.
"""
import csv
import glob
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from test_digest_backfill import digests  # noqa: E402
from mpilib import MPI_BIN, link_survey, mpirun_or_skip, run  # noqa: E402
from testlib import check, finish, require_test_hooks  # noqa: E402

SHARED = os.environ["IRBIS_SHARED"]
BIN = os.environ["IRBIS_BIN"]
BUILD = os.environ["IRBIS_BUILD"]
TMP = os.path.join(os.environ["IRBIS_TMP"], "mpi_classify")
DATA = os.path.join(SHARED, "data/camera-traps")
CAMERAS = ["camtrapR/StationA/PBE", "camtrapR/StationB/MNE", "wakhan_snowleopard/C1_Avgarch_SL",
           "uruguay_curso_camtrapR/edita/camara1", "uruguay_curso_camtrapR/edita/camara2",
           "uruguay_curso_camtrapR/henry/camara1"]
BROKEN_CAM = CAMERAS[1]

PER_CAMERA = 5


def make_survey(root, per_camera=PER_CAMERA):
    link_survey(root, CAMERAS, per_camera)
    d = os.path.join(root, BROKEN_CAM)
    open(os.path.join(d, "zero_bytes.jpg"), "wb").close()
    src = sorted(glob.glob(os.path.join(DATA, BROKEN_CAM, "*.JPG")))[0]
    with open(os.path.join(d, "truncated.jpg"), "wb") as f:
        f.write(open(src, "rb").read()[:300])  # cut inside its headers
    with open(os.path.join(d, "damaged.jpg"), "wb") as f:  # cut inside its scan: decoded in part
        data = open(src, "rb").read()
        sos = data.rindex(b"\xff\xda")  # the last start of scan: past the EXIF thumbnail's
        f.write(data[:sos + (len(data) - sos) // 2])
    return root


def read(path):
    with open(path, "rb") as f:
        return f.read()


def masked_camtrapdp(out):
    """The Camtrap DP files with the wall-clock fields blanked."""
    d = os.path.join(out, "camtrap-dp")
    res = {}
    for name in sorted(os.listdir(d)):
        text = read(os.path.join(d, name)).decode()
        if name == "datapackage.json":
            text = re.sub(r'"created": "[^"]*"', '"created": ""', text)
        elif name == "observations.csv":
            rows = list(csv.reader(io.StringIO(text)))
            k = rows[0].index("classificationTimestamp")
            for r in rows[1:]:
                r[k] = ""
            text = "\n".join(",".join(r) for r in rows)
        res[name] = text
    return res


def tree(root):
    """Relative file names under root with their bytes (links: their targets)."""
    res = {}
    for dp, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(dp, f)
            res[os.path.relpath(p, root)] = os.readlink(p) if os.path.islink(p) else read(p)
    return res


def compare(ref, out, tag):
    check(read(os.path.join(ref, "predictions.csv")) == read(os.path.join(out, "predictions.csv")),
          "%s: predictions.csv byte-identical to irbis classify" % tag)
    a, b = masked_camtrapdp(ref), masked_camtrapdp(out)
    check(a == b, "%s: Camtrap DP files identical (%s; wall-clock fields masked)" % (tag, ", ".join(sorted(a))))
    check(read(os.path.join(ref, "report.html")) == read(os.path.join(out, "report.html")),
          "%s: report.html byte-identical" % tag)
    check(read(os.path.join(ref, "coco-camera-traps.json")) == read(os.path.join(out, "coco-camera-traps.json")),
          "%s: coco-camera-traps.json byte-identical" % tag)
    md = [re.sub(r'"classification_completion_time": "[^"]*"', '', read(os.path.join(d, "megadetector.json")).decode())
          for d in (ref, out)]
    check(md[0] == md[1], "%s: megadetector.json identical (completion time masked)" % tag)
    r = subprocess.run(["/usr/bin/python3", os.path.join(SHARED, "standards", "validators", "md_validate.py"),
                        os.path.join(out, "megadetector.json")], capture_output=True, text=True)
    check(r.returncode == 0 and "(0 violations" in r.stdout, "%s: md_validate.py: %s" % (tag, (r.stdout.strip().splitlines() or [""])[-1]))
    check(tree(os.path.join(ref, "thumbs")) == tree(os.path.join(out, "thumbs")), "%s: same thumbnails" % tag)
    check(tree(os.path.join(ref, "sorted")) == tree(os.path.join(out, "sorted")) != {},
          "%s: same sorted/ links" % tag)
    check(not os.path.exists(os.path.join(out, "mpi-parts")), "%s: parts removed after the outputs" % tag)
    dig = [digests(d) for d in (ref, out)]
    ok = [r["path"] for r in F.read_predictions(ref) if r["status"] == "ok"]
    check(dig[0] == dig[1] and ok and all(all(dig[1].get(p, ("", ""))) for p in ok),
          "%s: the store's content digests equal one process's (read by the ranks that decode the images; "
          "%d of %d images have them, every classified one of %d)"
          % (tag, sum(1 for h, d in dig[1].values() if h and d), len(dig[1]), len(ok)))


def main():
    mpirun = mpirun_or_skip()
    require_test_hooks("test_mpi_classify (IRBIS_MPI_KILL_AFTER_PARTS, IRBIS_MPI_UNITS_FILE)")
    fx = F.fixture()  # the classifier (irbis featurize + irbis train), model and nothing else
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    survey = make_survey(os.path.join(TMP, "survey"))
    n_files = sum(len(fs) for _, _, fs in os.walk(survey))
    opts = ["--model", fx["model"], "--classifier", fx["clf"], "--positive", "animal", "--threshold", "0.5",
            "--gap", "60", "--batch", "4", "--sort", "symlink"]

    ref = os.path.join(TMP, "single")
    r = run([BIN, "classify", *opts, "--threads", "2", survey, "-o", ref])
    check(r.returncode == 1, "single run exits 1 with failed files (got %d) %s" % (r.returncode, r.stderr[-300:]))
    with open(os.path.join(ref, "predictions.csv"), newline="") as f:
        rows = {row["path"]: row for row in csv.DictReader(f)}
    check(len(rows) == n_files, "single run: %d rows for %d files" % (len(rows), n_files))
    for name in ("zero_bytes.jpg", "truncated.jpg"):
        row = rows.get(BROKEN_CAM + "/" + name, {})
        check(row.get("status") not in (None, "ok", "pending") and name in row.get("message", ""),
              "single run reports %s: %s %r" % (name, row.get("status"), row.get("message")))
    row = rows.get(BROKEN_CAM + "/damaged.jpg", {})
    check(row.get("status") == "ok" and "damaged JPEG" in row.get("message", "") and "damaged.jpg" in row["message"],
          "a JPEG cut inside its scan is classified with the decoder's warning as its message (regression: the "
          "warning was dropped): %s %r" % (row.get("status"), row.get("message")))
    seqs = {row["sequence"] for row in rows.values() if row["status"] == "ok"}
    check(len(seqs) < n_files - 2, "single run: %d sequences of %d images (bursts grouped)" % (len(seqs), n_files - 2))

    mpi = [mpirun, "--allow-run-as-root", "--oversubscribe"]
    for np in (2, 3):
        out = os.path.join(TMP, "mpi%d" % np)
        r = run(mpi + ["-np", str(np), MPI_BIN, "classify", *opts, "--threads", "1", survey, "-o", out],
                env={"IRBIS_MPI_TIMING": "1"})
        per_rank = [int(x) for x in re.findall(r"rank \d+: (\d+) images in", r.stderr)]
        # the scan already finds the two broken files bad (headers), so they are never handed out
        check(len(per_rank) == np and sum(per_rank) == n_files - 2 and sum(1 for x in per_rank if x) >= 2,
              "np %d: the ranks classified %s images (want sum %d), more than one rank worked"
              % (np, per_rank, n_files - 2))
        check(r.returncode == 1, "np %d: exit status 1 like the single run (got %d) %s"
              % (np, r.returncode, r.stderr[-500:]))
        check("2 failed" in r.stderr, "np %d: summary counts the 2 broken files" % np)
        if os.path.exists(os.path.join(out, "predictions.csv")):
            compare(ref, out, "np %d" % np)
        else:
            check(False, "np %d: no predictions.csv" % np)

    # large cameras split into units of work (IRBIS_MPI_UNIT_IMAGES=2: a piece may start at an
    # image whose path hash is even), never inside a sequence: more units than cameras, every
    # sequence of the single run inside one unit, the same outputs
    units_file = os.path.join(TMP, "units.tsv")
    out = os.path.join(TMP, "mpi_units")
    uenv = {"IRBIS_MPI_UNIT_IMAGES": "2", "IRBIS_MPI_UNITS_FILE": units_file, "IRBIS_MPI_TIMING": "1"}
    r = run(mpi + ["-np", "2", MPI_BIN, "classify", *opts, "--threads", "1", survey, "-o", out], env=uenv)
    check(r.returncode == 1, "units: exit 1 (got %d) %s" % (r.returncode, r.stderr[-300:]))
    unit_of = {}
    if os.path.exists(units_file):
        for line in open(units_file):
            u, p = line.rstrip("\n").split("\t")
            unit_of[p] = u
    units = set(unit_of.values())
    check(len(unit_of) == n_files - 2 and len(units) > len(CAMERAS),
          "units: %d images in %d units for %d cameras" % (len(unit_of), len(units), len(CAMERAS)))
    by_seq = {}
    for row in rows.values():
        if row["status"] == "ok":
            by_seq.setdefault(row["sequence"], []).append(row["path"])
    split = [q for q, ps in by_seq.items() if len({unit_of.get(p) for p in ps}) != 1]
    check(not split, "units: no sequence split across units (split: %s)" % split[:3])

    def fnv(text):
        h = 1469598103934665603
        for b in text.encode():
            h = ((h ^ b) * 1099511628211) & (2 ** 64 - 1)
        return h
    # the rule was exercised: some image inside a burst hashes even, so only the sequence rule
    # kept its burst whole
    inside = [p for ps in by_seq.values() for p in sorted(ps)[1:] if fnv(p) % 2 == 0]
    check(len(inside) > 0, "units: %d images inside bursts are hash cut points" % len(inside))
    if os.path.exists(os.path.join(out, "predictions.csv")):
        compare(ref, out, "units")
    # --limit stores only some images and keeps the parts; the next run's pending images are a
    # subset, yet the content-defined units still match all but the one rank 0 stopped inside
    out = os.path.join(TMP, "mpi_units_limit")
    uargs = mpi + ["-np", "2", MPI_BIN, "classify", *opts, "--threads", "1", survey, "-o", out]
    run(uargs + ["--limit", "5"], env=uenv)
    r = run(uargs, env=uenv)
    m = re.search(r"(\d+) images classified this run", r.stderr)
    biggest = max(list(unit_of.values()).count(u) for u in units) if units else 0
    check(r.returncode == 1 and m and int(m.group(1)) <= biggest,
          "units after --limit 5: %s images classified again (at most one unit, %d), exit %d"
          % (m and m.group(1), biggest, r.returncode))
    if os.path.exists(os.path.join(out, "predictions.csv")):
        compare(ref, out, "units after --limit")

    # could not run: the same exit status 3 and cause as irbis classify, from every rank at once
    for tag, extra in (("other parameters", ["--gap", "30"]),
                       ("missing classifier", ["--classifier", "/nonexistent.irbis"])):
        out = os.path.join(TMP, "mpi2")
        args = [*opts, *extra]
        r1 = run([BIN, "classify", *args, "--threads", "1", survey, "-o", os.path.join(TMP, "single")])
        r = run(mpi + ["-np", "2", MPI_BIN, "classify", *args, "--threads", "1", survey, "-o", out])
        cause = [l for l in r1.stderr.splitlines() if l.startswith("irbis classify: ")]
        same = cause and cause[-1].replace(os.path.join(TMP, "single"), out) in r.stderr
        check(r1.returncode == 3 and r.returncode == 3 and same,
              "%s: exit %d like irbis classify (%d), same message %r" % (tag, r.returncode, r1.returncode, cause[-1:]))

    # resume: each rank dies right after committing its first camera; the rerun skips them
    out = os.path.join(TMP, "mpi_resume")
    args = mpi + ["-np", "2", MPI_BIN, "classify", *opts, "--threads", "1", survey, "-o", out]
    whole = {"IRBIS_MPI_UNIT_IMAGES": "0"}  # parts named by camera below
    r = run(args, env={"IRBIS_MPI_KILL_AFTER_PARTS": "1", **whole})
    parts = glob.glob(os.path.join(out, "mpi-parts", "*.part"))
    check(r.returncode != 0, "killed run fails (got %d)" % r.returncode)
    check(not os.path.exists(os.path.join(out, "predictions.csv")), "killed run wrote no predictions.csv")
    check(1 <= len(parts) < len(CAMERAS), "killed run committed %d of %d camera parts" % (len(parts), len(CAMERAS)))
    # a damaged part (one byte flipped: its CRC fails) is redone, the intact ones are skipped
    size = {c: len([n for n in os.listdir(os.path.join(survey, c)) if n not in ("zero_bytes.jpg", "truncated.jpg")])
            for c in CAMERAS}
    named = {hashlib.sha256(c.encode()).hexdigest() + ".part": c for c in CAMERAS}
    kept = [named[os.path.basename(p)] for p in parts]
    if len(parts) >= 2:
        with open(parts[0], "r+b") as f:
            f.seek(60)
            b = f.read(1)
            f.seek(60)
            f.write(bytes([b[0] ^ 0xFF]))
        kept.remove(named[os.path.basename(parts[0])])
    # resumed with --limit 7: the missing cameras are classified, rank 0 stores only the first 7
    # images (as a rank 0 killed while storing would leave it) and keeps the parts
    r = run(args + ["--limit", "7"], env={"IRBIS_MPI_TIMING": "1", **whole})
    m = re.search(r"(\d+) images classified this run", r.stderr)
    done = int(m.group(1)) if m else -1
    want = n_files - 2 - sum(size[c] for c in kept)
    check(done == want, "resumed run classified %d of %d images, want %d (%d intact camera parts skipped, "
          "%d damaged one redone)" % (done, n_files, want, len(kept), len(parts) - len(kept)))
    with open(os.path.join(out, "predictions.csv"), newline="") as f:
        pending = sum(1 for row in csv.DictReader(f) if row["status"] == "pending")
    check(r.returncode == 1 and pending == n_files - 2 - 7,
          "--limit 7: %d images left pending, want %d (exit %d) %s" % (pending, n_files - 9, r.returncode,
                                                                      r.stderr[-300:]))
    check(len(glob.glob(os.path.join(out, "mpi-parts", "*.part"))) == len(CAMERAS), "--limit keeps every part")
    # the last run stores the rest from the parts without classifying anything again
    r = run(args, env={"IRBIS_MPI_TIMING": "1", **whole})
    m = re.search(r"(\d+) images classified this run", r.stderr)
    check(r.returncode == 1 and m and int(m.group(1)) == 0,
          "the run after --limit classified %s images again (want 0), exit %d" % (m and m.group(1), r.returncode))
    if os.path.exists(os.path.join(out, "predictions.csv")):
        compare(ref, out, "resumed")

    # a camera's image replaced while its part waits (kept by --limit, as a killed rank 0 leaves
    # it): the part is stale, the camera is classified again (regression: its old row was
    # replayed for the new picture)
    out = os.path.join(TMP, "mpi_stale")
    args = mpi + ["-np", "2", MPI_BIN, "classify", *opts, "--threads", "1", survey, "-o", out]
    r = run(args + ["--limit", "3"], env={"IRBIS_MPI_TIMING": "1", **whole})
    with open(os.path.join(out, "predictions.csv"), newline="") as f:
        pending = [row["path"] for row in csv.DictReader(f) if row["status"] == "pending" and
                   row["path"].startswith(CAMERAS[3] + "/")]
    check(r.returncode == 1 and pending, "--limit 3 leaves %s images pending (exit %d)" % (CAMERAS[3], r.returncode))
    victim = os.path.join(survey, pending[-1])  # the last: its new id keeps the part's order
    other = sorted(glob.glob(os.path.join(DATA, CAMERAS[0], "*.JPG")))[-1]
    os.remove(victim)
    shutil.copyfile(other, victim)
    r = run(args, env={"IRBIS_MPI_TIMING": "1", **whole})
    m = re.search(r"(\d+) images classified this run", r.stderr)
    check(r.returncode == 1 and m and int(m.group(1)) >= 1, "the changed camera is classified again (%s images, "
                                                           "exit %d)" % (m and m.group(1), r.returncode))
    fresh = os.path.join(TMP, "single_stale")
    run([BIN, "classify", *opts, "--threads", "2", survey, "-o", fresh])
    with open(os.path.join(out, "predictions.csv"), newline="") as f:
        a = {row["path"]: row for row in csv.DictReader(f)}
    with open(os.path.join(fresh, "predictions.csv"), newline="") as f:
        b = {row["path"]: row for row in csv.DictReader(f)}
    key = pending[-1]
    check(a.get(key, {}).get("p_animal") == b.get(key, {}).get("p_animal"),
          "the replaced image has the new picture's result: %s, one process %s" % (a.get(key, {}).get("p_animal"),
                                                                                 b.get(key, {}).get("p_animal")))
    finish()


if __name__ == "__main__":
    main()
