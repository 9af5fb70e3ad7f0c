#!/usr/bin/python3
"""Messages (issue 15, item 17):
- featurize names a failed file once per failure line (it printed the path, then the
  decoder's message, which names it again);
- a JPEG whose frame header comes after 128 MB of APP segments is read by scan (it was called
  "truncated" while featurize decoded it): size as PIL reads it, status ok;
- featurize shows a live progress line when stderr is a terminal (run here on a pty), and a
  per-file failure line is not glued to it;
- a scan error on a path beyond PATH_MAX keeps its cause (the message was cut at 1,023 bytes,
  inside the path);
- each message line reaches stderr in one write (stderr is unbuffered: the line went out a byte
  at a time, one system call each, and lines of irbis-mpi's ranks could mix within a line):
  stderr is a SOCK_SEQPACKET socket here, so each write arrives as one packet; a terminal
  escape in a file name still comes out as '?'."""
import os
import shutil
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import BIN, CT, MODEL, check, finish, tmpdir  # noqa: E402

TMP = tmpdir('messages')


def featurize_names_once():
    bad = os.path.join(TMP, 'notes.jpg')
    open(bad, 'w').write('field notes\n')
    good = os.path.join(CT, 'mlwic_examples', 'images', sorted(os.listdir(os.path.join(CT, 'mlwic_examples',
                                                                                      'images')))[0])
    r = subprocess.run([BIN, 'featurize', '--model', MODEL, '-o', os.path.join(TMP, 'f'), bad, good],
                       capture_output=True, text=True)
    lines = [ln for ln in r.stderr.splitlines() if 'notes.jpg' in ln]
    check(r.returncode == 1 and len(lines) == 1 and lines[0].count('notes.jpg') == 1,
          'featurize: one line naming notes.jpg once: %s' % lines)


def big_app_segments():
    from PIL import Image
    src = os.path.join(CT, 'mlwic_examples', 'images', sorted(os.listdir(os.path.join(CT, 'mlwic_examples',
                                                                                     'images')))[0])
    data = open(src, 'rb').read()
    d = os.path.join(TMP, 'big')
    os.makedirs(d)
    p = os.path.join(d, 'big_app.jpg')
    seg = b'\xff\xe9' + (65535).to_bytes(2, 'big') + b'\0' * 65533  # APP9, ignored by decoders
    with open(p, 'wb') as f:
        f.write(data[:2])
        for _ in range(2050):  # 2050 x 64 KiB = 128.1 MiB before the rest of the file
            f.write(seg)
        f.write(data[2:])
    w, h = Image.open(p).size
    r = subprocess.run([BIN, 'scan', d], capture_output=True, text=True)
    row = r.stdout.splitlines()[1].split(',') if len(r.stdout.splitlines()) > 1 else []
    check(len(row) == 7 and row[3:6] == [str(w), str(h), 'ok'], 'scan reads the header after 128 MB: %s (PIL %dx%d)'
          % (row, w, h))
    os.remove(p)


def deep_path():
    d = os.path.join(TMP, 'deep')
    os.makedirs(d)
    fd = os.open(d, os.O_RDONLY)
    for i in range(20):  # 20 x 250 bytes: the full path is beyond PATH_MAX (4096)
        name = '%02d' % i + 'd' * 248
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    os.close(fd)
    r = subprocess.run([BIN, 'scan', d], capture_output=True, text=True)
    rows = [ln for ln in r.stdout.splitlines()[1:] if ',error,' in ln]
    check(rows and all(ln.rstrip('"').endswith(os.strerror(36)) for ln in rows),
          'deep folder error ends with its cause (%s): %s' % (os.strerror(36), [ln[-60:] for ln in rows]))


def featurize_progress_on_tty():
    import pty
    img = os.path.join(CT, 'mlwic_examples', 'images')
    imgs = [os.path.join(img, n) for n in sorted(os.listdir(img))[:5]]
    bad = os.path.join(TMP, 'notes.jpg')
    master, slave = pty.openpty()
    p = subprocess.Popen([BIN, 'featurize', '--model', MODEL, '-o', os.path.join(TMP, 'tty'), '--batch', '2', bad]
                         + imgs, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    out = b''
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    p.wait()
    os.close(master)
    text = out.decode('utf-8', 'replace')
    check('featurize 6/6 images, 1 failed' in text, 'progress on a terminal: %r' % text[-300:])
    fail = [ln for ln in text.replace('\r', '\n').split('\n') if 'notes.jpg' in ln]
    check(fail and all(ln.lstrip('\x1b[K').startswith('irbis featurize:') for ln in fail),
          'the failure line starts a line of its own: %r' % fail)


def stderr_one_write_per_line():
    d = os.path.join(TMP, 'writes')
    os.makedirs(d)
    names = ['notes.jpg', 'bad\033[2J.jpg', 'short.png']
    for n in names:
        open(os.path.join(d, n), 'w').write('not a picture\n')
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    packets = []

    def read():
        while True:
            b = mine.recv(1 << 16)
            if not b:
                return
            packets.append(b)
    t = threading.Thread(target=read)
    t.start()
    r = subprocess.run([BIN, 'featurize', '--model', MODEL, '-o', os.path.join(TMP, 'fw'),
                        *[os.path.join(d, n) for n in names]], stderr=theirs.fileno(), stdout=subprocess.DEVNULL)
    theirs.close()
    t.join(60)
    mine.close()
    text = b''.join(packets).decode('utf-8', 'replace')
    lines = text.splitlines(keepends=True)
    named = [ln for ln in lines if any(n.replace('\033', '?') in ln for n in names)]
    check(r.returncode == 1 and len(named) == 3, 'featurize: a line for each of the 3 bad files: %r' % text[:400])
    check(all(p.endswith(b'\n') and p.count(b'\n') == 1 for p in packets) and len(packets) == len(lines),
          'stderr: %d writes for %d lines, each a whole line (first writes: %r)' % (len(packets), len(lines),
                                                                                     packets[:4]))
    check('\033' not in text and 'bad?[2J.jpg' in text, 'the escape in a file name printed as ?: %r' % named)


def main():
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    featurize_names_once()
    big_app_segments()
    deep_path()
    featurize_progress_on_tty()
    stderr_one_write_per_line()
    finish()


main()
