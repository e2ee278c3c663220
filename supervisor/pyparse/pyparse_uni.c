/* Unicode questions the tokenizer and the string checks ask, answered from
 * the tables generated from the reference interpreter. */
#include "pyparse_int.h"
#include "pyparse_uni_tab.h"

#include <string.h>
#include <strings.h>

static bool
in_ranges(const struct pyparse_uni_range *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].first)
            hi = mid;
        else if (cp > r[mid].last)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

bool
pyparse_uni_id_start(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
    return in_ranges(pyparse_unitab_id_start, pyparse_unitab_id_start_count, cp);
}

bool
pyparse_uni_id_continue(uint32_t cp)
{
    if (cp < 0x80)
        return pyparse_uni_id_start(cp) || (cp >= '0' && cp <= '9');
    return in_ranges(pyparse_unitab_id_continue, pyparse_unitab_id_continue_count, cp);
}

/* "CJK UNIFIED IDEOGRAPH-" and four or five upper-case hex digits, as
 * unicodedata matches it: case-sensitively, by rule. */
static bool
cjk_unified(const char *name, size_t len)
{
    static const char prefix[] = "CJK UNIFIED IDEOGRAPH-";
    size_t plen = sizeof prefix - 1;
    if (len < plen || memcmp(name, prefix, plen) != 0)
        return false;
    name += plen;
    len -= plen;
    if (len != 4 && len != 5)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c >= '0' && c <= '9')
            v = v * 16 + (uint32_t)(c - '0');
        else if (c >= 'A' && c <= 'F')
            v = v * 16 + (uint32_t)(c - 'A' + 10);
        else
            return false;
    }
    return in_ranges(pyparse_unitab_cjk_unified, pyparse_unitab_cjk_unified_count, v);
}

bool
pyparse_uni_name_known(const char *name, size_t len)
{
    if (len >= 22 && memcmp(name, "CJK UNIFIED IDEOGRAPH-", 22) == 0)
        return cjk_unified(name, len);
    /* Hangul syllables are matched by rule too, and case-sensitively. */
    if (len >= 16 && strncasecmp(name, "HANGUL SYLLABLE ", 16) == 0)
        for (size_t i = 0; i < len; i++)
            if (name[i] >= 'a' && name[i] <= 'z')
                return false;
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 0x80)
            return false;
        if (c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 'a' + 'A');
        h ^= c;
        h *= 0x100000001b3u;
    }
    size_t lo = 0, hi = pyparse_unitab_name_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h < pyparse_unitab_name_hashes[mid])
            hi = mid;
        else if (h > pyparse_unitab_name_hashes[mid])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}
