/* SHA-256 (FIPS 180-4), for keying the difftest's stored verdicts by
 * file content as hashlib.sha256 does in make_reference.py. */
#ifndef AIOBOX_TESTS_SHA256_H
#define AIOBOX_TESTS_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* digest gets the 32-byte hash of data[0..len). */
void sha256(const void *data, size_t len, uint8_t digest[32]);

#endif
