/* plugins/schema/json_read_impl.h: what the reader's files share and
 * nothing else includes: the number scanner that json_read.c calls for
 * each literal (json_num.c). */
#ifndef PC_JSON_READ_IMPL_H
#define PC_JSON_READ_IMPL_H

#include "json_read.h"

typedef struct pc_json_numparse {
    uint8_t flags;   /* PC_JSON_NUM_* */
    double d;
    int64_t i;
    size_t bad;      /* when the scan fails: offset of the fault */
    bool nomem;      /* when the scan fails: for want of memory, not syntax */
} pc_json_numparse_t;

/* Scans the RFC 8259 number at s[0..n) (it need not end there: the scan
 * stops at the first byte that cannot continue it). Returns the literal's
 * length, or 0 when s does not start with a valid number. */
size_t pc_json_num_scan(const char *s, size_t n, pc_json_numparse_t *out);

#endif
