"""irb_status_name returns the names include/irbis/core.h promises: each enum value's comment
starts with its name in quotes. The test reads them from the header and compares them with what
a program linked with libirbis.so prints for every value, and for values outside the enum
("unknown status")."""
import os
import re
import subprocess
from testlib import cc_flags, check, finish, tmpdir  # noqa: E402

SRC = os.environ['IRBIS_SRC']
BUILD = os.environ['IRBIS_BUILD']
PROGRAM = r'''
#include <stdio.h>
#include <irbis.h>
int main(void)
{
    for (int s = -1; s <= IRB_STATUS_COUNT; s++)
        printf("%d\t%s\n", s, irb_status_name((irb_status)s));
    printf("999\t%s\n", irb_status_name((irb_status)999));
    return 0;
}
'''


def main():
    text = open(os.path.join(SRC, 'include/irbis/core.h')).read()
    body = re.search(r'typedef enum irb_status \{(.*?)\} irb_status;', text, re.S).group(1)
    values = re.findall(r'^\s*(IRB_\w+)(?: = \d+)?,?[ \t]*(?:/\* "([^"]*)")?', body, re.M)
    check(values and values[-1][0] == 'IRB_STATUS_COUNT', 'the enum ends with IRB_STATUS_COUNT')
    tmp = tmpdir('status_names')
    os.makedirs(tmp, exist_ok=True)
    src, exe = os.path.join(tmp, 'names.c'), os.path.join(tmp, 'names')
    open(src, 'w').write(PROGRAM)
    r = subprocess.run(['cc', '-std=c17', '-Wall', '-Wextra', '-Werror', *cc_flags(), '-I', os.path.join(SRC, 'include'),
                        src, '-o', exe, '-L', BUILD, '-lirbis', '-Wl,-rpath,' + BUILD], capture_output=True, text=True)
    check(r.returncode == 0, 'a program printing irb_status_name builds %s' % r.stderr[-800:])
    got = dict(l.split('\t', 1) for l in subprocess.run([exe], capture_output=True, text=True).stdout.splitlines()) \
        if r.returncode == 0 else {}
    for i, (name, promised) in enumerate(values[:-1]):
        check(promised != '' and got.get(str(i)) == promised,
              '%s (%d): irb_status_name %r, core.h says %r' % (name, i, got.get(str(i)), promised))
    names = [v[1] for v in values[:-1]]
    check(len(set(names)) == len(names), 'the names are distinct')
    for bad in ('-1', str(len(values) - 1), '999'):
        check(got.get(bad) == 'unknown status', 'irb_status_name(%s): %r' % (bad, got.get(bad)))
    finish()


if __name__ == '__main__':
    main()
