/* irbis/review.h: checking and correcting the results of `irbis classify` (the library side of
 * `irbis review OUT/`). Included by irbis.h. Design, HTTP API and the retrain loop: docs/review.md.
 *
 * Overview
 *   - A review handle opens the output folder of a finished classify run: its results store
 *     (OUT/irbis.sqlite) under the folder's lock, so no classify or export runs meanwhile.
 *     A folder this process may not write (a read-only share, a DVD, another user's folder) is
 *     opened read-only, for browsing and irb_review_write_labels: nothing in it is changed, and
 *     storing labels or rewriting the outputs is refused (irb_review_readonly).
 *   - A person's label ("human" label) is given to a sequence (burst) and recorded, with the
 *     time and the method "human", for every image of it, in the store's `reviews` table, in one
 *     committed transaction: it is on disk when irb_review_set returns. A label of "" removes
 *     it (the machine label applies again). Every change is also appended to `review_log`.
 *   - Human labels are keyed by the image's path relative to the survey, so they survive a
 *     `classify --restart` with another classifier or pipeline: every later run and export labels
 *     those images (and the sequences holding them) with the human label, and the outputs mark
 *     them: Camtrap DP classificationMethod "human", predictions.csv column `method`.
 *   - Queues list sequences for the page: most uncertain first (lowest top probability), by
 *     the probability of one class, by camera, by label.
 *   - irb_review_image opens a survey file named by a request, refusing anything that is not an
 *     image the run classified: "..", absolute paths, files that no longer look like images.
 *
 * Example (label the most uncertain sequence of out/ "animal" and rewrite the outputs):
 *
 *   irb_review_t *rv = NULL;
 *   irb_error err = {0};
 *   char *json = NULL;
 *   if (irb_review_open("out", &rv, &err) != IRB_OK ||
 *       irb_review_list_json(rv, &(irb_review_query){.queue = "uncertain", .limit = 1}, &json, &err) != IRB_OK) {
 *       fprintf(stderr, "%s\n", err.message);
 *       irb_review_close(rv);
 *       return 1;
 *   }
 *   char seq[256] = "";   // the first sequence's name: {..., "sequences": [{"name": "cam1#1", ...
 *   const char *at = strstr(json, "\"name\": \"");
 *   if (at)
 *       sscanf(at + 9, "%255[^\"]", seq);
 *   irb_free_string(json);
 *   const char *seqs[1] = {seq}, *labels[1] = {"animal"};
 *   irb_status s = irb_review_set(rv, seqs, labels, 1, &err);  // on disk when it returns
 *   if (s == IRB_OK)
 *       s = irb_review_export(rv, &err);  // predictions.csv, Camtrap DP, ... with the human label
 *   irb_review_close(rv);
 *   if (s != IRB_OK) {
 *       fprintf(stderr, "%s\n", err.message);
 *       return 1;
 *   }
 *   printf("%s: animal (human)\n", seq);
 *
 * Threads: a handle is used by one thread at a time (a server serialises its requests).
 */
#ifndef IRBIS_REVIEW_H
#define IRBIS_REVIEW_H

#include <stddef.h>

#include "irbis/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct irb_review_t irb_review_t;

/* Opens out_dir (borrowed) for review. IRB_NOT_FOUND when it holds no finished classify run,
 * IRB_BUSY when a run or another review holds its lock. A folder that may not be written is
 * opened read-only (irb_review_readonly); there IRB_IO when its irbis.sqlite-wal holds changes
 * not merged into the store (they could not be read: open it once where it is writable), and
 * IRB_UNSUPPORTED when the store, of an earlier version, lacks a table or column. */
IRB_API irb_status irb_review_open(const char *out_dir, irb_review_t **out, irb_error *err);
/* Closes the store and releases the lock. rv may be NULL. */
IRB_API void irb_review_close(irb_review_t *rv);

/* The run's classes (owned by rv) and their count. Every call below given a NULL rv (or a NULL
 * json or fd) is IRB_INVALID_ARG; the getters give 0 / NULL. names may be NULL. */
IRB_API int irb_review_classes(const irb_review_t *rv, const char *const **names);
/* The survey folder the run classified (absolute; owned by rv). */
IRB_API const char *irb_review_survey(const irb_review_t *rv);
/* 1 when rv was opened read-only (its folder may not be written): irb_review_set and
 * irb_review_export then fail with IRB_IO, "OUT is read-only: ...". 0 otherwise, and for NULL. */
