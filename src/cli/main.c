/* SPDX-License-Identifier: MIT */
/* main.c — the regsweep command line.  The only code that prints or exits.
 *
 * Exit codes: 0 ok; 1 a run or comparison failed (jobs failed, rerun found a
 * difference, writing failed); 2 bad input (spec, data file, results file,
 * command line); 130 / 143 stopped by SIGINT / SIGTERM (resumable).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli.h"
#include "regsweep/buildinfo.h"
#include "regsweep/kernels.h"
#include "regsweep/mpi.h"
#include "regsweep/spec.h"
#include "regsweep/store.h"
#include "regsweep/sweep.h"

static volatile sig_atomic_t g_stop = 0, g_abort = 0, g_signal = 0;
/* under mpirun the first signal abandons running jobs too: mpirun sends
 * SIGTERM and, one second later (Open MPI's odls_base_sigkill_timeout),
 * SIGKILL, so only a prompt stop gets the finished jobs packed */
static volatile sig_atomic_t g_first_aborts = 0;

static void on_signal(int sig)
{
    g_signal = sig;
    if (g_stop || g_first_aborts)
        g_abort = 1;
    g_stop = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* err as one line; an allocation failure always says "out of memory", in
 * whatever words the failing layer put it. */
static void format_error(const rs_error_t *err, char *buf, size_t n_bytes)
{
    rs_error_format(err, buf, n_bytes);
    size_t len = strlen(buf);
    if (err->code == RS_ENOMEM && !strstr(buf, "out of memory") && len < n_bytes)
        snprintf(buf + len, n_bytes - len, " (out of memory)");
}

int rs_cli_fail(const rs_error_t *err)
{
    char buf[2048];
    format_error(err, buf, sizeof buf);
    fprintf(stderr, "regsweep: %s\n", buf);
    return err->code == RS_EINPUT ? 2 : 1;
}

/* A failed allocation of the command line itself: said, exit 1. */
static int out_of_memory(void)
{
    fputs("regsweep: out of memory\n", stderr);
    return 1;
}

int rs_cli_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "regsweep: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'regsweep --help'.\n");
    return 2;
}

static const char *const USAGE_RUN =
    "usage: regsweep run SPEC.yaml [-o|--output OUT] [-j|--threads N] [--resume]\n"
    "                    [--fail-fast] [--allow-diverged] [--no-pack]\n"
    "                    [--shard I/N] [--simd scalar|avx2|avx512] [key=value ...]\n"
    "  Runs every job of the spec's grid.  OUT defaults to results/NAME.h5; an\n"
    "  existing directory as OUT gets NAME.h5 inside it.  Each finished job is\n"
    "  a job file in OUT.jobs/ until the run ends and packs them into OUT.\n"
    "  -o, --output OUT   the results file (or a directory for it)\n"
    "  -j, --threads N    worker threads (default: OMP_NUM_THREADS or the CPUs)\n"
    "  --resume           continue a stopped sweep (same spec and overrides)\n"
    "  --fail-fast        stop dispatching jobs at the first failure\n"
    "  --allow-diverged   exit 0 although some jobs diverged (a loss or weight\n"
    "                     went non-finite); by default that is exit 1\n"
    "  --no-pack          leave the finished jobs as job files in OUT.jobs/ (a\n"
    "                     later run --resume or info --rebuild packs them)\n"
    "  --shard I/N        run shard I of N (1 <= I <= N) of the grid, balanced by\n"
    "                     job cost, into OUT.shard-I-of-N.h5; `regsweep merge OUT`\n"
    "                     assembles the parts.  Inside a Slurm job array the\n"
    "                     task's shard is taken from SLURM_ARRAY_TASK_* unless\n"
    "                     --shard is given (--shard 1/1: the whole grid)\n"
    "  --simd PATH        cap the SIMD path (results are identical on every path)\n"
    "  key=value          override a spec key: train.lr=0.1 'axes.seed=[0,1]'\n";
static const char *const USAGE_EXPAND =
    "usage: regsweep expand SPEC.yaml [key=value ...]\n"
    "  Prints the job grid (index, id, seed, keep_prob, l2, l1) and its size;\n"
    "  writes nothing.\n";
static const char *const USAGE_RERUN =
    "usage: regsweep rerun OUT.h5 --job ID|INDEX [-j|--threads N] [--simd PATH]\n"
    "  Recomputes one job from the spec stored in OUT.h5; exit 0 iff its\n"
    "  weights, masks and curves are bit-identical to the stored ones, 1 if not.\n"
    "  --job ID|INDEX     a 12-digit id from /jobs/id, or a row index\n"
    "  -j, --threads N    threads for the job's GEMMs (default 1)\n"
    "  --simd PATH        cap the SIMD path (scalar, avx2, avx512)\n";
