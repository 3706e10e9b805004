/* SPDX-License-Identifier: MIT */
/* consumer.c — a program built against the *installed* libregsweep with
 * `pkg-config --cflags --libs regsweep` (tests/install_test.sh).  It uses
 * one piece of each part of the public API and checks it against a value
 * known independently:
 *   rng    Random123's known-answer vector for philox4x32-10 (key and
 *          counter all 0xffffffff);
 *   stats  the mean and 95% t-interval of {1, 2, 3, 4}: 2.5 +- 3.182446 *
 *          sd/2 with sd = 1.290994 (t(0.975, 3) = 3.182446305);
 *   spec   a two-seed, two-keep grid has 4 jobs;
 *   store  the spec stored in a results file (argv[1]) reads back;
 *   buildinfo  the library's version is the header's.
 * Prints "consumer: ok" and exits 0, or says what differed and exits 1. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <regsweep/buildinfo.h>
#include <regsweep/rng.h>
#include <regsweep/spec.h>
#include <regsweep/stats.h>
#include <regsweep/store.h>

static int fails;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "consumer: %s\n", what);
        fails++;
    }
}

int main(int argc, char **argv)
{
    rs_build_info_t b;
    rs_build_info(&b);
    check(strcmp(b.version, RS_VERSION) == 0, "library and header versions differ");

    const uint32_t ctr[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    rs_key_t key = {{0xffffffffu, 0xffffffffu}};
    uint32_t out[4];
    rs_philox4x32_10(ctr, key, out);
    check(out[0] == 0x408f276du && out[1] == 0x41c83b0eu && out[2] == 0xa20bc7c6u &&
          out[3] == 0x6d5451fdu, "philox4x32-10 known-answer vector");

    const double x[4] = {1, 2, 3, 4};
    rs_summary_t s;
    check(rs_summarize(x, 4, 0.95, &s, NULL) == RS_OK, "rs_summarize failed");
    double half = 3.182446305284263 * 1.2909944487358056 / 2;
    check(fabs(s.mean - 2.5) < 1e-12 && fabs(s.ci_hi - (2.5 + half)) < 1e-9,
          "t-interval of {1,2,3,4}");

    const char *text = "name: c\n"
                       "dataset: {kind: sin, n_train: 8, n_test: 8, seed: 1}\n"
                       "model: {layers: [1, 4, 1]}\n"
                       "train: {lr: 0.1, epochs: 2}\n"
                       "axes: {seed: [0, 1], keep_prob: [1.0, 0.5]}\n";
    rs_spec_t spec;
    rs_error_t err;
    check(rs_spec_parse(text, strlen(text), "consumer.yaml", 0, NULL, &spec, &err) == RS_OK,
          err.msg);
    check(spec.n_jobs == 4, "the grid should have 4 jobs");
    rs_spec_free(&spec);

    if (argc > 1) {
        rs_store_init();
        check(rs_store_read_spec(argv[1], &spec, &err) == RS_OK, err.msg);
        if (!fails) {
            printf("consumer: %s holds spec '%s' with %llu jobs\n", argv[1], spec.name,
                   (unsigned long long)spec.n_jobs);
            rs_spec_free(&spec);
        }
    }
    if (!fails)
        printf("consumer: ok (libregsweep %s)\n", b.version);
    return fails ? 1 : 0;
}
