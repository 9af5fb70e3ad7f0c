"""A full disk: featurize and classify writing onto a small tmpfs (mounted here; needs root, else
SKIPPED). Every run that hits ENOSPC / SQLITE_FULL must exit 3 with one message that names the
file and says the disk is full, leave no output claimed complete (no OUT.npy, no
predictions.csv from a failed run), and not crash (no signal, no sanitizer report). Then the
file system is enlarged (remount) and the same classify command run again: it completes, keeps
what the failed run had stored (its summary counts images "done by an earlier run" for at
least one of the sizes where the disk filled mid-classification), and its predictions.csv is
byte-identical to a run on a roomy disk. The sizes are tried from small to large, so the disk
fills at the store's creation, during classification and while writing the outputs; no
temporary or half-written output file may be left behind.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import BIN, CT, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('full_disk')
MNT = os.path.join(TMP, "mnt")
SURVEY_SRC = os.path.join(CT, "hannaboe_smallmammal")




def sh(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    check(r.returncode >= 0 and "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr,
          "%s: no crash, no sanitizer report (exit %d)" % (os.path.basename(cmd[1]), r.returncode))
    return r


def main():
    if os.geteuid() != 0:
        print("SKIPPED: mounting a small tmpfs needs root")
        return
    os.makedirs(MNT, exist_ok=True)
    sh("umount", MNT)
    if sh("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", MNT).returncode != 0:
        print("SKIPPED: mount -t tmpfs is not allowed here")
        return
    try:
        body()
    finally:
        sh("umount", MNT)
    finish()


def body():
    fx = F.fixture()
    # a survey of 200 real 1280x720 frames with EXIF times (symlinks)
    survey = os.path.join(TMP, "survey")
    shutil.rmtree(survey, ignore_errors=True)
    shutil.copytree(SURVEY_SRC, survey, symlinks=True, copy_function=os.symlink)
    model = fx["model"]

    # featurize: 64 kB cannot hold the rows
    out = os.path.join(MNT, "feats")
    r = run([BIN, "featurize", "--model", model, "--cut", "2", "-o", out, survey])
    msg = [l for l in r.stderr.splitlines() if "No space left on device" in l]
    check(r.returncode == 3 and msg and out in msg[0],
          "featurize on a full disk: exit %d (want 3), message naming the file: %r" % (r.returncode, msg[:1]))
    check(not any(os.path.exists(out + e) for e in (".npy", ".csv", ".json")) and os.listdir(MNT) == [],
          "featurize on a full disk leaves nothing behind (%s)" % os.listdir(MNT))

    ref = os.path.join(TMP, "ref")
    shutil.rmtree(ref, ignore_errors=True)
    args = ["--model", model, "--classifier", fx["clf"], "--batch", "8", "--threads", "2"]
    r0 = run([BIN, "classify", *args, survey, "-o", ref])
    check(r0.returncode in (0, 1), "classify on a roomy disk: exit %d" % r0.returncode)
    want = open(os.path.join(ref, "predictions.csv"), "rb").read()

    kept_some = False
    phases = set()
    for size in ("96k", "200k", "320k", "480k", "640k", "900k"):
        sh("umount", MNT)
        sh("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", MNT)
        out = os.path.join(MNT, "out")
        r = run([BIN, "classify", *args, survey, "-o", out])
        if r.returncode in (0, 1):
            check(open(os.path.join(out, "predictions.csv"), "rb").read() == want,
                  "size %s: fitted; predictions identical" % size)
            continue
        msg = [l for l in r.stderr.splitlines() if l.startswith("irbis classify: ")]
        last = msg[-1] if msg else ""
        full = "full" in last or "No space left on device" in last
        check(r.returncode == 3 and full and MNT in last,
              "size %s: exit %d (want 3), the cause names a file on the full disk: %r" % (size, r.returncode, last))
        if "irbis.sqlite" in last and "COMMIT" in last:
            phases.add("store")
        elif "irbis.sqlite" in last:
            phases.add("open")
        else:
            phases.add("outputs")
        pred = os.path.join(out, "predictions.csv")
        tmps = [f for _, _, fs in os.walk(out) for f in fs if f.endswith(".tmp")]
        check(not tmps and (not os.path.exists(pred) or open(pred, "rb").read() == want),
              "size %s: no half-written file left (outputs are renamed into place): temporaries %s, "
              "predictions.csv %s" % (size, tmps, "complete" if os.path.exists(pred) else "absent"))
        # more room, the same command: carries on, loses nothing, same result
        sh("mount", "-o", "remount,size=64m", MNT)
        r2 = run([BIN, "classify", *args, survey, "-o", out])
        m = re.search(r"(\d+) done by an earlier run", r2.stderr)
        earlier = int(m.group(1)) if m else -1
        kept_some |= earlier > 0
        same = os.path.exists(os.path.join(out, "predictions.csv")) and \
            open(os.path.join(out, "predictions.csv"), "rb").read() == want
        check(r2.returncode == r0.returncode and same,
              "size %s: after freeing space the same command completes (exit %d), %d images kept from the failed "
              "run, predictions.csv identical" % (size, r2.returncode, earlier))
    check(kept_some, "a run that filled the disk mid-classification kept its stored images (phases seen: %s)"
          % sorted(phases))
    check(len(phases) >= 2, "the disk filled in more than one phase: %s" % sorted(phases))

    # a disk that filled up after a run, then export and classify again (regression: "disk I/O
    # error" only, SQLite's word for ENOSPC when it opens the store's WAL there)
    sh("umount", MNT)
    sh("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", MNT)
    r = run([BIN, "classify", *args, survey, "-o", os.path.join(MNT, "out")])
    check(r.returncode in (0, 1), "a run on a roomy disk (exit %d)" % r.returncode)
    fd = os.open(os.path.join(MNT, "filler"), os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096) > 0:
            pass
    except OSError:
        pass
    os.close(fd)
    for cmd in ([BIN, "export", os.path.join(MNT, "out")], [BIN, "classify", *args, survey, "-o",
                                                            os.path.join(MNT, "out")]):
        r = run(cmd)
        last = ([l for l in r.stderr.splitlines() if l.startswith("irbis ")] or [""])[-1]
        check(r.returncode == 3 and ("disk is full" in last or "No space left on device" in last),
              "%s, the disk full since the run: exit %d, it says the disk is full: %r" % (cmd[1], r.returncode, last))


if __name__ == "__main__":
    main()
