/* Sample messages of every type, with edge values (empty and multi-byte
 * text, extreme integers, every enum value), for round trips, split feeds
 * and the fuzzer's seed corpus. */
#ifndef AIOBOX_TEST_SAMPLES_H
#define AIOBOX_TEST_SAMPLES_H

#include "proto.h"

/* Number of samples; samples_get(i) for i below it. Every type appears. */
size_t samples_count(void);
/* Fills *msg with sample i (static storage, nothing to release). */
void samples_get(size_t i, struct proto_msg *msg);

#endif
