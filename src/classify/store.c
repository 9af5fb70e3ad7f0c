/* The results store of `irbis classify`: OUT/irbis.sqlite in WAL mode plus the run lock
 * OUT/.lock. Every image is one row keyed by its relative path, so a rescan after a crash adds
 * nothing twice, and known by its content (its file's digests), so a file copied with a new time
 * or renamed keeps its results and human label (table former); results are committed one
 * transaction per batch, so a killed run loses at most the batch in flight. Schema and semantics:
 * docs/classify.md. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/text.h"
#include "core/error.h"
#include "irbis/survey.h"
#include "classify/store_db.h"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS params(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS state(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS images("
    " id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, camera TEXT NOT NULL,"
    " timestamp TEXT NOT NULL, tsec INTEGER, tfrac REAL, width INTEGER, height INTEGER,"
    " state INTEGER NOT NULL, status TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',"
    " probs BLOB, label INTEGER);"
    "CREATE TABLE IF NOT EXISTS sequences("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL, camera TEXT NOT NULL, start TEXT NOT NULL,"
    " end TEXT NOT NULL, n INTEGER NOT NULL, probs BLOB NOT NULL, label INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS image_seq(image_id INTEGER PRIMARY KEY, seq_id INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS image_seq_seq ON image_seq(seq_id);"
    /* the report's counts per camera (irb_store_label_counts): without it, one pass over every
     * sequence per camera, 3 s of a 300,000-image survey's 150 cameras */
    "CREATE INDEX IF NOT EXISTS sequences_camera ON sequences(camera, label);"
    /* human labels (review.c): kept by a --restart, keyed by the path as images are */
    "CREATE TABLE IF NOT EXISTS reviews(path TEXT PRIMARY KEY, label TEXT NOT NULL, time TEXT NOT NULL,"
    " method TEXT NOT NULL DEFAULT 'human');"
    "CREATE TABLE IF NOT EXISTS review_log(id INTEGER PRIMARY KEY, path TEXT NOT NULL, label TEXT,"
    " time TEXT NOT NULL, method TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS review_log_path ON review_log(path);"
    /* paths whose sorted/ entries must go: images that left the survey or changed (outputs.c) */
    "CREATE TABLE IF NOT EXISTS gone(path TEXT PRIMARY KEY);"
    /* classified images that left their path or whose file's stamp changed, with their content
     * and results, until the scan's end finds their pictures again (irb_store_follow_content) */
    "CREATE TABLE IF NOT EXISTS former(path TEXT PRIMARY KEY, camera TEXT NOT NULL, fsize INTEGER,"
    " sha_head TEXT NOT NULL, sha_data TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL, probs BLOB,"
    " label INTEGER, novelty REAL);"
    "CREATE INDEX IF NOT EXISTS former_sha ON former(sha_data);";

/* ---- small helpers -------------------------------------------------------------------- */

irb_status irb_store_fail(irb_store *st, irb_error *err, const char *what)
{
    int code = sqlite3_errcode(st->db);
    irb_status s = (code == SQLITE_NOMEM)                              ? IRB_NOMEM
                   : (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) ? IRB_CORRUPT
                   : (code == SQLITE_BUSY || code == SQLITE_LOCKED)    ? IRB_BUSY
                                                                       : IRB_IO;
    /* say what to do: a run started again carries on. A disk already full when the store opens
     * is an I/O error to SQLite, with ENOSPC underneath. */
    int enospc = (code & 0xff) == SQLITE_IOERR && sqlite3_system_errno(st->db) == ENOSPC;
    if (code == SQLITE_FULL || enospc)
        return irb_fail(err, s,
                        "%s: %s: %s (free space on its file system and run the same command again: "
                        "what was stored is kept)",
                        st->dbpath, what, enospc ? "disk I/O error: the disk is full" : sqlite3_errmsg(st->db));
    return irb_fail(err, s, "%s: %s: %s", st->dbpath, what, sqlite3_errmsg(st->db));
}

/* Runs sql; a failure names the statement by its first words (not the whole schema). */
static irb_status exec(irb_store *st, const char *sql, irb_error *err)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        char what[48];
        size_t n = strcspn(sql, "(;");
        snprintf(what, sizeof what, "%.*s%s", (int)(n < 40 ? n : 40), sql, sql[n] || n >= 40 ? " ..." : "");
        return irb_store_fail(st, err, what);
    }
    return IRB_OK;
}

irb_status irb_store_prepare(irb_store *st, const char *sql, sqlite3_stmt **stmt, irb_error *err)
{
    if (*stmt) {
        sqlite3_reset(*stmt);
        sqlite3_clear_bindings(*stmt);
        return IRB_OK;
    }
    if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK)
        return irb_store_fail(st, err, "prepare");
    return IRB_OK;
}

char *irb_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/')
        la--;
    char *p = irb_malloc(la + lb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

irb_status irb_mkdirs(const char *path, irb_error *err)
{
    char *p = irb_strdup(path);
    if (!p)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", path);
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c == '/' || c == '\0') {
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                irb_status st = irb_fail(err, IRB_IO, "%s: cannot create folder: %s", p, strerror(errno));
                irb_free(p);
                return st;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    irb_free(p);
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return irb_fail(err, IRB_IO, "%s: not a folder", path);
    return IRB_OK;
}

/* ---- open / lock ---------------------------------------------------------------------- */

int irb_store_exists(const char *dir)
{
    char *db = irb_path_join(dir, "irbis.sqlite");
    struct stat sb;
    int there = db && stat(db, &sb) == 0;
    irb_free(db);
    return there;
}

/* "irbis review" (say) from the holder's command line in /proc, else "irbis". */
static void lock_holder(const char *pid, char *who, size_t size)
{
    snprintf(who, size, "irbis");
    char path[64], cmd[256];
    snprintf(path, sizeof path, "/proc/%.20s/cmdline", pid);
    FILE *f = pid[0] ? fopen(path, "rb") : NULL;
    size_t n = f ? fread(cmd, 1, sizeof cmd - 1, f) : 0;
    if (f)
        fclose(f);
    cmd[n] = '\0';
    if (!n)
        return;
    const char *arg0 = cmd, *base = strrchr(arg0, '/');
    size_t l0 = strlen(arg0);
    const char *arg1 = l0 + 1 < n ? arg0 + l0 + 1 : "";
    snprintf(who, size, "%.40s%s%.40s", base ? base + 1 : arg0, arg1[0] ? " " : "", arg1);
}

/* The message for a folder another irbis process holds: its holder named from OUT/.lock's pid. */
static irb_status held_fail(irb_store *st, const char *lp, irb_error *err)
{
    char pid[32] = "";
    int fd = open(lp, O_RDONLY | O_CLOEXEC);
    ssize_t k = fd >= 0 ? pread(fd, pid, sizeof pid - 1, 0) : -1;
    if (fd >= 0)
        close(fd);
    pid[k > 0 ? k : 0] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    char who[96];
    lock_holder(pid, who, sizeof who);
    return irb_fail(err, IRB_BUSY,
                    "%s: another irbis process (%s, pid %s) is using this output folder "
                    "(lock %s); wait for it to finish (or stop it) or choose another output folder",
                    st->dir, who, pid[0] ? pid : "?", lp);
}

/* errno values that mean "this process may not write here": a read-only file system (a DVD, a
 * share mounted read-only) or permissions (another user's folder, an archive made read-only). */
static int denied(int e) { return e == EROFS || e == EACCES || e == EPERM; }

/* The run's lock: flock on OUT itself, which a user cannot delete from under a run (a lock on
 * OUT/.lock alone was lost with the file: a second run then made a new one and ran beside the
 * first), and on OUT/.lock, which holds the holder's pid for the message. When OUT/.lock cannot
 * be opened for writing because the folder may not be written (denied()), *ro receives the errno
 * and nothing is said in err: the caller decides. */
static irb_status take_lock(irb_store *st, int *ro, irb_error *err)
{
    char *lp = irb_path_join(st->dir, ".lock");
    if (!lp)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", st->dir);
    st->dir_fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    st->lock_fd = st->dir_fd < 0 ? -1 : open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (st->lock_fd < 0 || st->dir_fd < 0) {
        int e = errno;
        irb_status s = IRB_IO;
        if (st->dir_fd >= 0 && denied(e))
            *ro = e;
        else
            s = irb_fail(err, IRB_IO, "%s: cannot open lock file: %s", st->dir_fd < 0 ? st->dir : lp, strerror(e));
        irb_free(lp);
        return s;
    }
    if (flock(st->dir_fd, LOCK_EX | LOCK_NB) != 0 || flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        irb_status s =
            (e == EWOULDBLOCK) ? held_fail(st, lp, err) : irb_fail(err, IRB_IO, "%s: cannot lock: %s", lp, strerror(e));
        irb_free(lp);
        return s;
    }
    irb_free(lp);
    char pid[32];
    int k = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(st->lock_fd, 0) == 0 && pwrite(st->lock_fd, pid, (size_t)k, 0) < 0) {
        /* the pid is only informational */
    }
    return IRB_OK;
}

