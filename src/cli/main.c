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
#include "regsweep/kernels.h"
#include "regsweep/spec.h"
#include "regsweep/store.h"
#include "regsweep/sweep.h"

static volatile sig_atomic_t g_stop = 0, g_abort = 0, g_signal = 0;

static void on_signal(int sig)
{
    g_signal = sig;
    if (g_stop)
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

int rs_cli_fail(const rs_error_t *err)
{
    char buf[2048];
    rs_error_format(err, buf, sizeof buf);
    fprintf(stderr, "regsweep: %s\n", buf);
    return err->code == RS_EINPUT ? 2 : 1;
}

int rs_cli_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "regsweep: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'regsweep --help'.\n");
    return 2;
}

static const char *const USAGE =
    "usage: regsweep COMMAND ...\n"
    "\n"
    "  run SPEC.yaml [-o OUT.h5] [--threads N] [--resume] [--fail-fast]\n"
    "                [--simd scalar|avx2|avx512] [key=value ...]\n"
    "        run every job of the grid (OUT defaults to results/NAME.h5)\n"
    "  expand SPEC.yaml [key=value ...]\n"
    "        print the job grid and its size; writes nothing\n"
    "  rerun OUT.h5 --job ID|INDEX [--threads N] [--simd ...]\n"
    "        recompute one job from the spec stored in OUT; exit 0 iff\n"
    "        weights, masks and curves are bit-identical, 1 otherwise\n"
    "  report OUT.h5 [--baseline key=value,...] [--at final|best]\n"
    "        [--format text|md|csv|json] [--no-store]\n"
    "        generalisation gaps per config, paired tests against a baseline\n"
    "  info OUT.h5 [--spec] [--rebuild]\n"
    "        what is in a results file; --spec prints the stored YAML;\n"
    "        --rebuild rewrites OUT.h5 from its job files\n"
    "\n"
    "Exit codes: 0 ok, 1 a run or comparison failed, 2 bad input,\n"
    "130/143 stopped by SIGINT/SIGTERM (continue with run --resume).\n"
    "Environment: RS_SIMD caps the SIMD path (scalar, avx2, avx512);\n"
    "OMP_NUM_THREADS is the default for --threads.\n";

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

/* ---- run ---------------------------------------------------------------------- */

