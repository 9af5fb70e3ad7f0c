"""irbis-mpi featurize against the single-process irbis featurize (the independent reference).

A small survey of symlinked shared images over 5 cameras (folders), one of them holding a file
that is not an image and a truncated JPEG. `mpirun -np 2` and `-np 3` must give the same
OUT.npy / OUT.csv / OUT.json bytes, the same exit status (1: a file failed) and the same
per-file messages as `irbis featurize`, also with --flip and a small batch, and at --size 288
(the net run at another input size than the model file declares). A run whose rank
dies after committing its first camera (IRBIS_MPI_KILL_AFTER_PARTS=1) leaves complete parts;
started again it skips them and still gives identical outputs. Skips (exit 0) when mpirun or
irbis-mpi is absent.
"""
import glob
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpilib import link_survey, mpi, mpirun_or_skip, run  # noqa: E402
from testlib import check, finish, require_test_hooks  # noqa: E402

SHARED = os.environ["IRBIS_SHARED"]
BIN = os.environ["IRBIS_BIN"]
TMP = os.path.join(os.environ["IRBIS_TMP"], "mpi_featurize")
MODEL = os.path.join(SHARED, "models/mobilenet_v2/mobilenet_v2_1.0_224.onnx")
CAMERAS = ["camtrapR/StationA/PBE", "camtrapR/StationB/MNE", "camtrapR/StationC/TRA",
           "wakhan_snowleopard/C1_Avgarch_SL", "uruguay_curso_camtrapR/edita/camara1"]

