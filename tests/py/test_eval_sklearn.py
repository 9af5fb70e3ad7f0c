"""irbis evaluate against scikit-learn: the same scores (with ties) through the CLI, metrics.json and
roc.csv compared with sklearn.metrics; the sequence level against a numpy re-computation of the
documented rules (mean over the sequence's rows, majority label, first class on ties); a one-class
truth (AUC undefined); the SVG parsed as XML."""
import csv
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
from sklearn import metrics as skm

from testlib import check, failures

BIN = os.environ["IRBIS_BIN"]
TMP = os.path.join(os.environ.get("IRBIS_TMP", "/tmp/irbis-test"), "eval_sklearn")
os.makedirs(TMP, exist_ok=True)


def close(a, b, tol=1e-9):
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= tol)


def write_file(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def write_case(name, classes, probs, labels, seqs=None, prefix="/data/survey/"):
    pred = os.path.join(TMP, name + "_pred.csv")
    lab = os.path.join(TMP, name + "_labels.csv")
    with open(pred, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path"] + ["p_" + c for c in classes] + (["sequence"] if seqs is not None else []))
        for i, p in enumerate(probs):
            w.writerow([f"{prefix}cam{i % 3}/IMG_{i:04d}.JPG"] + [f"{v:.2f}" for v in p]
                       + ([seqs[i]] if seqs is not None else []))
    with open(lab, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label"])
        for i in reversed(range(len(labels))):  # relative paths, other order
            w.writerow([f"cam{i % 3}/IMG_{i:04d}.JPG", labels[i]])
    return pred, lab


def run(pred, lab, out, *extra):
    r = subprocess.run([BIN, "evaluate", pred, "--labels", lab, "-o", out, *extra],
                       capture_output=True, text=True, timeout=60)
    print(r.stdout, r.stderr, sep="")
    return r


def compare_level(level, m, classes, y, probs, pos, thr):
    """m: one level of metrics.json; y: true class indices; probs: rounded probabilities."""
    pred = probs.argmax(axis=1)
    K = list(range(len(classes)))
    check(close(m["accuracy"], skm.accuracy_score(y, pred)), f"{level} accuracy")
    check(close(m["balanced_accuracy"], skm.balanced_accuracy_score(y, pred)), f"{level} balanced accuracy")
    p, r, f1, s = skm.precision_recall_fscore_support(y, pred, labels=K, zero_division=0)
    for c, name in enumerate(classes):
        pc = m["per_class"][name]
        check(close(pc["precision"], p[c]) and close(pc["recall"], r[c]) and close(pc["f1"], f1[c])
              and pc["support"] == s[c], f"{level} per-class {name}: {pc} vs {p[c]} {r[c]} {f1[c]} {s[c]}")
    check(close(m["macro_f1"], skm.f1_score(y, pred, labels=K, average="macro", zero_division=0)), f"{level} macro F1")
    check(np.array_equal(np.array(m["confusion"]), skm.confusion_matrix(y, pred, labels=K)), f"{level} confusion")
    yb = (y == pos).astype(int)
    check(close(m["auc"], skm.roc_auc_score(yb, probs[:, pos])), f"{level} AUC {m['auc']}")
    pp = probs[:, pos] >= thr
    check(close(m["precision_at_threshold"], skm.precision_score(yb, pp, zero_division=0)), f"{level} precision@t")
    check(close(m["recall_at_threshold"], skm.recall_score(yb, pp, zero_division=0)), f"{level} recall@t")
    return yb


def compare_roc(rows, yb, score, level):
    fpr, tpr, thr = skm.roc_curve(yb, score)  # drop_intermediate=True, like irbis evaluate
    ours = [r for r in rows if r["curve"] == level]
    check(len(ours) == len(fpr), f"{level} ROC points {len(ours)} vs sklearn {len(fpr)}")
    if len(ours) != len(fpr):
        return
    check(ours[0]["threshold"] == "inf", "first threshold is +inf")  # sklearn 1.2: max + 1
    for o, a, b, t in zip(ours[1:], fpr[1:], tpr[1:], thr[1:]):
        check(close(float(o["fpr"]), a) and close(float(o["tpr"]), b) and close(float(o["threshold"]), t),
              f"{level} ROC point {o} vs {a} {b} {t}")
    # and the full curve (no dropping) through the same rule gives the same area
    f2, t2, _ = skm.roc_curve(yb, score, drop_intermediate=False)
    check(close(skm.auc(f2, t2), skm.auc(fpr, tpr)), "drop_intermediate keeps the area")


def multiclass_case():
    rng = np.random.default_rng(7)
    classes = ["empty", "bird", "deer"]
    n = 400
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + 1.2 * np.eye(3)[y]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs = np.round(probs, 2)  # ties on purpose, exactly what the CSV holds
    # sequences of 1..4 consecutive rows, ids not in row order
    seqs, i, k = [], 0, 0
    while i < n:
        m = int(rng.integers(1, 5))
        seqs += [f"s{(k * 37) % 1000:03d}"] * min(m, n - i)
        i += m
        k += 1
    # every 50th image unlabelled (skipped); make sequence members share labels mostly
    labels = [classes[c] for c in y]
    pred, lab = write_case("multi", classes, probs, labels, seqs)
    with open(lab) as f:
        rows = list(csv.reader(f))
    with open(lab, "w", newline="") as f:
        w = csv.writer(f)
        w.writerows([r for j, r in enumerate(rows) if j == 0 or int(r[0][-8:-4]) % 50 != 7])
    out = os.path.join(TMP, "multi_out")
    thr = 0.4
    r = run(pred, lab, out, "--positive", "bird", "--threshold", str(thr))
    check(r.returncode == 0, f"exit {r.returncode}")
    if r.returncode:
        return
    m = json.load(open(os.path.join(out, "metrics.json")))
    keep = np.array([i % 50 != 7 for i in range(n)])
    check(m["image"]["n"] == keep.sum(), "labelled image count")
    yb = compare_level("image", m["image"], classes, y[keep], probs[keep], 1, thr)
    roc_rows = list(csv.DictReader(open(os.path.join(out, "roc.csv"))))
    compare_roc(roc_rows, yb, probs[keep][:, 1], "image")
    # sequence level: mean of p_ over all rows of the sequence, majority label of labelled rows
    ids = sorted(set(seqs))
    sp, sy = [], []
    for s in ids:
        rows_s = [i for i in range(n) if seqs[i] == s]
        lab_s = [y[i] for i in rows_s if keep[i]]
        if not lab_s:
            continue
        votes = np.bincount(lab_s, minlength=3)
        sy.append(int(np.argmax(votes)))  # first class on ties
        sp.append(probs[rows_s].mean(axis=0))
    sp, sy = np.array(sp), np.array(sy)
    check(m["sequence"]["n"] == len(sy), f"sequence count {m['sequence']['n']} vs {len(sy)}")
    if m["sequence"]["n"] == len(sy):
        ybs = compare_level("sequence", m["sequence"], classes, sy, sp, 1, thr)
        compare_roc(roc_rows, ybs, sp[:, 1], "sequence")
    # the SVG: XML with one curve per level
    root = ET.parse(os.path.join(out, "roc.svg")).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    curves = [p for p in root.iter(ns + "path") if p.get("class") == "roc-curve"]
    check(len(curves) == 2, f"{len(curves)} curve paths")
    legend = [t.text for t in root.iter(ns + "text") if t.get("class") == "legend-entry"]
    check(any(f"AUC {m['image']['auc']:.3f}" in (t or "") for t in legend), f"legend {legend}")
    conf = list(csv.reader(open(os.path.join(out, "confusion.csv"))))
    check(conf[0][1:] == classes and [int(v) for v in conf[1][1:]] == m["image"]["confusion"][0], "confusion.csv")


def binary_case():
    """empty vs animal, default positive = animal; and a one-class truth (AUC undefined)."""
    rng = np.random.default_rng(3)
    n = 120
    y = rng.integers(0, 2, n)
    pa = np.round(np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.25, n), 0, 1), 1)  # heavy ties
    probs = np.stack([1 - pa, pa], axis=1)
    classes = ["empty", "animal"]
    pred, lab = write_case("binary", classes, probs, [classes[c] for c in y])
    out = os.path.join(TMP, "binary_out")
    r = run(pred, lab, out)
    check(r.returncode == 0, f"binary exit {r.returncode}")
    if r.returncode == 0:
        m = json.load(open(os.path.join(out, "metrics.json")))
        check(m["image"]["positive"] == "animal", "default positive class")
        check("sequence" not in m, "no sequence level without a sequence column")
        yb = compare_level("binary", m["image"], classes, y, probs, 1, 0.5)
        compare_roc(list(csv.DictReader(open(os.path.join(out, "roc.csv")))), yb, probs[:, 1], "image")
    # one class only: sklearn refuses, irbis reports undefined (null) and still exits 0
    pred, lab = write_case("oneclass", classes, probs[:20], ["empty"] * 20)
    out = os.path.join(TMP, "oneclass_out")
    r = run(pred, lab, out)
    try:
        skm.roc_auc_score(np.zeros(20), probs[:20, 1])
        sk_raises = False
    except ValueError:
        sk_raises = True
    check(sk_raises, "sklearn raises on one class")
    check(r.returncode == 0 and "undefined" in r.stdout, "one-class AUC reported undefined")
    if r.returncode == 0:
        m = json.load(open(os.path.join(out, "metrics.json")))
        check(m["image"]["auc"] is None, "AUC null in JSON")
        check(close(m["image"]["accuracy"], skm.accuracy_score(np.zeros(20), probs[:20].argmax(1))), "one-class acc")
        ET.parse(os.path.join(out, "roc.svg"))


def failed_rows_case():
    """classify's predictions.csv: failed and pending images have a status other than ok and no
    probabilities; they are skipped and counted (regression: evaluate refused the whole file at
    the first empty p_ cell), and the metrics are sklearn's over the scored rows."""
    rng = np.random.default_rng(5)
    n = 60
    y = rng.integers(0, 2, n)
    pa = np.round(np.clip(0.5 + 0.35 * (y - 0.5) + rng.normal(0, 0.2, n), 0, 1), 2)
    classes = ["empty", "animal"]
    status = ["ok"] * n
    for i, st in ((4, "corrupt"), (17, "io"), (30, "pending"), (41, "too_large")):
        status[i] = st
    pred = os.path.join(TMP, "failed_pred.csv")
    lab = os.path.join(TMP, "failed_labels.csv")
    with open(pred, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "camera", "timestamp", "sequence", "p_empty", "p_animal", "label", "seq_p_empty",
                    "seq_p_animal", "seq_label", "status", "message", "method"])
        for i in range(n):
            path = f"cam{i % 3}/IMG_{i:04d}.JPG"
            if status[i] == "ok":
                p = [f"{1 - pa[i]:.6f}", f"{pa[i]:.6f}"]
                lbl = classes[int(pa[i] >= 1 - pa[i])]
                w.writerow([path, f"cam{i % 3}", "", f"cam{i % 3}#{i}"] + p + [lbl] + p + [lbl, "ok", "", "machine"])
            else:
                w.writerow([path, f"cam{i % 3}", "", "", "", "", "", "", "", "", status[i],
                            f"{path}: {status[i]}", "machine"])
    with open(lab, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label"])
        for i in range(n):
            w.writerow([f"cam{i % 3}/IMG_{i:04d}.JPG", classes[y[i]]])
    out = os.path.join(TMP, "failed_out")
    r = run(pred, lab, out)
    check(r.returncode == 0 and "4 row(s)" in r.stderr and "failed_pred.csv" in r.stderr,
          f"failed and pending rows skipped with a warning (exit {r.returncode})")
    if r.returncode == 0:
        keep = np.array([s == "ok" for s in status])
        m = json.load(open(os.path.join(out, "metrics.json")))
        probs = np.stack([1 - pa, pa], axis=1)[keep]
        compare_level("scored rows", m["image"], classes, y[keep], probs, 1, 0.5)
    only = write_file("allfailed_pred.csv", "path,p_empty,p_animal,status\nx.jpg,,,corrupt\n")
    r = run(only, lab, os.path.join(TMP, "failed_out2"))
    check(r.returncode == 3 and "no row with status ok" in r.stderr, "a file of failed rows only is refused")


def error_cases():
    bad = write_file("bad_pred.csv", "path,p_a,p_b\nx.jpg,0.5,zero\n")
    lab = write_file("bad_labels.csv", "path,label\nx.jpg,a\n")
    r = run(bad, lab, os.path.join(TMP, "bad_out"))
    check(r.returncode == 3 and "bad_pred.csv:2" in r.stderr and "p_b" in r.stderr, "bad number names file:line, column")
    for v in ("-0.5", "inf", "1.5"):  # not probabilities (regression: inf and -0.5 were taken)
        r = run(write_file("range_pred.csv", "path,p_a,p_b\nx.jpg,0.5,%s\n" % v), lab, os.path.join(TMP, "bad_out"))
        check(r.returncode == 3 and "range_pred.csv:2" in r.stderr and "not a probability" in r.stderr,
              "p_b = %s: refused naming file:line (exit %d: %s)" % (v, r.returncode, r.stderr.strip()[-200:]))
    # a probability too small for a double (1e-320) is 0 (regression: "is not a number")
    r = run(write_file("tiny_pred.csv", "path,p_a,p_b\nx.jpg,1,1e-320\n"), lab, os.path.join(TMP, "tiny_out"))
    check(r.returncode == 0, "p_b = 1e-320 is read (exit %d: %s)" % (r.returncode, r.stderr.strip()[-200:]))
    r = run(os.path.join(TMP, "missing.csv"), lab, os.path.join(TMP, "bad_out"))
    check(r.returncode == 3 and "missing.csv" in r.stderr, "missing file named")
    amb = write_file("amb_labels.csv", "path,label\n/a/x.jpg,a\n/b/x.jpg,b\n")
    good = write_file("good_pred.csv", "path,p_a,p_b\nx.jpg,0.5,0.5\n")
    r = run(good, amb, os.path.join(TMP, "bad_out"))
    check(r.returncode == 3 and "matches both" in r.stderr, "ambiguous suffix match refused")
    r = subprocess.run([BIN, "evaluate", good], capture_output=True, text=True)
    check(r.returncode == 2, "missing --labels is a usage error")
    # a prediction path listed twice was scored twice without a word (regression); a label row
    # matching no prediction is counted
    twice = write_file("twice_pred.csv", "path,p_a,p_b\nx.jpg,0.2,0.8\ny.jpg,0.5,0.5\nx.jpg,0.9,0.1\n")
    lab2 = write_file("xz_labels.csv", "path,label\nx.jpg,a\nz.jpg,b\n")
    r = run(twice, lab2, os.path.join(TMP, "bad_out"))
    check(r.returncode == 3 and "'x.jpg' is listed twice" in r.stderr and "rows 1 and 3" in r.stderr,
          "a prediction path listed twice is refused naming both rows")
    r = run(good, lab2, os.path.join(TMP, "xz_out"))
    check(r.returncode == 0 and "1 label row(s)" in r.stderr and "'z.jpg'" in r.stderr,
          "a label row matching no prediction is counted with an example")


multiclass_case()
binary_case()
failed_rows_case()
error_cases()
print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