IRB_API int irb_review_readonly(const irb_review_t *rv);

/* Which sequences a page lists. Strings are borrowed for the call. */
typedef struct irb_review_query {
    const char *queue;  /* "uncertain" (default: lowest top probability first), "class" (by the
                         * probability of cls, highest first), "camera" (camera, then time),
                         * "label" (the current label, then most uncertain first) */
    const char *cls;    /* queue "class": the class (default: the run's positive class, else the
                         * first class that is not blank) */
    const char *camera; /* only this camera, or NULL/"" */
    const char *label;  /* only sequences whose current label (human, else machine) is this, or
                         * NULL/""; "uncertain" is the machine's uncertain label */
    int reviewed;       /* 0: all, 1: only reviewed, -1: only not reviewed */
    int offset, limit;  /* page; limit 0 = 24, at most 500 */
} irb_review_query;     /* a NULL query: all zero (the first page of the uncertain queue) */

/* A page of sequences as a JSON object (UTF-8; *json malloc'd, free with irb_free_string):
 *   {"total": N, "offset": k, "sequences": [{"name", "camera", "start", "end", "n",
 *     "probs": [..], "top": p, "machine": label, "human": label or null, "time": review time or
 *     null, "images": [relative paths in shooting order]}, ...]}
 * Errors: IRB_INVALID_ARG (unknown queue or class), IRB_NOMEM, IRB_IO. */
IRB_API irb_status irb_review_list_json(irb_review_t *rv, const irb_review_query *q, char **json, irb_error *err);

/* The run as JSON for the page: {"survey", "out", "classes": [...], "blank": class or null,
 * "positive": class or null, "cameras": [...], "sequences": N, "reviewed": N, "readonly": bool}. */
IRB_API irb_status irb_review_info_json(irb_review_t *rv, char **json, irb_error *err);

/* Gives n sequences (their names, e.g. "cam1#4") human labels, in one transaction: labels[i]
 * must be one of the run's classes, or "" to remove the human label. All or nothing:
 * IRB_INVALID_ARG (unknown sequence or label; nothing stored), IRB_IO/IRB_BUSY from the store;
 * IRB_IO "OUT is read-only: labels cannot be saved" on a read-only handle. */
IRB_API irb_status irb_review_set(irb_review_t *rv, const char *const *seqs, const char *const *labels, int n,
                                  irb_error *err);

/* Opens the survey image `rel` (as listed by irb_review_list_json) read-only; *fd (the caller
 * closes it) or -1. IRB_NOT_FOUND for anything else: a path that is not an image the run
 * classified, that holds "..", "." or empty components or starts with '/', or whose file is no
 * longer a regular file starting as a JPEG or PNG does (a link swapped since). Symbolic links
 * among a survey's files are followed as classify followed them. */
IRB_API irb_status irb_review_image(irb_review_t *rv, const char *rel, int *fd, irb_error *err);

/* Opens a small JPEG thumbnail (160 pixels wide) of the survey image rel, made on first use as
 * OUT/thumbs/<image id>.jpg (the report's thumbnails); *fd as irb_review_image. IRB_NOT_FOUND as
 * irb_review_image; IRB_CORRUPT when the image cannot be decoded. On a read-only handle a
 * thumbnail that is not there cannot be made: the image itself is opened, as irb_review_image. */
IRB_API irb_status irb_review_thumb(irb_review_t *rv, const char *rel, int *fd, irb_error *err);

/* Rewrites the run's outputs with the human labels (predictions.csv, camtrap-dp/, megadetector.json,
 * coco-camera-traps.json, report.html, and sorted/ when the run made it), as irb_export does.
 * A Camtrap DP warning is left in err with IRB_OK. IRB_IO on a read-only handle (nothing written). */
IRB_API irb_status irb_review_export(irb_review_t *rv, irb_error *err);

/* Writes every human label as CSV "path,label,time,method" (paths relative to the survey) to
 * csv_path (borrowed), atomically; *n (may be NULL) receives the number of rows. */
IRB_API irb_status irb_review_write_labels(irb_review_t *rv, const char *csv_path, long long *n, irb_error *err);

/* Frees a string returned by the functions above. s may be NULL. */
IRB_API void irb_free_string(char *s);

#ifdef __cplusplus
}
#endif
#endif
