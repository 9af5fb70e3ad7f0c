#include "learn/npy.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/error.h"

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

irb_status irb_npy_write_header(FILE *f, size_t rows, int dim, const char *path, irb_error *err)
{
    char h[IRB_NPY_HEADER];
    memcpy(h, magic, 6);
    h[6] = 1;
    h[7] = 0;
    h[8] = (char)((IRB_NPY_HEADER - 10) & 0xff);
    h[9] = (char)((IRB_NPY_HEADER - 10) >> 8);
    int n = snprintf(h + 10, IRB_NPY_HEADER - 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %d), }",
                     rows, dim);
    if (n < 0 || n >= IRB_NPY_HEADER - 11)
        return irb_fail(err, IRB_INTERNAL, "%s: npy header does not fit", path);
    memset(h + 10 + n, ' ', (size_t)(IRB_NPY_HEADER - 11 - n));
    h[IRB_NPY_HEADER - 1] = '\n';
    if (fwrite(h, 1, sizeof h, f) != sizeof h)
        return irb_fail(err, IRB_IO, "%s: write failed: %s", path, strerror(errno));
    return IRB_OK;
}

static int little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

irb_status irb_npy_write_rows(FILE *f, const float *x, size_t rows, int dim, const char *path, irb_error *err)
{
    size_t n = rows * (size_t)dim;
    if (little_endian()) {
        if (fwrite(x, sizeof(float), n, f) != n)
            return irb_fail(err, IRB_IO, "%s: write failed: %s", path, strerror(errno));
        return IRB_OK;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
        if (fwrite(b, 1, 4, f) != 4)
            return irb_fail(err, IRB_IO, "%s: write failed: %s", path, strerror(errno));
    }
    return IRB_OK;
}

irb_status irb_npy_patch_rows(FILE *f, size_t rows, int dim, const char *path, irb_error *err)
{
    if (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0)
        return irb_fail(err, IRB_IO, "%s: seek failed: %s", path, strerror(errno));
    IRB_TRY(irb_npy_write_header(f, rows, dim, path, err));
    if (fseek(f, 0, SEEK_END) != 0)
        return irb_fail(err, IRB_IO, "%s: seek failed: %s", path, strerror(errno));
    return IRB_OK;
}

/* Finds 'key': in the header dict and returns the text after the colon, or NULL. */
static const char *dict_value(const char *h, const char *key)
{
    char q[64];
    for (int quote = 0; quote < 2; quote++) {
        snprintf(q, sizeof q, quote ? "\"%s\"" : "'%s'", key);
        const char *p = strstr(h, q);
        if (p) {
            p += strlen(q);
            while (*p == ' ')
                p++;
            if (*p != ':')
                return NULL;
            p++;
            while (*p == ' ')
                p++;
            return p;
        }
    }
    return NULL;
}

static irb_status parse_header(const char *h, const char *path, size_t *rows, int *dim, irb_error *err)
{
    const char *d = dict_value(h, "descr");
    if (!d || (strncmp(d, "'<f4'", 5) && strncmp(d, "\"<f4\"", 5)))
        return irb_fail(err, IRB_CORRUPT, "%s: dtype must be '<f4' (little-endian float32), header: %.100s", path, h);
    const char *fo = dict_value(h, "fortran_order");
    if (!fo || strncmp(fo, "False", 5))
        return irb_fail(err, IRB_CORRUPT, "%s: fortran_order must be False, header: %.100s", path, h);
    const char *s = dict_value(h, "shape");
    if (!s || *s != '(')
        return irb_fail(err, IRB_CORRUPT, "%s: no shape in npy header", path);
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s + 1, &end, 10);
    if (errno || end == s + 1 || s[1] == '-')
        return irb_fail(err, IRB_CORRUPT, "%s: bad shape %.40s", path, s);
    while (*end == ' ')
        end++;
    if (*end != ',')
        return irb_fail(err, IRB_CORRUPT, "%s: shape must be 2-d (N, D), got %.40s", path, s);
    const char *p = end + 1;
    while (*p == ' ')
        p++;
    errno = 0;
    unsigned long long dd = strtoull(p, &end, 10);
    if (errno || end == p || *p == '-' || dd == 0 || dd > INT_MAX)
        return irb_fail(err, IRB_CORRUPT, "%s: shape must be 2-d (N, D) with D > 0, got %.40s", path, s);
    while (*end == ' ')
        end++;
    if (*end == ',') {
        end++;
        while (*end == ' ')
            end++;
    }
    if (*end != ')')
        return irb_fail(err, IRB_CORRUPT, "%s: shape must be 2-d (N, D), got %.40s", path, s);
    if (n > SIZE_MAX / 4 / dd)
        return irb_fail(err, IRB_TOO_LARGE, "%s: shape (%llu, %llu) too large", path, n, dd);
    *rows = (size_t)n;
    *dim = (int)dd;
    return IRB_OK;
}