/* Columns added to stores of earlier versions: the novelty score of images and sequences (NULL:
 * none); each image file's size and modification time when it was scanned (NULL in older stores:
 * recorded by the next scan) and whether this run's scan saw it; its content digests
 * (irb_image_digest: NULL until it is classified by this version), which only a run reads, so a
 * read-only store without them is read as it is (the fourth field: "run"). */
static const char *const ADDED[][4] = {{"images", "novelty", "REAL", ""},
                                       {"sequences", "novelty", "REAL", ""},
                                       {"images", "fsize", "INTEGER", ""},
                                       {"images", "fmtime", "INTEGER", ""},
                                       {"images", "seen", "INTEGER NOT NULL DEFAULT 1", ""},
                                       {"images", "sha_head", "TEXT", "run"},
                                       {"images", "sha_data", "TEXT", "run"}};
/* The tables SCHEMA makes, for a store that cannot be brought up to date (read-only). */
static const char *const TABLES[] = {"params",    "state",   "images",     "sequences",
                                     "image_seq", "reviews", "review_log", "gone"};

int irb_store_has_column(irb_store *st, const char *table, const char *col)
{
    char sql[128];
    sqlite3_stmt *q = NULL;
    snprintf(sql, sizeof sql, "SELECT %s FROM %s LIMIT 0", col, table);
    int have = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK;
    sqlite3_finalize(q);
    return have;
}

static irb_status add_columns(irb_store *st, irb_error *err)
{
    for (size_t t = 0; t < sizeof ADDED / sizeof *ADDED; t++) {
        char sql[128];
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", ADDED[t][0], ADDED[t][1], ADDED[t][2]);
        if (!irb_store_has_column(st, ADDED[t][0], ADDED[t][1]))
            IRB_TRY(exec(st, sql, err));
    }
    /* the images that hold a picture (irb_store_follow_content), once the column is there */
    return exec(st, "CREATE INDEX IF NOT EXISTS images_sha ON images(sha_data)", err);
}

/* A read-only store is read as it is (no CREATE, no ALTER): one that lacks a table or column of
 * this version is refused, naming it, instead of failing later in some query. */
static irb_status check_schema(irb_store *st, irb_error *err)
{
    const char *table = NULL, *col = NULL;
    /* a file that is no database fails here (SQLITE_NOTADB), said as such */
    IRB_TRY(exec(st, "SELECT count(*) FROM sqlite_schema", err));
    for (size_t t = 0; !table && t < sizeof TABLES / sizeof *TABLES; t++)
        if (!irb_store_has_column(st, TABLES[t], "1"))
            table = TABLES[t];
    for (size_t t = 0; !table && t < sizeof ADDED / sizeof *ADDED; t++)
        if (!ADDED[t][3][0] && !irb_store_has_column(st, ADDED[t][0], ADDED[t][1]))
            table = ADDED[t][0], col = ADDED[t][1];
    if (!table)
        return IRB_OK;
    return irb_fail(err, IRB_UNSUPPORTED,
                    "%s: written by an earlier irbis (it has no %s %s%s%s), and the folder is read-only, so it "
                    "cannot be brought up to date: open it once where it is writable (e.g. irbis export on a "
                    "writable copy)",
                    st->dbpath, col ? "column" : "table", table, col ? "." : "", col ? col : "");
}

/* 0 when this process may not write path (denied()), its errno in *why; 1 otherwise (also when
 * path does not exist yet). */
static int writable(const char *path, int *why)
{
    if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0 || !denied(errno))
        return 1;
    *why = errno;
    return 0;
}

/* A leftover OUT/irbis.sqlite-wal that is not empty holds commits not yet merged into the
 * database file (a run or review killed, on a folder then made read-only or copied as it was).
 * An immutable open ignores the -wal file: refused, instead of showing stale results. */
static irb_status check_wal(irb_store *st, irb_error *err)
{
    char wal[PATH_MAX];
    snprintf(wal, sizeof wal, "%s-wal", st->dbpath);
    struct stat sb;
    if (stat(wal, &sb) != 0 || sb.st_size == 0)
        return IRB_OK;
    return irb_fail(err, IRB_IO,
                    "%s: the store has changes not yet merged into it (%lld bytes: its last run or review was "
                    "stopped before closing it) and the folder is read-only, so they cannot be read: open it "
                    "once where it is writable (e.g. irbis export on a writable copy of the folder, -wal included)",
                    wal, (long long)sb.st_size);
}

/* "file:PATH?immutable=1" with PATH percent-encoded (a '?', '#' or '%' in a folder's name). */
static char *immutable_uri(const char *path)
{
    static const char head[] = "file:", tail[] = "?immutable=1";
    char *p = irb_pct_encode(path), *u = p ? irb_malloc(sizeof head + strlen(p) + sizeof tail) : NULL;
    if (u)
        sprintf(u, "%s%s%s", head, p, tail);
    irb_free(p);
    return u;
}

/* Opens the store of a folder this process may not write, for a command that only reads. A
 * shared flock on OUT keeps writers out: every run, export and writable review takes it
 * exclusive, so this is refused while one holds the folder (a classify started before the folder
 * was made read-only, its owner's review of a folder others may only read), and none can start
 * while it is held. Where the folder itself cannot be written, SQLite could not create the -shm
 * file a WAL reader needs: immutable=1 (no locks, no -shm, the database file alone) is safe there
 * because no writer can hold the lock in a folder nobody may write, and the shared flock covers
 * the one who may (its owner). A non-empty -wal is refused first (check_wal). Where only
 * OUT/.lock or irbis.sqlite is denied, SQLite reads as usual, read-only. */
static irb_status open_readonly(irb_store *st, int immutable, irb_error *err)
{
    st->readonly = 1;
    st->dir_fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->dir_fd < 0)
        return irb_fail(err, IRB_IO, "%s: cannot open: %s", st->dir, strerror(errno));
    if (flock(st->dir_fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        char *lp = irb_path_join(st->dir, ".lock");
        irb_status s = lp ? held_fail(st, lp, err) : irb_fail(err, IRB_NOMEM, "%s: out of memory", st->dir);
        irb_free(lp);
        return s;
    } /* another failure (a share without locks): nothing to wait for */
    if (immutable)
        IRB_TRY(check_wal(st, err));
    char *uri = immutable ? immutable_uri(st->dbpath) : NULL;
    if (immutable && !uri)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", st->dir);
    int rc = sqlite3_open_v2(uri ? uri : st->dbpath, &st->db,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | (uri ? SQLITE_OPEN_URI : 0), NULL);
    irb_free(uri);
    if (rc != SQLITE_OK)
        return irb_fail(err, IRB_IO, "%s: cannot open the results store: %s", st->dbpath,
                        st->db ? sqlite3_errmsg(st->db) : "out of memory");
    sqlite3_busy_timeout(st->db, 5000);
    return check_schema(st, err);
}

