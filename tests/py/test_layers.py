"""The folder graph of docs/design.md is enforced by the build (issue 16 item 4): each folder of
src/ is compiled with an include path that holds only the folders it may see. For every folder
F of the table, a probe file compiled with exactly the flags the build uses for F's sources
(build/compile_commands.json) includes, in turn, an internal header of every folder G and every
public header; it must compile when G (the header's owner) is F or reachable from F's row, and
must fail otherwise, with "No such file" (an internal header) or the #error that stands for a
public header it may not see, even when irbis's headers are installed in a system folder (they
were found there, and the upward includes compiled, before that #error). A deliberate upward
include (core including classify/classify_internal.h) does not build. The expected answers come from the table, read
here independently of cmake/layers.cmake."""
import json
import os
import re
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from testlib import check, finish, tmpdir  # noqa: E402

SRC = os.environ['IRBIS_SRC']
BUILD = os.environ['IRBIS_BUILD']
ROW = re.compile(r'^\| `src/([a-z0-9_/]+)/` \|([^|]*)\|([^|]*)\|')


def graph():
    """[(folder, [folders its row names], [public headers])] in table order."""
    rows = []
    for line in open(os.path.join(SRC, 'docs/design.md')):
        m = ROW.match(line)
        if m:
            rows.append((m.group(1), m.group(2).split(), m.group(3).split()))
    return rows


def reach(rows):
    """{folder: the folders it may include (itself and, transitively, those its row names)}."""
    seen = {}
    for folder, sees, _ in rows:
        check(all(d in seen for d in sees), 'src/%s/ names only folders above it: %s' % (folder, sees))
        seen[folder] = {folder}.union(*[seen.get(d, set()) for d in sees])
    return seen


def flags_by_folder(folders):
    """{folder: argv of one of its sources' compile command, without -o/-c/source}. Checks that no
    library source is compiled with src/ or include/ on its include path."""
    out, wide = {}, []
    for e in json.load(open(os.path.join(BUILD, 'compile_commands.json'))):
        rel = os.path.relpath(e['file'], os.path.join(SRC, 'src'))
        if rel.startswith('..'):
            continue  # tests, tools, generated code
        argv = shlex.split(e['command'])
        dirs = [os.path.normpath(a[2:]) for a in argv if a.startswith('-I')]
        if os.path.join(SRC, 'src') in dirs or os.path.join(SRC, 'include') in dirs:
            wide.append(rel)
        folder = next((f for f in folders if rel.startswith(f + '/')), None)
        if folder and folder not in out:
            keep, skip = [], False
            for a in argv:
                if skip:
                    skip = False
                elif a in ('-o', '-c'):
                    skip = True
                else:
                    keep.append(a)
            out[folder] = keep
    check(not wide, 'no library source sees all of src/ or include/: %s' % wide[:5])
    return out


def internal_header(folder):
    """One header of src/<folder>/ (its first, by name), as included: "<folder>/<name>.h"."""
    d = os.path.join(SRC, 'src', folder)
    hs = sorted(f for f in os.listdir(d) if f.endswith('.h'))
    return '%s/%s' % (folder, hs[0]) if hs else None


def compile_probe(argv, include, path):
    with open(path, 'w') as f:
        f.write('#include "%s"\nint irb_probe_unused;\n' % include)
    p = subprocess.run(argv + ['-fsyntax-only', path], capture_output=True, text=True)
    return p.returncode, p.stderr


def main():
    rows = graph()
    check(len(rows) >= 8, 'docs/design.md has the folder graph (%d folders)' % len(rows))
    folders = [r[0] for r in rows]
    seen = reach(rows)
    owner = {h: f for f, _, pub in rows for h in pub}
    public = sorted(os.path.splitext(h)[0] for h in os.listdir(os.path.join(SRC, 'include/irbis')) if h.endswith('.h'))
    check(all(h in owner for h in public), 'every public header has a folder: %s'
          % [h for h in public if h not in owner])
    flags = flags_by_folder(folders)
    check(sorted(flags) == sorted(folders), 'every folder of the table is compiled: %s' % sorted(set(folders) - set(flags)))

    tmp = tmpdir('layers')
    os.makedirs(tmp, exist_ok=True)
    jobs = []  # (folder, include, owner)
    for f in folders:
        for g in folders:
            h = internal_header(g)
            if h:
                jobs.append((f, h, g))
        for h in public:
            jobs.append((f, 'irbis/%s.h' % h, owner.get(h)))
        jobs.append((f, 'irbis.h', None))  # the umbrella: no folder sees every folder

    def run(k):
        f, inc, g = jobs[k]
        return compile_probe(flags[f], inc, os.path.join(tmp, 'probe%d.c' % k))

    with ThreadPoolExecutor(2) as ex:
        results = list(ex.map(run, range(len(jobs))))
    wrong = []
    for (f, inc, g), (rc, err) in zip(jobs, results):
        allowed = g in seen[f]
        if allowed and rc != 0:
            wrong.append('src/%s/ cannot include %s, which it may: %s' % (f, inc, err.strip()[:300]))
        # an internal header is not on the path; a public one is there as an #error naming the
        # folder, whatever copy of it is installed on the system (/usr/local/include/irbis)
        refused = ('No such file' in err and inc in err) or ('src/%s/ may not include %s' % (f, inc)) in err
        if not allowed and not (rc != 0 and refused):
            wrong.append('src/%s/ includes %s (of src/%s/, not below it): %s' % (f, inc, g, 'compiles' if rc == 0
                                                                                       else err.strip()[:300]))
    check(not wrong, '%d includes, each compiles exactly when the folder graph allows it%s'
          % (len(jobs), ''.join('\n  ' + w for w in wrong)))
    k = jobs.index(('core', 'classify/classify_internal.h', 'classify'))
    check(results[k][0] != 0 and 'No such file' in results[k][1],
          'the deliberate upward include (src/core/ including classify/classify_internal.h) fails to build: %s'
          % results[k][1].strip()[:200])
    k = jobs.index(('core', 'irbis/classify.h', 'classify'))
    check(results[k][0] != 0 and 'src/core/ may not include irbis/classify.h' in results[k][1],
          'an upward public header (src/core/ including irbis/classify.h) stops the build with a message, even '
          'with irbis installed in a system folder: %s' % results[k][1].strip()[:200])
    k = jobs.index(('classify', 'core/alloc.h', 'core'))
    check(results[k][0] == 0, 'and a downward one (src/classify/ including core/alloc.h) builds')
    finish()


if __name__ == '__main__':
    main()
