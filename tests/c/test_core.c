/* Core utilities: error records, allocation-failure injection, CSV round trip, thread pool,
 * UTF-8 repair in JSON/HTML/CSV text (hand-written expected bytes), atomic file replacement. */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/file.h"
#include "core/pool.h"
#include "core/text.h"

static void test_error(void)
{
    irb_error e = {0};
    CHECK(irb_fail(&e, IRB_CORRUPT, "bad %s at %d", "x.jpg", 7) == IRB_CORRUPT, "fail returns status");
    CHECK(e.status == IRB_CORRUPT && !strcmp(e.message, "bad x.jpg at 7"), "message '%s'", e.message);
    irb_error_clear(&e);
    irb_warn(&e, "first");
    irb_warn(&e, "second");
    CHECK(e.status == IRB_OK && e.warning && !strcmp(e.message, "first"), "first warning kept: '%s'", e.message);
    CHECK(irb_fail(NULL, IRB_IO, "x") == IRB_IO, "NULL err allowed");
    CHECK(!strcmp(irb_status_name((irb_status)999), "unknown status"), "unknown status name");
}

static void test_alloc(void)
{
    size_t n;
    CHECK(!irb_mul_size((size_t)1 << 40, (size_t)1 << 40, &n), "overflow detected");
    CHECK(irb_malloc_array((size_t)1 << 40, (size_t)1 << 40) == NULL, "overflowing array refused");
    irb_alloc_fail_after(2);
    void *a = irb_malloc(8), *b = irb_malloc(8), *c = irb_malloc(8);
    irb_alloc_fail_after(0);
    CHECK(a && !b && !c, "second and later allocations fail");
    irb_free(a);
    char *s = irb_strconcat("feat", ".npy"), *e = irb_strconcat("", "");
    CHECK(s && !strcmp(s, "feat.npy") && e && !*e, "strconcat: '%s'", s ? s : "(null)");
    irb_free(s), irb_free(e);
    irb_alloc_fail_after(1);
    s = irb_strconcat("a", "b");
    irb_alloc_fail_after(0);
    CHECK(!s, "strconcat out of memory: NULL");
}

