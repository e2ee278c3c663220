/* Inside the client: lines read from the server before the loop runs
 * (requests answered at once, the attach handshake). */
#ifndef AIOBOX_CLIENT_PRIV_H
#define AIOBOX_CLIENT_PRIV_H

#include "client.h"

#include <stdint.h>

struct client_lines {
    int fd;
    char *buf;
    size_t start, len, cap;    /* unread bytes: buf[start..len) */
};

/* The next line from the server (NUL-terminated, without its newline,
 * valid until the next call) within timeout_ms. 0, or a negative errno
 * with err said (-EPIPE: the server closed the connection). */
int client_lines_next(struct client_lines *r, int timeout_ms, char **line, size_t *len,
                      char *err, size_t errlen);
void client_lines_free(struct client_lines *r);
/* A request as one line, sent whole (blocking). 0 or a negative errno. */
int client_send(int fd, json_t *req, char *err, size_t errlen);

#endif
