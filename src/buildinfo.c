/* SPDX-License-Identifier: MIT */
/* buildinfo.c — version, revision, compiler, libraries, SIMD paths, CPU. */
#include "regsweep/buildinfo.h"

#include <stdio.h>
#include <string.h>

#ifdef RS_HAVE_HDF5
#include <hdf5.h>
#endif
#ifdef RS_HAVE_YAML
#include <yaml.h>
#endif
#ifndef RS_NO_ZLIB
#include <zlib.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "rs_gitrev.h"

#define RS_STR2(x) #x
#define RS_STR(x) RS_STR2(x)

void rs_build_info(rs_build_info_t *out)
{
    memset(out, 0, sizeof *out);
    out->version = RS_VERSION;
    out->git_revision = RS_GIT_REVISION;
#if defined(__clang__)
    out->compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
    out->compiler = "gcc " __VERSION__;
#else
    out->compiler = "unknown compiler";
#endif
#ifdef NDEBUG
    out->build_type = "release";
#else
    out->build_type = "debug";
#endif
#ifdef _OPENMP
    out->openmp = "OpenMP " RS_STR(_OPENMP);
#else
    out->openmp = "no OpenMP";
#endif
#ifdef RS_HAVE_X86_SIMD
    out->simd_compiled = "scalar avx2 avx512";
#else
    out->simd_compiled = "scalar";
#endif
#ifdef RS_HAVE_HDF5
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(out->hdf5, sizeof out->hdf5, "%u.%u.%u", maj, min, rel);
#endif
#ifdef RS_HAVE_YAML
    snprintf(out->libyaml, sizeof out->libyaml, "%s", yaml_get_version_string());
#endif
#ifndef RS_NO_ZLIB
    snprintf(out->zlib, sizeof out->zlib, "%s", zlibVersion());
#endif
}

/* Leading and trailing blanks off, in place. */
static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    size_t k = strspn(s, " \t");
    memmove(s, s + k, n - k + 1);
}

void rs_cpu_model(char *buf, size_t n_bytes)
{
    if (!n_bytes)
        return;
    snprintf(buf, n_bytes, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        /* x86: "model name"; many ARM kernels: "Model" or none */
        if (colon && (!strncmp(line, "model name", 10) || !strncmp(line, "Model\t", 6))) {
            trim(colon + 1);
            snprintf(buf, n_bytes, "%s", colon + 1);
            fclose(f);
            return;
        }
    }
    if (f)
        fclose(f);
#if defined(__x86_64__) || defined(__i386__)
    unsigned r[12];
    if (__get_cpuid(0x80000000u, &r[0], &r[1], &r[2], &r[3]) && r[0] >= 0x80000004u) {
        char brand[49];
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2],
                        &r[4 * i + 3]);
        memcpy(brand, r, 48);
        brand[48] = 0;
        trim(brand);
        snprintf(buf, n_bytes, "%s", brand);
    }
#endif
}