const char *const rs_cli_usage_report =
    "usage: regsweep report OUT.h5 [--baseline key=value,...] [--at final|best]\n"
    "                       [--rank-by test_loss|gap|abs_gap] [--format text|md|csv|json]\n"
    "                       [--table configs|comparisons|trajectory|mc_dropout]\n"
    "                       [--trajectory] [--no-store]\n"
    "  Generalisation gap (test - train loss; positive = overfitting) per config\n"
    "  over seeds, and each config against a baseline config paired by seed;\n"
    "  with eval.mc_samples, weight scaling against MC dropout per config;\n"
    "  the tables are also stored under /analysis in OUT.h5.\n"
    "  --baseline K=V,... the baseline config: keep_prob, keep_prob_N, l2, l1 and\n"
    "                     any axis by its key (train.lr=0.1,keep_prob=1); the\n"
    "                     rest from the spec's report.baseline\n"
    "  --at final|best    the final epoch, or each job's epoch of smallest\n"
    "                     validation loss (needs dataset.n_val)\n"
    "  --rank-by KEY      order configs by mean test_loss (default), gap or abs_gap\n"
    "  --format F         text (default), md, csv or json\n"
    "  --table T          csv: which table (configs by default)\n"
    "  --trajectory       also the gap per epoch (text, md, json; csv: --table)\n"
    "  --no-store         print only; do not write /analysis (works while a\n"
    "                     sweep is writing OUT.h5)\n";
static const char *const USAGE_INFO =
    "usage: regsweep info OUT.h5 [--spec] [--verify] [--rebuild]\n"
    "  What is in a results file, including jobs a running sweep has finished\n"
    "  (job files are verified; packed jobs are counted from the /jobs table).\n"
    "  --spec             print the spec with its overrides applied, as YAML that\n"
    "                     `regsweep run` takes as it is\n"
    "  --verify           also check every packed job against its checksum\n"
    "  --rebuild          pack OUT.h5 again from itself and the job files in\n"
    "                     OUT.jobs/ (refused if that would drop a job)\n";
static const char *const USAGE =
    "usage: regsweep COMMAND [OPTIONS] ...\n"
    "\n"
    "  run SPEC.yaml [-o|--output OUT] [-j|--threads N] [--resume] [--fail-fast]\n"
    "                [--allow-diverged] [--no-pack] [--shard I/N]\n"
    "                [--simd scalar|avx2|avx512] [key=value ...]\n"
    "        run every job of the grid (OUT defaults to results/NAME.h5), or\n"
    "        one shard of it (also under mpirun: jobs shared among the ranks)\n"
    "  merge OUT.h5 [PART.h5 ...] [--allow-incomplete]\n"
    "        assemble the shards' parts (OUT.shard-I-of-N.h5) into OUT.h5\n"
    "  expand SPEC.yaml [key=value ...]\n"
    "        print the job grid and its size; writes nothing\n"
    "  rerun OUT.h5 --job ID|INDEX [-j|--threads N] [--simd scalar|avx2|avx512]\n"
    "        recompute one job from the spec stored in OUT; exit 0 iff\n"
    "        weights, masks and curves are bit-identical, 1 otherwise\n"
    "  report OUT.h5 [--baseline key=value,...] [--at final|best]\n"
    "        [--rank-by test_loss|gap|abs_gap] [--format text|md|csv|json]\n"
    "        [--table configs|comparisons|trajectory] [--trajectory] [--no-store]\n"
    "        generalisation gaps per config, paired tests against a baseline\n"
    "  info OUT.h5 [--spec] [--verify] [--rebuild]\n"
    "        what is in a results file; --spec prints the spec with overrides\n"
    "        applied; --verify checks every job; --rebuild packs OUT.h5 again\n"
    "\n"
    "  regsweep --help | -h       this text\n"
    "  regsweep --version         version, libraries and SIMD paths\n"
    "  regsweep COMMAND --help    one command's usage and options\n"
    "Options that take a value accept --opt value and --opt=value.\n"
    "\n"
    "Exit codes: 0 ok, 1 a run or comparison failed (or jobs diverged), 2 bad input,\n"
    "130/143 stopped by SIGINT/SIGTERM (continue with run --resume).\n"
    "Environment: RS_SIMD caps the SIMD path (scalar, avx2, avx512);\n"
    "OMP_NUM_THREADS is the default for --threads; RS_HDF5_ERRORS=1 shows\n"
    "HDF5's own error stacks.  See regsweep(1).\n";

/* ---- shared option parsing ------------------------------------------------ */

int rs_cli_parse_threads(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > 4096)
        return -1;
    *out = (int)v;
    return 0;
}

int rs_cli_default_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int rs_cli_simd_cap(const char *opt, rs_simd *cap)
{
    const char *name = opt ? opt : getenv("RS_SIMD");
    if (rs_simd_parse(name, cap) != 0) {
        fprintf(stderr,
                "regsweep: %s '%s': expected scalar, avx2 or avx512\n",
                opt ? "--simd" : "RS_SIMD", name);
        return -1;
    }
    return 0;
}

