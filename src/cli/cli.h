/* cli.h — shared pieces of the command-line layer (src/cli/). */
#ifndef RS_CLI_H
#define RS_CLI_H

#include "regsweep/common.h"
#include "regsweep/kernels.h"

/* Prints "regsweep: <error>" and returns the exit code for it. */
int rs_cli_fail(const rs_error_t *err);

/* Prints a usage error (fmt has one %s) and returns 2. */
int rs_cli_usage_error(const char *fmt, const char *arg);

int rs_cli_parse_threads(const char *s, int *out);
int rs_cli_default_threads(void);

/* The SIMD cap from --simd (opt) or $RS_SIMD; -1 after printing an error. */
int rs_cli_simd_cap(const char *opt, rs_simd *cap);

/* regsweep report ... */
int rs_cli_report(int argc, char **argv);

#endif
