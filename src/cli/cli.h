/* SPDX-License-Identifier: MIT */
/* cli.h — shared pieces of the command-line layer (src/cli/). */
#ifndef RS_CLI_H
#define RS_CLI_H

#include <stddef.h>
#include <stdint.h>

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

/* "--help" or "-h". */
int rs_cli_is_help(const char *arg);

/* Matches argv[*i] against an option with a value: "--long VALUE",
 * "--long=VALUE" or "SHORT VALUE" (short_name may be NULL).  1: matched,
 * *value set and *i moved past a separate value; 0: another argument;
 * -1: the value is missing (message printed). */
int rs_cli_value(int argc, char **argv, int *i, const char *long_name,
                 const char *short_name, const char **value);

/* Matches a flag "--long" (sets *flag = 1): 1; 0: another argument;
 * -1: "--long=..." given (message printed). */
int rs_cli_flag(const char *arg, const char *long_name, int *flag);

/* `regsweep report --help` */
extern const char *const rs_cli_usage_report;

/* regsweep report ... */
int rs_cli_report(int argc, char **argv);

/* "I/N" with 1 <= I <= N <= 65535: 0; -1 otherwise. */
int rs_cli_parse_shard(const char *s, uint32_t *index, uint32_t *count);

/* The shard a Slurm job array's task takes, from SLURM_ARRAY_TASK_ID,
 * _MIN, _MAX or _COUNT, and _STEP.  0: no array; 1: set (how says from
 * what); -1: an array that gives no shard (message printed). */
int rs_cli_shard_from_slurm(uint32_t *index, uint32_t *count, char *how,
                            size_t n_how);

/* regsweep merge ... (command: the command line, for the history) */
extern const char *const rs_cli_usage_merge;
int rs_cli_merge(int argc, char **argv, const char *command);

#endif
