/* SPDX-License-Identifier: MIT */
/* buildinfo.h — what this copy of regsweep is: version, git revision,
 * compiler, the libraries it was built with and the SIMD paths compiled in.
 * `regsweep --version` prints it and /provenance records it.
 *
 * The version comes from meson.build (generated into regsweep/version.h);
 * the git revision is read at build time ("" outside a git checkout, with
 * "-dirty" appended when the checkout had uncommitted changes).  None of
 * this enters a results file outside /provenance: results depend on the
 * version only (docs/FORMAT.md).
 */
#ifndef RS_BUILDINFO_H
#define RS_BUILDINFO_H

#include <stddef.h>

#include "regsweep/version.h"

typedef struct rs_build_info {
    const char *version;        /* "0.1.0" (RS_VERSION)                    */
    const char *git_revision;   /* "a1b2c3d4e5f6" or "" (not a checkout)  */
    const char *compiler;       /* "gcc 12.2.0", "clang 14.0.6"            */
    const char *build_type;     /* "release" (NDEBUG) or "debug"           */
    const char *openmp;         /* "OpenMP 201511" or "no OpenMP"          */
    const char *simd_compiled;  /* "scalar avx2 avx512" or "scalar"        */
    char hdf5[32];              /* "1.10.8", "" when built without         */
    char libyaml[32];           /* "0.2.5",  "" when built without         */
    char zlib[32];              /* "1.2.13", "" without (no gzip IDX)      */
} rs_build_info_t;

/* Fills *out (caller-owned; the strings are static or inside *out). */
void rs_build_info(rs_build_info_t *out);

/* The CPU's model name ("Intel(R) Xeon(R) ..." from /proc/cpuinfo, or the
 * x86 cpuid brand string) into buf; "unknown" when neither is available. */
void rs_cpu_model(char *buf, size_t n_bytes);

#endif