static void test_csv(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/t.csv", test_tmpdir("core"));
    FILE *f = fopen(path, "w+");
    fputs("\xEF\xBB\xBFpath,label\r\n", f);
    irb_csv_put(f, "a,b.jpg");
    fputc(',', f);
    irb_csv_put(f, "say \"hi\"\nthere");
    fputs("\n\nlast,\n", f);
    rewind(f);
    irb_csv_reader r;
    irb_error e = {0};
    irb_csv_init(&r, f, path);
    CHECK(irb_csv_read_header(&r, &e) == IRB_OK, "%s", e.message);
    CHECK(irb_csv_column(&r, "path") == 0 && irb_csv_column(&r, "label") == 1, "BOM stripped from header");
    CHECK(irb_csv_next(&r, &e) == IRB_OK && r.nfields == 2, "record 1");
    CHECK(!strcmp(irb_csv_field(&r, 0), "a,b.jpg") && !strcmp(irb_csv_field(&r, 1), "say \"hi\"\nthere"),
          "quoted fields round trip: '%s' '%s'", irb_csv_field(&r, 0), irb_csv_field(&r, 1));
    CHECK(irb_csv_next(&r, &e) == IRB_OK && r.nfields == 2 && !strcmp(irb_csv_field(&r, 1), ""),
          "blank line skipped, empty last field");
    CHECK(!strcmp(irb_csv_field(&r, 7), ""), "out-of-range field is empty");
    CHECK(irb_csv_next(&r, &e) == IRB_NOT_FOUND, "EOF");
    irb_csv_release(&r);
    fclose(f);

    f = fopen(path, "w+");
    fputs("a,\"unterminated\n", f);
    rewind(f);
    irb_csv_init(&r, f, path);
    CHECK(irb_csv_next(&r, &e) == IRB_CORRUPT && strstr(e.message, "t.csv"), "unterminated quote: %s", e.message);
    irb_csv_release(&r);
    fclose(f);

    /* a NUL byte (regression, fuzz_labels): "a.jpg<NUL>junk,deer" was the record a.jpg,junk */
    static const char nul[] = "path,label\ncam/a.jpg\0junk,deer\n";
    f = fopen(path, "w+");
    fwrite(nul, 1, sizeof nul - 1, f);
    rewind(f);
    irb_csv_init(&r, f, path);
    CHECK(irb_csv_read_header(&r, &e) == IRB_OK, "%s", e.message);
    CHECK(irb_csv_next(&r, &e) == IRB_CORRUPT && strstr(e.message, "t.csv:2") && strstr(e.message, "NUL"),
          "a NUL byte: refused naming the file and line: %s", e.message);
    irb_csv_release(&r);
    fclose(f);

    /* as spreadsheets save them: ';' or tab separators (the header's), lone-CR line ends, a header
     * in another case with blanks; a ',' inside a ';' file's field is the field's */
    static const char *const saved[] = {"Path ; Label\r\ncam1/a,1.jpg;deer\r\ncam1/b.jpg;\"em;pty\"\r\n",
                                        "path\tlabel\ncam1/a,1.jpg\tdeer\ncam1/b.jpg\tem;pty\n",
                                        "path,LABEL\r\"cam1/a,1.jpg\",deer\rcam1/b.jpg,em;pty\r"};
    for (int k = 0; k < 3; k++) {
        f = fopen(path, "w+");
        fputs(saved[k], f);
        fclose(f);
        irb_table *t = NULL;
        CHECK(irb_table_load(path, &t, &e) == IRB_OK, "saved %d: %s", k, e.message);
        int cp = irb_table_column(t, "path"), cl = irb_table_column(t, "label");
        CHECK(t && t->ncol == 2 && t->nrow == 2 && cp == 0 && cl == 1 && !strcmp(t->cell[0][0], "cam1/a,1.jpg") &&
                  !strcmp(t->cell[0][1], "deer") && !strcmp(t->cell[1][0], "cam1/b.jpg") &&
                  !strcmp(t->cell[1][1], "em;pty"),
              "saved %d: 2 columns, 2 rows, the fields whole", k);
        irb_table_free(t);
    }
    /* a workbook saved as .xlsx (a zip) or .xls (OLE2) instead of CSV: said as such */
    static const char xlsx[] = "PK\x03\x04\x14\x00\x06\x00[Content_Types].xml",
                      xls[] = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0";
    for (int k = 0; k < 2; k++) {
        f = fopen(path, "w+");
        fwrite(k ? xls : xlsx, 1, k ? sizeof xls - 1 : sizeof xlsx - 1, f);
        fclose(f);
        irb_table *t = NULL;
        CHECK(irb_table_load(path, &t, &e) == IRB_CORRUPT && strstr(e.message, "t.csv: a spreadsheet workbook") && !t,
              "a workbook %d: %s", k, e.message);
    }
    char *names[] = {"Label", "LABEL ", "path"};
    CHECK(irb_header_find(names, 3, "label") == -1 && irb_header_find(names, 3, "Label") == 0 &&
              irb_header_find(names, 3, "PATH") == 2,
          "loose names: exact first, else the one alike, none when two are alike");
}

/* Loads the n bytes of text as a table; the status, the table in *t (NULL on failure). */
static irb_status load_bytes(const char *path, const char *text, size_t n, irb_table **t, irb_error *e)
{
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, n, f);
    fclose(f);
    irb_error_clear(e);
    *t = NULL;
    return irb_table_load(path, t, e);
}

static int count_of(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p++)
        n++;
    return n;
}

/* Excel's "CSV (Comma delimited)" on Windows saves Windows-1252: a file that is not UTF-8 is read
 * as that, transcoded to UTF-8, with one warning naming the file and line (csv.h). Expected bytes
 * written by hand from the Windows-1252 table (0x80-0x9F) and UTF-8. */