typedef struct progress_ctx {
    int tty;
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
    uint64_t finished = p->done + p->failed;
    if (p->event == RS_EV_START) {
        fprintf(stderr, "regsweep: %llu jobs in the grid, %llu already done, "
                        "%llu to run on %d thread%s (%d per job)\n",
                (unsigned long long)p->total, (unsigned long long)p->skipped,
                (unsigned long long)p->todo, p->outer_threads * p->threads_per_job,
                p->outer_threads * p->threads_per_job == 1 ? "" : "s",
                p->threads_per_job);
        return;
    }
    if (p->event == RS_EV_JOB_FAILED) {
        char buf[1500];
        rs_error_format(p->job_err, buf, sizeof buf);
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
    fprintf(stderr, "%s[%llu/%llu] %5.1f%%  %.1f jobs/s  ETA %s  elapsed %.1f s"
                    "%s%s",
            c->tty ? "\r\033[K" : "",
            (unsigned long long)(p->skipped + finished),
            (unsigned long long)p->total,
            p->total ? 100.0 * (p->skipped + finished) / p->total : 100.0,
            p->jobs_per_s, eta, t, p->failed ? "  (some failed)" : "",
            c->tty && !last ? "" : "\n");
}

static int cmd_run(int argc, char **argv)
{
    const char *spec_path = NULL, *out = NULL, *simd_opt = NULL;
    int threads = rs_cli_default_threads(), resume = 0, fail_fast = 0;
    char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    int n_over = 0;
    if (!overrides)
        return 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (++i >= argc)
                return free(overrides), rs_cli_usage_error("%s needs a file name", a);
            out = argv[i];
        } else if (!strcmp(a, "--threads") || !strcmp(a, "-j")) {
            if (++i >= argc || rs_cli_parse_threads(argv[i], &threads))
                return free(overrides), rs_cli_usage_error("%s needs a thread count from 1 "
                                          "to 4096", a);
        } else if (!strcmp(a, "--resume")) {
            resume = 1;
        } else if (!strcmp(a, "--fail-fast")) {
            fail_fast = 1;
        } else if (!strcmp(a, "--simd")) {
            if (++i >= argc)
                return free(overrides), rs_cli_usage_error("%s needs a value", a);
            simd_opt = argv[i];
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
    rs_error_t err;
    rs_error_clear(&err);
    rs_spec_t spec;
    if (rs_spec_load(spec_path, n_over, overrides, &spec, &err)) {
        free(overrides);
        return rs_cli_fail(&err);
    }
    char default_out[600];
    if (!out) {
        snprintf(default_out, sizeof default_out, "results/%s.h5", spec.name);
        struct stat sb;
        if (stat("results", &sb) != 0)
            mkdir("results", 0755);
        out = default_out;
    }
    char command[2048] = "regsweep run";
    for (int i = 0; i < argc; i++) {
        strncat(command, " ", sizeof command - strlen(command) - 1);
        strncat(command, argv[i], sizeof command - strlen(command) - 1);
    }
    install_signals();
    progress_ctx pc = {.tty = isatty(2), .last_print = -1e9};
    rs_sweep_opts_t o = {.out_path = out, .threads = threads, .resume = resume,
                         .fail_fast = fail_fast, .simd_cap = cap,
                         .command = command, .stop = &g_stop,
                         .abort_jobs = &g_abort, .progress = on_progress,
                         .progress_ctx = &pc};
    rs_status st = rs_sweep_run(&spec, &o, &err);
    int code = 0;
    if (st == RS_EINTR || (st == RS_OK && g_stop)) {
        fprintf(stderr, "regsweep: stopped by %s; finished jobs are saved in "
                        "%s. Continue with:\n  regsweep run %s -o %s --resume",
                g_signal == SIGTERM ? "SIGTERM" : "SIGINT", out, spec_path, out);
        for (int i = 0; i < n_over; i++)
            fprintf(stderr, " '%s'", overrides[i]);
        fprintf(stderr, "\n");
        code = g_signal == SIGTERM ? 143 : 130;
    } else if (st) {
        code = rs_cli_fail(&err);
    } else {
        fprintf(stderr, "regsweep: wrote %s\n", out);
    }
    rs_spec_free(&spec);
    free(overrides);
    return code;
}

/* ---- expand -------------------------------------------------------------------- */

static int cmd_expand(int argc, char **argv)
{
    const char *spec_path = NULL;
    char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    int n_over = 0;
    if (!overrides)
        return 1;
    for (int i = 0; i < argc; i++) {
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
    printf("%-8s %-12s %-8s %-16s %-10s %-10s\n", "index", "id", "seed",
           "keep_prob", "l2", "l1");
    for (uint64_t i = 0; i < spec.n_jobs; i++) {
        rs_job_t job;
        rs_spec_job(&spec, i, &job);
        char keep[128] = "";
        for (int l = 0; l < h; l++) {
            char one[32];
            snprintf(one, sizeof one, "%s%g", l ? "," : "", job.keep[l]);
            strncat(keep, one, sizeof keep - strlen(keep) - 1);
        }
        printf("%-8llu %-12s %-8llu %-16s %-10g %-10g\n",
               (unsigned long long)i, job.id,
               (unsigned long long)job.hp.seed, h ? keep : "-", job.l2, job.l1);
    }
    printf("%llu jobs = %u seeds x %u keep_prob x %u l2 x %u l1 (spec sha256 "
           "%.12s)\n", (unsigned long long)spec.n_jobs, spec.n_seeds,
           spec.n_keep, spec.n_l2, spec.n_l1, spec.sha256);
    rs_spec_free(&spec);
    free(overrides);
    return 0;
}

/* ---- rerun --------------------------------------------------------------------- */

static int cmd_rerun(int argc, char **argv)
{
    const char *out = NULL, *job_arg = NULL, *simd_opt = NULL;
    int threads = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--job")) {
            if (++i >= argc)
                return rs_cli_usage_error("%s needs a job id or index", a);
            job_arg = argv[i];
        } else if (!strcmp(a, "--threads") || !strcmp(a, "-j")) {
            if (++i >= argc || rs_cli_parse_threads(argv[i], &threads))
                return rs_cli_usage_error("%s needs a thread count", a);
        } else if (!strcmp(a, "--simd")) {
            if (++i >= argc)
                return rs_cli_usage_error("%s needs a value", a);
            simd_opt = argv[i];
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
        printf("job %llu (%s): bit-identical (weights, masks, curves)\n",
               (unsigned long long)job.index, job.id);
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
    int show_spec = 0, rebuild = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--spec"))
            show_spec = 1;
        else if (!strcmp(argv[i], "--rebuild"))
            rebuild = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return rs_cli_usage_error("info: unknown option '%s'", argv[i]);
        else if (!out)
            out = argv[i];
        else
            return rs_cli_usage_error("info: unexpected argument '%s'", argv[i]);
    }
    if (!out)
        return rs_cli_usage_error("%s", "info: which results file?");
    rs_error_t err;
    rs_spec_t spec;
    if (rs_store_read_spec(out, &spec, &err))
        return rs_cli_fail(&err);
    if (show_spec) {
        fwrite(spec.text, 1, spec.text_len, stdout);
        for (int i = 0; i < spec.n_overrides; i++)
            printf("# override: %s\n", spec.overrides[i]);
        rs_spec_free(&spec);
        return 0;
    }
    if (rebuild && rs_sweep_rebuild(out, &spec, &err)) {
        rs_spec_free(&spec);
        return rs_cli_fail(&err);
    }
    char jobs_dir[1024];
    rs_store_jobs_dir(out, jobs_dir, sizeof jobs_dir);
    uint64_t done = 0, bad = 0;
    for (uint64_t i = 0; i < spec.n_jobs; i++) {
        rs_job_t job;
        rs_job_summary_t row;
        rs_spec_job(&spec, i, &job);
        if (rs_store_read_summary(out, 1, &spec, &job, &row, &err))
            bad++;
        else
            done += row.status == RS_JOB_DONE;
    }
    const rs_arch_t *a = &spec.settings.arch;
    printf("file:      %s (job files in %s)\n", out, jobs_dir);
    printf("format:    %s version %d\n", RS_FORMAT_NAME, RS_FORMAT_VERSION);
    printf("spec:      %s, sha256 %s\n", spec.name, spec.sha256);
    printf("dataset:   %s\n", spec.data_kind == RS_DATA_SIN ? "sin" : spec.idx_dir);
    printf("model:     ");
    for (int l = 0; l <= a->n_layers; l++)
        printf("%s%u", l ? "-" : "", a->sizes[l]);
    printf(", lr %g, %u epochs\n", spec.settings.lr, spec.settings.epochs);
    printf("grid:      %llu jobs = %u seeds x %u keep_prob x %u l2 x %u l1\n",
           (unsigned long long)spec.n_jobs, spec.n_seeds, spec.n_keep,
           spec.n_l2, spec.n_l1);
    printf("finished:  %llu of %llu%s\n", (unsigned long long)done,
           (unsigned long long)spec.n_jobs,
           bad ? " (some job files are damaged or foreign)" : "");
    if (rebuild)
        printf("rebuilt:   %s\n", out);
    rs_spec_free(&spec);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    rs_store_init();
    /* over a file-size limit, a write should fail (EFBIG, reported) rather
     * than kill the process */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("regsweep %s\n", RS_VERSION);
        return 0;
    }
    const char *cmd = argv[1];
    int sub_argc = argc - 2;
    char **sub_argv = argv + 2;
    if (!strcmp(cmd, "run"))
        return cmd_run(sub_argc, sub_argv);
    if (!strcmp(cmd, "expand"))
        return cmd_expand(sub_argc, sub_argv);
    if (!strcmp(cmd, "rerun"))
        return cmd_rerun(sub_argc, sub_argv);
    if (!strcmp(cmd, "report"))
        return rs_cli_report(sub_argc, sub_argv);
    if (!strcmp(cmd, "info"))
        return cmd_info(sub_argc, sub_argv);
    return rs_cli_usage_error("unknown command '%s'", cmd);
}
