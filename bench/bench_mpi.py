"""Overhead of the MPI path on one machine, and the numbers behind the projection in
docs/scaling.md.

Featurizes one survey (symlinks to the shared camera-trap images, grouped by camera folder) as
  single   irbis featurize --threads T                (1 process x T threads)
  mpi1xT   mpirun -np 1 irbis-mpi featurize --threads T
  mpiTx1   mpirun -np T irbis-mpi featurize --threads 1 (T processes x 1 thread)
interleaved over --repeat rounds, and reports the median wall time, images/s, the overhead of
each MPI variant against `single`, and (from IRBIS_MPI_TIMING) the per-rank work rate, the
setup and the merge time. Outputs are checked to be byte-identical to `single`'s.

usage: bench/bench_mpi.py --build build-mpi [--images 150] [--threads 2] [--repeat 3]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def make_survey(root, shared, limit):
    shutil.rmtree(root, ignore_errors=True)
    base = os.path.join(shared, "data/camera-traps")
    n = 0
    for dirpath, _, files in sorted(os.walk(base)):
        for f in sorted(files):
            if n >= limit or not f.lower().endswith((".jpg", ".jpeg")):
                continue
            rel = os.path.relpath(dirpath, base)
            os.makedirs(os.path.join(root, rel), exist_ok=True)
            os.symlink(os.path.join(dirpath, f), os.path.join(root, rel, f))
            n += 1
    return n


def timed(cmd, env=None):
    e = dict(os.environ, **(env or {}))
    t = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, env=e)
    dt = time.monotonic() - t
    if r.returncode not in (0, 1):
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr[-2000:]))
    return dt, r.stderr


def arguments(build, images, repeat, tmp):
    """The options both MPI benchmarks take, with their defaults."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", build))
    ap.add_argument("--shared", default=os.environ.get("IRBIS_SHARED", os.path.join(HERE, "..", "..", "shared")))
    ap.add_argument("--images", type=int, default=images)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=repeat)
    ap.add_argument("--tmp", default=tmp)
    return ap


def run_variants(a, command, outputs, fresh, what):
    """Runs `irbis COMMAND...` as single, mpi1xT and mpiTx1 over a survey of a.images images
    (command(model) gives the subcommand and its options), interleaved over a.repeat rounds,
    each into a.tmp/<variant> (emptied first when fresh); prints the medians and the MPI
    variants' summaries, and whether outputs(out) equals single's. Returns (images, logs)."""
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
    common = command(model)
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
            if fresh:
                shutil.rmtree(out, ignore_errors=True)
            dt, err = timed(cmd(out), env={"IRBIS_MPI_TIMING": "1"})
            times[k].append(dt)
            logs[k] = err
    ref = outputs(os.path.join(a.tmp, "single"))
    print("survey: %d images in %d camera folders; %d CPUs; %d threads per variant" % (n, cams, os.cpu_count(), T))
    base = statistics.median(times["single"])
    for k in variants:
        med = statistics.median(times[k])
        same = outputs(os.path.join(a.tmp, k)) == ref
        print("%-8s median %.2f s  (%s)  %.1f img/s  overhead vs single %+.1f %%  %s=%s"
              % (k, med, ", ".join("%.2f" % t for t in times[k]), n / med, 100 * (med / base - 1), what, same))
    for k in list(variants)[1:]:
        for line in logs[k].splitlines():
            if line.startswith("irbis-mpi"):
                print("  %s: %s" % (k, line))
    return n, logs


def main():
    a = arguments("build-mpi", 150, 3, "/tmp/irbis_bench_mpi").parse_args()
    n, logs = run_variants(a, lambda model: ["featurize", "--model", model, "--cut", "2"],
                           lambda base: [open(base + e, "rb").read() for e in (".npy", ".csv", ".json")], False,
                           "identical")
    m = re.search(r"setup ([0-9.]+) s, work ([0-9.]+) s, merge ([0-9.]+) s", logs["mpi%dx1" % a.threads])
    if m:
        setup, work, merge = map(float, m.groups())
        print("projection input: per-rank work rate %.2f img/s (1 thread), merge %.3f s for %d images "
              "(%.2f ms/image), setup %.2f s" % (n / work / a.threads, merge, n, 1000 * merge / n, setup))


if __name__ == "__main__":
    main()