static void test_csv_encoding(void)
{
    char path[4200], text[256];
    snprintf(path, sizeof path, "%s/enc.csv", test_tmpdir("core"));
    irb_table *t;
    irb_error e = {0};
    static const char *const c1[32] = {
        "\xE2\x82\xAC", NULL,           "\xE2\x80\x9A", "\xC6\x92",     "\xE2\x80\x9E", "\xE2\x80\xA6", "\xE2\x80\xA0",
        "\xE2\x80\xA1", "\xCB\x86",     "\xE2\x80\xB0", "\xC5\xA0",     "\xE2\x80\xB9", "\xC5\x92",     NULL,
        "\xC5\xBD",     NULL,           NULL,           "\xE2\x80\x98", "\xE2\x80\x99", "\xE2\x80\x9C", "\xE2\x80\x9D",
        "\xE2\x80\xA2", "\xE2\x80\x93", "\xE2\x80\x94", "\xCB\x9C",     "\xE2\x84\xA2", "\xC5\xA1",     "\xE2\x80\xBA",
        "\xC5\x93",     NULL,           "\xC5\xBE",     "\xC5\xB8"};
    for (int b = 0x80; b < 0xA0; b++) {
        int n = snprintf(text, sizeof text, "path,label\ncam/a.jpg,x%cy\n", b);
        irb_status s = load_bytes(path, text, (size_t)n, &t, &e);
        char want[16];
        snprintf(want, sizeof want, "x%sy", c1[b - 0x80] ? c1[b - 0x80] : "");
        if (c1[b - 0x80])
            CHECK(s == IRB_OK && t->nrow == 1 && !strcmp(t->cell[0][1], want) && e.warning &&
                      strstr(e.message, "enc.csv: not UTF-8") && strstr(e.message, "line 2") &&
                      strstr(e.message, "Windows-1252"),
                  "byte 0x%02X read as Windows-1252: %s", b, e.message);
        else
            CHECK(s == IRB_CORRUPT && !t && strstr(e.message, "enc.csv:2") && strstr(e.message, "byte 0x") &&
                      strstr(e.message, "neither in UTF-8 nor in Windows-1252"),
                  "byte 0x%02X (undefined in Windows-1252) refused: %s", b, e.message);
        irb_table_free(t);
    }
    /* Latin-1's half: the folder and label names of a Spanish or Portuguese survey; the warning
     * once for the file, at its first such byte; a lone CR before a Windows-1252 byte */
    static const char latin[] = "path,label\r\nC\xE1mara 1/IMG_0001.JPG,Tat\xFA\r\n\xD1"
                                "and\xFA/b.jpg,\"S\xE3o\nPaulo\"\r"
                                "\xFF.jpg,\xE9\r";
    CHECK(load_bytes(path, latin, sizeof latin - 1, &t, &e) == IRB_OK && t->nrow == 3 &&
              !strcmp(t->cell[0][0], "C\xC3\xA1mara 1/IMG_0001.JPG") && !strcmp(t->cell[0][1], "Tat\xC3\xBA") &&
              !strcmp(t->cell[1][0], "\xC3\x91"
                                     "and\xC3\xBA/b.jpg") &&
              !strcmp(t->cell[1][1], "S\xC3\xA3o\nPaulo") && !strcmp(t->cell[2][0], "\xC3\xBF.jpg") &&
              !strcmp(t->cell[2][1], "\xC3\xA9"),
          "Latin-1 letters as UTF-8");
    CHECK(e.warning && count_of(e.message, "Windows-1252") == 1 && strstr(e.message, "byte 0xE1 on line 2"),
          "one warning, at the first byte: %s", e.message);
    irb_table_free(t);
    /* not UTF-8, read as Windows-1252 byte by byte: overlong forms (C0 AF, E0 80 AF), a surrogate
     * (ED A0 80), above U+10FFFF (F4 90 80 80), a lead byte F5, a sequence cut by the end of the
     * file, after ASCII lines */
    static const char *const bad[][2] = {
        {"\xC0\xAF", "\xC3\x80\xC2\xAF"},
        {"\xE0\x80\xAF", "\xC3\xA0\xE2\x82\xAC\xC2\xAF"},
        {"\xED\xA0\x80", "\xC3\xAD\xC2\xA0\xE2\x82\xAC"},
        {"\xF4\x90\x80\x80", "\xC3\xB4\xC2\x90"}, /* 0x90 undefined: refused below */
        {"\xF5", "\xC3\xB5"},
        {"\xC3", "\xC3\x83"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        int n = snprintf(text, sizeof text, "path,label\na.jpg,deer\nb.jpg,x%s", bad[k][0]);
        irb_status s = load_bytes(path, text, (size_t)n, &t, &e);
        char want[32];
        snprintf(want, sizeof want, "x%s", bad[k][1]);
        if (k == 3)
            CHECK(s == IRB_CORRUPT && strstr(e.message, "enc.csv:3: byte 0x90"), "above U+10FFFF: %s", e.message);
        else
            CHECK(s == IRB_OK && t->nrow == 2 && !strcmp(t->cell[1][1], want) && e.warning &&
                      strstr(e.message, "line 3"),
                  "invalid UTF-8 %zu read as Windows-1252: '%s' %s", k, s == IRB_OK ? t->cell[1][1] : "", e.message);
        irb_table_free(t);
    }
    /* UTF-8 (with a BOM, without, four-byte sequences, pure ASCII): as it is, no warning */
    static const char *const utf8[] = {"\xEF\xBB\xBFpath,label\nC\xC3\xA1mara 1/a.jpg,\xF0\x9F\xA6\x8A\n",
                                       "path,label\nC\xC3\xA1mara 1/a.jpg,\xF0\x9F\xA6\x8A\n", "path,label\na.jpg,x\n"};
    for (int k = 0; k < 3; k++) {
        CHECK(load_bytes(path, utf8[k], strlen(utf8[k]), &t, &e) == IRB_OK && !e.warning && t->nrow == 1 &&
                  !strcmp(t->name[0], "path") && !strcmp(t->cell[0][1], k < 2 ? "\xF0\x9F\xA6\x8A" : "x"),
              "UTF-8 %d as it is, no warning: %s", k, e.message);
        irb_table_free(t);
    }
    /* UTF-8 and then, in the last line, a byte that is not: two encodings in one file, refused
     * naming both lines (read either way, some names would change silently) */
    static const char mixed[] = "path,label\nC\xC3\xA1mara 1/a.jpg,deer\nb.jpg,x\nc.jpg,Tat\xFA\n";
    CHECK(load_bytes(path, mixed, sizeof mixed - 1, &t, &e) == IRB_CORRUPT && !t &&
              strstr(e.message, "enc.csv:4: byte 0xFA is not UTF-8, yet line 2 is UTF-8") &&
              strstr(e.message, "CSV UTF-8"),
          "mixed encodings refused: %s", e.message);
    static const char bom_then[] = "\xEF\xBB\xBFpath,label\nb.jpg,Tat\xFA\n";
    CHECK(load_bytes(path, bom_then, sizeof bom_then - 1, &t, &e) == IRB_CORRUPT &&
              strstr(e.message, "enc.csv:2: byte 0xFA is not UTF-8, yet line 1 is UTF-8"),
          "a UTF-8 byte-order mark, then Windows-1252: %s", e.message);
    /* UTF-16 (Excel's "Unicode Text") with its byte-order mark, either byte order */
    static const char le[] = "\xFF\xFEp\0a\0t\0h\0\t\0l\0\n\0", be[] = "\xFE\xFF\0p\0a\0t\0h\0\t\0l\0\n";
    for (int k = 0; k < 2; k++) {
        CHECK(load_bytes(path, k ? be : le, k ? sizeof be - 1 : sizeof le - 1, &t, &e) == IRB_CORRUPT && !t &&
                  strstr(e.message, "enc.csv: saved as UTF-16") && strstr(e.message, "\"CSV UTF-8\""),
              "UTF-16 %s: %s", k ? "BE" : "LE", e.message);
    }
}

/* Regression: an output given as a device or FIFO (-o /dev/null, /dev/stdout) was written to
 * PATH.tmp and renamed over it: as root, /dev/null became a regular file for every program on the
 * machine. Such a target is written as it is and stays what it was. Checked on a FIFO (no root
 * needed; a child reads it), named directly and through a link. */
static void test_atomic_special(void)
{
    char fifo[4200], link[4300], got[4300];
    snprintf(fifo, sizeof fifo, "%s/out.fifo", test_tmpdir("core_special"));
    snprintf(link, sizeof link, "%s/link.csv", test_tmpdir("core_special"));
    snprintf(got, sizeof got, "%s/got.txt", test_tmpdir("core_special"));
    for (int k = 0; k < 2; k++) {
        unlink(fifo), unlink(link), unlink(got);
        CHECK(mkfifo(fifo, 0600) == 0 && (!k || symlink(fifo, link) == 0), "make a FIFO (and a link to it)");
        pid_t child = fork();
        if (child == 0) { /* the reader: what comes through the FIFO into got */
            char buf[64];
            FILE *in = fopen(fifo, "rb"), *out = fopen(got, "wb");
            size_t n = in && out ? fread(buf, 1, sizeof buf, in) : 0;
            if (out)
                fwrite(buf, 1, n, out), fclose(out);
            _exit(in && out ? 0 : 1);
        }
        irb_error e = {0};
        CHECK(irb_atomic_write(k ? link : fifo, "row,1\n", 6, &e) == IRB_OK, "write to a FIFO %d: %s", k, e.message);
        int st = -1; /* a reader still waiting after 10 s had the FIFO replaced under it: stopped */
        for (int t = 0; t < 1000 && waitpid(child, &st, WNOHANG) == 0; t++)
            usleep(10000);
        if (!WIFEXITED(st) && !WIFSIGNALED(st)) {
            kill(child, SIGKILL);
            waitpid(child, &st, 0);
        }
        struct stat sb;
        char buf[16] = "";
        FILE *g = fopen(got, "rb");
        size_t n = g ? fread(buf, 1, sizeof buf - 1, g) : 0;
        if (g)
            fclose(g);
        CHECK(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode) && (!k || (lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode))),
              "the FIFO is still a FIFO (and the link a link) after the write %d", k);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && n == 6 && !memcmp(buf, "row,1\n", 6),
              "the reader got the rows %d", k);
    }
    unlink(fifo), unlink(link), unlink(got);
}

