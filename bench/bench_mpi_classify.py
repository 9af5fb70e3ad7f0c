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
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_mpi import arguments, run_variants  # noqa: E402


def main():
    ap = arguments("build-mpic", 600, 2, "/tmp/irbis_bench_mpi_classify")
    ap.add_argument("--classifier", required=True)
    a = ap.parse_args()
    run_variants(a, lambda model: ["classify", "--model", model, "--classifier", a.classifier, "--quiet"],
                 lambda out: open(os.path.join(out, "predictions.csv"), "rb").read(), True,
                 "identical predictions.csv")


if __name__ == "__main__":
    main()
