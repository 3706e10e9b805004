/* SPDX-License-Identifier: MIT */
/* sha256.h — SHA-256 (FIPS 180-4), for spec hashes and job ids; and
 * Bob Jenkins' lookup3, the checksum of HDF5's file metadata. */
#ifndef RS_SHA256_H
#define RS_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct rs_sha256 {
    uint32_t h[8];
    uint64_t n_bytes;
    uint8_t buf[64];
    size_t n_buf;
} rs_sha256_t;

void rs_sha256_init(rs_sha256_t *c);
void rs_sha256_update(rs_sha256_t *c, const void *data, size_t n_bytes);
void rs_sha256_final(rs_sha256_t *c, uint8_t digest[32]);

/* Lower-case hex of the digest of data: 64 characters and a NUL. */
void rs_sha256_hex(const void *data, size_t n_bytes, char hex[65]);

/* lookup3's hashlittle() (Jenkins 2006): HDF5 checksums its superblock
 * and object headers with it (initval 0).  regsweep needs it to repair the
 * superblock checksum of in-memory file images (see store.c). */
uint32_t rs_lookup3(const void *data, size_t n_bytes, uint32_t initval);

#endif