typedef struct {
    long sum[8];
} pool_ctx;
static void add_part(void *ctx, int ith, int nth)
{
    pool_ctx *c = ctx;
    for (int i = ith; i < 1000; i += nth)
        c->sum[ith] += i;
}

static void test_pool(void)
{
    irb_pool *p = irb_pool_new(3);
    CHECK(p && irb_pool_size(p) == 3, "pool of 3");
    for (int round = 0; round < 50; round++) {
        pool_ctx c = {{0}};
        irb_pool_run(p, add_part, &c);
        long s = c.sum[0] + c.sum[1] + c.sum[2];
        if (s != 499500) {
            CHECK(0, "round %d sum %ld", round, s);
            break;
        }
    }
    CHECK(1, "pool rounds");
    irb_pool_free(p);
    irb_pool_free(NULL);
}

/* What writer(s) writes, as a string (static buffer). */
static const char *written(void (*writer)(FILE *, const char *), const char *s)
{
    static char buf[256];
    FILE *f = tmpfile();
    writer(f, s);
    size_t n = (size_t)ftell(f);
    rewind(f);
    buf[fread(buf, 1, n < sizeof buf - 1 ? n : sizeof buf - 1, f)] = '\0';
    fclose(f);
    return buf;
}

/* Regression (issue 15, item 17): a message longer than the buffer lost its end, the cause. */
static void test_long_message(void)
{
    char path[3001];
    memset(path, 'a', 3000);
    path[0] = '/', path[3000] = '\0';
    irb_error e = {0};
    irb_fail(&e, IRB_IO, "%s: cannot open: %s", path, "Permission denied");
    size_t n = strlen(e.message);
    CHECK(n < sizeof e.message && !strncmp(e.message, "/aaa", 4) && strstr(e.message, " ... ") && n > 17 &&
              !strcmp(e.message + n - 17, "Permission denied"),
          "long message keeps start and cause: %zu bytes, ends '%s'", n, n > 40 ? e.message + n - 40 : e.message);
    irb_fail(&e, IRB_IO, "%s", "short");
    CHECK(!strcmp(e.message, "short"), "short message as is");
}

