/* SPDX-License-Identifier: MIT */
/* fuzz_spec.c — libFuzzer target for the spec loader (rs_spec_parse).
 *
 * Input: YAML text, optionally followed by a line "#@overrides" and then
 * one key=value override per line (so the fuzzer also reaches the override
 * path).  Besides sanitizer findings, the target traps when a contract is
 * broken:
 *   - failure: the status is RS_EINPUT or RS_ENOMEM, err.code agrees, the
 *     message is non-empty and names a source (the spec or an override);
 *   - success: the grid is the product of the axes and within the cap,
 *     every axis is non-empty, and the jobs at the ends of the grid have
 *     12-hex-digit ids that rs_spec_find_job finds again (small grids).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "regsweep/spec.h"

#define MAX_OVERRIDES 8
static const char MARK[] = "\n#@overrides\n";

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static void check_job(const rs_spec_t *s, uint64_t index)
{
    rs_job_t job, again;
    rs_spec_job(s, index, &job);
    check(job.index == index && strlen(job.id) == 12);
    for (int i = 0; i < 12; i++)
        check((job.id[i] >= '0' && job.id[i] <= '9') ||
              (job.id[i] >= 'a' && job.id[i] <= 'f'));
    char canon[1024];
    int n = rs_job_canonical(s, &job, canon, sizeof canon);
    check(n > 0);
    if (s->n_jobs <= 64) {
        check(rs_spec_find_job(s, job.id, &again) == 0);
        check(again.index == index);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    size_t text_len = size;
    char *overrides[MAX_OVERRIDES];
    int n_over = 0;
    /* the marker is searched in the bytes as given; a NUL before it is
     * fine (the spec text is passed with its length) */
    for (size_t i = 0; i + sizeof MARK - 1 <= size; i++)
        if (memcmp(buf + i, MARK, sizeof MARK - 1) == 0) {
            text_len = i;
            char *p = buf + i + sizeof MARK - 1;
            while (*p && n_over < MAX_OVERRIDES) {
                char *nl = strchr(p, '\n');
                if (nl)
                    *nl = '\0';
                overrides[n_over++] = p;
                if (!nl)
                    break;
                p = nl + 1;
            }
            break;
        }

    rs_spec_t s;
    rs_error_t err;
    rs_error_clear(&err);
    rs_status st = rs_spec_parse(buf, text_len, "fuzz.yaml", n_over, overrides,
                                 &s, &err);
    if (st != RS_OK) {
        check(st == RS_EINPUT || st == RS_ENOMEM);
        check(err.code == st && err.msg[0] != '\0');
        if (st == RS_EINPUT)
            check(strcmp(err.path, "fuzz.yaml") == 0 ||
                  strncmp(err.path, "command-line override", 21) == 0);
    } else {
        check(s.n_seeds && s.n_keep && s.n_l2 && s.n_l1);
        check(s.n_combos >= 1);
        check(s.n_jobs == (uint64_t)s.n_seeds * s.n_keep * s.n_l2 * s.n_l1 *
                              s.n_combos);
        check(s.n_jobs <= RS_SPEC_MAX_JOBS);
        check(s.settings.epochs >= 1 && s.settings.lr > 0.0f);
        check_job(&s, 0);
        check_job(&s, s.n_jobs - 1);
        rs_spec_free(&s);
    }
    free(buf);
    return 0;
}
