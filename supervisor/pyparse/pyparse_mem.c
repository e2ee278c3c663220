/* Growing arrays for the detector's tokens, memos and text. A long
 * statement's arrays reach hundreds of megabytes by doubling; realloc then
 * copies (glibc serves big blocks from the heap once a big block has been
 * freed, its mmap threshold having risen) and the new pages are first
 * touched a 4 KiB page at a time, a fault each: the copies and the faults
 * were two thirds of a parse of a million-element list. Past BIG, arrays
 * are mappings of their own, grown by mremap (no copy) and advised to use
 * huge pages. */
#define _GNU_SOURCE
#include "pyparse_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define BIG ((size_t)1 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

static void
advise_huge(void *p, size_t bytes)
{
    uintptr_t from = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uintptr_t to = ((uintptr_t)p + bytes) & ~(uintptr_t)(HUGE_PAGE - 1);
    if (to > from)
        (void)madvise((void *)from, to - from, MADV_HUGEPAGE);  /* advice only */
}

static size_t
mapping_size(size_t bytes)
{
    return (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

int
pyparse_array_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need) {
        if (n > SIZE_MAX / 4 / elem)
            return -ENOMEM;
        n *= 2;
    }
    size_t old_bytes = *cap * elem, bytes = n * elem;
    void *q;
    if (bytes < BIG) {
        q = realloc(*arr, bytes);
        if (!q)
            return -ENOMEM;
    }
    else if (old_bytes < BIG) {
        q = mmap(NULL, mapping_size(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
        if (q == MAP_FAILED)
            return -ENOMEM;
        advise_huge(q, mapping_size(bytes));
        if (old_bytes)
            memcpy(q, *arr, old_bytes);
        free(*arr);
    }
    else {
        q = mremap(*arr, mapping_size(old_bytes), mapping_size(bytes), MREMAP_MAYMOVE);
        if (q == MAP_FAILED)
            return -ENOMEM;
        advise_huge(q, mapping_size(bytes));
    }
    *arr = q;
    *cap = n;
    return 0;
}

void
pyparse_array_free(void *arr, size_t cap, size_t elem)
{
    if (!arr)
        return;
    if (cap * elem < BIG)
        free(arr);
    else
        munmap(arr, mapping_size(cap * elem));
}