static void test_text(void)
{
    static const struct {
        const char *s;
        int len;
    } seqs[] = {{"a", 1},        {"\xC3\xA9", 2},     {"\xE2\x82\xAC", 3}, {"\xF0\x9F\x98\x80", 4}, {"\x80", 0},
                {"\xC0\xAF", 0}, {"\xE0\x80\xAF", 0}, {"\xED\xA0\x80", 0}, {"\xF4\x90\x80\x80", 0}, {"\xE2\x82", 0},
                {"\xFF", 0},     {"\xC3(", 0}};
    for (size_t i = 0; i < sizeof seqs / sizeof *seqs; i++)
        CHECK(irb_utf8_len(seqs[i].s) == seqs[i].len, "utf8 len case %zu: %d", i, irb_utf8_len(seqs[i].s));
    CHECK(!strcmp(written(irb_json_put, "caf\xE9 \"x\"\\\n\x01\xC3\xA9"),
                  "\"caf\xEF\xBF\xBD \\\"x\\\"\\\\\\n\\u0001\xC3\xA9\""),
          "json: %s", written(irb_json_put, "caf\xE9 \"x\"\\\n\x01\xC3\xA9"));
    CHECK(!strcmp(written(irb_html_put, "<a href=\"x\">&\x1B[31m\xFF</a>"),
                  "&lt;a href=&quot;x&quot;&gt;&amp;[31m\xEF\xBF\xBD&lt;/a&gt;"),
          "html: %s", written(irb_html_put, "<a href=\"x\">&\x1B[31m\xFF</a>"));
    CHECK(!strcmp(written(irb_csv_put_utf8, "cam\xFF,\"1\""), "\"cam\xEF\xBF\xBD,\"\"1\"\"\""), "csv quoted: %s",
          written(irb_csv_put_utf8, "cam\xFF,\"1\""));
    CHECK(!strcmp(written(irb_csv_put_utf8, "caf\xC3\xA9"), "caf\xC3\xA9"), "csv valid kept");
}

