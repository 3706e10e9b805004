/* SPDX-License-Identifier: MIT */
/* common.h — status codes and the error record shared by every module.
 *
 * Every library function that can fail returns an rs_status (RS_OK == 0) and,
 * when given a non-NULL rs_error_t *, fills it with where and why.  The error
 * record is owned by the caller; library code never prints and never exits.
 * Only the command-line layer (src/cli/) turns an error into a message and an
 * exit code: RS_EINPUT -> exit 2 (bad spec, data file, results file or
 * command line); everything else -> exit 1.
 */
#ifndef RS_COMMON_H
#define RS_COMMON_H

#include <stddef.h>
#include <stdint.h>


typedef enum rs_status {
    RS_OK = 0,
    RS_EINPUT = 1,    /* bad user input: spec, data file, results file, argv */
    RS_EIO = 2,       /* the system refused: open/write/fsync/rename failed  */
    RS_ENOMEM = 3,    /* an allocation failed                                */
    RS_EMISMATCH = 4, /* a comparison found a difference (rerun, resume)     */
    RS_EINTERNAL = 5, /* a broken invariant: a bug in regsweep               */
    RS_EINTR = 6      /* stopped by a signal before finishing                */
} rs_status;

/* Where and why something failed.  path/line/column are filled when the
 * failure has a location (line and column are 1-based; 0 = not known). */
typedef struct rs_error {
    rs_status code;
    int line;
    int column;
    char path[512];
    char msg[1024];
} rs_error_t;

/* Paths: an output path may be up to RS_PATH_MAX bytes; every path
 * regsweep derives from it (OUT.jobs/<id>.h5, temporary names) adds at most
 * RS_PATH_EXTRA, and every buffer for a path is RS_PATH_BUF bytes.  Entry
 * points check the path once (rs_path_check), so nothing is ever cut. */
#define RS_PATH_MAX 4096
#define RS_PATH_EXTRA 96
#define RS_PATH_BUF (RS_PATH_MAX + RS_PATH_EXTRA)
/* a buffer for a path built from a RS_PATH_BUF one plus a file name */
#define RS_PATH_JOIN (RS_PATH_BUF + 320)

/* RS_EINPUT naming the path when it is longer than RS_PATH_MAX bytes. */
rs_status rs_path_check(const char *path, rs_error_t *err);

/* Clears err (code RS_OK, empty strings).  NULL is accepted. */
void rs_error_clear(rs_error_t *err);

/* Fills err (NULL accepted) and returns code, so a caller can write
 *   return rs_error_set(err, RS_EINPUT, path, line, col, "expected %s", what);
 * path may be NULL.  The message is printf-formatted and truncated to fit. */
rs_status rs_error_set(rs_error_t *err, rs_status code, const char *path,
                       int line, int column, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* "path:line:column: msg" (parts that are unknown are left out) into buf. */
void rs_error_format(const rs_error_t *err, char *buf, size_t n_bytes);

/* The directory part of a file path into dir: "." when there is none,
 * "/" for a file in the root. */
void rs_path_dir(const char *path, char *dir, size_t n_bytes);

/* Human name of a status ("bad input", "I/O error", ...). */
const char *rs_status_name(rs_status code);

#endif
