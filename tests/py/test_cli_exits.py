#!/usr/bin/python3
"""Regression (issue 15, item 14): exit statuses of bad option values and of --limit.
A value out of range (--gap -1 / nan, --threshold 2) or a --positive class the classifier does
not have is a bad command line: exit 2 (it was 3, "could not run"), nothing written to OUT.
A run that --limit stops with images still pending exits 1, not 0 (0 says all done); the run
that finishes them exits 0. A survey with no files (item 15) is said and exits 3."""
import csv
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_classify_fixture as F  # noqa: E402
from testlib import BIN, CT, MODEL, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('cli_exits')
SRC = os.path.join(CT, 'wakhan_snowleopard', 'C1_Avgarch_SL')


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    s = os.path.join(TMP, 'survey', 'cam1')
    os.makedirs(s)
    for n in sorted(os.listdir(SRC))[:4]:
        shutil.copy(os.path.join(SRC, n), os.path.join(s, n))
    fx = dict(F.fixture())
    fx['survey'] = os.path.dirname(s)
    out = os.path.join(TMP, 'out')
    for bad in (['--gap', '-1'], ['--gap', 'nan'], ['--threshold', '2'], ['--threshold', '-0.1']):
        r = F.classify(fx, out, *bad)
        check(r.returncode == 2 and not os.path.exists(out), 'classify %s: exit %d (want 2), OUT %s: %s'
              % (' '.join(bad), r.returncode, 'made' if os.path.exists(out) else 'not made', r.stderr.strip()))
    r = subprocess.run([BIN, 'classify', '--model', MODEL, '--classifier', fx['clf'], fx['survey'], '-o', out,
                        '--positive', 'unicorn', '--quiet'], capture_output=True, text=True)
    check(r.returncode == 2 and 'unicorn' in r.stderr, 'unknown --positive: exit %d (want 2): %s'
          % (r.returncode, r.stderr.strip()))
    r = subprocess.run([BIN, 'experiment', '--images', CT, '--labels', 'x.csv', '--model', MODEL, '-o', out,
                        '--gap', '-5'], capture_output=True, text=True)
    check(r.returncode == 2, 'experiment --gap -5: exit %d (want 2)' % r.returncode)
    # row names (regression: exit 3, after the labels were read)
    for cmd, bad in ((['experiment'], ['--save', 'bogus']), (['experiment'], ['--save', 'L120']),
                     (['experiment'], ['--rows', 'BOGUS']), (['train'], ['--recipe', 'bogus'])):
        r = subprocess.run([BIN] + cmd + ['--images', CT, '--labels', 'x.csv', '--model', MODEL, '-o',
                                          os.path.join(TMP, 'rows.irbis')] + bad, capture_output=True, text=True)
        check(r.returncode == 2 and bad[1] in r.stderr and 'row' in r.stderr,
              '%s %s: exit %d (want 2) %s' % (cmd[0], ' '.join(bad), r.returncode, r.stderr.strip()[-200:]))
    r = subprocess.run([BIN, 'evaluate', 'p.csv', '--labels', 'x.csv', '--threshold', '1.5'],
                       capture_output=True, text=True)
    check(r.returncode == 2, 'evaluate --threshold 1.5: exit %d (want 2)' % r.returncode)
    r = F.classify(fx, out, '--limit', '2')
    rows = list(csv.DictReader(open(os.path.join(out, 'predictions.csv'), newline='')))
    pending = sum(x['status'] == 'pending' for x in rows)
    check(r.returncode == 1 and pending == 2, '--limit 2 of 4: exit %d (want 1), %d pending' % (r.returncode, pending))
    r = F.classify(fx, out)
    rows = list(csv.DictReader(open(os.path.join(out, 'predictions.csv'), newline='')))
    check(r.returncode == 0 and all(x['status'] == 'ok' for x in rows), 'the next run finishes: exit %d'
          % r.returncode)
    # item 15: a survey made only of a link to a camera folder (links to folders are not
    # followed) has no files: said, exit 3, instead of exit 0 and empty outputs
    links = os.path.join(TMP, 'links')
    os.makedirs(links)
    os.symlink(s, os.path.join(links, 'cam1'))
    fx['survey'] = links
    r = F.classify(fx, os.path.join(TMP, 'out_links'))
    check(r.returncode == 3 and 'no files' in r.stderr, 'survey of folder links: exit %d (want 3): %s'
          % (r.returncode, r.stderr.strip()))
    # a folder or a FIFO where a file is expected (regression: a folder was "9223372036854775807
    # bytes" or an "empty file", and a FIFO as --model waited for a writer for ever)
    fifo = os.path.join(TMP, 'model_fifo.onnx')
    os.mkfifo(fifo)
    for args, want in ((['model-info', TMP], 'a folder, not a file'), (['model-info', fifo], 'not a regular file'),
                       (['evaluate', os.path.join(TMP, 'out', 'predictions.csv'), '--labels', TMP],
                        'a folder, not a CSV file')):
        try:
            r = subprocess.run([BIN] + args, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            r = subprocess.CompletedProcess(args, -1, '', 'timed out')
        check(r.returncode == 3 and want in r.stderr, '%s: exit %d (want 3) %s' % (' '.join(args[:1]), r.returncode,
                                                                                  r.stderr.strip()[-200:]))
    finish()


main()
