/* IPython's help syntax, which notebooks users type out of habit: a cell
 * that is only `name?` or `?name` asks what name is (docstring,
 * signature), `name??` or `??name` also its source. Python would call it
 * a syntax error; the kernel answers it with a pager payload instead, as
 * IPython's ? does. Only a whole cell of one dotted name is taken, so no
 * valid Python is ever read this way. */
#include "kernel_priv.h"

static bool name_byte(unsigned char c, bool first)
{
    /* Identifiers: ASCII letters, digits (not first), underscore, and
     * any non-ASCII byte (the executor looks the name up and says if it
     * is none). */
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80 ||
           (!first && c >= '0' && c <= '9');
}

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool pinfo_parse(const char *code, size_t len, size_t *start, size_t *name_len, int *detail)
{
    size_t a = 0, b = len;
    while (a < b && space(code[a]))
        a++;
    while (b > a && space(code[b - 1]))
        b--;
    size_t pre = 0, post = 0;
    while (a < b && code[a] == '?' && pre < 3)
        a++, pre++;
    while (b > a && code[b - 1] == '?' && post < 3)
        b--, post++;
    if ((pre == 0) == (post == 0) || pre > 2 || post > 2 || a == b)
        return false;
    /* A dotted name: parts that are identifiers, joined by single dots. */
    bool first = true;
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)code[i];
        if (c == '.' && !first && i + 1 < b) {
            first = true;
            continue;
        }
        if (!name_byte(c, first))
            return false;
        first = false;
    }
    if (first)
        return false;
    *start = a;
    *name_len = b - a;
    *detail = (pre ? pre : post) - 1;
    return true;
}
