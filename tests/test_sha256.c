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

/* lookup3's published self-test values (lookup3.c, driver5): hashlittle of
 * the empty string and of "Four score and seven years ago" with initval 0
 * and 1; and the superblock of an HDF5 file (sizes 8, flags 0, EOF
 * 0x156) whose checksum HDF5 1.10.8 itself computed as 0xd77c5336. */
Test(lookup3, known_answers)
{
    cr_assert_eq(rs_lookup3("", 0, 0), 0xdeadbeefu);
    cr_assert_eq(rs_lookup3("", 0, 0xdeadbeefu), 0xbd5b7ddeu);
    cr_assert_eq(rs_lookup3("Four score and seven years ago", 30, 0), 0x17770551u);
    cr_assert_eq(rs_lookup3("Four score and seven years ago", 30, 1), 0xcd628161u);
    static const unsigned char sb[44] = {
        0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n', 3, 8, 8, 0,
        0, 0, 0, 0, 0, 0, 0, 0,                       /* base address */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* no extension */
        0x56, 0x01, 0, 0, 0, 0, 0, 0,                 /* end of file  */
        0x30, 0, 0, 0, 0, 0, 0, 0};                   /* root header  */
    cr_assert_eq(rs_lookup3(sb, sizeof sb, 0), 0xd77c5336u);
    unsigned char open_sb[44];
    memcpy(open_sb, sb, sizeof sb);
    open_sb[11] = 1;   /* "open for writing": what HDF5 1.10.8 checksums */
    cr_assert_eq(rs_lookup3(open_sb, sizeof open_sb, 0), 0x05a07647u);
}