def make_survey(root, per_camera=8, broken=True):
    """Symlinks to the first `per_camera` images of each camera; broken files in the 2nd camera."""
    link_survey(root, CAMERAS, per_camera)
    if broken:
        cams = os.path.join(SHARED, "data/camera-traps")
        d = os.path.join(root, CAMERAS[1])
        with open(os.path.join(d, "broken.jpg"), "wb") as f:
            f.write(b"not a JPEG, only text " * 20)
        src = sorted(glob.glob(os.path.join(cams, CAMERAS[1], "*.JPG")))[0]
        data = open(src, "rb").read()
        with open(os.path.join(d, "truncated.jpg"), "wb") as f:
            f.write(data[: len(data) // 3])
    return root


def messages(stderr, cmd):
    """Per-file lines (the summary names the output, which differs between runs)."""
    return [l for l in stderr.splitlines() if l.startswith("irbis %s: " % cmd) and " -> " not in l]


def same_files(a, b, exts):
    return all(open(a + e, "rb").read() == open(b + e, "rb").read() for e in exts)


def main():
    mpirun = mpirun_or_skip()
    require_test_hooks("test_mpi_featurize (IRBIS_MPI_KILL_AFTER_PARTS, IRBIS_MPI_UNITS_FILE)")
    os.makedirs(TMP, exist_ok=True)
    survey = make_survey(os.path.join(TMP, "survey"))
    exts = (".npy", ".csv", ".json")

    for opts in (["--cut", "2", "--threads", "2"], ["--cut", "2", "--flip", "--batch", "3", "--threads", "1"],
                 ["--cut", "2", "--size", "288", "--threads", "1"]):
        tag = "flip" if "--flip" in opts else "size" if "--size" in opts else "plain"
        single = os.path.join(TMP, "single_" + tag)
        r1 = run([BIN, "featurize", "--model", MODEL, *opts, "-o", single, survey])
        check(r1.returncode == 1, "%s: single run exits 1 with failed files (got %d) %s" % (tag, r1.returncode,
                                                                                             r1.stderr[-300:]))
        check("broken.jpg" in r1.stderr, "%s: single run names broken.jpg" % tag)
        for np in (2, 3):
            if tag != "plain" and np == 2:
                continue
            out = os.path.join(TMP, "mpi%d_%s" % (np, tag))
            mopts = [o for o in opts]
            if "--threads" in mopts:  # one thread per rank on this 2-core machine
                mopts[mopts.index("--threads") + 1] = "1"
            r = mpi(mpirun, np, "featurize", "--model", MODEL, *mopts, "-o", out, survey)
            check(r.returncode == 1, "%s np %d: exit status 1 like the single run (got %d) %s"
                  % (tag, np, r.returncode, r.stderr[-500:]))
            check(all(os.path.exists(out + e) for e in exts) and same_files(single, out, exts),
                  "%s np %d: .npy/.csv/.json byte-identical to the single run" % (tag, np))
            check(messages(r.stderr, "featurize") == messages(r1.stderr, "featurize") != [],
                  "%s np %d: the same per-file messages in the same order (%d lines)"
                  % (tag, np, len(messages(r1.stderr, "featurize"))))
            check(not os.path.exists(out + ".parts"), "%s np %d: parts removed after the merge" % (tag, np))

    # cameras split into units of work (IRBIS_MPI_UNIT_IMAGES=2, a piece may start at any image
    # whose path hash is even): more units than cameras, the same bytes; a kill after the first
    # unit and a resume give the same bytes again
    units_file = os.path.join(TMP, "units.tsv")
    single = os.path.join(TMP, "single_plain")
    out = os.path.join(TMP, "mpi_units")
    uenv = {"IRBIS_MPI_UNIT_IMAGES": "2", "IRBIS_MPI_UNITS_FILE": units_file, "IRBIS_MPI_TIMING": "1"}
    uargs = ["featurize", "--model", MODEL, "--cut", "2", "--threads", "1", "-o", out, survey]
    r = mpi(mpirun, 2, *uargs, env=uenv)
    units = {}
    if os.path.exists(units_file):
        for line in open(units_file):
            u, p = line.rstrip("\n").split("\t")
            units.setdefault(u, []).append(p)
    total = sum(len(files) for _, _, files in os.walk(survey))
    check(sum(map(len, units.values())) == total and len(units) > len(CAMERAS),
          "units: %d inputs in %d units for %d cameras" % (sum(map(len, units.values())), len(units), len(CAMERAS)))
    check(r.returncode == 1 and same_files(single, out, exts), "units: output byte-identical to the single run")
    for e in exts:
        if os.path.exists(out + e):
            os.remove(out + e)
    r = mpi(mpirun, 2, *uargs, env={**uenv, "IRBIS_MPI_KILL_AFTER_PARTS": "1"})
    kept = len(glob.glob(os.path.join(out + ".parts", "*.part")))
    r = mpi(mpirun, 2, *uargs, env=uenv)
    m = re.search(r"(\d+) images featurized this run", r.stderr)
    done = int(m.group(1)) if m else -1
    check(kept >= 1 and 0 <= done < total and same_files(single, out, exts),
          "units: killed after %d parts, the resume featurized %d of %d images, same bytes" % (kept, done, total))

    # resume: rank dies right after its first camera; the rerun skips the committed cameras
    single = os.path.join(TMP, "single_plain")
    out = os.path.join(TMP, "mpi_resume")
    for e in exts:
        if os.path.exists(out + e):
            os.remove(out + e)
    shutil.rmtree(out + ".parts", ignore_errors=True)
    args = ["featurize", "--model", MODEL, "--cut", "2", "--threads", "1", "-o", out, survey]
    whole = {"IRBIS_MPI_UNIT_IMAGES": "0"}  # one part per camera, as counted below
    r = mpi(mpirun, 2, *args, env={"IRBIS_MPI_KILL_AFTER_PARTS": "1", **whole})
    parts = glob.glob(os.path.join(out + ".parts", "*.part"))
    check(r.returncode != 0, "killed run fails (got %d)" % r.returncode)
    check(not os.path.exists(out + ".npy"), "killed run leaves no merged output")
    check(1 <= len(parts) < len(CAMERAS), "killed run committed %d of %d camera parts" % (len(parts), len(CAMERAS)))
    r = mpi(mpirun, 2, *args, env={"IRBIS_MPI_TIMING": "1", **whole})
    m = re.search(r"(\d+) images featurized this run", r.stderr)
    done = int(m.group(1)) if m else -1
    total = sum(len(files) for _, _, files in os.walk(survey))
    check(r.returncode == 1, "resumed run completes (exit 1: broken files) (got %d) %s" % (r.returncode, r.stderr[-400:]))
    check(0 <= done < total, "resumed run featurized %d of %d images (the committed cameras skipped)" % (done, total))
    check(os.path.exists(out + ".npy") and same_files(single, out, exts), "resumed output byte-identical to single run")

    finish()


if __name__ == "__main__":
    main()
