/* SPDX-License-Identifier: MIT */
/* common.c — the error record. */
#include "regsweep/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rs_error_clear(rs_error_t *err)
{
    if (!err)
        return;
    err->code = RS_OK;
    err->line = err->column = 0;
    err->path[0] = '\0';
    err->msg[0] = '\0';
}

rs_status rs_error_set(rs_error_t *err, rs_status code, const char *path,
                       int line, int column, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    err->line = line;
    err->column = column;
    snprintf(err->path, sizeof err->path, "%s", path ? path : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void rs_error_format(const rs_error_t *err, char *buf, size_t n_bytes)
{
    if (!n_bytes)
        return;
    buf[0] = '\0';
    if (!err)
        return;
    if (err->path[0] && err->line > 0 && err->column > 0)
        snprintf(buf, n_bytes, "%s:%d:%d: %s", err->path, err->line,
                 err->column, err->msg);
    else if (err->path[0] && err->line > 0)
        snprintf(buf, n_bytes, "%s:%d: %s", err->path, err->line, err->msg);
    else if (err->path[0])
        snprintf(buf, n_bytes, "%s: %s", err->path, err->msg);
    else
        snprintf(buf, n_bytes, "%s", err->msg);
}

void rs_path_dir(const char *path, char *dir, size_t n_bytes)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, n_bytes, ".");
    else if (slash == path)
        snprintf(dir, n_bytes, "/");
    else
        snprintf(dir, n_bytes, "%.*s", (int)(slash - path), path);
}

const char *rs_status_name(rs_status code)
{
    switch (code) {
    case RS_OK: return "ok";
    case RS_EINPUT: return "bad input";
    case RS_EIO: return "I/O error";
    case RS_ENOMEM: return "out of memory";
    case RS_EMISMATCH: return "mismatch";
    case RS_EINTERNAL: return "internal error";
    case RS_EINTR: return "interrupted";
    }
    return "unknown status";
}

rs_status rs_path_check(const char *path, rs_error_t *err)
{
    size_t n = strlen(path);
    if (n > RS_PATH_MAX)
        return rs_error_set(err, RS_EINPUT, NULL, 0, 0,
                            "path of %zu bytes is too long (at most %d): "
                            "%.80s...", n, RS_PATH_MAX, path);
    return RS_OK;
}
