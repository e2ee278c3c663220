/* UTF-8 checks shared by the protocol and the supervisor's output path. */
#ifndef AIOBOX_UTF8_H
#define AIOBOX_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). On false, *bad (if not NULL) is the offset of
 * the first byte that is not part of a valid sequence. */
bool utf8_valid(const char *s, size_t len, size_t *bad);

/* Length of the longest prefix of s[0..len) that does not end inside an
 * incomplete (but so far valid) sequence: what can be passed on now when
 * more bytes may follow. */
size_t utf8_complete_prefix(const char *s, size_t len);

/* Copies s to out replacing each maximal invalid subpart by one U+FFFD
 * (what Python's bytes.decode('utf-8', 'replace') gives). out must hold
 * 3 * len bytes; returns the bytes written. */
size_t utf8_sanitize(const char *s, size_t len, char *out);

#endif
