/* SPDX-License-Identifier: MIT */
/* shard.c — the command line of sweeps split over machines: which shard a
 * run takes (--shard I/N, or a Slurm job array's environment) and
 * `regsweep merge`, which assembles the shards' parts into one file. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "regsweep/store.h"
#include "regsweep/sweep.h"

/* A decimal count 0..UINT32_MAX, the whole string; -1 otherwise. */
static int parse_u32(const char *s, uint32_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int rs_cli_parse_shard(const char *s, uint32_t *index, uint32_t *count)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof buf)
        return -1;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    if (parse_u32(buf, index) || parse_u32(slash + 1, count) || *count == 0 ||
        *count > 65535 || *index < 1 || *index > *count)
        return -1;
    return 0;
}

/* A Slurm job array's task as shard I of N: I = (ID - MIN) / STEP + 1 and
 * N = COUNT (or (MAX - MIN) / STEP + 1).  0: not in an array; 1: set;
 * -1: an array that does not map onto shards (message printed). */
int rs_cli_shard_from_slurm(uint32_t *index, uint32_t *count, char *how,
                            size_t n_how)
{
    const char *id_s = getenv("SLURM_ARRAY_TASK_ID");
    if (!id_s || !*id_s)
        return 0;
    const char *min_s = getenv("SLURM_ARRAY_TASK_MIN");
    const char *max_s = getenv("SLURM_ARRAY_TASK_MAX");
    const char *cnt_s = getenv("SLURM_ARRAY_TASK_COUNT");
    const char *step_s = getenv("SLURM_ARRAY_TASK_STEP");
    uint32_t id, min, max = 0, n = 0, step = 1;
    if (parse_u32(id_s, &id) || parse_u32(min_s, &min) ||
        (step_s && *step_s && (parse_u32(step_s, &step) || step == 0)) ||
        (cnt_s && *cnt_s ? parse_u32(cnt_s, &n) : parse_u32(max_s, &max)) ||
        id < min) {
        fprintf(stderr, "regsweep: SLURM_ARRAY_TASK_ID=%s with MIN=%s, MAX=%s, "
                        "COUNT=%s, STEP=%s does not give a shard; pass "
                        "--shard I/N\n", id_s, min_s ? min_s : "(unset)",
                max_s ? max_s : "(unset)", cnt_s ? cnt_s : "(unset)",
                step_s ? step_s : "(unset)");
        return -1;
    }
    if (!(cnt_s && *cnt_s))
        n = max >= min ? (max - min) / step + 1 : 0;
    if ((id - min) % step != 0 || (id - min) / step + 1 > n || n > 65535) {
        fprintf(stderr, "regsweep: the job array's task ids are not a range "
                        "(task %u, min %u, step %u, %u tasks): regsweep "
                        "cannot tell which shard this task is; use "
                        "--array=A-B (or A-B:S) or pass --shard I/N\n",
                id, min, step, n);
        return -1;
    }
    *index = (id - min) / step + 1;
    *count = n;
    snprintf(how, n_how, "from SLURM_ARRAY_TASK_ID=%u (tasks %u..%u)", id, min,
             min + (n - 1) * step);
    return 1;
}

/* ---- merge -------------------------------------------------------------- */

const char *const rs_cli_usage_merge =
    "usage: regsweep merge OUT.h5 [PART.h5 ...] [--allow-incomplete]\n"
    "  Assembles one results file from the parts that `run --shard I/N` wrote\n"
    "  (OUT.shard-I-of-N.h5).  Without PARTs, every OUT.shard-*-of-N.h5 beside\n"
    "  OUT.h5 is taken.  Parts of another spec, overrides or regsweep version\n"
    "  are refused; every job is checksum-verified; the parts are only read.\n"
    "  An existing OUT.h5 of the same spec keeps its jobs (merge again later).\n"
    "  --allow-incomplete  exit 0 although some jobs are missing or failed\n"
    "  Exit 0: every job finished; 1: some missing or failed (say which);\n"
    "  2: bad input.\n";

typedef struct part_list {
    char **paths;
    int n, cap;
    uint32_t count;        /* N of the parts found (0 before the first) */
} part_list;

static void free_parts(part_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
}

