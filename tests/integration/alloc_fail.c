/* SPDX-License-Identifier: MIT */
/* alloc_fail.c — an LD_PRELOAD library that makes one allocation fail, for
 * tests/integration/test_alloc_fail.py.
 *
 *   RS_ALLOC_FAIL_AT=N   the N-th allocation (1-based) returns NULL (with
 *                        errno ENOMEM); 0 or unset: none fails
 *   RS_ALLOC_FAIL_LOG=F  F is created at main; when the failure is
 *                        injected, the line "failed" and the call stack of
 *                        the failing call (backtrace_symbols_fd, which does
 *                        not allocate) are written to it at once, so a crash
 *                        that follows still leaves them; at a normal exit
 *                        the line "calls <allocations counted>" is appended;
 *                        "signal <n>" and the stack, when the process dies
 *                        of SIGSEGV, SIGBUS, SIGABRT, SIGFPE or SIGILL (the
 *                        handler runs on its own stack, so a stack overflow
 *                        is caught too, then the signal is re-raised); and
 *                        "exit <status>" and the stack when a library calls
 *                        exit() (libhdf5 1.10.8 does, with -1, on some
 *                        allocation failures)
 *
 * Counted: malloc, calloc, realloc with a size > 0 (realloc(p, 0) frees),
 * aligned_alloc, memalign, posix_memalign, valloc, pvalloc — every call made
 * after the program's main() starts, from any thread (one atomic counter),
 * including calls made inside libc, libhdf5, libyaml and zlib.  Calls made
 * before main (the dynamic loader, library constructors) are not counted:
 * the library wraps __libc_start_main and switches counting on in the
 * wrapper it hands glibc as main.  Calls the library makes itself (the
 * backtrace) are not counted either.
 *
 * The same N gives the same failing call from run to run as long as the
 * program allocates in the same order: the test runs regsweep with one
 * thread.  Not for sanitizer builds (ASan has its own allocator).  glibc
 * only: it forwards to __libc_malloc and friends, as alloc_trace.c does.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static int counting;                /* set when main starts               */
static unsigned long long fail_at;  /* RS_ALLOC_FAIL_AT                   */
static unsigned long long n_calls;  /* allocations counted so far         */
static int failed;                  /* the failure was injected           */
static int log_fd = -1;             /* RS_ALLOC_FAIL_LOG                  */
static __thread int inside;         /* our own backtrace() allocating     */

/* 1 when this allocation is the one to fail. */
static int should_fail(void)
{
    if (!__atomic_load_n(&counting, __ATOMIC_RELAXED) || inside)
        return 0;
    unsigned long long k = __atomic_add_fetch(&n_calls, 1, __ATOMIC_RELAXED);
    if (k != fail_at)
        return 0;
    __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
    if (log_fd >= 0) {
        void *stack[64];
        inside = 1;
        int depth = backtrace(stack, 64);
        inside = 0;
        if (write(log_fd, "failed\n", 7) == 7)
            backtrace_symbols_fd(stack, depth, log_fd);
    }
    errno = ENOMEM;
    return 1;
}

void *malloc(size_t n) { return should_fail() ? NULL : __libc_malloc(n); }
void *calloc(size_t m, size_t n) { return should_fail() ? NULL : __libc_calloc(m, n); }

void *realloc(void *p, size_t n)
{
    if (n > 0 && should_fail())
        return NULL;      /* p is untouched, as after a real failure */
    return __libc_realloc(p, n);
}

void *memalign(size_t align, size_t n)
{
    return should_fail() ? NULL : __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t n) { return memalign((size_t)sysconf(_SC_PAGESIZE), n); }

void *pvalloc(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return memalign(page, (n + page - 1) / page * page);
}

static void write_log(void)
{
    if (log_fd < 0)
        return;
    char line[64];
    int len = snprintf(line, sizeof line, "calls %llu\n",
                       __atomic_load_n(&n_calls, __ATOMIC_RELAXED));
    if (len > 0 && write(log_fd, line, (size_t)len) < 0)
        len = -1;
    close(log_fd);
    log_fd = -1;
}

/* ---- how the process died ----------------------------------------------- */

static void log_stack(const char *what, int n)
{
    if (log_fd < 0)
        return;
    char line[48];
    int len = snprintf(line, sizeof line, "%s %d\n", what, n);
    void *stack[64];
    inside = 1;
    int depth = backtrace(stack, 64);
    inside = 0;
    if (len > 0 && write(log_fd, line, (size_t)len) == len)
        backtrace_symbols_fd(stack, depth, log_fd);
}

static void on_fatal_signal(int sig)
{
    log_stack("signal", sig);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_fatal_signals(void)
{
    static char alt[1 << 16];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

/* exit() called by the program or a library (returning from main does not
 * come through here: glibc calls its own exit directly). */
void exit(int status)
{
    log_stack("exit", status);
    inside = 1;
    void *sym = dlsym(RTLD_NEXT, "exit");
    inside = 0;
    void (*real_exit)(int);
    memcpy(&real_exit, &sym, sizeof sym);
    real_exit(status);
    _exit(status);   /* not reached */
}

/* ---- counting starts with main ------------------------------------------ */

typedef int (*main_fn)(int, char **, char **);
static main_fn real_main;

static int counted_main(int argc, char **argv, char **envp)
{
    const char *at = getenv("RS_ALLOC_FAIL_AT");
    fail_at = at ? strtoull(at, NULL, 10) : 0;
    const char *log = getenv("RS_ALLOC_FAIL_LOG");
    if (log)
        log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    /* load libgcc's unwinder now, so the backtrace at the failing call does
     * not have to (and is not counted) */
    void *probe[2];
    inside = 1;
    backtrace(probe, 2);
    inside = 0;
    atexit(write_log);
    if (log_fd >= 0)
        catch_fatal_signals();
    __atomic_store_n(&counting, 1, __ATOMIC_RELAXED);
    return real_main(argc, argv, envp);
}

typedef int (*start_fn)(main_fn, int, char **, void (*)(void), void (*)(void),
                        void (*)(void), void *);

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
                      void (*fini)(void), void (*rtld_fini)(void), void *stack_end);
int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
                      void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    void *sym = dlsym(RTLD_NEXT, "__libc_start_main");
    start_fn real_start;
    memcpy(&real_start, &sym, sizeof sym);   /* POSIX: object to function pointer */
    real_main = main;
    return real_start(counted_main, argc, argv, init, fini, rtld_fini, stack_end);
}
