/* SPDX-License-Identifier: MIT */
/* test_sha256.c — SHA-256 against the FIPS 180-2 example vectors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regsweep/sha256.h"

static void check(const char *msg, size_t n, const char *expect)
{
    char hex[65];
    rs_sha256_hex(msg, n, hex);
    cr_assert_str_eq(hex, expect);
}

/* FIPS 180-2, Appendix B.1 and B.2; the empty message from NIST's
 * SHA-256 short-message test vectors. */
Test(sha256, fips_examples)
{
    check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check(m2, strlen(m2), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* FIPS 180-2, Appendix B.3: one million 'a', fed in uneven pieces so the
 * block buffering is exercised. */
Test(sha256, million_a_in_pieces)
{
    size_t n = 1000000;
    char *a = malloc(n);
    memset(a, 'a', n);
    rs_sha256_t c;
    rs_sha256_init(&c);
    size_t done = 0, piece = 1;
    while (done < n) {
        size_t take = piece < n - done ? piece : n - done;
        rs_sha256_update(&c, a + done, take);
        done += take;
        piece = piece * 3 % 1000 + 1;
    }
    unsigned char d[32];
    rs_sha256_final(&c, d);
    char hex[65];
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", d[i]);
    cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}
