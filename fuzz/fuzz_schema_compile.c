/* fuzz/fuzz_schema_compile.c: hostile schemas (plugins/schema): the input
 * after its first byte is read with pc_json_parse and compiled; the first
 * byte picks the default draft (bit 0) and format assertion (bit 1).
 * "$ref" to https://fz.example/remote.json gets a small document with
 * "$defs", "$anchor" and "$dynamicAnchor"; any other document is missing.
 * A schema that compiles validates a few fixed instances and itself, and
 * both walks must agree (schema_fuzz.h). Compile errors must say
 * something. No crash, leak, hang or unbounded recursion. */
#include "schema_fuzz.h"

#include <stdint.h>

static const char fz_remote_text[] =
    "{\"$id\": \"https://fz.example/remote.json\", \"$dynamicAnchor\": \"node\","
    " \"$defs\": {\"int\": {\"type\": \"integer\"}, \"s\": {\"$anchor\": \"s\", \"type\": \"string\"},"
    " \"list\": {\"type\": \"array\", \"items\": {\"$dynamicRef\": \"#node\"}}}}";
static const char *const fz_instances[] = {
    "null", "0", "-1.5e3", "\"x\"", "\"2020-01-01\"", "[1, \"a\", [null]]",
    "{\"a\": 1, \"b\": {\"c\": [true, false]}, \"foo\": \"bar\"}", "123456789012345678901234567890",
};

static const pc_json_t *fz_loader(void *ud, const char *uri)
{
    (void)ud;
    if (strcmp(uri, "https://fz.example/remote.json"))
        return NULL;
    return fz_parse(fz_remote_text, sizeof fz_remote_text - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const pc_json_t *root = fz_parse((const char *)data + 1, size - 1);
    if (root) {
        pc_schema_opts_t opts = {
            .default_draft = (data[0] & 1) ? PC_SCHEMA_DRAFT7 : PC_SCHEMA_2020_12,
            .formats = (data[0] & 2) != 0,
            .loader = fz_loader,
            .regex_match_limit = 20000,
        };
        char err[160];
        err[0] = '\0';
        pc_schema_t *s = pc_schema_compile(root, "https://fz.example/root.json", &opts, err, sizeof err);
        if (!s && !err[0])
            abort();
        if (s) {
            for (size_t i = 0; i < sizeof fz_instances / sizeof fz_instances[0]; i++) {
                const pc_json_t *x = fz_parse(fz_instances[i], strlen(fz_instances[i]));
                if (x)
                    fz_validate(s, x);
            }
            fz_validate(s, root);
            pc_schema_free(s);
        }
    }
    fz_free_all();
    return 0;
}
