"""irb_status_name returns the names include/irbis/core.h promises: each enum value's comment
starts with its name in quotes; the test reads them from the header and calls irb_status_name
for every value through libirbis.so (ctypes), plus a value past the enum ("unknown status")."""
import ctypes
import os
import re
from testlib import check, finish  # noqa: E402

SRC = os.environ['IRBIS_SRC']
BUILD = os.environ['IRBIS_BUILD']


def main():
    text = open(os.path.join(SRC, 'include/irbis/core.h')).read()
    body = re.search(r'typedef enum irb_status \{(.*?)\} irb_status;', text, re.S).group(1)
    values = re.findall(r'^\s*(IRB_\w+)(?: = \d+)?,?[ \t]*(?:/\* "([^"]*)")?', body, re.M)
    check(values and values[-1][0] == 'IRB_STATUS_COUNT', 'the enum ends with IRB_STATUS_COUNT')
    lib = ctypes.CDLL(os.path.join(BUILD, 'libirbis.so'))
    lib.irb_status_name.restype = ctypes.c_char_p
    lib.irb_status_name.argtypes = [ctypes.c_int]
    for i, (name, promised) in enumerate(values[:-1]):
        got = lib.irb_status_name(i).decode()
        check(promised != '' and got == promised, '%s (%d): irb_status_name %r, core.h says %r' % (name, i, got, promised))
    names = [v[1] for v in values[:-1]]
    check(len(set(names)) == len(names), 'the names are distinct')
    for bad in (len(values) - 1, 999, -1):
        got = lib.irb_status_name(bad).decode()
        check(got == 'unknown status', 'irb_status_name(%d): %r' % (bad, got))
    finish()


if __name__ == '__main__':
    main()
