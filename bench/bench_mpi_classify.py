"""Overhead of `irbis-mpi classify` on one machine (the numbers of docs/scaling.md, classify).

Classifies one survey (symlinks to the shared camera-trap images, grouped by camera folder) as
  single   irbis classify --threads T                (1 process x T threads)
  mpi1xT   mpirun -np 1 irbis-mpi classify --threads T
  mpiTx1   mpirun -np T irbis-mpi classify --threads 1 (T processes x 1 thread)
each into a fresh output folder, interleaved over --repeat rounds; reports the median wall time,
images/s, the overhead against `single`, and (IRBIS_MPI_TIMING) the per-rank work and rank 0's
replay of the parts into the store. predictions.csv is checked to be byte-identical to `single`'s.

usage: bench/bench_mpi_classify.py --build build-mpic --classifier C.irbis [--images 600] [--repeat 2]
(C.irbis: e.g. BUILD/testtmp/classify_fixture/clf.irbis, made by the classify tests)
"""
import argparse
import os
import shutil
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_mpi import make_survey, timed  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build-mpic"))
    ap.add_argument("--shared", default=os.environ.get("IRBIS_SHARED", os.path.join(HERE, "..", "..", "shared")))
    ap.add_argument("--classifier", required=True)
    ap.add_argument("--images", type=int, default=600)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--tmp", default="/tmp/irbis_bench_mpi_classify")
    a = ap.parse_args()
    irbis = os.path.join(a.build, "irbis")
    mpibin = os.path.join(a.build, "tools/mpi/irbis-mpi")
    mpirun = shutil.which("mpirun")
    if not mpirun or not os.path.exists(mpibin):
        sys.exit("needs mpirun and %s" % mpibin)
    model = os.path.join(a.shared, "models/mobilenet_v2/mobilenet_v2_1.0_224.onnx")
    survey = os.path.join(a.tmp, "survey")
    n = make_survey(survey, a.shared, a.images)
    cams = sum(1 for _, _, f in os.walk(survey) if f)
    T = a.threads
    common = ["classify", "--model", model, "--classifier", a.classifier, "--quiet"]
    mpi = [mpirun, "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]
    variants = {
        "single": lambda o: [irbis, *common, "--threads", str(T), "-o", o, survey],
        "mpi1x%d" % T: lambda o: [*mpi, "-np", "1", mpibin, *common, "--threads", str(T), "-o", o, survey],
        "mpi%dx1" % T: lambda o: [*mpi, "-np", str(T), mpibin, *common, "--threads", "1", "-o", o, survey],
    }
    times = {k: [] for k in variants}
    logs = {k: "" for k in variants}
    for _ in range(a.repeat):
        for k, cmd in variants.items():
            out = os.path.join(a.tmp, k)
            shutil.rmtree(out, ignore_errors=True)
            dt, err = timed(cmd(out), env={"IRBIS_MPI_TIMING": "1"})
            times[k].append(dt)
            logs[k] = err
    ref = open(os.path.join(a.tmp, "single", "predictions.csv"), "rb").read()
    print("survey: %d images in %d camera folders; %d CPUs; %d threads per variant" % (n, cams, os.cpu_count(), T))
    base = statistics.median(times["single"])
    for k in variants:
        med = statistics.median(times[k])
        same = open(os.path.join(a.tmp, k, "predictions.csv"), "rb").read() == ref
        print("%-8s median %.2f s  (%s)  %.1f img/s  overhead vs single %+.1f %%  identical predictions.csv=%s"
              % (k, med, ", ".join("%.2f" % t for t in times[k]), n / med, 100 * (med / base - 1), same))
    for k in list(variants)[1:]:
        for line in logs[k].splitlines():
            if line.startswith("irbis-mpi"):
                print("  %s: %s" % (k, line))


if __name__ == "__main__":
    main()
