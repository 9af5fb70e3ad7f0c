"""`cmake --install` into a temporary prefix puts everything in place: irbis (and irbis-mpi when
built), include/irbis.h with include/irbis/*.h, libirbis.so.<major> (+ links) and libirbis.a,
lib/pkgconfig/irbis.pc and a man page per command (irbis(1), irbis-<command>(1) for every
command `irbis --help` lists, irbis-mpi(1)) that man renders with the command's usage. A small
program is built against the installed library with `pkg-config --cflags --libs irbis`
(PKG_CONFIG_PATH=PREFIX/lib/pkgconfig), once on the shared library and once on the static one
(`pkg-config --static`: Requires.private/Libs.private complete); both run and decode a shared
camera-trap JPEG to the size PIL reports, with irb_version() equal to pkg-config --modversion."""
import os
import re
import shutil
import subprocess
from PIL import Image
from testlib import BIN, CT, cc_flags, check, finish, tmpdir  # noqa: E402

BUILD = os.environ['IRBIS_BUILD']
SRC = os.environ['IRBIS_SRC']
TMP = tmpdir('install')
IMAGE = os.path.join(CT, 'wakhan_snowleopard/C1_Avgarch_SL/IMG_0021.JPG')

PROGRAM = r'''
#include <stdio.h>
#include <irbis.h>

int main(int argc, char **argv)
{
    irb_decoder_t *dec = NULL;
    irb_image img = {0};
    if (argc != 2 || irb_decoder_new(&dec) != IRB_OK)
        return 2;
    if (irb_decode_file(dec, argv[1], NULL, &img) != IRB_OK) {
        fprintf(stderr, "%s\n", irb_decoder_error(dec)->message);
        irb_decoder_free(dec);
        return 1;
    }
    printf("%s %dx%d\n", irb_version(), img.width, img.height);
    irb_image_release(&img);
    irb_decoder_free(dec);
    return 0;
}
'''


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    prefix = os.path.join(TMP, 'prefix')
    r = run(['cmake', '--install', BUILD, '--prefix', prefix])
    check(r.returncode == 0, 'cmake --install --prefix %s: exit %d %s'
          % (prefix, r.returncode, r.stderr[-500:] if r.returncode else ''))
    libdir = next((os.path.join(prefix, d) for d in ('lib', 'lib64', 'lib/x86_64-linux-gnu')
                   if os.path.exists(os.path.join(prefix, d, 'pkgconfig/irbis.pc'))), None)
    check(libdir is not None, 'lib*/pkgconfig/irbis.pc installed')
    if libdir is None:
        finish()
    # the files
    mpi_built = os.path.exists(os.path.join(BUILD, 'tools/mpi/irbis-mpi'))
    for name in ['irbis'] + (['irbis-mpi'] if mpi_built else []):
        p = os.path.join(prefix, 'bin', name)
        check(os.access(p, os.X_OK), 'bin/%s installed' % name)
    r = run([os.path.join(prefix, 'bin/irbis'), '--version'])
    version = r.stdout.split()[-1] if r.stdout.split() else ''
    check(r.returncode == 0 and r.stdout == run([BIN, '--version']).stdout, 'installed irbis --version: %r' % r.stdout)
    headers = sorted(os.listdir(os.path.join(SRC, 'include/irbis')))
    got = sorted(os.listdir(os.path.join(prefix, 'include/irbis'))) if os.path.isdir(
        os.path.join(prefix, 'include/irbis')) else []
    check(got == headers and os.path.exists(os.path.join(prefix, 'include/irbis.h')),
          'include/irbis.h and include/irbis/ (%d headers) installed' % len(got))
    major = version.split('.')[0]
    so = os.path.join(libdir, 'libirbis.so')
    check(os.path.islink(so) and os.path.realpath(so) == os.path.realpath(os.path.join(libdir, 'libirbis.so.' + major))
          and os.path.realpath(so).endswith('libirbis.so.' + version),
          'libirbis.so -> libirbis.so.%s -> libirbis.so.%s' % (major, version))
    check(os.path.exists(os.path.join(libdir, 'libirbis.a')), 'libirbis.a installed')
    # man pages: one per command, rendered by man with the command's usage line
    listed = re.findall(r'^  (\S+)\s', run([BIN, '--help']).stdout, re.M)
    check(len(listed) >= 8, 'irbis --help lists %d commands' % len(listed))
    pages = ['irbis'] + ['irbis-' + c for c in listed] + (['irbis-mpi'] if mpi_built else [])
    mandir = os.path.join(prefix, 'share/man/man1')
    for page in pages:
        path = os.path.join(mandir, page + '.1')
        if not check(os.path.exists(path), 'man page %s.1 installed' % page):
            continue
        r = run(['man', '-l', path], env=dict(os.environ, MANWIDTH='200', MAN_KEEP_FORMATTING=''))
        if page == 'irbis':
            want = 'irbis <command> [options]'
        elif page == 'irbis-mpi':
            want = 'mpirun -np N irbis-mpi <command>'
        else:
            usage = run([BIN, page[6:], '--help']).stdout.splitlines()[0]
            want = usage[len('usage: '):] if usage.startswith('usage: ') else usage
        text = re.sub(r'.\x08', '', r.stdout)
        check(r.returncode == 0 and page.upper() + '(1)' in text and want.split(' [')[0] in text,
              'man %s renders with its usage %r' % (page, want[:60]))
    # a program built with pkg-config against the installed library, shared and static
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(libdir, 'pkgconfig'))
    r = run(['pkg-config', '--modversion', 'irbis'], env=env)
    check(r.stdout.strip() == version, 'pkg-config --modversion irbis: %r (irbis --version %r)' % (r.stdout, version))
    cflags = run(['pkg-config', '--cflags', 'irbis'], env=env).stdout.split()
    libs = run(['pkg-config', '--libs', 'irbis'], env=env).stdout.split()
    static_libs = run(['pkg-config', '--static', '--libs', 'irbis'], env=env).stdout.split()
    check('-lirbis' in libs and len(static_libs) > len(libs), 'pkg-config --libs %s; --static %s' % (libs, static_libs))
    src = os.path.join(TMP, 'prog.c')
    open(src, 'w').write(PROGRAM)
    w, h = Image.open(IMAGE).size
    for tag, link in (('shared', libs + ['-Wl,-rpath,' + libdir]),
                      ('static', [os.path.join(libdir, 'libirbis.a') if a == '-lirbis' else a for a in static_libs])):
        exe = os.path.join(TMP, 'prog_' + tag)
        r = run(['cc', '-std=c17', '-Wall', '-Wextra', '-Werror', *cc_flags(), *cflags, src, '-o', exe, *link])
        if not check(r.returncode == 0, '%s: cc $(pkg-config ...) prog.c: exit %d %s' % (tag, r.returncode, r.stderr[-800:])):
            continue
        needed = re.findall(r'\(NEEDED\).*\[(.*)\]', run(['readelf', '-d', exe]).stdout)
        check(('libirbis.so.' + major in needed) == (tag == 'shared'),
              '%s: NEEDED %s' % (tag, [n for n in needed if 'irbis' in n] or 'no libirbis.so'))
        r = run([exe, IMAGE])
        check(r.returncode == 0 and r.stdout.strip() == '%s %dx%d' % (version, w, h),
              '%s: the program prints %r, want %r (PIL size)' % (tag, r.stdout.strip(), '%s %dx%d' % (version, w, h)))
    finish()


if __name__ == '__main__':
    main()