static void test_atomic_file(void)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/out.txt", test_tmpdir("core_atomic"));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    irb_error e = {0};
    /* API hostile test (regressions): NULL crashed; a name longer than NAME_MAX opened "fine" as a
     * cut name (and could truncate a file that has it), failing only at the rename */
    irb_atomic_file na;
    CHECK(irb_atomic_open(NULL, path, &e) == IRB_INVALID_ARG && irb_atomic_open(&na, NULL, &e) == IRB_INVALID_ARG &&
              irb_atomic_sync(NULL, &e) == IRB_INVALID_ARG && irb_atomic_close(NULL, &e) == IRB_INVALID_ARG,
          "NULL refused");
    irb_atomic_abort(NULL);
    char longp[4400];
    snprintf(longp, sizeof longp, "%s/%0300d.txt", test_tmpdir("core_atomic"), 7);
    CHECK(irb_atomic_open(&na, longp, &e) == IRB_IO && strstr(e.message, "too long") && !na.f,
          "a name over NAME_MAX refused at open: %s", e.message);
    char nodir[4400]; /* a file in a folder that does not exist: said of it, not of its temporary */
    snprintf(nodir, sizeof nodir, "%s/missing/p.irbis", test_tmpdir("core_atomic"));
    CHECK(irb_atomic_open(&na, nodir, &e) == IRB_IO &&
              strstr(e.message, "missing/p.irbis: cannot create: its folder") &&
              strstr(e.message, "/missing does not exist") && !strstr(e.message, ".tmp"),
          "a missing folder: %s", e.message);
    CHECK(irb_atomic_write(path, "old\n", 4, &e) == IRB_OK, "%s", e.message);
    irb_atomic_file af;
    CHECK(irb_atomic_open(&af, path, &e) == IRB_OK, "%s", e.message);
    fputs("half-written", af.f);
    fflush(af.f);
    size_t n;
    char *b = test_slurp(path, &n);
    CHECK(b && !strcmp(b, "old\n"), "the old file stays while the new one is written: '%s'", b ? b : "?");
    free(b);
    irb_atomic_abort(&af);
    struct stat st;
    CHECK(stat(tmp, &st) != 0, "abort removes %s", tmp);
    b = test_slurp(path, &n);
    CHECK(b && !strcmp(b, "old\n"), "abort keeps the old file");
    free(b);
    CHECK(irb_atomic_write(path, "new\n", 4, &e) == IRB_OK, "%s", e.message);
    b = test_slurp(path, &n);
    CHECK(b && !strcmp(b, "new\n") && stat(tmp, &st) != 0, "replaced, no temporary left");
    free(b);
    char bad[4300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.txt", test_tmpdir("core_atomic"));
    CHECK(irb_atomic_write(bad, "x", 1, &e) == IRB_IO && strstr(e.message, "no/such/dir"), "missing folder: %s",
          e.message);
}