static irb_status open_readwrite(irb_store *st, irb_error *err)
{
    if (sqlite3_open_v2(st->dbpath, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        return irb_fail(err, IRB_IO, "%s: cannot open the results store: %s", st->dbpath,
                        st->db ? sqlite3_errmsg(st->db) : "out of memory");
    sqlite3_busy_timeout(st->db, 5000);
    /* WAL + synchronous=FULL: each commit is on disk when it returns, and a reader never sees
     * a half-written batch. */
    IRB_TRY(exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA temp_store=FILE;", err));
    /* One transaction: each CREATE on its own was a commit, and so a sync of the log (a one-image
     * classify synced 28 times before its scan, now 8; the store's opening 31 -> 16 ms under
     * strace). */
    IRB_TRY(irb_store_begin(st, err));
    irb_status s = exec(st, SCHEMA, err);
    if (s == IRB_OK)
        s = add_columns(st, err);
    if (s == IRB_OK)
        s = irb_store_commit(st, err);
    if (s != IRB_OK)
        irb_store_rollback(st);
    return s;
}

/* reader: the caller only reads (opened read-only where the folder may not be written). */
static irb_status store_open(const char *dir, int reader, irb_store **out, irb_error *err)
{
    *out = NULL;
    if (!dir || !*dir)
        return irb_fail(err, IRB_INVALID_ARG, "no output folder given");
    if (!reader)
        IRB_TRY(irb_mkdirs(dir, err));
    irb_store *st = irb_calloc(1, sizeof *st);
    if (!st)
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", dir);
    st->lock_fd = st->dir_fd = -1;
    irb_status s = IRB_NOMEM;
    if (!(st->dir = irb_strdup(dir)) || !(st->dbpath = irb_path_join(dir, "irbis.sqlite"))) {
        irb_fail(err, s, "%s: out of memory", dir);
        goto fail;
    }
    int why = 0, dir_ok = writable(st->dir, &why), ro = !dir_ok || !writable(st->dbpath, &why);
    const char *what = !dir_ok ? "" : "irbis.sqlite: "; /* denied: the folder, the store or its lock */
    if (!ro && (s = take_lock(st, &why, err)) != IRB_OK) {
        if (!why)
            goto fail;
        ro = 1, what = ".lock: ";
        close(st->dir_fd);
        st->dir_fd = -1;
    }
    if (ro && !reader) {
        s = irb_fail(err, IRB_IO,
                     "%s: the output folder is read-only (%s%s): results cannot be written there; make it "
                     "writable or use a writable copy (irbis review can browse it as it is)",
                     st->dir, what, strerror(why));
        goto fail;
    }
    if ((s = ro ? open_readonly(st, !dir_ok, err) : open_readwrite(st, err)) != IRB_OK)
        goto fail;
    *out = st;
    return IRB_OK;
fail:
    if (s == IRB_CORRUPT && !st->readonly) /* say the way out: the store cannot be repaired here */
        irb_error_append(err, " (the results store is damaged: `irbis classify ... --restart` sets it aside as "
                              "irbis.sqlite.damaged-TIME and starts over)");
    irb_store_close(st);
    return s;
}

irb_status irb_store_open(const char *dir, irb_store **out, irb_error *err) { return store_open(dir, 0, out, err); }

irb_status irb_store_open_reader(const char *dir, irb_store **out, irb_error *err)
{
    return store_open(dir, 1, out, err);
}

int irb_store_readonly(const irb_store *st) { return st->readonly; }

irb_status irb_store_set_aside(const char *dir, char *aside, size_t size, irb_error *err)
{
    static const char *const part[] = {"", "-wal", "-shm"};
    long long t = (long long)time(NULL);
    snprintf(aside, size, "%s/irbis.sqlite.damaged-%lld", dir, t);
    for (size_t i = 0; i < sizeof part / sizeof *part; i++) {
        char from[PATH_MAX], to[PATH_MAX];
        snprintf(from, sizeof from, "%s/irbis.sqlite%s", dir, part[i]);
        snprintf(to, sizeof to, "%s%s", aside, part[i]);
        if (rename(from, to) != 0 && errno != ENOENT)
            return irb_fail(err, IRB_IO, "%s: cannot move the damaged store aside: %s", from, strerror(errno));
    }
    return IRB_OK;
}

void irb_store_close(irb_store *st)
{
    if (!st)
        return;
    sqlite3_finalize(st->add);
    sqlite3_finalize(st->keep);
    sqlite3_finalize(st->find);
    sqlite3_finalize(st->find_path);
    sqlite3_finalize(st->pending);
    sqlite3_finalize(st->undigested);
    sqlite3_finalize(st->unknown);
    sqlite3_finalize(st->digest);
    sqlite3_finalize(st->result);
    sqlite3_finalize(st->failed);
    sqlite3_finalize(st->shot_pending);
    sqlite3_finalize(st->shot_prev);
    sqlite3_finalize(st->shot_next);
    sqlite3_finalize(st->novelty);
    sqlite3_finalize(st->skip);
    sqlite3_finalize(st->img_label);
    sqlite3_finalize(st->seq_label);
    sqlite3_finalize(st->rv_put);
    sqlite3_finalize(st->rv_del);
    sqlite3_finalize(st->rv_log);
    if (st->db)
        sqlite3_close(st->db);
    for (int i = 0; i < st->n; i++)
        irb_free(st->paths[i]);
    irb_free(st->paths);
    irb_free(st->ids);
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* releases the flocks */
    if (st->dir_fd >= 0)
        close(st->dir_fd);
    irb_free(st->dir);
    irb_free(st->dbpath);
    irb_free(st);
}

const char *irb_store_dir(const irb_store *st) { return st->dir; }

irb_status irb_store_begin(irb_store *st, irb_error *err) { return exec(st, "BEGIN IMMEDIATE", err); }
irb_status irb_store_commit(irb_store *st, irb_error *err) { return exec(st, "COMMIT", err); }
void irb_store_rollback(irb_store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* The end of a transaction whose work returned s: committed when s is IRB_OK, else (or when the
 * commit fails) rolled back; the status. */
static irb_status end_tx(irb_store *st, irb_status s, irb_error *err)
{
    if (s == IRB_OK)
        s = irb_store_commit(st, err);
    if (s != IRB_OK)
        irb_store_rollback(st);
    return s;
}

/* ---- parameters and state ------------------------------------------------------------- */

static irb_status get_kv(irb_store *st, const char *table, const char *key, char **value, irb_error *err)
{
    *value = NULL;
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT value FROM %s WHERE key = ?", table);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return irb_store_fail(st, err, "prepare");
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    irb_status s = IRB_OK;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        if (!(*value = irb_strdup((const char *)sqlite3_column_text(q, 0))))
            s = irb_fail(err, IRB_NOMEM, "%s: out of memory", st->dbpath);
    } else if (rc != SQLITE_DONE) {
        s = irb_store_fail(st, err, "read");
    }
    sqlite3_finalize(q);
    return s;
}

static irb_status set_kv(irb_store *st, const char *table, const char *key, const char *value, irb_error *err)
{
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO %s(key, value) VALUES(?, ?)", table);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return irb_store_fail(st, err, "prepare");
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
    irb_status s = sqlite3_step(q) == SQLITE_DONE ? IRB_OK : irb_store_fail(st, err, "write");
    sqlite3_finalize(q);
    return s;
}

irb_status irb_store_get_param(irb_store *st, const char *key, char **value, irb_error *err)
{
    return get_kv(st, "params", key, value, err);
}

irb_status irb_store_set_param(irb_store *st, const char *key, const char *value, irb_error *err)
{
    return set_kv(st, "params", key, value, err);
}

irb_status irb_store_get_state(irb_store *st, const char *key, char **value, irb_error *err)
{
    return get_kv(st, "state", key, value, err);
}

irb_status irb_store_set_state(irb_store *st, const char *key, const char *value, irb_error *err)
{
    return set_kv(st, "state", key, value, err);
}

int irb_store_has_path(irb_store *st, const char *path)
{
    if (irb_store_prepare(st, "SELECT 1 FROM images WHERE path = ?", &st->find_path, NULL) != IRB_OK)
        return 0;
    sqlite3_bind_text(st->find_path, 1, path, -1, SQLITE_STATIC);
    int yes = sqlite3_step(st->find_path) == SQLITE_ROW;
    sqlite3_reset(st->find_path);
    return yes;
}

/* The rows of the run recorded (the files it wrote are irb_outputs_prune's). */
static irb_status wipe(irb_store *st, irb_error *err)
{
    return exec(st,
                "BEGIN IMMEDIATE; DELETE FROM params; DELETE FROM state; DELETE FROM images;"
                "DELETE FROM sequences; DELETE FROM image_seq; DELETE FROM gone; DELETE FROM former; COMMIT;",
                err);
}

irb_status irb_store_check_params(irb_store *st, const char *const *keys, const char *const *values, int n, int restart,
                                  int *which, irb_error *err)
{
    char *have = NULL;
    IRB_TRY(get_kv(st, "params", keys[0], &have, err));
    int recorded = have != NULL;
    irb_free(have);
    if (recorded && !restart) {
        for (int i = 0; i < n; i++) {
            IRB_TRY(get_kv(st, "params", keys[i], &have, err));
            if (have ? strcmp(have, values[i]) != 0 : values[i][0] != '\0') { /* unset = older store */
                irb_status s = irb_fail(err, IRB_MISMATCH,
                                        "%s: the output folder holds a run with %s = '%s', this run has '%s'; "
                                        "use the same options to resume, or --restart to discard it",
                                        st->dir, keys[i], have ? have : "(none)", values[i]);
                irb_free(have);
                if (which)
                    *which = i;
                return s;
            }
            irb_free(have);
        }
        return IRB_OK;
    }
    if (recorded || restart)
        IRB_TRY(wipe(st, err));
    IRB_TRY(irb_store_begin(st, err));
    for (int i = 0; i < n; i++) {
        irb_status s = set_kv(st, "params", keys[i], values[i], err);
        if (s != IRB_OK) {
            irb_store_rollback(st);
            return s;
        }
    }
    return irb_store_commit(st, err);
}

/* ---- images --------------------------------------------------------------------------- */

int irb_cls_parse_time(const char *t, int64_t *sec, double *frac)
{
    irb_time tm;
    if (!t || irb_time_parse(t, &tm, NULL) != IRB_OK)
        return 0;
    *sec = tm.seconds;
    *frac = tm.frac;
    return 1;
}

/* Removes the thumbnail of an image row that goes (OUT/thumbs/ID.jpg): a thumbnail there is
 * used as it is, and the id comes back for the next new row when it was the largest (SQLite's
 * max + 1), so a picture changed at its path (deleted and added again) showed the old one in the
 * report and the review. Best effort: a missing thumbnail is made again. */
static void drop_thumb(irb_store *st, int64_t id)
{
    char name[32], *dir = irb_path_join(st->dir, IRB_OUT_THUMBS);
    irb_out_thumb_name(id, name, sizeof name);
    char *p = dir ? irb_path_join(dir, name) : NULL;
    if (p)
        unlink(p);
    irb_free(dir), irb_free(p);
}

irb_status irb_store_scan_begin(irb_store *st, irb_error *err) { return exec(st, "UPDATE images SET seen = 0", err); }

/* A failure whose cause may be gone at the next run: the file could not be read or was missing
 * (a card reader unplugged, a share dropped, permissions fixed). */
#define TRANSIENT "(state = 2 AND status IN ('io', 'not_found'))"
/* A file changed since its row was made: another size, or another time that is not the same time
 * shifted by whole quarter hours up to a day (a FAT or exFAT card keeps local times, which read
 * shifted on a machine in another time zone: that is no reason to classify a survey again), or
 * another EXIF time or size in its header (a camera clock put right with an EXIF editor that keeps
 * the file's size and modification time, as `exiftool -AllDates+=1 -P` does). */
#define CHANGED                                                                                                        \
    "(fsize IS NOT NULL AND (fsize != ?1 OR (fmtime != ?2 AND NOT (abs(fmtime - ?2) % 900000000000 = 0 AND"            \
    " abs(fmtime - ?2) <= 86400000000000)) OR timestamp IS NOT ?4 OR width IS NOT ?5 OR height IS NOT ?6))"

/* A classified image whose content is known (its digests, irb_image_digest): when its path
 * leaves the survey or its file's stamp changes, its picture may be found again (the same bytes
 * under another path or with another time), so it waits in table former until the scan's end. */
#define KNOWN "(state = 1 AND sha_data IS NOT NULL)"
#define TO_FORMER                                                                                                      \
    "INSERT OR IGNORE INTO former(path, camera, fsize, sha_head, sha_data, status, message, probs, label, novelty)"    \
    " SELECT path, camera, fsize, sha_head, sha_data, status, message, probs, label, novelty FROM images WHERE "

static void note_first(char *buf, size_t size, long long n, const char *path)
{
    if (n == 1)
        snprintf(buf, size, "%s", path);
}

/* CHANGED's parameters: the file's stamp as this scan saw it, and its path (?3). */
static void bind_stamp(sqlite3_stmt *q, const irb_cls_row *row)
{
    sqlite3_bind_int64(q, 1, row->size);
    sqlite3_bind_int64(q, 2, row->mtime_ns);
    sqlite3_bind_text(q, 3, row->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, row->timestamp ? row->timestamp : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 5, row->width);
    sqlite3_bind_int(q, 6, row->height);
}

/* The stored row of row->path, when it must be done again: its file changed (size or time) or
 * its failure may have passed. Its sorted/ entries go (table gone); it is deleted, so the new
 * row gets a new id (and a new thumbnail); a classified image whose content is known waits in
 * former for irb_store_follow_content. 1 when it was there and is kept, 0 otherwise. */
static irb_status keep_or_drop(irb_store *st, const irb_cls_row *row, irb_scan_tally *t, int *kept, irb_error *err)
{
    *kept = 0;
    IRB_TRY(irb_store_prepare(st,
                              "UPDATE images SET seen = 1, fsize = ?1, fmtime = ?2 WHERE path = ?3 AND NOT (" CHANGED
                              " OR " TRANSIENT ")",
                              &st->keep, err));
    bind_stamp(st->keep, row);
    if (sqlite3_step(st->keep) != SQLITE_DONE)
        return irb_store_fail(st, err, "scan image");
    if (sqlite3_changes(st->db) > 0) {
        *kept = 1;
        return IRB_OK;
    }
    /* column 2: a human label on a file that is now another picture (another byte or pixel size:
     * a card re-formatted and refilled from IMG_0001), not the same one with its time put right;
     * column 3: a classified image whose content is known, whose fate waits for the scan's end */
    IRB_TRY(irb_store_prepare(st,
                              "SELECT id, " TRANSIENT " AND NOT " CHANGED ", (fsize IS NOT ?1 OR width IS NOT ?5 OR"
                              " height IS NOT ?6) AND EXISTS (SELECT 1 FROM reviews r WHERE r.path = ?3), " KNOWN
                              " FROM images WHERE path = ?3",
                              &st->find, err));
    bind_stamp(st->find, row);
    int rc = sqlite3_step(st->find);
    if (rc == SQLITE_DONE)
        return IRB_OK; /* a new file */
    if (rc != SQLITE_ROW)
        return irb_store_fail(st, err, "scan image");
    int64_t id = sqlite3_column_int64(st->find, 0);
    int retry = sqlite3_column_int(st->find, 1), replaced = sqlite3_column_int(st->find, 2);
    int known = sqlite3_column_int(st->find, 3);
    sqlite3_reset(st->find);
    if (known) { /* the same bytes (a copy's new time) or another picture: irb_store_follow_content */
        char fsql[320];
        snprintf(fsql, sizeof fsql, TO_FORMER "id = %lld;", (long long)id);
        IRB_TRY(exec(st, fsql, err));
    } else if (retry)
        t->retried++;
    else
        note_first(t->first_changed, sizeof t->first_changed, ++t->changed, row->path);
    if (!known && !retry && replaced) { /* the person saw the old picture: the label leaves, its history stays */
        char rsql[400];
        snprintf(rsql, sizeof rsql,
                 "INSERT INTO review_log(path, label, time, method) SELECT path, NULL,"
                 " strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', 'now'), 'file replaced' FROM images WHERE id = %lld;"
                 " DELETE FROM reviews WHERE path = (SELECT path FROM images WHERE id = %lld);",
                 (long long)id, (long long)id);
        IRB_TRY(exec(st, rsql, err));
        note_first(t->first_review_retired, sizeof t->first_review_retired, ++t->reviews_retired, row->path);
    }
    drop_thumb(st, id);
    char sql[224];
    snprintf(
        sql, sizeof sql,
        "INSERT OR IGNORE INTO gone(path) SELECT path FROM images WHERE id = %lld AND state = 1; DELETE FROM image_seq WHERE"
        " image_id = %lld; DELETE FROM images WHERE id = %lld;",
        (long long)id, (long long)id, (long long)id);
    return exec(st, sql, err);
}

irb_status irb_store_add_image(irb_store *st, const irb_cls_row *row, irb_scan_tally *t, irb_error *err)
{
    int kept;
    IRB_TRY(keep_or_drop(st, row, t, &kept, err));
    if (kept)
        return IRB_OK;
    IRB_TRY(irb_store_prepare(st,
                              "INSERT OR IGNORE INTO images(path, camera, timestamp, tsec, tfrac, width, height, state,"
                              " status, message, fsize, fmtime, seen) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,2)",
                              &st->add, err));
    sqlite3_stmt *q = st->add;
    sqlite3_bind_text(q, 1, row->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, row->camera ? row->camera : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, row->timestamp ? row->timestamp : "", -1, SQLITE_STATIC);
    int64_t sec;
    double frac;
    if (irb_cls_parse_time(row->timestamp, &sec, &frac)) {
        sqlite3_bind_int64(q, 4, sec);
        sqlite3_bind_double(q, 5, frac);
    }
    sqlite3_bind_int(q, 6, row->width);
    sqlite3_bind_int(q, 7, row->height);
    int bad = row->status != IRB_OK;
    sqlite3_bind_int(q, 8, bad ? IRB_IMG_FAILED : IRB_IMG_PENDING);
    sqlite3_bind_text(q, 9, bad ? irb_status_token(row->status) : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 10, bad && row->message ? row->message : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 11, row->size);
    sqlite3_bind_int64(q, 12, row->mtime_ns);
    if (sqlite3_step(q) != SQLITE_DONE)
        return irb_store_fail(st, err, "add image");
    return IRB_OK;
}

/* The file name of a path column: what is left after its last '/'. */
#define BASE(p) "substr(" p ", length(rtrim(" p ", replace(" p ", '/', ''))) + 1)"

/* KNOWN of the images row o. */
#define KNOWN_O "(o.state = 1 AND o.sha_data IS NOT NULL)"

/* Human labels of images that left the survey (marked -1) and whose content is not known (rows of
 * an earlier version: irb_store_follow_content follows the others) follow their pictures when these are
 * still in it under another folder (a camera folder renamed, cards sorted into sub-folders): the
 * one image of the survey with the same file name, size, time and dimensions and no label of its
 * own takes the review and its history. A person's decision is not dropped with a path; one that
 * matches no image or more than one stays in the store under its old path (it comes back if the
 * file does) and is counted in t->reviews_dropped. */
static irb_status follow_reviews(irb_store *st, irb_scan_tally *t, irb_error *err)
{
    IRB_TRY(exec(
        st,
        "CREATE TEMP TABLE moved AS SELECT o.path AS old, n.path AS new FROM images o JOIN reviews r ON"
        " r.path = o.path JOIN images n ON n.seen > 0 AND n.fsize = o.fsize AND n.timestamp = o.timestamp"
        " AND n.width IS o.width AND n.height IS o.height AND " BASE("n.path") " = " BASE(
            "o.path") " WHERE o.seen = -1 AND NOT " KNOWN_O
                      " AND NOT EXISTS (SELECT 1 FROM reviews x WHERE x.path = n.path);"
                      " DELETE FROM temp.moved WHERE old IN (SELECT old FROM temp.moved GROUP BY old HAVING count(*) > 1)"
                      " OR new IN (SELECT new FROM temp.moved GROUP BY new HAVING count(*) > 1);"
                      " UPDATE reviews SET path = (SELECT new FROM temp.moved WHERE old = reviews.path) WHERE path IN"
                      " (SELECT old FROM temp.moved);"
                      " UPDATE review_log SET path = (SELECT new FROM temp.moved WHERE old = review_log.path) WHERE path IN"
                      " (SELECT old FROM temp.moved);",
        err));
    irb_status s = irb_store_count(st, "SELECT count(*) FROM temp.moved", &t->reviews_moved, err);
    sqlite3_stmt *q = NULL;
    if (s == IRB_OK && t->reviews_moved &&
        sqlite3_prepare_v2(st->db, "SELECT old, new FROM temp.moved ORDER BY old LIMIT 1", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        snprintf(t->first_review_moved, sizeof t->first_review_moved, "%s -> %s",
                 (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1));
    sqlite3_finalize(q);
    if (s == IRB_OK)
        s = irb_store_count(st,
                            "SELECT count(*) FROM images o JOIN reviews r ON r.path = o.path WHERE o.seen = -1 AND"
                            " NOT " KNOWN_O,
                            &t->reviews_dropped, err);
    irb_status d = exec(st, "DROP TABLE temp.moved", err);
    return s != IRB_OK ? s : d;
}

irb_status irb_store_skip_file(irb_store *st, const irb_cls_row *row, irb_scan_tally *t, irb_error *err)
{
    t->skipped++;
    t->skipped_videos += row->video != 0;
    IRB_TRY(irb_store_prepare(st, "DELETE FROM images WHERE path = ? AND state = 2", &st->skip, err));
    sqlite3_bind_text(st->skip, 1, row->path, -1, SQLITE_STATIC);
    if (sqlite3_step(st->skip) != SQLITE_DONE)
        return irb_store_fail(st, err, "skip file");
    return IRB_OK;
}

/* The state key of the last scan's skipped files ("N VIDEOS"). */
#define SKIPPED_KEY "scan.skipped"

static irb_status record_skipped(irb_store *st, const irb_scan_tally *t, irb_error *err)
{
    char v[64];
    snprintf(v, sizeof v, "%lld %lld", t->skipped, t->skipped_videos);
    return irb_store_set_state(st, SKIPPED_KEY, v, err);
}

/* irb_store_scan_end but for the skipped files: the images the scan did not list. */
static irb_status drop_unseen(irb_store *st, irb_scan_tally *t, irb_error *err)
{
    long long seen = 0, unseen = 0;
    IRB_TRY(irb_store_count(st, "SELECT count(*) FROM images WHERE seen = 1 AND state != 0", &t->resumed, err));
    IRB_TRY(irb_store_count(st, "SELECT count(*) FROM images WHERE seen > 0", &seen, err));
    IRB_TRY(irb_store_count(st, "SELECT count(*) FROM images WHERE seen = 0", &unseen, err));
    if (unseen && !seen) /* an unmounted drive's empty mount point, not a survey emptied on purpose */
        return irb_fail(err, IRB_NOT_FOUND,
                        "the survey folder lists no files now, but this output folder holds %lld images of it: is "
                        "its drive mounted? (--restart starts over on what the folder holds now)",
                        unseen);
    if (!unseen)
        return IRB_OK;
    /* images no longer in the survey (marked -1) go, except under a folder this scan could not
     * open (their results come back with the folder): those few folders are listed once */
    IRB_TRY(exec(st,
                 "CREATE TEMP TABLE shut AS SELECT path FROM images WHERE seen > 0 AND state = 2 AND"
                 " substr(path, -1) = '/';"
                 " UPDATE images SET seen = -1 WHERE seen = 0 AND NOT EXISTS (SELECT 1 FROM temp.shut f WHERE"
                 " substr(images.path, 1, length(f.path)) = f.path);"
                 " DROP TABLE temp.shut;",
                 err));
    long long left = 0;
    IRB_TRY(irb_store_count(st, "SELECT count(*) FROM images WHERE seen = -1", &left, err));
    if (!left)
        return IRB_OK;
    /* those whose content is known are counted by irb_store_follow_content, unless found again */
    IRB_TRY(irb_store_count(st, "SELECT count(*) FROM images WHERE seen = -1 AND NOT " KNOWN, &t->dropped, err));
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT min(path) FROM images WHERE seen = -1 AND NOT " KNOWN, -1, &q, NULL) !=
        SQLITE_OK)
        return irb_store_fail(st, err, "prepare");
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
        snprintf(t->first_dropped, sizeof t->first_dropped, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    IRB_TRY(follow_reviews(st, t, err));
    if (sqlite3_prepare_v2(st->db, "SELECT id FROM images WHERE seen = -1", -1, &q, NULL) != SQLITE_OK)
        return irb_store_fail(st, err, "prepare");
    while (sqlite3_step(q) == SQLITE_ROW)
        drop_thumb(st, sqlite3_column_int64(q, 0));
    sqlite3_finalize(q);
    return exec(st,
                TO_FORMER "seen = -1 AND " KNOWN ";"
                          " INSERT OR IGNORE INTO gone(path) SELECT path FROM images WHERE seen = -1 AND state = 1;"
                          " DELETE FROM image_seq WHERE image_id IN (SELECT id FROM images WHERE seen = -1);"
                          " DELETE FROM images WHERE seen = -1;",
                err);
}

irb_status irb_store_scan_end(irb_store *st, irb_scan_tally *t, irb_error *err)
{
    IRB_TRY(record_skipped(st, t, err));
    return drop_unseen(st, t, err);
}

/* Up to max rows of the statement sql (id > ?1 in id order, LIMIT ?2) into st's id and path list. */
static irb_status list_rows(irb_store *st, const char *sql, sqlite3_stmt **q, int64_t after, int max, int64_t **ids,
                            char ***paths, int *n, irb_error *err)
{
    *n = 0;
    for (int i = 0; i < st->n; i++)
        irb_free(st->paths[i]);
    st->n = 0;
    if (max > st->cap) {
        int64_t *ni = irb_realloc_array(st->ids, (size_t)max, sizeof *ni);
        if (ni)
            st->ids = ni;
        char **np = irb_realloc_array(st->paths, (size_t)max, sizeof *np);
        if (np)
            st->paths = np;
        if (!ni || !np)
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", st->dbpath);
        st->cap = max;
    }
    IRB_TRY(irb_store_prepare(st, sql, q, err));
    sqlite3_bind_int64(*q, 1, after);
    sqlite3_bind_int(*q, 2, max);
    int rc;
    while ((rc = sqlite3_step(*q)) == SQLITE_ROW) {
        st->ids[st->n] = sqlite3_column_int64(*q, 0);
        if (!(st->paths[st->n] = irb_strdup((const char *)sqlite3_column_text(*q, 1)))) {
            sqlite3_reset(*q);
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", st->dbpath);
        }
        st->n++;
    }
    sqlite3_reset(*q);
    if (rc != SQLITE_DONE)
        return irb_store_fail(st, err, "read images");
    *ids = st->ids;
    *paths = st->paths;
    *n = st->n;
    return IRB_OK;
}

irb_status irb_store_pending(irb_store *st, int64_t after, int max, int64_t **ids, char ***paths, int *n,
                             irb_error *err)
{
    return list_rows(st, "SELECT id, path FROM images WHERE id > ?1 AND state = 0 ORDER BY id LIMIT ?2", &st->pending,
                     after, max, ids, paths, n, err);
}

irb_status irb_store_undigested(irb_store *st, int64_t after, int max, int64_t **ids, char ***paths, int *n,
                                irb_error *err)
{
    return list_rows(st,
                     "SELECT id, path FROM images WHERE id > ?1 AND state = 0 AND sha_data IS NULL AND (fsize IN"
                     " (SELECT fsize FROM former) OR path IN (SELECT path FROM former)) ORDER BY id LIMIT ?2",
                     &st->undigested, after, max, ids, paths, n, err);
}

/* Classified images the scan kept as they were (seen = 1: their files unchanged) whose content
 * is not known: classified by an earlier irbis, before digests were recorded. */
#define UNKNOWN_CONTENT "state = 1 AND sha_data IS NULL AND seen = 1"

irb_status irb_store_unknown(irb_store *st, int64_t after, int max, int64_t **ids, char ***paths, int *n,
                             irb_error *err)
{
    return list_rows(st, "SELECT id, path FROM images WHERE id > ?1 AND " UNKNOWN_CONTENT " ORDER BY id LIMIT ?2",
                     &st->unknown, after, max, ids, paths, n, err);
}

irb_status irb_store_count_unknown(irb_store *st, long long *n, irb_error *err)
{
    return irb_store_count(st, "SELECT count(*) FROM images WHERE " UNKNOWN_CONTENT, n, err);
}

irb_status irb_store_set_digest(irb_store *st, int64_t id, const char *head, const char *data, irb_error *err)
{
    IRB_TRY(irb_store_prepare(st, "UPDATE images SET sha_head = ?, sha_data = ? WHERE id = ?", &st->digest, err));
    sqlite3_bind_text(st->digest, 1, head, -1, SQLITE_STATIC);
    sqlite3_bind_text(st->digest, 2, data, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->digest, 3, id);
    if (sqlite3_step(st->digest) != SQLITE_DONE)
        return irb_store_fail(st, err, "store digest");
    return IRB_OK;
}

/* An image n whose file's content is not known yet: the scan refused it (a copy still running) or
 * it could not be read for its digests. A former image at its path waits for it. */
#define UNREAD "n.sha_data IS NULL"

/* Counts the rows of `from` ("FROM ... WHERE ...") into *total; the first of them, when there are
 * some and *total was 0, into first: the columns cols ("a" or "a, b", shown "a -> b") of the row
 * that comes first in their order. */
static irb_status tally(irb_store *st, const char *cols, const char *from, long long *total, char *first, size_t size,
                        irb_error *err)
{
    char sql[512];
    long long n = 0;
    snprintf(sql, sizeof sql, "SELECT count(*) %s", from);
    IRB_TRY(irb_store_count(st, sql, &n, err));
    sqlite3_stmt *q = NULL;
    snprintf(sql, sizeof sql, "SELECT %s %s ORDER BY 1%s LIMIT 1", cols, from, strchr(cols, ',') ? ", 2" : "");
    if (n && !*total && first && sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0)) {
        const char *a = (const char *)sqlite3_column_text(q, 0);
        const char *b = sqlite3_column_count(q) > 1 ? (const char *)sqlite3_column_text(q, 1) : NULL;
        snprintf(first, size, "%s%s%s", a, b ? " -> " : "", b ? b : "");
    }
    sqlite3_finalize(q);
    *total += n;
    return IRB_OK;
}

/* The results of images of former (classified ones that left their path or whose file's stamp
 * changed) go to the pending images of the same bytes (with same_camera, of the same camera: an
 * engine that reads each image's neighbours gives another result elsewhere): a survey copied
 * with new times (cp -r, a Windows copy, exFAT's 2-second times) or files renamed are not
 * classified again. temp.carry: each such image and the former row it takes, the one at its own
 * path first. */
static irb_status carry_results(irb_store *st, int same_camera, irb_scan_tally *t, irb_error *err)
{
#define SAME "f.sha_data = n.sha_data AND f.sha_head = n.sha_head AND (%d = 0 OR f.camera = n.camera)"
    char sql[1400];
    snprintf(sql, sizeof sql,
             "CREATE TEMP TABLE carry(id INTEGER PRIMARY KEY, path TEXT NOT NULL, old TEXT);"
             " INSERT INTO temp.carry SELECT n.id, n.path, coalesce((SELECT f.path FROM former f WHERE f.path = n.path"
             " AND " SAME "), (SELECT min(f.path) FROM former f WHERE " SAME ")) FROM images n WHERE n.state = 0 AND"
             " n.sha_data IS NOT NULL;"
             " DELETE FROM temp.carry WHERE old IS NULL;"
             " UPDATE images SET (state, status, message, probs, label, novelty) = (SELECT 1, f.status, f.message,"
             " f.probs, f.label, f.novelty FROM temp.carry c JOIN former f ON f.path = c.old WHERE c.id = images.id)"
             " WHERE id IN (SELECT id FROM temp.carry);",
             same_camera != 0, same_camera != 0);
    IRB_TRY(exec(st, sql, err));
    long long same = 0;
    IRB_TRY(irb_store_count(st, "SELECT count(*) FROM temp.carry", &same, err));
    t->resumed += same;
    IRB_TRY(tally(st, "old, path", "FROM temp.carry WHERE path NOT IN (SELECT path FROM former)", &t->found,
                  t->first_found, sizeof t->first_found, err));
    /* what the scan could not tell: paths that hold another file now (their results classified
     * again, or those of a copy of its picture found elsewhere), pictures found nowhere */
    IRB_TRY(tally(st, "f.path",
                  "FROM former f JOIN images n ON n.path = f.path WHERE NOT " UNREAD
                  " AND (n.sha_data != f.sha_data OR n.sha_head != f.sha_head)",
                  &t->changed, t->first_changed, sizeof t->first_changed, err));
    IRB_TRY(tally(st, "f.path",
                  "FROM former f WHERE NOT EXISTS (SELECT 1 FROM images n WHERE n.path = f.path) AND NOT EXISTS"
                  " (SELECT 1 FROM images n WHERE n.sha_data = f.sha_data)",
                  &t->dropped, t->first_dropped, sizeof t->first_dropped, err));
    return exec(st, "DROP TABLE temp.carry", err);
#undef SAME
}

/* Human labels of former's images whose picture (the same data digest: metadata aside) is no
 * longer at their path leave it (temp.leaving) and go to every image of the survey with that
 * picture and no label of its own: a file renamed, copies of one picture (each keeps the label of
 * its own camera's copy when those were labelled apart; copies labelled apart and found elsewhere
 * get none). A label that goes nowhere stays in the store under its path when no file is there
 * (used again if it comes back), and leaves it, kept in the history, when the path holds another
 * picture now: the person never saw that one. A swap of two names is a move of both. */
static irb_status follow_labels(irb_store *st, irb_scan_tally *t, irb_error *err)
{
    long long log_max = 0;
    IRB_TRY(irb_store_count(st, "SELECT coalesce(max(id), 0) FROM review_log", &log_max, err));
    char sql[2600];
    snprintf(
        sql, sizeof sql,
        "CREATE TEMP TABLE leaving AS SELECT r.path AS path, r.label AS label, r.time AS time, r.method AS method,"
        " f.sha_data AS sha, f.camera AS camera FROM reviews r JOIN former f ON f.path = r.path WHERE NOT EXISTS"
        " (SELECT 1 FROM images n WHERE n.path = r.path AND (n.sha_data = f.sha_data OR " UNREAD "));"
        " DELETE FROM reviews WHERE path IN (SELECT path FROM temp.leaving);"
        " CREATE TEMP TABLE target AS SELECT n.path AS new, l.path AS old, l.label AS label, l.camera = n.camera AS"
        " here FROM images n JOIN temp.leaving l ON l.sha = n.sha_data WHERE NOT EXISTS (SELECT 1 FROM reviews x"
        " WHERE x.path = n.path);"
        " DELETE FROM temp.target WHERE new IN (SELECT new FROM temp.target GROUP BY new HAVING count(DISTINCT"
        " label) > 1) AND NOT (here AND new IN (SELECT new FROM temp.target WHERE here GROUP BY new HAVING"
        " count(DISTINCT label) = 1));"
        " CREATE TEMP TABLE follow AS SELECT new, min(old) AS old FROM temp.target GROUP BY new;"
        " INSERT INTO reviews(path, label, time, method) SELECT m.new, l.label, l.time, l.method FROM temp.follow m"
        " JOIN temp.leaving l ON l.path = m.old;"
        " INSERT INTO review_log(path, label, time, method) SELECT m.new, g.label, g.time, g.method FROM"
        " temp.follow m JOIN review_log g ON g.path = m.old ORDER BY m.new, g.id;"
        " DELETE FROM review_log WHERE id <= %lld AND path IN (SELECT old FROM temp.follow);"
        " CREATE TEMP TABLE stay AS SELECT * FROM temp.leaving WHERE path NOT IN (SELECT old FROM temp.follow);"
        " INSERT INTO review_log(path, label, time, method) SELECT path, NULL, strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ',"
        " 'now'), 'file replaced' FROM temp.stay WHERE path IN (SELECT path FROM images);"
        " INSERT INTO reviews(path, label, time, method) SELECT path, label, time, method FROM temp.stay WHERE path"
        " NOT IN (SELECT path FROM images);",
        log_max);
    IRB_TRY(exec(st, sql, err));
    IRB_TRY(tally(st, "old, new", "FROM temp.follow", &t->reviews_moved, t->first_review_moved,
                  sizeof t->first_review_moved, err));
    IRB_TRY(tally(st, "path", "FROM temp.stay WHERE path IN (SELECT path FROM images)", &t->reviews_retired,
                  t->first_review_retired, sizeof t->first_review_retired, err));
    IRB_TRY(tally(st, "path", "FROM temp.stay WHERE path NOT IN (SELECT path FROM images)", &t->reviews_dropped, NULL,
                  0, err));
    return exec(st, "DROP TABLE temp.leaving; DROP TABLE temp.target; DROP TABLE temp.follow; DROP TABLE temp.stay;",
                err);
}

irb_status irb_store_follow_content(irb_store *st, int same_camera, irb_scan_tally *t, irb_error *err)
{
    long long n = 0;
    IRB_TRY(irb_store_count(st, "SELECT count(*) FROM former", &n, err));
    if (!n)
        return IRB_OK;
    IRB_TRY(irb_store_begin(st, err));
    irb_status s = carry_results(st, same_camera, t, err);
    if (s == IRB_OK)
        s = follow_labels(st, t, err);
    if (s == IRB_OK) /* a path whose file could not be read yet is decided when it is */
        s = exec(st,
                 "DELETE FROM former WHERE NOT EXISTS (SELECT 1 FROM images n WHERE n.path = former.path AND " UNREAD
                 ")",
                 err);
    return end_tx(st, s, err);
}

irb_status irb_store_set_result(irb_store *st, int64_t id, const double *probs, int n_classes, int label,
                                const char *warning, irb_error *err)
{
    IRB_TRY(irb_store_prepare(
        st, "UPDATE images SET state = 1, probs = ?, label = ?, status = 'ok', message = ? WHERE id = ?", &st->result,
        err));
    sqlite3_bind_blob(st->result, 1, probs, (int)(sizeof *probs * (size_t)n_classes), SQLITE_STATIC);
    sqlite3_bind_int(st->result, 2, label);
    sqlite3_bind_text(st->result, 3, warning ? warning : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->result, 4, id);
    if (sqlite3_step(st->result) != SQLITE_DONE)
        return irb_store_fail(st, err, "store result");
    return IRB_OK;
}

irb_status irb_store_set_novelty(irb_store *st, int64_t id, double score, irb_error *err)
{
    IRB_TRY(irb_store_prepare(st, "UPDATE images SET novelty = ? WHERE id = ?", &st->novelty, err));
    if (isfinite(score))
        sqlite3_bind_double(st->novelty, 1, score);
    else
        sqlite3_bind_null(st->novelty, 1);
    sqlite3_bind_int64(st->novelty, 2, id);
    if (sqlite3_step(st->novelty) != SQLITE_DONE)
        return irb_store_fail(st, err, "store novelty");
    return IRB_OK;
}

irb_status irb_store_set_failed(irb_store *st, int64_t id, irb_status status, const char *message, irb_error *err)
{
    IRB_TRY(
        irb_store_prepare(st, "UPDATE images SET state = 2, status = ?, message = ? WHERE id = ?", &st->failed, err));
    sqlite3_bind_text(st->failed, 1, irb_status_token(status), -1, SQLITE_STATIC);
    sqlite3_bind_text(st->failed, 2, message ? message : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->failed, 3, id);
    if (sqlite3_step(st->failed) != SQLITE_DONE)
        return irb_store_fail(st, err, "store failure");
    return IRB_OK;
}

irb_status irb_store_count(irb_store *st, const char *sql, long long *out, irb_error *err)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
        return irb_store_fail(st, err, "prepare");
    irb_status s = IRB_OK;
    if (sqlite3_step(q) == SQLITE_ROW)
        *out = sqlite3_column_int64(q, 0);
    else
        s = irb_store_fail(st, err, "count");
    sqlite3_finalize(q);
    return s;
}

/* The counts of the images in one pass over the table (a pass per count read the store 4 times:
 * 0.5 s of each run and export of 300,000 images). */
static irb_status image_counts(irb_store *st, irb_store_counts *c, irb_error *err)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT count(*), total(state = 0), total(state = 1), total(state = 2), total(state = 1 AND"
                           " tsec IS NULL) FROM images",
                           -1, &q, NULL) != SQLITE_OK)
        return irb_store_fail(st, err, "prepare");
    irb_status s = IRB_OK;
    if (sqlite3_step(q) == SQLITE_ROW) {
        long long *out[] = {&c->total, &c->pending, &c->ok, &c->failed, &c->untimed};
        for (int k = 0; k < 5; k++)
            *out[k] = sqlite3_column_int64(q, k);
    } else
        s = irb_store_fail(st, err, "count");
    sqlite3_finalize(q);
    return s;
}

irb_status irb_store_counts_get(irb_store *st, irb_store_counts *c, irb_error *err)
{
    memset(c, 0, sizeof *c);
    IRB_TRY(image_counts(st, c, err));
    char *skipped = NULL; /* NULL: a store of an earlier version, or no scan yet */
    IRB_TRY(irb_store_get_state(st, SKIPPED_KEY, &skipped, err));
    if (skipped && sscanf(skipped, "%lld %lld", &c->skipped, &c->skipped_videos) != 2)
        c->skipped = c->skipped_videos = 0;
    irb_free(skipped);
    return irb_store_count(st, "SELECT count(*) FROM sequences", &c->sequences, err);
}

/* ---- sequences -------------------------------------------------------------------------- */

int irb_cls_label(const double *p, int n, int pos, double threshold, double min_conf)
{
    double top = 0;
    for (int k = 0; k < n; k++)
        top = p[k] > top ? p[k] : top;
    if (min_conf > 0 && top < min_conf)
        return IRB_LABEL_UNCERTAIN;
    if (pos >= 0 && pos < n && p[pos] >= threshold)
        return pos;
    int best = -1;
    for (int k = 0; k < n; k++)
        if (k != pos || pos < 0 || pos >= n)
            if (best < 0 || p[k] > p[best])
                best = k;
    return best < 0 ? 0 : best;
}

int irb_cls_label_novel(const double *p, int n, int pos, double threshold, double min_conf, double novelty,
                        double novelty_threshold)
{
    if (novelty_threshold > 0 && novelty > novelty_threshold)
        return IRB_LABEL_UNCERTAIN;
    return irb_cls_label(p, n, pos, threshold, min_conf);
}

typedef struct seq_acc {
    int64_t id;
    char *camera, *name, *start, *end; /* of the sequence being summed */
    long long n;                       /* members */
    double *sum, *mean;
    double min_conf;   /* of the label rule */
    irb_seq_stream bs; /* the burst rule (survey.h) */
    double nov_thr;    /* a mean novelty above it: uncertain (0: off) */
    double nov_sum;    /* of the members with a novelty score */
    long long nov_n;
} seq_acc;

static irb_status seq_flush(irb_store *st, sqlite3_stmt *ins, seq_acc *a, int nc, int pos, double thr, irb_error *err)
{
    if (a->n == 0)
        return IRB_OK;
    for (int k = 0; k < nc; k++)
        a->mean[k] = a->sum[k] / (double)a->n;
    sqlite3_reset(ins);
    sqlite3_bind_int64(ins, 1, a->id);
    sqlite3_bind_text(ins, 2, a->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 3, a->camera, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 4, a->start, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 5, a->end, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 6, a->n);
    sqlite3_bind_blob(ins, 7, a->mean, (int)(sizeof(double) * (size_t)nc), SQLITE_STATIC);
    double nov = a->nov_n ? a->nov_sum / (double)a->nov_n : NAN;
    sqlite3_bind_int(ins, 8, irb_cls_label_novel(a->mean, nc, pos, thr, a->min_conf, nov, a->nov_thr));
    if (a->nov_n)
        sqlite3_bind_double(ins, 9, nov);
    else
        sqlite3_bind_null(ins, 9);
    if (sqlite3_step(ins) != SQLITE_DONE)
        return irb_store_fail(st, err, "store sequence");
    a->n = 0;
    return IRB_OK;
}

static int set_str(char **dst, const char *src)
{
    char *c = irb_strdup(src ? src : "");
    if (!c)
        return 0;
    irb_free(*dst);
    *dst = c;
    return 1;
}

/* Streams the classified images in burst order (the SELECT's ORDER BY is irb_seq_order) through
 * the library's burst rule: memory is one sequence's sums, whatever the survey's size. */
static irb_status build_sequences(irb_store *st, int nc, int pos, double thr, seq_acc *a, sqlite3_stmt *sel,
                                  sqlite3_stmt *ins, sqlite3_stmt *map, irb_error *err)
{
    int64_t next_id = 1;
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        int64_t img = sqlite3_column_int64(sel, 0);
        const char *cam = (const char *)sqlite3_column_text(sel, 1);
        int timed = sqlite3_column_type(sel, 2) != SQLITE_NULL, starts;
        irb_time t = {sqlite3_column_int64(sel, 2), sqlite3_column_double(sel, 3)};
        const char *ts = (const char *)sqlite3_column_text(sel, 4);
        const double *p = sqlite3_column_blob(sel, 5);
        if (!p || sqlite3_column_bytes(sel, 5) != (int)(sizeof(double) * (size_t)nc))
            return irb_fail(err, IRB_CORRUPT, "%s: image %s: it has no probabilities (or not one per class): %s",
                            st->dbpath, (const char *)sqlite3_column_text(sel, 7), IRB_STORE_DAMAGED);
        IRB_TRY(irb_seq_stream_next(&a->bs, cam, timed, t, &starts, err));
        if (starts) {
            IRB_TRY(seq_flush(st, ins, a, nc, pos, thr, err)); /* the sequence before */
            if (!set_str(&a->camera, cam) || !set_str(&a->name, irb_seq_stream_name(&a->bs)) || !set_str(&a->start, ts))
                return irb_fail(err, IRB_NOMEM, "%s: out of memory", st->dbpath);
            a->id = next_id++;
            memset(a->sum, 0, sizeof(double) * (size_t)nc);
            a->nov_sum = 0, a->nov_n = 0;
        }
        for (int k = 0; k < nc; k++)
            a->sum[k] += p[k];
        if (sqlite3_column_type(sel, 6) != SQLITE_NULL)
            a->nov_sum += sqlite3_column_double(sel, 6), a->nov_n++;
        a->n++;
        if (!set_str(&a->end, ts))
            return irb_fail(err, IRB_NOMEM, "%s: out of memory", st->dbpath);
        sqlite3_reset(map);
        sqlite3_bind_int64(map, 1, img);
        sqlite3_bind_int64(map, 2, a->id);
        if (sqlite3_step(map) != SQLITE_DONE)
            return irb_store_fail(st, err, "store sequence member");
    }
    if (rc != SQLITE_DONE)
        return irb_store_fail(st, err, "read images for sequences");
    return seq_flush(st, ins, a, nc, pos, thr, err);
}

