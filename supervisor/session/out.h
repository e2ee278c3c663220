/* Writes to the user's stdout/stderr, whole, whatever their mode. */
#ifndef AIOBOX_OUT_H
#define AIOBOX_OUT_H
#include <stddef.h>
void out_write(int fd, const char *data, size_t len);
void out_str(int fd, const char *s);
#endif