static irb_status read_header(FILE *f, const char *path, size_t *rows, int *dim, long *data_off, irb_error *err)
{
    unsigned char pre[12];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, magic, 6) != 0)
        return irb_fail(err, IRB_CORRUPT, "%s: not a .npy file (bad magic)", path);
    size_t hlen, pre_len = 10;
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2)
            return irb_fail(err, IRB_CORRUPT, "%s: truncated npy header", path);
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        pre_len = 12;
        if (hlen > (1u << 20))
            return irb_fail(err, IRB_CORRUPT, "%s: npy header length %zu is implausible", path, hlen);
    } else {
        return irb_fail(err, IRB_UNSUPPORTED, "%s: npy format version %d.%d", path, pre[6], pre[7]);
    }
    char *h = irb_malloc(hlen + 1);
    if (!h)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    irb_status s = IRB_OK;
    if (fread(h, 1, hlen, f) != hlen) {
        s = irb_fail(err, IRB_CORRUPT, "%s: truncated npy header", path);
    } else {
        h[hlen] = '\0';
        s = parse_header(h, path, rows, dim, err);
    }
    irb_free(h);
    *data_off = (long)(pre_len + hlen);
    return s;
}

static void fix_endian(float *x, size_t n)
{
    if (little_endian())
        return;
    for (size_t i = 0; i < n; i++) {
        uint8_t b[4];
        memcpy(b, &x[i], 4);
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&x[i], &u, 4);
    }
}

/* Opens path and checks its header and that the data is exactly rows x dim floats. */
static irb_status open_checked(const char *path, FILE **fp, size_t *rows, int *dim, long *off, irb_error *err)
{
    FILE *f;
    *fp = NULL;
    IRB_TRY(irb_open_read(path, "file", &f, NULL, err));
    irb_status s = read_header(f, path, rows, dim, off, err);
    if (s == IRB_OK && fseek(f, 0, SEEK_END) != 0)
        s = irb_fail(err, IRB_IO, "%s: seek failed", path);
    if (s == IRB_OK) {
        size_t n = *rows * (size_t)*dim;
        long size = ftell(f);
        if (size < *off || (size_t)(size - *off) != n * 4)
            s = irb_fail(err, IRB_CORRUPT, "%s: header says (%zu, %d) = %zu bytes of data, file has %ld", path, *rows,
                         *dim, n * 4, size - *off);
    }
    if (s != IRB_OK) {
        fclose(f);
        return s;
    }
    *fp = f;
    return IRB_OK;
}

irb_status irb_npy_read_header(const char *path, size_t *rows, int *dim, irb_error *err)
{
    FILE *f;
    long off;
    IRB_TRY(open_checked(path, &f, rows, dim, &off, err));
    fclose(f);
    return IRB_OK;
}

irb_status irb_npy_read_rows(const char *path, size_t rows, int dim, const size_t *idx, size_t n, float *out,
                             irb_error *err)
{
    FILE *f;
    long off;
    size_t file_rows;
    int file_dim;
    IRB_TRY(open_checked(path, &f, &file_rows, &file_dim, &off, err));
    irb_status s = IRB_OK;
    if (file_rows != rows || file_dim != dim)
        s = irb_fail(err, IRB_MISMATCH, "%s is now (%zu, %d), was (%zu, %d)", path, file_rows, file_dim, rows, dim);
    size_t row_bytes = (size_t)dim * 4;
    for (size_t k = 0; s == IRB_OK && k < n;) {
        if (idx[k] >= rows) {
            s = irb_fail(err, IRB_INVALID_ARG, "%s: row %zu of %zu", path, idx[k], rows);
            break;
        }
        size_t run = 1; /* consecutive rows are read in one go */
        while (k + run < n && idx[k + run] == idx[k] + run && idx[k + run] < rows)
            run++;
        if (fseek(f, off + (long)(idx[k] * row_bytes), SEEK_SET) != 0 ||
            fread(out + k * (size_t)dim, row_bytes, run, f) != run)
            s = irb_fail(err, IRB_IO, "%s: read failed", path);
        k += run;
    }
    fclose(f);
    if (s == IRB_OK)
        fix_endian(out, n * (size_t)dim);
    return s;
}

irb_status irb_npy_read(const char *path, size_t *rows, int *dim, float **x, irb_error *err)
{
    *x = NULL;
    FILE *f;
    long off = 0;
    IRB_TRY(open_checked(path, &f, rows, dim, &off, err));
    irb_status s = IRB_OK;
    size_t n = *rows * (size_t)*dim;
    if (n == 0)
        goto cleanup;
    if (!(*x = irb_malloc_array(n, sizeof(float)))) {
        s = irb_fail(err, IRB_NOMEM, "%s: out of memory for %zu floats", path, n);
        goto cleanup;
    }
    if (fseek(f, off, SEEK_SET) != 0 || fread(*x, sizeof(float), n, f) != n) {
        s = irb_fail(err, IRB_IO, "%s: read failed", path);
        goto cleanup;
    }
    fix_endian(*x, n);
cleanup:
    fclose(f);
    if (s != IRB_OK) {
        irb_free(*x);
        *x = NULL;
    }
    return s;
}