static int add_part(part_list *l, const char *path)
{
    if (l->n == l->cap) {
        int nc = l->cap ? 2 * l->cap : 16;
        char **np = realloc(l->paths, (size_t)nc * sizeof *np);
        if (!np)
            return -1;
        l->paths = np;
        l->cap = nc;
    }
    if (!(l->paths[l->n] = strdup(path)))
        return -1;
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The OUT.shard-I-of-N.h5 beside out; all of one N, or refused (exit 2).
 * missing: the shard numbers of 1..N not found, as text. */
static int find_parts(const char *out, part_list *l, char *missing,
                      size_t n_missing)
{
    char probe[RS_PATH_BUF], dir[RS_PATH_BUF];
    if (rs_store_part_path(out, 1, 1, probe, sizeof probe))
        return rs_cli_usage_error("merge: output path too long: %s", out);
    /* the stem: probe without "1-of-1.h5" */
    size_t stem = strlen(probe) - strlen("1-of-1.h5");
    const char *base = strrchr(probe, '/');
    size_t base_off = base ? (size_t)(base - probe) + 1 : 0;
    rs_path_dir(out, dir, sizeof dir);
    DIR *d = opendir(dir);
    if (!d)
        return rs_cli_usage_error("merge: cannot list the output's directory "
                                  "%s", dir);
    uint8_t *seen = NULL;
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        unsigned i, n;
        int used = 0;
        const char *name = e->d_name;
        if (strncmp(name, probe + base_off, stem - base_off) ||
            sscanf(name + stem - base_off, "%u-of-%u.h5%n", &i, &n, &used) != 2 ||
            name[stem - base_off + (size_t)used] != '\0' || n == 0 || i < 1 ||
            i > n || n > 65535)
            continue;
        if (l->count && n != l->count) {
            fprintf(stderr, "regsweep: %s: parts of two splits (of %u and of "
                            "%u shards); name the parts to merge\n", dir,
                    l->count, n);
            rc = 2;
            break;
        }
        if (!seen && !(seen = calloc(n + 1, 1))) {
            rc = 1;
            break;
        }
        l->count = n;
        seen[i] = 1;
        char path[RS_PATH_JOIN];
        snprintf(path, sizeof path, "%.*s%s", (int)base_off, probe, name);
        if (add_part(l, path))
            rc = 1;
    }
    closedir(d);
    if (rc == 1)
        fputs("regsweep: out of memory\n", stderr);
    if (!rc && l->n == 0) {
        fprintf(stderr, "regsweep: no parts beside %s (looked for "
                        "%.*s*-of-*.h5); name them, or run the shards "
                        "first\n", out, (int)(stem - base_off), probe + base_off);
        rc = 2;
    }
    size_t len = 0;
    missing[0] = '\0';
    for (uint32_t i = 1; !rc && i <= l->count; i++)
        if (!seen[i] && len + 16 < n_missing)
            len += (size_t)snprintf(missing + len, n_missing - len, "%s%u",
                                    len ? ", " : "", i);
    free(seen);
    if (!rc)
        qsort(l->paths, (size_t)l->n, sizeof *l->paths, cmp_str);
    return rc;
}

int rs_cli_merge(int argc, char **argv, const char *command)
{
    const char *out = NULL;
    int allow_incomplete = 0, rc;
    part_list parts = {0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (rs_cli_is_help(a)) {
            free_parts(&parts);
            fputs(rs_cli_usage_merge, stdout);
            return 0;
        }
        if ((rc = rs_cli_flag(a, "--allow-incomplete", &allow_incomplete))) {
            if (rc < 0)
                return free_parts(&parts), 2;
        } else if (a[0] == '-' && a[1]) {
            free_parts(&parts);
            return rs_cli_usage_error("merge: unknown option '%s'", a);
        } else if (!out) {
            out = a;
        } else if (add_part(&parts, a)) {
            free_parts(&parts);
            fputs("regsweep: out of memory\n", stderr);
            return 1;
        }
    }
    if (!out)
        return rs_cli_usage_error("%s", "merge: which results file? e.g. "
                                        "regsweep merge results/x.h5");
    char missing[512] = "";
    if (parts.n == 0 && (rc = find_parts(out, &parts, missing, sizeof missing))) {
        free_parts(&parts);
        return rc;
    }
    rs_merge_result_t r;
    memset(&r, 0, sizeof r);
    r.taken = calloc((size_t)parts.n + 1, sizeof *r.taken);
    if (!r.taken) {
        free_parts(&parts);
        fputs("regsweep: out of memory\n", stderr);
        return 1;
    }
    rs_error_t err;
    rs_error_clear(&err);
    rs_status st = rs_sweep_merge(out, parts.n, (const char *const *)parts.paths,
                                  command, &r, &err);
    int code = 0;
    if (st) {
        code = rs_cli_fail(&err);
    } else {
        for (int p = 0; p < parts.n; p++)
            fprintf(stderr, "regsweep: %s: %llu jobs\n", parts.paths[p],
                    (unsigned long long)r.taken[p]);
        fprintf(stderr, "regsweep: wrote %s: %llu of %llu jobs finished "
                        "(%llu diverged), %llu failed, %llu missing\n", out,
                (unsigned long long)(r.done + r.diverged),
                (unsigned long long)r.n_jobs, (unsigned long long)r.diverged,
                (unsigned long long)r.failed, (unsigned long long)r.missing);
        if (missing[0])
            fprintf(stderr, "regsweep: no part of shard%s %s of %u\n",
                    strchr(missing, ',') ? "s" : "", missing, parts.count);
        if (r.failed || r.missing) {
            fprintf(stderr, "regsweep: incomplete: run the shards that lack "
                            "jobs again (run --shard I/N --resume) and merge "
                            "again, or finish here with: regsweep run SPEC "
                            "-o %s --resume\n", out);
            code = allow_incomplete ? 0 : 1;
        }
    }
    free(r.taken);
    free_parts(&parts);
    return code;
}
