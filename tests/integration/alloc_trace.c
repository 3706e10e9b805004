/* SPDX-License-Identifier: MIT */
/* alloc_trace.c — an LD_PRELOAD library for the long-sweep leak test.
 *
 * It counts the bytes the process holds from malloc (each block counted by
 * malloc_usable_size when it is handed out and when it is freed) and, each
 * time the process renames a file, writes one line to the file named by
 * RS_ALLOC_TRACE:
 *
 *     <live bytes> <live blocks> <destination path>
 *
 * A sweep renames each job file into place once, at the same point of every
 * job, so the lines whose destination is a job file sample the heap at
 * comparable moments: a per-job leak shows as growth from line to line,
 * in bytes, whatever the machine's page sizes, allocator caches or RSS
 * accounting do.  (RSS, the previous measure, moved by 188 bytes per job on
 * a healthy Intel machine with no leak at all.)
 *
 * RS_ALLOC_LEAK=N makes the library itself leak N bytes at every rename
 * (written to, so the pages are real): the test uses it to prove that the
 * measurement sees a leak of that size.
 *
 * Not for sanitizer builds (ASan has its own allocator).  glibc only: it
 * forwards to __libc_malloc and friends, which glibc exports for exactly
 * this use, so no dlsym is needed before the first allocation.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static long long live_bytes, live_blocks;

static void *counted(void *p)
{
    if (p) {
        __atomic_add_fetch(&live_bytes, (long long)malloc_usable_size(p), __ATOMIC_RELAXED);
        __atomic_add_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
    }
    return p;
}

static void uncount(void *p)
{
    if (p) {
        __atomic_sub_fetch(&live_bytes, (long long)malloc_usable_size(p), __ATOMIC_RELAXED);
        __atomic_sub_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
    }
}

void *malloc(size_t n) { return counted(__libc_malloc(n)); }
void *calloc(size_t m, size_t n) { return counted(__libc_calloc(m, n)); }
void free(void *p) { uncount(p); __libc_free(p); }

void *realloc(void *p, size_t n)
{
    long long old = p ? (long long)malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);
    if (!q && n)            /* failed: p is untouched */
        return NULL;
    long long now = q ? (long long)malloc_usable_size(q) : 0;
    __atomic_add_fetch(&live_bytes, now - old, __ATOMIC_RELAXED);
    __atomic_add_fetch(&live_blocks, (q != NULL) - (p != NULL), __ATOMIC_RELAXED);
    return q;
}

void *memalign(size_t align, size_t n) { return counted(__libc_memalign(align, n)); }
void *aligned_alloc(size_t align, size_t n) { return counted(__libc_memalign(align, n)); }

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = __libc_memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = counted(p);
    return 0;
}

void *valloc(size_t n) { return counted(__libc_memalign((size_t)sysconf(_SC_PAGESIZE), n)); }

void *pvalloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return counted(__libc_memalign(page, (n + page - 1) / page * page));
}

static int (*real_rename)(const char *, const char *);
static int trace_fd = -1;
static size_t leak_bytes;

__attribute__((constructor)) static void trace_init(void)
{
    void *sym = dlsym(RTLD_NEXT, "rename");
    memcpy(&real_rename, &sym, sizeof sym);   /* POSIX: object to function pointer */
    const char *path = getenv("RS_ALLOC_TRACE");
    const char *n = getenv("RS_ALLOC_LEAK");
    if (path)
        trace_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    leak_bytes = n ? (size_t)strtoull(n, NULL, 10) : 0;
}

/* regsweep renames under its one HDF5 lock, so lines do not interleave;
 * O_APPEND keeps each line whole regardless. */
int rename(const char *from, const char *to)
{
    int rc = real_rename(from, to);
    if (leak_bytes) {
        char *p = malloc(leak_bytes);    /* never freed: the injected leak */
        if (p)
            memset(p, 0x5a, leak_bytes);
    }
    if (trace_fd >= 0) {
        char line[4200];
        int len = snprintf(line, sizeof line, "%lld %lld %s\n",
                           __atomic_load_n(&live_bytes, __ATOMIC_RELAXED),
                           __atomic_load_n(&live_blocks, __ATOMIC_RELAXED), to);
        if (len > 0 && (size_t)len < sizeof line && write(trace_fd, line, (size_t)len) < 0)
            trace_fd = -1;
    }
    return rc;
}