int rs_cli_is_help(const char *arg)
{
    return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

int rs_cli_value(int argc, char **argv, int *i, const char *long_name,
                 const char *short_name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(long_name);
    if (!strncmp(a, long_name, n) && a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (strcmp(a, long_name) && (!short_name || strcmp(a, short_name)))
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "regsweep: %s needs a value\n", a);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int rs_cli_flag(const char *arg, const char *long_name, int *flag)
{
    size_t n = strlen(long_name);
    if (strncmp(arg, long_name, n) || (arg[n] && arg[n] != '='))
        return 0;
    if (arg[n] == '=') {
        fprintf(stderr, "regsweep: %s takes no value\n", long_name);
        return -1;
    }
    *flag = 1;
    return 1;
}

/* ---- run ---------------------------------------------------------------------- */

typedef struct progress_ctx {
    int tty;
    int ranks;               /* MPI ranks (0: one process) */
    int shard;               /* the counts are a shard's */
    double last_print;
    uint64_t last_done_printed;
} progress_ctx;

static void fmt_eta(double s, char *buf, size_t n)
{
    if (s < 0 || !isfinite(s))
        snprintf(buf, n, "--:--");
    else if (s < 3600)
        snprintf(buf, n, "%d:%02d", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
}

static void on_progress(void *vctx, const rs_sweep_progress_t *p)
{
    progress_ctx *c = vctx;
    uint64_t finished = p->done + p->failed + p->diverged;
    if (p->event == RS_EV_START) {
        if (c->ranks) {
            fprintf(stderr, "regsweep: %llu jobs in the %s, %llu already done, "
                            "%llu to run on %d MPI ranks\n",
                    (unsigned long long)p->total, c->shard ? "shard" : "grid",
                    (unsigned long long)p->skipped, (unsigned long long)p->todo,
                    c->ranks);
            return;
        }
        fprintf(stderr, "regsweep: %llu jobs in the %s, %llu already done, "
                        "%llu to run on %d thread%s (%d per job)\n",
                (unsigned long long)p->total, c->shard ? "shard" : "grid", (unsigned long long)p->skipped,
                (unsigned long long)p->todo, p->outer_threads * p->threads_per_job,
                p->outer_threads * p->threads_per_job == 1 ? "" : "s",
                p->threads_per_job);
        return;
    }
    if (p->event == RS_EV_RANK_LOST) {
        char buf[1500];
        format_error(p->job_err, buf, sizeof buf);
        fprintf(stderr, "%sregsweep: %s\n", c->tty ? "\r\033[K" : "", buf);
        return;
    }
    if (p->event == RS_EV_JOB_DAMAGED) {
        char buf[1500];
        format_error(p->job_err, buf, sizeof buf);
        fprintf(stderr, "regsweep: %s; job %llu (%s) will be recomputed\n", buf,
                (unsigned long long)p->job->index, p->job->id);
        return;
    }
    if (p->event == RS_EV_JOB_DIVERGED) {
        fprintf(stderr, "%sregsweep: job %llu (%s) diverged: %s not finite "
                        "after epoch %u; saved as diverged\n",
                c->tty ? "\r\033[K" : "", (unsigned long long)p->job->index,
                p->job->id, p->row->diverged_quantity, p->row->diverged_epoch);
    }
    if (p->event == RS_EV_JOB_FAILED) {
        char buf[1500];
        format_error(p->job_err, buf, sizeof buf);
        fprintf(stderr, "%sregsweep: job %llu (%s) failed: %s\n",
                c->tty ? "\r\033[K" : "", (unsigned long long)p->job->index,
                p->job->id, buf);
    }
    int last = p->event == RS_EV_END;
    /* the line for the last job is printed once, by the END event */
    if (!last && finished == p->todo)
        return;
    double t = p->elapsed_s;
    if (!last && c->tty && t - c->last_print < 0.2)
        return;
    if (!last && !c->tty && t - c->last_print < 10.0 &&
        finished * 10 / (p->todo ? p->todo : 1) ==
            c->last_done_printed * 10 / (p->todo ? p->todo : 1))
        return;
    c->last_print = t;
    c->last_done_printed = finished;
    char eta[32];
    fmt_eta(p->eta_s, eta, sizeof eta);
    char trouble[64] = "";
    if (p->failed || p->diverged)
        snprintf(trouble, sizeof trouble, "  (%llu failed, %llu diverged)",
                 (unsigned long long)p->failed, (unsigned long long)p->diverged);
    fprintf(stderr, "%s[%llu/%llu] %5.1f%%  %.1f jobs/s  ETA %s  elapsed %.1f s"
                    "%s%s",
            c->tty ? "\r\033[K" : "",
            (unsigned long long)(p->skipped + finished),
            (unsigned long long)p->total,
            p->total ? 100.0 * (p->skipped + finished) / p->total : 100.0,
            p->jobs_per_s, eta, t, trouble,
            c->tty && !last ? "" : "\n");
}

/* Appends arg to buf, single-quoted for a POSIX shell when it needs it. */
static void append_quoted(char *buf, size_t n, const char *arg)
{
    size_t len = strlen(buf);
    int plain = *arg != '\0';
    for (const char *c = arg; *c && plain; c++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789_./=:,+-@%", *c) != NULL;
    if (len && len + 1 < n)
        buf[len++] = ' ';
    if (!plain && len + 1 < n)
        buf[len++] = '\'';
    for (const char *c = arg; *c && len + 5 < n; c++) {
        if (*c == '\'' && !plain) {
            memcpy(buf + len, "'\\''", 4);
            len += 4;
        } else {
            buf[len++] = *c;
        }
    }
    if (!plain && len + 1 < n)
        buf[len++] = '\'';
    buf[len < n ? len : n - 1] = '\0';
}

/* The path of this binary, so that a printed command runs the same one. */
static void self_path(char *buf, size_t n)
{
    ssize_t k = readlink("/proc/self/exe", buf, n - 1);
    if (k <= 0)
        snprintf(buf, n, "regsweep");
    else
        buf[k] = '\0';
}

static int cmd_run(int argc, char **argv, rs_mpi_team_t *team)
{
    const char *spec_path = NULL, *out = NULL, *simd_opt = NULL, *v;
    int threads = rs_cli_default_threads(), resume = 0, fail_fast = 0, rc;
    int allow_diverged = 0, no_pack = 0;
    const char *shard_opt = NULL;
    char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    int n_over = 0;
    if (!overrides)
        return out_of_memory();
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (rs_cli_is_help(a)) {
            free(overrides);
            fputs(USAGE_RUN, stdout);
            return 0;
        }
        if ((rc = rs_cli_value(argc, argv, &i, "--output", "-o", &v))) {
            if (rc < 0)
                return free(overrides), 2;
            out = v;
        } else if ((rc = rs_cli_value(argc, argv, &i, "--threads", "-j", &v))) {
            if (rc < 0)
                return free(overrides), 2;
            if (rs_cli_parse_threads(v, &threads))
                return free(overrides), rs_cli_usage_error("--threads '%s': expected a "
                                          "thread count from 1 to 4096", v);
        } else if ((rc = rs_cli_value(argc, argv, &i, "--simd", NULL, &v))) {
            if (rc < 0)
                return free(overrides), 2;
            simd_opt = v;
        } else if ((rc = rs_cli_value(argc, argv, &i, "--shard", NULL, &v))) {
            if (rc < 0)
                return free(overrides), 2;
            shard_opt = v;
        } else if ((rc = rs_cli_flag(a, "--resume", &resume)) ||
                   (rc = rs_cli_flag(a, "--fail-fast", &fail_fast)) ||
                   (rc = rs_cli_flag(a, "--allow-diverged", &allow_diverged)) ||
                   (rc = rs_cli_flag(a, "--no-pack", &no_pack))) {
            if (rc < 0)
                return free(overrides), 2;
        } else if (a[0] == '-' && a[1]) {
            return free(overrides), rs_cli_usage_error("run: unknown option '%s'", a);
        } else if (strchr(a, '=') && spec_path) {
            overrides[n_over++] = argv[i];
        } else if (!spec_path) {
            spec_path = a;
        } else {
            return free(overrides), rs_cli_usage_error("run: unexpected argument '%s' (one "
                                      "spec; overrides look like key=value)",
                                      a);
        }
    }
    if (!spec_path)
        return free(overrides),
               rs_cli_usage_error("%s", "run: which spec? e.g. regsweep run "
                                        "experiments/ch311_sin.yaml");
    rs_simd cap;
    if (rs_cli_simd_cap(simd_opt, &cap))
        return free(overrides), 2;
    /* an MPI rank other than 0 runs what rank 0 hands it and writes
     * nothing; its troubles are rank 0's to report */
    if (team && team->rank > 0) {
        free(overrides);
        install_signals();
        rs_sweep_opts_t wo = {.threads = threads, .simd_cap = cap,
                              .stop = &g_stop, .abort_jobs = &g_abort,
                              .team = team};
        rs_error_t werr;
        rs_error_clear(&werr);
        rs_sweep_mpi_worker(&wo, &werr);
        return 0;
    }
    /* the shard: --shard, else a Slurm array task's, else none */
    uint32_t shard_i = 0, shard_n = 0;
    char shard_how[160] = "";
    if (shard_opt && rs_cli_parse_shard(shard_opt, &shard_i, &shard_n))
        return free(overrides), rs_cli_usage_error("--shard '%s': expected I/N "
                                  "with 1 <= I <= N <= 65535, e.g. 2/4", shard_opt);
    if (!shard_opt &&
        (rc = rs_cli_shard_from_slurm(&shard_i, &shard_n, shard_how,
                                      sizeof shard_how)) < 0)
        return free(overrides), 2;
    if (shard_n == 1)
        shard_i = shard_n = 0;   /* one shard: the whole grid, into OUT */
    rs_error_t err;
    rs_error_clear(&err);
    rs_spec_t spec;
    if (rs_spec_load(spec_path, n_over, overrides, &spec, &err)) {
        free(overrides);
        return rs_cli_fail(&err);
    }
    /* -o DIR puts NAME.h5 inside it; no -o: results/NAME.h5 */
    char *out_buf = NULL;
    struct stat sb;
    if (!out || (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode))) {
        const char *dir = out ? out : "results";
        size_t n = strlen(dir) + strlen(spec.name) + 8;
        if (!(out_buf = malloc(n))) {
            rs_spec_free(&spec);
            free(overrides);
            return out_of_memory();
        }
        snprintf(out_buf, n, "%s%s%s.h5", dir,
                 dir[strlen(dir) - 1] == '/' ? "" : "/", spec.name);
        if (!out && stat("results", &sb) != 0)
            mkdir("results", 0755);
        out = out_buf;
    }
    /* a shard writes its part beside OUT */
    char part[RS_PATH_BUF];
    if (shard_n) {
        if (rs_store_part_path(out, shard_i, shard_n, part, sizeof part)) {
            rs_spec_free(&spec);
            free(overrides);
            free(out_buf);
            return rs_cli_usage_error("-o '%s': too long for a part's name", out);
        }
        fprintf(stderr, "regsweep: shard %u of %u%s%s: writing %s (merge the "
                        "parts with: regsweep merge %s)\n", shard_i, shard_n,
                shard_how[0] ? " " : "", shard_how, part, out);
    }
    const char *merged = out;
    if (shard_n)
        out = part;
    /* the command as it ran, for /provenance and for the resume hint */
    char self[RS_PATH_BUF], command[4096] = "";
    self_path(self, sizeof self);
    append_quoted(command, sizeof command, self);
    append_quoted(command, sizeof command, "run");
    for (int i = 0; i < argc; i++)
        append_quoted(command, sizeof command, argv[i]);
    install_signals();
    if (team)
        fprintf(stderr, "regsweep: MPI: %d ranks of %d threads; rank 0 hands "
                        "out the jobs and writes every file\n", team->size,
                threads);
    progress_ctx pc = {.tty = isatty(2), .last_print = -1e9, .shard = shard_n > 0,
                       .ranks = team ? team->size : 0};
    rs_sweep_opts_t o = {.out_path = out, .threads = threads, .resume = resume,
                         .fail_fast = fail_fast, .simd_cap = cap,
                         .allow_diverged = allow_diverged,
                         .no_pack = no_pack,
                         .shard_index = shard_i, .shard_count = shard_n,
                         .command = command, .stop = &g_stop,
                         .abort_jobs = &g_abort, .team = team,
                         .progress = on_progress,
                         .progress_ctx = &pc};
    rs_status st = rs_sweep_run(&spec, &o, &err);
    int code = 0;
    if (st == RS_EINTR || (st == RS_OK && g_stop)) {
        char again[4096] = "";
        append_quoted(again, sizeof again, self);
        append_quoted(again, sizeof again, "run");
        append_quoted(again, sizeof again, spec_path);
        append_quoted(again, sizeof again, "-o");
        append_quoted(again, sizeof again, merged);
        append_quoted(again, sizeof again, "--resume");
        if (shard_n) {
            char sh[32];
            snprintf(sh, sizeof sh, "--shard=%u/%u", shard_i, shard_n);
            append_quoted(again, sizeof again, sh);
        }
        for (int i = 0; i < n_over; i++)
            append_quoted(again, sizeof again, overrides[i]);
        fprintf(stderr, "regsweep: stopped by %s; finished jobs are saved in "
                        "%s. Continue with%s:\n  %s\n",
                g_signal == SIGTERM ? "SIGTERM" : "SIGINT", out,
                team ? " (under mpirun again, or alone)" : "", again);
        code = g_signal == SIGTERM ? 143 : 130;
    } else if (st) {
        code = rs_cli_fail(&err);
    } else {
        fprintf(stderr, "regsweep: wrote %s\n", out);
    }
    rs_spec_free(&spec);
    free(overrides);
    free(out_buf);
    return code;
}

/* run, as one process or (started by an MPI launcher) as one of its
 * ranks; every rank ends in MPI_Finalize */
static int run_ranked(int argc, char **argv)
{
    if (!rs_mpi_launched())
        return cmd_run(argc, argv, NULL);
    rs_mpi_team_t team = {0, 1, 0};
    rs_error_t err;
    rs_error_clear(&err);
    if (!rs_mpi_built()) {
        fprintf(stderr, "regsweep: started by an MPI launcher, but this "
                        "regsweep was built without MPI: every rank would run "
                        "the whole sweep. Rebuild with MPI (meson setup "
                        "-Dmpi=enabled, Debian: libopenmpi-dev), or run it "
                        "without mpirun\n");
        return 2;
    }
    if (rs_mpi_init(&team.rank, &team.size, &err))
        return rs_cli_fail(&err);
    g_first_aborts = team.size > 1;
    int code = cmd_run(argc, argv, team.size > 1 ? &team : NULL);
    rs_sweep_mpi_release(&team);
    rs_mpi_finalize();
    return code;
}

/* ---- expand -------------------------------------------------------------------- */

static int cmd_expand(int argc, char **argv)
{
    const char *spec_path = NULL;
    char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    int n_over = 0;
    if (!overrides)
        return out_of_memory();
    for (int i = 0; i < argc; i++) {
        if (rs_cli_is_help(argv[i])) {
            free(overrides);
            fputs(USAGE_EXPAND, stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1])
            return free(overrides), rs_cli_usage_error("expand: unknown option '%s'", argv[i]);
        if (!spec_path)
            spec_path = argv[i];
        else if (strchr(argv[i], '='))
            overrides[n_over++] = argv[i];
        else
            return free(overrides), rs_cli_usage_error("expand: unexpected argument '%s'",
                                      argv[i]);
    }
    if (!spec_path)
        return free(overrides), rs_cli_usage_error("%s", "expand: which spec?");
    rs_error_t err;
    rs_spec_t spec;
    if (rs_spec_load(spec_path, n_over, overrides, &spec, &err)) {
        free(overrides);
        return rs_cli_fail(&err);
    }
    int h = rs_spec_n_hidden(&spec);
    /* the extra axes' columns after l1, as wide as their key or values */
    int width[RS_SPEC_MAX_AXES];
    for (int a = 0; a < spec.n_axes; a++) {
        width[a] = (int)strlen(spec.axes[a].key);
        for (uint32_t j = 0; j < spec.axes[a].n; j++) {
            char one[64];
            int n = spec.axes[a].type == RS_AXIS_NUMBER
                        ? snprintf(one, sizeof one, "%g", spec.axes[a].values[j].num)
                        : (int)strlen(spec.axes[a].values[j].text);
            width[a] = n > width[a] ? n : width[a];
        }
    }
    printf("%-8s %-12s %-8s %-16s %-10s %-10s", "index", "id", "seed",
           "keep_prob", "l2", "l1");
    for (int a = 0; a < spec.n_axes; a++)
        printf(" %-*s", width[a], spec.axes[a].key);
    printf("\n");
    for (uint64_t i = 0; i < spec.n_jobs; i++) {
        rs_job_t job;
        rs_spec_job(&spec, i, &job);
        char keep[128] = "";
        for (int l = 0; l < h; l++) {
            char one[32];
            snprintf(one, sizeof one, "%s%g", l ? "," : "", job.keep[l]);
            strncat(keep, one, sizeof keep - strlen(keep) - 1);
        }
        printf("%-8llu %-12s %-8llu %-16s %-10g %-10g",
               (unsigned long long)i, job.id,
               (unsigned long long)job.hp.seed, h ? keep : "-", job.l2, job.l1);
        for (int a = 0; a < spec.n_axes; a++) {
            const rs_axis_value_t *v = &spec.axes[a].values[job.i_axis[a]];
            if (spec.axes[a].type == RS_AXIS_NUMBER)
                printf(" %-*g", width[a], v->num);
            else
                printf(" %-*s", width[a], v->text);
        }
        printf("\n");
    }
    printf("%llu jobs = %u seeds x %u keep_prob x %u l2 x %u l1",
           (unsigned long long)spec.n_jobs, spec.n_seeds, spec.n_keep,
           spec.n_l2, spec.n_l1);
    for (int a = 0; a < spec.n_axes; a++)
        printf(" x %u %s", spec.axes[a].n, spec.axes[a].key);
    printf(" (spec sha256 %.12s)\n", spec.sha256);
    /* what the sweep will write: needs the number of training rows, so the
     * data are read (which also checks them against the model) */
    int code = 0;
    uint32_t *n_train = calloc(spec.n_combos + 1, sizeof *n_train);
    if (!n_train) {
        code = out_of_memory();
    } else if (rs_spec_check_data(&spec, NULL, n_train, &err)) {
        code = rs_cli_fail(&err);
    } else {
        rs_size_estimate_t e;
        rs_store_estimate(&spec, n_train, NULL, &e);
        char dc[64] = "";
        if (e.dc_masks_max)
            snprintf(dc, sizeof dc, ", DropConnect masks %.0f KiB",
                     e.dc_masks_max / 1024.0);
        printf("writes:   about %.1f MiB of job files while it runs (%.0f KiB "
               "a job at most: weights %.0f KiB, curves %.0f KiB, masks %.0f "
               "KiB%s)\n", e.all_job_files / 1048576.0,
               (e.weights_per_job + e.curves_per_job + e.masks_max +
                e.dc_masks_max) / 1024.0 + 20,
               e.weights_per_job / 1024.0, e.curves_per_job / 1024.0,
               e.masks_max / 1024.0, dc);
        printf("keeps:    a results file of at most %.1f MiB (shared initial "
               "weights and masks, before compression); peak on disk about "
               "%.1f MiB, when it is packed\n", e.packed / 1048576.0,
               e.peak / 1048576.0);
    }
    free(n_train);
    rs_spec_free(&spec);
    free(overrides);
    return code;
}

/* ---- rerun --------------------------------------------------------------------- */

static int cmd_rerun(int argc, char **argv)
{
    const char *out = NULL, *job_arg = NULL, *simd_opt = NULL, *v;
    int threads = 1, rc;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (rs_cli_is_help(a)) {
            fputs(USAGE_RERUN, stdout);
            return 0;
        }
        if ((rc = rs_cli_value(argc, argv, &i, "--job", NULL, &v))) {
            if (rc < 0)
                return 2;
            job_arg = v;
        } else if ((rc = rs_cli_value(argc, argv, &i, "--threads", "-j", &v))) {
            if (rc < 0)
                return 2;
            if (rs_cli_parse_threads(v, &threads))
                return rs_cli_usage_error("--threads '%s': expected a thread "
                                          "count from 1 to 4096", v);
        } else if ((rc = rs_cli_value(argc, argv, &i, "--simd", NULL, &v))) {
            if (rc < 0)
                return 2;
            simd_opt = v;
        } else if (a[0] == '-' && a[1]) {
            return rs_cli_usage_error("rerun: unknown option '%s'", a);
        } else if (!out) {
            out = a;
        } else {
            return rs_cli_usage_error("rerun: unexpected argument '%s'", a);
        }
    }
    if (!out || !job_arg)
        return rs_cli_usage_error("%s", "rerun: usage: regsweep rerun OUT.h5 "
                                        "--job ID");
    rs_simd cap;
    if (rs_cli_simd_cap(simd_opt, &cap))
        return 2;
    rs_error_t err;
    rs_spec_t spec;
    if (rs_store_read_spec(out, &spec, &err))
        return rs_cli_fail(&err);
    rs_job_t job;
    if (rs_spec_find_job(&spec, job_arg, &job)) {
        fprintf(stderr, "regsweep: %s: no job '%s' (give a 12-digit id from "
                        "/jobs/id or an index below %llu)\n", out, job_arg,
                (unsigned long long)spec.n_jobs);
        rs_spec_free(&spec);
        return 2;
    }
    rs_status st = rs_sweep_rerun(out, &spec, &job, cap, threads, &err);
    int code = 0;
    if (st == RS_OK) {
        printf("job %llu (%s): bit-identical (weights, masks, curves%s)\n",
               (unsigned long long)job.index, job.id,
               job.settings.record_act_var ? ", activation variances" : "");
    } else if (st == RS_EMISMATCH) {
        char buf[2048];
        rs_error_format(&err, buf, sizeof buf);
        printf("job %llu (%s): DIFFERS: %s\n", (unsigned long long)job.index,
               job.id, buf);
        code = 1;
    } else {
        code = rs_cli_fail(&err);
    }
    rs_spec_free(&spec);
    return code;
}

/* ---- info ----------------------------------------------------------------------- */

static int cmd_info(int argc, char **argv)
{
    const char *out = NULL;
    int show_spec = 0, rebuild = 0, verify = 0, rc;
    for (int i = 0; i < argc; i++) {
        if (rs_cli_is_help(argv[i])) {
            fputs(USAGE_INFO, stdout);
            return 0;
        }
        if ((rc = rs_cli_flag(argv[i], "--spec", &show_spec)) ||
            (rc = rs_cli_flag(argv[i], "--rebuild", &rebuild)) ||
            (rc = rs_cli_flag(argv[i], "--verify", &verify))) {
            if (rc < 0)
                return 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return rs_cli_usage_error("info: unknown option '%s'", argv[i]);
        } else if (!out) {
            out = argv[i];
        } else {
            return rs_cli_usage_error("info: unexpected argument '%s'", argv[i]);
        }
    }
    if (!out)
        return rs_cli_usage_error("%s", "info: which results file?");
    rs_error_t err;
    rs_spec_t spec;
    if (rs_store_read_spec(out, &spec, &err))
        return rs_cli_fail(&err);
    if (show_spec) {
        char *text;
        size_t len;
        rs_status st = rs_spec_effective_yaml(&spec, &text, &len, &err);
        if (st == RS_OK) {
            fwrite(text, 1, len, stdout);
            free(text);
        }
        rs_spec_free(&spec);
        return st ? rs_cli_fail(&err) : 0;
    }
    if (rebuild && rs_sweep_rebuild(out, &spec, &err)) {
        rs_spec_free(&spec);
        return rs_cli_fail(&err);
    }
    char jobs_dir[RS_PATH_BUF];
    rs_store_jobs_dir(out, jobs_dir, sizeof jobs_dir);
    uint64_t done = 0, diverged = 0, bad = 0, n_journal = 0;
    rs_error_t first_bad;
    rs_error_clear(&first_bad);
    rs_job_summary_t *rows = calloc(spec.n_jobs + 1, sizeof *rows);
    if (!rows) {
        rs_spec_free(&spec);
        return out_of_memory();
    }
    /* the table and any job files not packed yet (each verified) */
    if (rs_store_read_rows(out, &spec, verify, rows, NULL, &n_journal, &err)) {
        if (err.code == RS_ENOMEM) {   /* not the file's fault: stop */
            free(rows);
            rs_spec_free(&spec);
            return rs_cli_fail(&err);
        }
        first_bad = err;
        bad = 1;
    }
    for (uint64_t i = 0; !bad && i < spec.n_jobs; i++) {
        done += rs_job_finished(rows[i].status);
        diverged += rows[i].status == RS_JOB_DIVERGED;
    }
    free(rows);
    int running = 0, lock_fd = -1;
    rs_error_t lerr;
    if (rs_sweep_lock(out, &lock_fd, &lerr) != RS_OK)
        running = 1;
    rs_sweep_unlock(&lock_fd);
    const rs_arch_t *a = &spec.settings.arch;
    printf("file:      %s (%llu job files not packed yet in %s)\n", out,
           (unsigned long long)n_journal, jobs_dir);
    printf("format:    %s version %d\n", RS_FORMAT_NAME, RS_FORMAT_VERSION);
    printf("spec:      %s, sha256 %s\n", spec.name, spec.sha256);
    printf("dataset:   %s\n", spec.data_kind == RS_DATA_SIN ? "sin" : spec.idx_dir);
    /* settings that are axes are shown as such, not as their first value */
    int ax_layers = rs_spec_axis_find(&spec, "model.layers");
    int ax_lr = rs_spec_axis_find(&spec, "train.lr");
    int ax_epochs = rs_spec_axis_find(&spec, "train.epochs");
    printf("model:     ");
    if (ax_layers >= 0)
        printf("model.layers axis");
    for (int l = 0; ax_layers < 0 && l <= a->n_layers; l++)
        printf("%s%u", l ? "-" : "", a->sizes[l]);
    if (ax_lr >= 0)
        printf(", train.lr axis");
    else
        printf(", lr %g", spec.settings.lr);
    if (ax_epochs >= 0)
        printf(", train.epochs axis\n");
    else
        printf(", %u epochs\n", spec.settings.epochs);
    printf("grid:      %llu jobs = %u seeds x %u keep_prob x %u l2 x %u l1",
           (unsigned long long)spec.n_jobs, spec.n_seeds, spec.n_keep,
           spec.n_l2, spec.n_l1);
    for (int x = 0; x < spec.n_axes; x++)
        printf(" x %u %s", spec.axes[x].n, spec.axes[x].key);
    printf("\n");
    for (int x = 0; x < spec.n_axes; x++) {
        printf("%-11s", x ? "" : "axes:");
        printf("%s:", spec.axes[x].key);
        for (uint32_t j = 0; j < spec.axes[x].n && j < 8; j++)
            if (spec.axes[x].type == RS_AXIS_NUMBER)
                printf(" %g", spec.axes[x].values[j].num);
            else
                printf(" %s", spec.axes[x].values[j].text);
        printf("%s\n", spec.axes[x].n > 8 ? " ..." : "");
    }
    char div[48] = "";
    if (diverged)
        snprintf(div, sizeof div, " (%llu of them diverged)",
                 (unsigned long long)diverged);
    printf("finished:  %llu of %llu%s%s%s\n", (unsigned long long)done,
           (unsigned long long)spec.n_jobs, div,
           running ? " so far (a sweep is running)" : "",
           bad ? " (not counted: the results are damaged, see below)" : "");
    if (running) {
        char msg[1200];
        rs_error_format(&lerr, msg, sizeof msg);
        printf("writer:    %s\n", msg);
    }
    if (rebuild)
        printf("rebuilt:   %s\n", out);
    rs_spec_free(&spec);
    if (bad) {
        fflush(stdout);
        rs_cli_fail(&first_bad);
        return 2;
    }
    return 0;
}

static void print_version(void)
{
    rs_build_info_t b;
    rs_build_info(&b);
    rs_simd best = rs_simd_detect();
    printf("regsweep %s%s%s%s\n", b.version, b.git_revision[0] ? " (git " : "",
           b.git_revision, b.git_revision[0] ? ")" : "");
    printf("HDF5 %s, libyaml %s, zlib %s, %s\n", b.hdf5[0] ? b.hdf5 : "none",
           b.libyaml[0] ? b.libyaml : "none", b.zlib[0] ? b.zlib : "none (plain IDX only)",
           b.openmp);
    printf("SIMD paths compiled in: %s (this CPU: %s)\n", b.simd_compiled,
           rs_simd_name(best));
    printf("MPI: %s\n", rs_mpi_built() ? "yes (mpirun -n R regsweep run ...)"
                                        : "no");
    printf("built with %s, %s build\n", b.compiler, b.build_type);
}

int main(int argc, char **argv)
{
    /* HDF5's own file locks (1.10: flock, exclusive for a read-write open)
     * protect nothing here: regsweep never changes a results file in
     * place (it writes a new one and renames it) and serialises its
     * writers with the sweep's lock (rs_sweep_lock).  They would only make
     * a reader (h5py, a second report) look like a damaged file.  A user
     * may still set HDF5_USE_FILE_LOCKING=TRUE. */
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 0);
    /* over a file-size limit, a write should fail (EFBIG, reported) rather
     * than kill the process */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        print_version();
        return 0;
    }
    const char *cmd = argv[1];
    int sub_argc = argc - 2;
    char **sub_argv = argv + 2;
    /* HDF5 starts on its first call: not for expand, which never needs it
     * (libhdf5 1.10.8 crashes when an allocation fails while it starts) */
    if (strcmp(cmd, "expand") != 0)
        rs_store_init();
    if (!strcmp(cmd, "run"))
        return run_ranked(sub_argc, sub_argv);
    if (!strcmp(cmd, "expand"))
        return cmd_expand(sub_argc, sub_argv);
    if (!strcmp(cmd, "rerun"))
        return cmd_rerun(sub_argc, sub_argv);
    if (!strcmp(cmd, "report"))
        return rs_cli_report(sub_argc, sub_argv);
    if (!strcmp(cmd, "info"))
        return cmd_info(sub_argc, sub_argv);
    if (!strcmp(cmd, "merge")) {
        char self[RS_PATH_BUF], command[4096] = "";
        self_path(self, sizeof self);
        append_quoted(command, sizeof command, self);
        for (int i = 1; i < argc; i++)
            append_quoted(command, sizeof command, argv[i]);
        return rs_cli_merge(sub_argc, sub_argv, command);
    }
    return rs_cli_usage_error("unknown command '%s'", cmd);
}
