"""The results store is the only code that knows SQL (issue 16): src/classify/store.c and
store_query.c (with their private header store_db.h) hold every statement against OUT/irbis.sqlite
and are the only files of src/ and tools/ that include sqlite3.h or call sqlite3_*; the writers,
the review handle and the drivers read the store through its typed cursors
(classify_internal.h). This test reads every C file of src/ and tools/ and fails on any other file
that includes sqlite3.h, names a sqlite3 function or type, or holds an SQL statement in a string
literal. (The experiment's feature cache, src/experiment/featcache.c, is not a database: it
writes feature files, docs/experiment.md.)"""
import os
import re
from testlib import check, finish

SRC = os.environ['IRBIS_SRC']
STORE = re.compile(r'^src/classify/store[a-z_]*\.[ch]$')
INCLUDE = re.compile(r'#\s*include\s*[<"]sqlite3\.h[>"]')
CALL = re.compile(r'\bsqlite3(_[a-z0-9_]+)?\b(?!\.h)')
SQL = re.compile(r'"[^"\n]*\b(SELECT\s+\S|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|'
                 r'CREATE\s+(TABLE|INDEX)|ALTER\s+TABLE|PRAGMA\s+\w)')


def strip_comments(text):
    """The code without /* */ and // comments (string literals kept), so prose may name sqlite."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == '\\' else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            i = n if j < 0 else j + 2
            out.append(' ')
        elif text.startswith('//', i):
            j = text.find('\n', i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def offences(text):
    """What in this C text only the store may do."""
    code = strip_comments(text)
    found = []
    if INCLUDE.search(code):
        found.append('includes sqlite3.h')
    m = CALL.search(INCLUDE.sub('', code))
    if m:
        found.append('uses %s' % m.group(0))
    m = SQL.search(code)
    if m:
        found.append('holds SQL: %s' % m.group(1))
    return found


# the checker itself: each kind of offence is seen, and prose or paths naming sqlite are not
check(offences('#include <sqlite3.h>\n') == ['includes sqlite3.h'], 'an include of sqlite3.h is seen')
check(offences('x = sqlite3_step(q);') == ['uses sqlite3_step'], 'a sqlite3_ call is seen')
check(offences('sqlite3 *db;') == ['uses sqlite3'], 'the sqlite3 type is seen')
check(offences('q = "SELECT id FROM images";') == ['holds SQL: SELECT i'], 'a SELECT in a string is seen')
check(offences('q = "UPDATE images SET label = ?";') != [], 'an UPDATE in a string is seen')
check(offences('/* sqlite3_step, SELECT x */ p = "irbis.sqlite"; // sqlite3_open') == [],
      'comments and file names are not offences')

files = []
for top in ('src', 'tools'):
    for root, _, names in os.walk(os.path.join(SRC, top)):
        files += [os.path.relpath(os.path.join(root, f), SRC) for f in names if f.endswith(('.c', '.h'))]
check(len(files) > 100, 'read %d C files of src/ and tools/' % len(files))
store = sorted(f for f in files if STORE.match(f))
check(store == ['src/classify/store.c', 'src/classify/store_db.h', 'src/classify/store_query.c'],
      'the store is %s' % store)
for f in store:
    text = open(os.path.join(SRC, f), encoding='utf-8').read()
    check(offences(text) != [], '%s knows SQL (the check looks at the real thing)' % f)
bad = []
for f in sorted(set(files) - set(store)):
    for what in offences(open(os.path.join(SRC, f), encoding='utf-8', errors='replace').read()):
        bad.append('%s %s' % (f, what))
check(not bad, 'no other file of src/ or tools/ knows SQL%s' % ''.join('\n     ' + b for b in bad))
finish()
