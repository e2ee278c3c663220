#include "out.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

void out_write(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && errno == EAGAIN) {
            /* Someone made the description non-blocking: wait, don't drop. */
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, -1);
        } else
            return;  /* EPIPE and friends: the reader is gone */
    }
}

void out_str(int fd, const char *s)
{
    out_write(fd, s, strlen(s));
}