irb_status irb_store_build_sequences(irb_store *st, double gap, int n_classes, int pos, double threshold,
                                     double min_conf, double novelty_threshold, irb_error *err)
{
    seq_acc a = {.min_conf = min_conf, .nov_thr = novelty_threshold};
    sqlite3_stmt *sel = NULL, *ins = NULL, *map = NULL;
    irb_status s = IRB_OK;
    a.sum = irb_calloc((size_t)n_classes, sizeof(double));
    a.mean = irb_calloc((size_t)n_classes, sizeof(double));
    if (!a.sum || !a.mean) {
        s = irb_fail(err, IRB_NOMEM, "%s: out of memory", st->dbpath);
        goto done;
    }
    if ((s = irb_seq_stream_init(&a.bs, gap, err)) != IRB_OK || (s = irb_store_begin(st, err)) != IRB_OK)
        goto done;
    if ((s = exec(st, "DELETE FROM sequences; DELETE FROM image_seq;", err)) != IRB_OK)
        goto done;
    /* burst order (irb_seq_order): untimed images after the timed ones of their camera, by path;
     * SQLite compares text byte-wise (BINARY), as strcmp */
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, camera, tsec, tfrac, timestamp, probs, novelty, path FROM images WHERE state = 1"
                           " ORDER BY camera, tsec IS NULL, tsec, tfrac, path",
                           -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db,
                           "INSERT INTO sequences(id, name, camera, start, end, n, probs, label, novelty)"
                           " VALUES(?,?,?,?,?,?,?,?,?)",
                           -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "INSERT INTO image_seq(image_id, seq_id) VALUES(?,?)", -1, &map, NULL) !=
            SQLITE_OK) {
        s = irb_store_fail(st, err, "prepare");
        goto done;
    }
    if ((s = build_sequences(st, n_classes, pos, threshold, &a, sel, ins, map, err)) != IRB_OK)
        goto done;
    sqlite3_finalize(sel), sel = NULL;
    s = irb_store_commit(st, err);
