/* fuzz/fuzz_schema_validate.c: hostile instances against a fixed set of
 * compiled schemas (plugins/schema). The first input byte picks the
 * schema (modulo their number), the rest is the instance, read with
 * pc_json_parse. The schemas cover "$ref"/"$defs", "$dynamicRef",
 * unevaluatedProperties/Items, patterns and patternProperties, formats,
 * exact numbers, contains, if/then/else and draft-07 dependencies. Both
 * walks (first failure, and collecting errors) must agree
 * (schema_fuzz.h); no crash, leak or hang. */
#include "schema_fuzz.h"

#include <stdint.h>
#include <stdio.h>

static const char *const fz_texts[] = {
    /* an order: refs, formats, patterns, oneOf, exact multipleOf */
    "{\"type\": \"object\", \"required\": [\"id\", \"items\"], \"additionalProperties\": false,"
    " \"properties\": {\"id\": {\"type\": \"string\", \"format\": \"uuid\"},"
    "  \"at\": {\"type\": \"string\", \"format\": \"date-time\"}, \"mail\": {\"format\": \"email\"},"
    "  \"items\": {\"type\": \"array\", \"minItems\": 1, \"items\": {\"$ref\": \"#/$defs/item\"}},"
    "  \"ship\": {\"oneOf\": [{\"$ref\": \"#/$defs/a\"}, {\"$ref\": \"#/$defs/b\"}]},"
    "  \"cur\": {\"enum\": [\"EUR\", \"USD\", 1, null, [1], {\"a\": 1}]}},"
    " \"$defs\": {\"item\": {\"type\": \"object\", \"required\": [\"sku\"], \"properties\": {"
    "   \"sku\": {\"type\": \"string\", \"pattern\": \"^[A-Z]{3}-[0-9]{6}$\"},"
    "   \"qty\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1e3},"
    "   \"price\": {\"type\": \"number\", \"exclusiveMinimum\": 0, \"multipleOf\": 0.01},"
    "   \"tags\": {\"type\": \"array\", \"uniqueItems\": true, \"items\": {\"maxLength\": 8}}}},"
    "  \"a\": {\"properties\": {\"kind\": {\"const\": \"a\"}}, \"required\": [\"kind\"]},"
    "  \"b\": {\"properties\": {\"kind\": {\"const\": \"b\"}, \"c\": {\"pattern\": \"^(a+)+$\"}}}}}",
    /* events: prefixItems, contains, unevaluated* */
    "{\"type\": \"array\", \"prefixItems\": [{\"type\": \"object\"}], \"items\": {\"$ref\": \"#/$defs/ev\"},"
    " \"contains\": {\"properties\": {\"t\": {\"const\": \"hb\"}}, \"required\": [\"t\"]},"
    " \"minContains\": 1, \"maxContains\": 3, \"unevaluatedItems\": false,"
    " \"$defs\": {\"base\": {\"properties\": {\"t\": {\"type\": \"string\"}, \"ts\": {\"minimum\": 0}}},"
    "  \"ev\": {\"anyOf\": [{\"$ref\": \"#/$defs/click\"}, {\"$ref\": \"#/$defs/hb\"}]},"
    "  \"click\": {\"allOf\": [{\"$ref\": \"#/$defs/base\"}], \"properties\": {\"x\": {\"type\": \"integer\"}},"
    "   \"patternProperties\": {\"^y_\": {\"type\": \"number\"}}, \"unevaluatedProperties\": false},"
    "  \"hb\": {\"allOf\": [{\"$ref\": \"#/$defs/base\"}], \"if\": {\"required\": [\"t\"]},"
    "   \"then\": {\"properties\": {\"n\": true}}, \"unevaluatedProperties\": {\"type\": \"boolean\"}}}}",
    /* a draft-07 profile */
    "{\"$schema\": \"http://json-schema.org/draft-07/schema#\", \"type\": \"object\","
    " \"properties\": {\"user\": {\"$ref\": \"#/definitions/user\"},"
    "  \"settings\": {\"patternProperties\": {\"^[a-z][a-z0-9_]{0,31}$\": {\"type\": [\"string\", \"number\"]}},"
    "   \"additionalProperties\": false}, \"list\": {\"items\": [{\"type\": \"string\"}], \"additionalItems\": {\"type\": \"integer\"}}},"
    " \"definitions\": {\"user\": {\"properties\": {\"age\": {\"type\": \"integer\", \"exclusiveMaximum\": 130},"
    "   \"cc\": {\"minLength\": 2, \"maxLength\": 2}}, \"dependencies\": {\"pc\": [\"cc\"], \"vip\": {\"required\": [\"age\"]}},"
    "  \"if\": {\"properties\": {\"cc\": {\"const\": \"US\"}}, \"required\": [\"cc\"]},"
    "  \"then\": {\"properties\": {\"pc\": {\"pattern\": \"^[0-9]{5}$\"}}}, \"else\": {\"not\": {\"required\": [\"pc\"]}}}}}",
    /* a tree extended through $dynamicRef */
    "{\"$id\": \"https://fz.example/strict\", \"$dynamicAnchor\": \"node\", \"$ref\": \"tree\","
    " \"unevaluatedProperties\": false, \"$defs\": {\"tree\": {\"$id\": \"tree\", \"$dynamicAnchor\": \"node\","
    "  \"type\": \"object\", \"properties\": {\"data\": true, \"children\": {\"type\": \"array\","
    "   \"items\": {\"$dynamicRef\": \"#node\"}}}}}}",
    /* names, dependentSchemas, propertyNames, not, big numbers */
    "{\"propertyNames\": {\"maxLength\": 5, \"pattern\": \"^[^~/]\"}, \"minProperties\": 1, \"maxProperties\": 6,"
    " \"dependentSchemas\": {\"a\": {\"properties\": {\"b\": {\"$ref\": \"#\"}}}},"
    " \"dependentRequired\": {\"c\": [\"a\", \"b\"]},"
    " \"additionalProperties\": {\"anyOf\": [{\"type\": \"integer\", \"multipleOf\": 3,"
    "   \"maximum\": 18446744073709551616}, {\"type\": \"array\", \"contains\": {\"const\": 1.0},"
    "   \"uniqueItems\": true}, {\"$ref\": \"#\"}]}, \"not\": {\"const\": {\"x\": [1, 2]}}}",
};
#define FZ_N (sizeof fz_texts / sizeof fz_texts[0])

static pc_schema_t *fz_schemas[FZ_N];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < FZ_N; i++) {
        char err[160];
        pc_schema_opts_t opts = {.formats = true, .regex_match_limit = 20000};
        const pc_json_t *t = fz_parse(fz_texts[i], strlen(fz_texts[i]));
        fz_schemas[i] = t ? pc_schema_compile(t, NULL, &opts, err, sizeof err) : NULL;
        if (!fz_schemas[i]) {
            fprintf(stderr, "schema %zu: %s\n", i, t ? err : "does not parse");
            abort();
        }
    }
    fz_free_all(); /* the compiled schemas keep nothing of the trees */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const pc_json_t *x = fz_parse((const char *)data + 1, size - 1);
    if (x)
        fz_validate(fz_schemas[data[0] % FZ_N], x);
    fz_free_all();
    return 0;
}
