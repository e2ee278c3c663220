/* Generated Unicode tables (pyparse_uni_tab.c), used by pyparse_uni.c. */
#ifndef AIOBOX_PYPARSE_UNI_TAB_H
#define AIOBOX_PYPARSE_UNI_TAB_H

#include <stddef.h>
#include <stdint.h>

struct pyparse_uni_range { uint32_t first, last; };

extern const struct pyparse_uni_range pyparse_unitab_id_start[];
extern const size_t pyparse_unitab_id_start_count;
extern const struct pyparse_uni_range pyparse_unitab_id_continue[];
extern const size_t pyparse_unitab_id_continue_count;
extern const struct pyparse_uni_range pyparse_unitab_cjk_unified[];
extern const size_t pyparse_unitab_cjk_unified_count;
extern const uint64_t pyparse_unitab_name_hashes[];
extern const size_t pyparse_unitab_name_count;

#endif