done:
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    sqlite3_finalize(map);
    if (s != IRB_OK)
        irb_store_rollback(st);
    irb_free(a.camera);
    irb_free(a.name);
    irb_seq_stream_release(&a.bs);
    irb_free(a.start);
    irb_free(a.end);
    irb_free(a.sum);
    irb_free(a.mean);
    return s;
}

/* ---- shooting order (pipelines with motion parts) ----------------------------------------- */

irb_status irb_store_rank_shots(irb_store *st, irb_error *err)
{
    IRB_TRY(irb_store_begin(st, err));
    irb_status s = exec(st,
                        "CREATE TABLE IF NOT EXISTS shots(image_id INTEGER PRIMARY KEY, camera TEXT NOT NULL,"
                        " k INTEGER NOT NULL UNIQUE);"
                        "CREATE INDEX IF NOT EXISTS shots_camera ON shots(camera, k);"
                        "DELETE FROM shots;"
                        "INSERT INTO shots(image_id, camera, k) SELECT id, camera, row_number() OVER"
                        " (ORDER BY camera, tsec IS NULL, tsec, tfrac, path) FROM images;",
                        err);
    return end_tx(st, s, err);
}

irb_status irb_store_redo_neighbours(irb_store *st, long long *n, irb_error *err)
{
    *n = 0;
    IRB_TRY(irb_store_begin(st, err));
    irb_status s =
        exec(st,
             "WITH r AS (SELECT s.image_id AS id, i.state AS state, lag(s.image_id) OVER w AS prev,"
             " lead(s.image_id) OVER w AS next FROM shots s JOIN images i ON i.id = s.image_id WHERE i.width > 0"
             " WINDOW w AS (PARTITION BY s.camera ORDER BY s.k))"
             " UPDATE images SET state = 0, status = '', message = '', probs = NULL, label = NULL WHERE state = 1"
             " AND id IN (SELECT prev FROM r WHERE state = 0 UNION SELECT next FROM r WHERE state = 0);",
             err);
    if (s == IRB_OK)
        *n = sqlite3_changes(st->db);
    return end_tx(st, s, err);
}

