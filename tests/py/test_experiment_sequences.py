"""The experiment on real bursts: the 200 hannaboe_smallmammal frames, whose labels CSV carries
the source's Reconyx event ids (157 sequences, two cameras), task empty vs animal, folds over
sequences. Checked independently from the written files:
- every sequence lies in one fold (folds never split a unit);
- RN2+A+E's predictions are constant within each sequence and equal the mean of RN2+A's over it
  (the ensembling rule), so E is computed from the same classifiers;
- the table's accuracy and per-fold min-max for each row equal what predictions_<row>.csv gives
  (regression: RN2+A+E used to report RN2+A's fold range, copied, not its own);
- the table's sequence accuracy equals the majority-label rule recomputed here.
"""
import csv
import os
import subprocess
import sys
from collections import defaultdict
from testlib import BIN, CT, MODEL, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('experiment_sequences')



def read_pred(out, row):
    return list(csv.DictReader(open(os.path.join(out, 'predictions_%s.csv' % row.replace('+', '_')))))


def main():
    os.makedirs(TMP, exist_ok=True)
    labels = os.path.join(TMP, 'labels.csv')
    with open(os.path.join(CT, 'manifest.csv'), newline='') as f, open(labels, 'w', newline='') as g:
        rd = csv.DictReader(f)
        w = csv.DictWriter(g, fieldnames=rd.fieldnames)
        w.writeheader()
        for r in rd:
            if r['path'].startswith('hannaboe_smallmammal/'):
                w.writerow(r)
    out = os.path.join(TMP, 'out')
    p = subprocess.run([BIN, 'experiment', '--images', CT, '--labels', labels, '--model', MODEL, '--task', 'empty',
                        '--rows', 'RN2,RN2+A,RN2+A+E', '--crop', 'none', '-o', out, '--quiet',
                        '--cache', os.path.join(TMP, 'cache')], capture_output=True, text=True, timeout=600)
    print(p.stdout[-1500:], p.stderr[-500:])
    check(p.returncode == 0, 'experiment exit %d' % p.returncode)
    if p.returncode:
        sys.exit(1)
    table = {r['row']: r for r in csv.DictReader(open(os.path.join(out, 'table.csv')))}
    check(list(table) == ['RN2', 'RN2+A', 'RN2+A+E'], 'rows %s' % list(table))
    a, e = read_pred(out, 'RN2+A'), read_pred(out, 'RN2+A+E')
    by_seq = defaultdict(list)
    for i, r in enumerate(a):
        by_seq[r['sequence']].append(i)
    check(len(by_seq) == 157, '%d sequences (the source has 157 events)' % len(by_seq))
    check(all(len({a[i]['fold'] for i in ix}) == 1 for ix in by_seq.values()), 'no sequence split across folds')
    worst = 0.0
    for ix in by_seq.values():
        mean = sum(float(a[i]['p_animal']) for i in ix) / len(ix)
        worst = max(worst, max(abs(float(e[i]['p_animal']) - mean) for i in ix))
    check(worst < 1e-6, 'RN2+A+E = mean of RN2+A over each sequence (max diff %.2g)' % worst)
    for row in table:
        pred = read_pred(out, row)
        right = defaultdict(int)
        n = defaultdict(int)
        for r in pred:
            ok = (float(r['p_animal']) > float(r['p_empty'])) == (r['label'] == 'animal')
            right[r['fold']] += ok
            n[r['fold']] += 1
        accs = [right[f] / n[f] for f in n]
        total = sum(right.values()) / sum(n.values())
        t = table[row]
        check(abs(float(t['accuracy']) - total) < 1e-9 and abs(float(t['fold_accuracy_min']) - min(accs)) < 1e-9
              and abs(float(t['fold_accuracy_max']) - max(accs)) < 1e-9,
              '%s: accuracy %.4f, folds %.4f-%.4f as in the table (%s, %s-%s)'
              % (row, total, min(accs), max(accs), t['accuracy'], t['fold_accuracy_min'], t['fold_accuracy_max']))
    # sequence accuracy: a sequence's truth is its majority label, its prediction the averaged argmax
    right = 0
    for ix in by_seq.values():
        votes = defaultdict(int)
        for i in ix:
            votes[e[i]['label']] += 1
        truth = max(sorted(votes), key=lambda k: votes[k])
        pred = 'animal' if float(e[ix[0]]['p_animal']) > float(e[ix[0]]['p_empty']) else 'empty'
        right += truth == pred
    check(abs(float(table['RN2+A+E']['sequence_accuracy']) - right / len(by_seq)) < 1e-9,
          'sequence accuracy %.4f as in the table (%s)' % (right / len(by_seq), table['RN2+A+E']['sequence_accuracy']))
    finish()


if __name__ == '__main__':
    main()
