/* Field-by-field comparison of two messages, written apart from the schema
 * table in proto_msg.c so that it checks the table instead of repeating it. */
#ifndef AIOBOX_TEST_MSGCMP_H
#define AIOBOX_TEST_MSGCMP_H

#include "proto.h"

#include <stdbool.h>

/* True when a and b carry the same type and fields; otherwise why names
 * the first field that differs. The "v" of hello and ready is not
 * compared: the encoder always writes PROTO_VERSION. */
bool msgcmp_equal(const struct proto_msg *a, const struct proto_msg *b,
                  char *why, size_t whylen);

#endif