/* The readable image (width > 0: not refused by the scan) of `camera` just before (dir < 0) or
 * after shot k, or NULL. */
static irb_status shot_neighbour(irb_store *st, const char *camera, int64_t k, int dir, char **path, irb_error *err)
{
    static const char *const sql[2] = {
        "SELECT i.path FROM shots s JOIN images i ON i.id = s.image_id WHERE s.camera = ? AND s.k < ?"
        " AND i.width > 0 ORDER BY s.k DESC LIMIT 1",
        "SELECT i.path FROM shots s JOIN images i ON i.id = s.image_id WHERE s.camera = ? AND s.k > ?"
        " AND i.width > 0 ORDER BY s.k LIMIT 1"};
    sqlite3_stmt **q = dir < 0 ? &st->shot_prev : &st->shot_next;
    *path = NULL;
    IRB_TRY(irb_store_prepare(st, sql[dir > 0], q, err));
    sqlite3_bind_text(*q, 1, camera, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(*q, 2, k);
    int rc = sqlite3_step(*q);
    if (rc == SQLITE_ROW && !(*path = irb_strdup((const char *)sqlite3_column_text(*q, 0)))) {
        sqlite3_reset(*q);
        return irb_fail(err, IRB_NOMEM, "%s: out of memory", st->dbpath);
    }
    sqlite3_reset(*q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? IRB_OK : irb_store_fail(st, err, "read neighbours");
}

irb_status irb_store_pending_shots(irb_store *st, int64_t after, int max, irb_shot *out, int *n, irb_error *err)
{
    *n = 0;
    IRB_TRY(irb_store_prepare(st,
                              "SELECT i.id, i.path, s.camera, s.k FROM shots s JOIN images i ON i.id = s.image_id"
                              " WHERE s.k > ? AND i.state = 0 ORDER BY s.k LIMIT ?",
                              &st->shot_pending, err));
    sqlite3_bind_int64(st->shot_pending, 1, after);
    sqlite3_bind_int(st->shot_pending, 2, max);
    int rc;
    irb_status s = IRB_OK;
    while (s == IRB_OK && (rc = sqlite3_step(st->shot_pending)) == SQLITE_ROW) {
        irb_shot *o = &out[*n];
        memset(o, 0, sizeof *o);
        o->id = sqlite3_column_int64(st->shot_pending, 0);
        o->k = sqlite3_column_int64(st->shot_pending, 3);
        if (!(o->path = irb_strdup((const char *)sqlite3_column_text(st->shot_pending, 1))) ||
            !(o->camera = irb_strdup((const char *)sqlite3_column_text(st->shot_pending, 2))))
            s = irb_fail(err, IRB_NOMEM, "%s: out of memory", st->dbpath);
        (*n)++;
    }
    sqlite3_reset(st->shot_pending);
    if (s == IRB_OK && rc != SQLITE_DONE)
        s = irb_store_fail(st, err, "read pending images");
    for (int i = 0; s == IRB_OK && i < *n; i++)
        if ((s = shot_neighbour(st, out[i].camera, out[i].k, -1, &out[i].prev, err)) == IRB_OK)
            s = shot_neighbour(st, out[i].camera, out[i].k, 1, &out[i].next, err);
    return s;
}

void irb_shot_release(irb_shot *s)
{
    irb_free(s->path);
    irb_free(s->camera);
    irb_free(s->prev);
    irb_free(s->next);
    memset(s, 0, sizeof *s);
}
