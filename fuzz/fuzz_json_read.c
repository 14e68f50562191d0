/* fuzz/fuzz_json_read.c: the request-body JSON reader
 * (plugins/schema/json_read.c, json_num.c, json_tree.c) against jansson.
 *
 * Input: the whole input is one body. Checked:
 *   - tests/unit/json_diff.c: both readers accept with equal trees, or
 *     both refuse, or they differ only as json_diff.c explains (numbers
 *     beyond jansson's int64 and double, NUL in keys, our limits);
 *   - a second parse of the same bytes is pc_json_equal to the first (two
 *     distinct trees, so equality is really walked) and to itself;
 *   - over the numbers found (up to FZ_NUMS): pc_json_num_cmp is
 *     antisymmetric, agrees with pc_json_equal, and agrees with the
 *     doubles wherever those differ (rounding is monotonic, so d(a) < d(b)
 *     implies a < b); every number is a multiple of itself when positive;
 *     is_integer is multiple_of 1; an int64 literal is an integer;
 *   - nothing crashes, leaks, or reads past the input (ASan, UBSan). */
#include "../tests/unit/json_diff.h"
#include "schema/json_read.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_NUMS 24

static void collect(const pc_json_t *v, const pc_json_t **nums, size_t *n)
{
    if (*n >= FZ_NUMS)
        return;
    switch (v->type) {
    case PC_JSON_NUMBER:
        nums[(*n)++] = v;
        return;
    case PC_JSON_ARRAY:
        for (uint32_t i = 0; i < v->len; i++)
            collect(v->u.items[i], nums, n);
        return;
    case PC_JSON_OBJECT:
        for (uint32_t i = 0; i < v->len; i++)
            collect(v->u.members[i].value, nums, n);
        return;
    default:
        return;
    }
}

static void fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_json_read: %s on %.*s\n", what, (int)(size > 200 ? 200 : size), (const char *)data);
    abort();
}

static void check_numbers(const pc_json_t *root, const uint8_t *data, size_t size, json_diff_arena_t *a)
{
    const pc_json_t *nums[FZ_NUMS];
    size_t n = 0;
    collect(root, nums, &n);
    pc_json_error_t err;
    const pc_json_t *one = pc_json_parse("1", 1, NULL, json_diff_arena_alloc, a, &err);
    const pc_json_t *zero = pc_json_parse("0", 1, NULL, json_diff_arena_alloc, a, &err);
    if (!one || !zero)
        return;
    for (size_t i = 0; i < n; i++) {
        const pc_json_t *x = nums[i];
        /* below 1000 digits the work bound (PC_JSON_MULTIPLE_WORK) is not reached */
        if (pc_json_num_cmp(x, zero) > 0 && x->len < 1000 && !pc_json_num_multiple_of(x, x))
            fail("a positive number is not a multiple of itself", data, size);
        if ((pc_json_num_cmp(x, zero) > 0) != (x->u.num.d > 0) && x->u.num.d != 0)
            fail("num_cmp with 0 disagrees with the double's sign", data, size);
        if (pc_json_num_is_integer(x) != pc_json_num_multiple_of(x, one))
            fail("is_integer disagrees with multiple_of 1", data, size);
        if ((x->num_flags & PC_JSON_NUM_I64) && !pc_json_num_is_integer(x))
            fail("an int64 literal is not an integer", data, size);
        for (size_t j = 0; j < n; j++) {
            const pc_json_t *y = nums[j];
            int c = pc_json_num_cmp(x, y), d = pc_json_num_cmp(y, x);
            if ((c > 0) - (c < 0) != -((d > 0) - (d < 0)))
                fail("num_cmp is not antisymmetric", data, size);
            if ((c == 0) != pc_json_equal(x, y))
                fail("num_cmp disagrees with equal", data, size);
            if (x->u.num.d < y->u.num.d && c >= 0)
                fail("num_cmp disagrees with the doubles", data, size);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[256];
    const char *w = json_diff_jansson((const char *)data, size, why, sizeof why);
    if (w)
        fail(w, data, size);
    json_diff_arena_t *a = json_diff_arena_new();
    pc_json_error_t e1, e2;
    const pc_json_t *x = pc_json_parse((const char *)data, size, NULL, json_diff_arena_alloc, a, &e1);
    const pc_json_t *y = pc_json_parse((const char *)data, size, NULL, json_diff_arena_alloc, a, &e2);
    if (!x != !y || (!x && (e1.code != e2.code || e1.offset != e2.offset)))
        fail("two parses differ", data, size);
    if (x) {
        if (!pc_json_equal(x, y) || !pc_json_equal(y, x) || !pc_json_equal(x, x))
            fail("a tree is not equal to its copy", data, size);
        check_numbers(x, data, size, a);
    } else if (!e1.msg || e1.offset > size) {
        fail("refusal without message or with a bad offset", data, size);
    }
    json_diff_arena_free(a);
    return 0;
}