/* A streamed file under a temporary of the caller's naming, read back before the rename (the parts
 * of tools/irbis/parts.c patch a header and checksum what they wrote), synced apart from the
 * rename (the feature writer syncs its three files before renaming any). */
static void test_atomic_stream(void)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/set.npy", test_tmpdir("core_atomic"));
    snprintf(tmp, sizeof tmp, "%s.tmp.77", path);
    remove(path);
    irb_error e = {0};
    irb_atomic_file af;
    struct stat st;
    CHECK(irb_atomic_open_as(&af, path, ".tmp.77", &e) == IRB_OK && !strcmp(af.tmp, tmp), "%s", e.message);
    fputs("N=0 rows", af.f);
    char back[16] = "";
    CHECK(fseek(af.f, 0, SEEK_SET) == 0 && fputs("N=2", af.f) >= 0 && fseek(af.f, 0, SEEK_SET) == 0 &&
              fread(back, 1, 8, af.f) == 8 && !strcmp(back, "N=2 rows"),
          "the file can be patched and read back: '%s'", back);
    CHECK(irb_atomic_sync(&af, &e) == IRB_OK && !af.f, "%s", e.message);
    CHECK(stat(tmp, &st) == 0 && st.st_size == 8 && stat(path, &st) != 0, "synced: still under %s only", tmp);
    CHECK(irb_atomic_sync(&af, &e) == IRB_OK, "a second sync is a no-op: %s", e.message);
    CHECK(irb_atomic_close(&af, &e) == IRB_OK && !af.path && !af.tmp, "%s", e.message);
    size_t n;
    char *b = test_slurp(path, &n);
    CHECK(b && !strcmp(b, "N=2 rows") && stat(tmp, &st) != 0, "renamed into place: '%s'", b ? b : "?");
    free(b);
    /* a name with no room for the suffix: the temporary is cut to fit NAME_MAX */
    char longp[4400], name[256];
    memset(name, 'a', 250);
    name[250] = 0;
    snprintf(longp, sizeof longp, "%s/%s", test_tmpdir("core_atomic"), name);
    CHECK(irb_atomic_open_as(&af, longp, ".tmp12345", &e) == IRB_OK, "long name: %s", e.message);
    const char *base = strrchr(af.tmp, '/') + 1;
    CHECK(strlen(base) == 255 && !strcmp(base + 246, ".tmp12345"), "cut temporary name: %zu bytes", strlen(base));
    CHECK(irb_atomic_close(&af, &e) == IRB_OK && stat(longp, &st) == 0, "long name written: %s", e.message);
    remove(longp);
}

int main(void)
{
    test_atomic_file();
    test_atomic_stream();
    test_error();
    test_alloc();
    test_csv();
    test_csv_encoding();
    test_atomic_special();
    test_pool();
    test_text();
    test_long_message();
    return CHECK_DONE();
}
