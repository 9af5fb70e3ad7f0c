"""irbis-mpi classify and content digests, against the one-process irbis classify:
  - the ranks that decode the images read their content digests (sent back in their parts; rank 0
    no longer reads every file of the survey again): the stored digests equal a one-process run's;
  - the survey then copied to a new root with its files renamed and run with --survey-moved on
    both: nothing classified again, every human label follows its picture, the same predictions;
    the digests of the files that may be pictures found again are read by every rank, not by
    rank 0 alone (IRBIS_MPI_TIMING's count per rank);
  - a store of an irbis before digests (the digest columns dropped) run again by irbis-mpi: its
    digests are recorded once, read by every rank, equal to the one-process run's, nothing
    classified again.
Skips (exit 0) when mpirun or irbis-mpi is absent."""
import os
import re
import shutil
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
import test_digest_backfill as B  # noqa: E402
import test_survey_moved as M  # noqa: E402
import review_lib as R  # noqa: E402
from mpilib import link_survey, mpi, mpirun_or_skip, run  # noqa: E402
from testlib import BIN, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('mpi_moved')
CAMERAS = ["camtrapR/StationA/PBE", "wakhan_snowleopard/C1_Avgarch_SL", "uruguay_curso_camtrapR/edita/camara1"]


def per_rank(stderr):
    """{rank: files whose digests it read before the plan} (IRBIS_MPI_TIMING)."""
    return {int(a): int(b) for a, b in re.findall(r"rank (\d+): content digests of (\d+) files", stderr)}


def main():
    mpirun = mpirun_or_skip()
    fx = F.fixture()
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    survey = link_survey(os.path.join(TMP, "survey"), CAMERAS, 4)
    n = sum(len(fs) for _, _, fs in os.walk(survey))
    opts = ["--model", fx["model"], "--classifier", fx["clf"], "--gap", "0", "--batch", "2"]
    ref, out = os.path.join(TMP, "single"), os.path.join(TMP, "mpi")
    r = run([BIN, "classify", *opts, "--threads", "2", survey, "-o", ref])
    check(r.returncode == 0, "one process classifies the survey (%s)" % r.stderr[-300:])
    env = {"IRBIS_MPI_TIMING": "1"}
    r = mpi(mpirun, 2, "classify", *opts, "--threads", "1", survey, "-o", out, env=env)
    check(r.returncode == 0, "irbis-mpi classifies it (%s)" % r.stderr[-300:])
    want = B.digests(ref)
    check(len(want) == n and all(h and d for h, d in want.values()), "one process records %d digests" % n)
    check(B.digests(out) == want, "irbis-mpi stores the digests one process stores (read by the decoding ranks)")

    pred = M.predictions(out)
    labels = {p: ("animal" if i % 2 else "empty") for i, p in enumerate(sorted(pred))}
    for o in (ref, out):
        M.review(o, labels)
    moved = os.path.join(TMP, "moved")
    shutil.copytree(survey, moved, symlinks=False, copy_function=shutil.copy)  # the bytes, new times
    renamed = {}
    for p in sorted(labels):
        d, name = os.path.split(p)
        new = os.path.join(d, "X_" + name)
        os.rename(os.path.join(moved, p), os.path.join(moved, new))
        renamed[new] = p
    follow = {new: labels[old] for new, old in renamed.items()}
    r1 = run([BIN, "classify", *opts, "--threads", "2", moved, "-o", ref, "--survey-moved"])
    r = mpi(mpirun, 2, "classify", *opts, "--threads", "1", moved, "-o", out, "--survey-moved", env=env)
    for tag, res, o in (("one process", r1, ref), ("irbis-mpi", r, out)):
        check(res.returncode == 0 and M.resumed(res) == n and M.human(M.predictions(o)) == follow and
              R.reviews(o) == follow,
              "%s, survey moved and renamed: nothing classified again (%d of %d), every label followed (%d)"
              % (tag, M.resumed(res), n, len(M.human(M.predictions(o)))))
    ranks = per_rank(r.stderr)
    check(len(ranks) == 2 and sum(ranks.values()) == n and all(ranks.values()),
          "the digests of the moved files were read by every rank: %s" % ranks)
    check(open(os.path.join(ref, "predictions.csv"), "rb").read() == open(os.path.join(out, "predictions.csv"),
                                                                          "rb").read(),
          "predictions.csv byte-identical to the one process's after the move")

    B.make_old(out)  # as an irbis before digests left it
    r = mpi(mpirun, 2, "classify", *opts, "--threads", "1", moved, "-o", out, env=env)
    ranks = per_rank(r.stderr)
    check(r.returncode == 0 and M.resumed(r) == n and "recording content digests of %d images" % n in r.stderr,
          "irbis-mpi on a store of an earlier irbis: nothing classified again, says it records the digests (%s)"
          % r.stderr.strip()[-300:])
    check(B.digests(out) == B.digests(ref), "the digests recorded equal one process's")
    check(len(ranks) == 2 and sum(ranks.values()) == n and all(ranks.values()),
          "read by every rank: %s" % ranks)
    finish()


if __name__ == "__main__":
    main()
