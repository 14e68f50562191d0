/* plugins/schema/json_read.h: the strict reader for request bodies.
 *
 * One pass over untrusted bytes into an immutable tree whose memory comes
 * from the caller's allocator (the request arena), so a tree is freed with
 * the request and costs no free() per node. It is the only way a body is
 * read: what the validator checks is exactly what the upstream receives.
 *
 * Refused (pc_json_err_t), never repaired or guessed at:
 *   - anything RFC 8259 does not allow: trailing commas, comments, NaN,
 *     leading zeros, "+1", ".5", single quotes, raw controls in strings,
 *     a second top-level value (whitespace after the value is fine);
 *   - invalid UTF-8 anywhere (overlong forms, surrogates U+D800..DFFF
 *     encoded directly, above U+10FFFF, truncated sequences), and a \u
 *     escape that is a lone surrogate or a reversed pair;
 *   - a duplicate key in one object, comparing keys after unescaping, so
 *     "a" and "\u0061" are the same key;
 *   - nesting deeper than limits.max_depth, an object or array with more
 *     than limits.max_members entries, more than limits.max_nodes values in
 *     all, a string longer than limits.max_string bytes (decoded).
 *
 * Numbers are never rounded into validity: each keeps its literal text
 * (pointing into the caller's buffer, which must outlive the tree) beside
 * a double and, when it is an integer that fits, an int64. Exact decimal
 * questions (multipleOf, comparing huge integers) go to the literal
 * through pc_json_num_* below.
 *
 * Pure: no global state, no locale, callable from any thread. */
#ifndef PC_JSON_READ_H
#define PC_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum pc_json_type {
    PC_JSON_NULL = 0,
    PC_JSON_FALSE,
    PC_JSON_TRUE,
    PC_JSON_NUMBER,
    PC_JSON_STRING,
    PC_JSON_ARRAY,
    PC_JSON_OBJECT,
} pc_json_type_t;

typedef struct pc_json pc_json_t;

typedef struct pc_json_member {
    const char *key;   /* decoded UTF-8, NUL-terminated (may hold NUL: use klen) */
    uint32_t klen;
    uint32_t khash;    /* pc_json_key_hash(key, klen), for property lookups */
    const pc_json_t *value;
} pc_json_member_t;

enum {
    PC_JSON_NUM_INT = 1u << 0, /* no fraction and no exponent in the literal */
    PC_JSON_NUM_I64 = 1u << 1, /* ... and it fits an int64: i is exact */
    PC_JSON_NUM_NEG = 1u << 2, /* the literal starts with '-' */
};

struct pc_json {
    uint8_t type;      /* pc_json_type_t */
    uint8_t num_flags; /* PC_JSON_NUM_* for numbers */
    uint32_t len;      /* string: bytes; array: items; object: members;
                          number: bytes of the literal */
    union {
        const char *str;                 /* decoded UTF-8, NUL-terminated */
        struct {
            const char *text;            /* the literal as sent, not NUL-terminated */
            double d;                    /* nearest double (may be +-inf for 1e999) */
            int64_t i;                   /* when PC_JSON_NUM_I64 */
        } num;
        const pc_json_t *const *items;   /* array, in order */
        const pc_json_member_t *members; /* object, in document order */
    } u;
};

typedef struct pc_json_limits {
    unsigned max_depth;   /* 0: 64 */
    uint32_t max_members; /* per object or array; 0: 100000 */
    uint32_t max_nodes;   /* in all; 0: 1000000 */
    uint32_t max_string;  /* decoded bytes of one string or key; 0: 1 MiB */
} pc_json_limits_t;

typedef enum pc_json_err {
    PC_JSON_OK = 0,
    PC_JSON_SYNTAX,
    PC_JSON_UTF8,          /* invalid UTF-8 or a lone surrogate escape */
    PC_JSON_DUP_KEY,
    PC_JSON_TOO_DEEP,
    PC_JSON_TOO_MANY,      /* max_members or max_nodes */
    PC_JSON_TOO_LONG,      /* max_string */
    PC_JSON_NOMEM,         /* the allocator returned NULL */
} pc_json_err_t;

typedef struct pc_json_error {
    pc_json_err_t code;
    size_t offset;         /* byte offset of the fault in the input */
    const char *msg;       /* static, client-safe ("duplicate key") */
} pc_json_error_t;

/* Allocation for the tree: returns size bytes aligned for any node, or
 * NULL. Memory is never freed piecemeal (an arena). */
typedef void *(*pc_json_alloc_fn)(void *ud, size_t size);

/* Reads buf[0..len) (need not be NUL-terminated; buf must outlive the
 * tree). lim may be NULL (defaults). Returns the root, or NULL with *err
 * filled. */
const pc_json_t *pc_json_parse(const char *buf, size_t len, const pc_json_limits_t *lim,
                               pc_json_alloc_fn alloc, void *ud, pc_json_error_t *err);

/* An object from pc_json_parse with more than PC_JSON_INDEX_MIN members
 * carries, right after its members array, an index: the members' positions
 * (uint32_t, len of them) sorted by (khash, klen, key bytes). pc_json_get
 * and pc_json_equal use it for O(log n) lookups, so a tree built by hand
 * must keep its objects at or below this size (or carry the index). */
#define PC_JSON_INDEX_MIN 16

/* A fixed hash of the decoded key bytes (json_tree.c); the same in every
 * process, so compiled schemas can keep property hashes. */
uint32_t pc_json_key_hash(const char *key, size_t klen);
/* The member named key, or NULL. Linear for small objects, a binary search
 * of the index above for larger ones. */
const pc_json_t *pc_json_get(const pc_json_t *obj, const char *key, size_t klen);

/* JSON equality (uniqueItems, const, enum): numbers by value, exactly
 * (1.0 == 1, 1e2 == 100), objects regardless of member order (O(n log n)
 * through the index above). Recursive: as deep as the trees, which
 * pc_json_parse bounds by max_depth. */
bool pc_json_equal(const pc_json_t *a, const pc_json_t *b);

/* Exact comparison of two numbers' values from their literals: <0, 0, >0;
 * any length, any exponent; -0 == 0 == 0e5. Exponents are read exactly up
 * to 10^36 in magnitude and saturate there: two values beyond it compare by
 * their digits alone (no request body gets near: that is 10^36 bytes). */
int pc_json_num_cmp(const pc_json_t *a, const pc_json_t *b);
/* Exact: is a an integer multiple of the positive number d (620.03 of 0.01)?
 * false when d is not > 0. Exact whenever d has at most 19 significant
 * digits (whatever the exponents: 1e308 of 0.01 is decided exactly). For a
 * longer d the work is bounded: when (significant digits of a + the decimal
 * exponent gap) * (significant digits of d) exceeds PC_JSON_MULTIPLE_WORK,
 * the answer is false ("not a multiple"), so a validator refuses rather
 * than spends. */
#define PC_JSON_MULTIPLE_WORK 1000000u
bool pc_json_num_multiple_of(const pc_json_t *a, const pc_json_t *d);
/* Exact: is the value an integer (1.0 and 1e2 are)? */
bool pc_json_num_is_integer(const pc_json_t *n);

#endif
