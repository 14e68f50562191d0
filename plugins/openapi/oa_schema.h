/* plugins/openapi/oa_schema.h: OpenAPI Schema Objects into self-contained
 * JSON Schema 2020-12 documents (the importer's half that knows schemas).
 *
 * 3.0 (the OpenAPI dialect of draft 4/5) is translated:
 *   nullable: true          type [T, "null"] (and null added to an enum);
 *                           without "type": {"anyOf": [S, {"type": "null"}]}
 *   exclusiveMinimum: true  exclusiveMinimum: <minimum> (same for Maximum);
 *                           false is dropped
 *   $ref with siblings      the siblings are dropped (3.0 says they are
 *                           ignored)
 *   readOnly properties     dropped from "required" (3.0: required applies
 *                           to responses only) in requests' schemas; kept in
 *                           responses' (response); readOnly/writeOnly stay as
 *                           annotations (requests carrying a readOnly
 *                           property are not refused)
 * In both versions the OpenAPI-only keywords example, discriminator, xml,
 * externalDocs and every "x-" extension are dropped (annotations); 3.1
 * schemas are 2020-12 as they are, except that $id, $anchor,
 * $dynamicAnchor, $dynamicRef and a $schema other than 2020-12 are refused
 * (they would change what the bundled references mean).
 * "$ref" must be "#/components/schemas/Name..." (-> "#/$defs/Name...");
 * other references are refused with their pointer.
 */
#ifndef PC_OA_SCHEMA_H
#define PC_OA_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct pc_oas {
    const json_t *doc;
    bool v30;
    json_t *cache;     /* Name -> {"schema": translated, "deps": {Name: true}} */
    json_t *rcache;    /* the same for responses (readOnly stays required) */
    bool response;     /* translating a response's schema */
    json_t *all_used;  /* every Name bundled anywhere (the summary's count) */
    char *err;
    size_t errlen;
} pc_oas_t;

#define PC_OAS_MAX_DEPTH 64

/* The schema s found at pointer ptr, translated; Names it references are
 * set in used. NULL with err set. */
json_t *pc_oas_translate(pc_oas_t *c, const json_t *s, const char *ptr, json_t *used);
/* Adds "$defs" with the closure of used to root (which is an object and
 * has no "$defs" of its own). 0 or -1 with err set. */
int pc_oas_bundle(pc_oas_t *c, json_t *root, const json_t *used);
/* Follows local "$ref"s from v (at ptr) to a non-reference object; ptr is
 * updated to the target's pointer. NULL with err set (external, dangling,
 * a chain longer than 16). */
const json_t *pc_oas_deref(pc_oas_t *c, const json_t *v, char *ptr, size_t len);
int pc_oas_fail(pc_oas_t *c, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
