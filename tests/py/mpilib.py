"""What the irbis-mpi tests share: the driver's path, skipping (exit 0) where mpirun or the
driver is missing, running a command with a check that no sanitizer report came out, and small
surveys of symlinked shared camera-trap images."""
import os
import shutil
import subprocess
import sys

from testlib import CT, check

MPI_BIN = os.path.join(os.environ.get("IRBIS_BUILD", "."), "tools/mpi/irbis-mpi")


def mpirun_or_skip():
    """mpirun's path; exits 0 (skipped) when it or irbis-mpi is absent."""
    mpirun = shutil.which("mpirun")
    if not mpirun or not os.path.exists(MPI_BIN):
        print("SKIPPED: %s" % ("mpirun not found" if not mpirun else "irbis-mpi not built (IRBIS_MPI=OFF or no MPI)"))
        sys.exit(0)
    return mpirun


def run(cmd, env=None, timeout=240):
    """cmd with env added to the environment, its output captured."""
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)
    # sanitizer builds: a report exits 1, which is also "some files failed"; look at the text
    check("Sanitizer" not in r.stderr and "runtime error:" not in r.stderr,
          "no sanitizer report from %s" % os.path.basename(cmd[0]))
    return r


def mpi(mpirun, np, *args, env=None, timeout=240):
    """irbis-mpi ARGS on np ranks."""
    return run([mpirun, "--allow-run-as-root", "--oversubscribe", "-np", str(np), MPI_BIN, *args], env=env,
               timeout=timeout)


def link_survey(root, cameras, per_camera):
    """root/<camera>/ holding symlinks to the first per_camera JPEGs of each shared camera folder
    (root is made anew)."""
    shutil.rmtree(root, ignore_errors=True)
    for cam in cameras:
        d = os.path.join(root, cam)
        os.makedirs(d)
        names = sorted(n for n in os.listdir(os.path.join(CT, cam)) if n.lower().endswith((".jpg", ".jpeg")))
        for n in names[:per_camera]:
            os.symlink(os.path.join(CT, cam, n), os.path.join(d, n))
    return root
