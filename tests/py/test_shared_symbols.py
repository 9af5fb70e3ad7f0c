"""The shared library exports the public API and nothing else: the dynamic symbols that
libirbis.so defines are exactly the functions that include/irbis/*.h declare with IRB_API (so no
onnx__* protobuf-c code, no unprefixed internal names such as featcache_get or motion_extract),
its soname is libirbis.so.<major version>, and the static archive that `cmake --install`
installs (build/install/libirbis.a) has no global symbol but irb_* either."""
import glob
import os
import re
import subprocess
from testlib import check, finish, skip_fuzz_build  # noqa: E402

SRC = os.environ['IRBIS_SRC']
BUILD = os.environ['IRBIS_BUILD']


def declared():
    """Names of the functions the public headers declare IRB_API."""
    names = set()
    for h in glob.glob(os.path.join(SRC, 'include/irbis/*.h')) + [os.path.join(SRC, 'include/irbis.h')]:
        text = re.sub(r'/\*.*?\*/', ' ', open(h).read(), flags=re.S)
        text = re.sub(r'^\s*#.*$', ' ', text, flags=re.M)
        for decl in re.findall(r'\bIRB_API\b([^;{]*)', text):
            m = re.search(r'\b(\w+)\s*\(', decl)
            if m:
                names.add(m.group(1))
    return names


def nm(*args):
    r = subprocess.run(['nm', *args], capture_output=True, text=True)
    if r.returncode != 0:
        check(False, 'nm %s: %s' % (' '.join(args), r.stderr.strip()[:200]))
    return r.stdout


def main():
    skip_fuzz_build('its coverage instrumentation exports __start___sancov_* section symbols')
    so = os.path.join(BUILD, 'libirbis.so')
    api = declared()
    check(len(api) > 100, '%d functions declared IRB_API in include/irbis/' % len(api))
    check(all(n.startswith('irb_') for n in api),
          'every IRB_API name is irb_*: %s' % sorted(n for n in api if not n.startswith('irb_')))
    exported = set()
    for line in nm('-D', '--defined-only', so).splitlines():
        parts = line.split()
        if len(parts) == 3:
            exported.add(parts[2].split('@')[0])
    other = sorted(n for n in exported if not n.startswith('irb_'))
    check(exported and not other, 'libirbis.so exports %d symbols, none outside irb_*: %s'
          % (len(exported), other[:10]))
    check(exported == api, 'exports == IRB_API declarations; exported but not declared: %s; declared but '
          'not exported: %s' % (sorted(exported - api)[:10], sorted(api - exported)[:10]))
    # the internals are in the library, just not exported
    local = nm(so)
    for name in ('featcache_get', 'motion_extract', 'onnx__model_proto__unpack', 'irb_fail'):
        check(re.search(r' [tTdDbBrR] %s$' % name, local, re.M) is not None and name not in exported,
              '%s is in libirbis.so and not exported' % name)
    m = re.search(r'\(SONAME\)\s+Library soname: \[(.*?)\]',
                  subprocess.run(['readelf', '-d', so], capture_output=True, text=True).stdout)
    version = open(os.path.join(SRC, 'include/irbis/core.h')).read()
    major = re.search(r'#define\s+IRB_VERSION_MAJOR\s+(\d+)', version).group(1)
    check(m and m.group(1) == 'libirbis.so.' + major, 'soname %s, want libirbis.so.%s' % (m and m.group(1), major))
    check(os.path.realpath(so).endswith('libirbis.so.' + re.search(r'#define\s+IRB_VERSION_STRING\s+"(.*)"', version).group(1)),
          'libirbis.so -> %s carries the full version' % os.path.basename(os.path.realpath(so)))
    # the static archive that is installed: internal symbols local
    a = os.path.join(BUILD, 'install/libirbis.a')
    glob_syms = [l.split()[-1] for l in nm('-g', '--defined-only', a).splitlines() if len(l.split()) == 3]
    other = sorted(n for n in glob_syms if not n.startswith('irb_'))
    check(glob_syms and not other, 'installed libirbis.a: %d global symbols, none outside irb_*: %s'
          % (len(glob_syms), other[:10]))
    check(set(glob_syms) == api, 'installed libirbis.a defines exactly the IRB_API functions (missing: %s)'
          % sorted(api - set(glob_syms))[:10])
    finish()


if __name__ == '__main__':
    main()
