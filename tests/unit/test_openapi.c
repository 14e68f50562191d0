/* tests/unit/test_openapi.c: the openapi plugin's pure parts: YAML into
 * JSON (plugins/openapi/yaml_json.c) and the importer (oa_import.c, oa_op.c,
 * oa_schema.c): 3.0 translation, parameters into schemas, typed path
 * templates, servers, security into scopes, and every refusal with its
 * pointer. The three real fixture documents (the small Petstore, the Swagger
 * Petstore v3, the Redocly Museum) are imported whole. */
#include "oa_import.h"
#include "yaml_json.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[1024];

static json_t *yaml(const char *s)
{
    err[0] = '\0';
    return pc_doc_parse(s, strlen(s), 100000, err, sizeof(err));
}

/* Imports a YAML document; returns rc, leaves the result in *oa. */
static int import(const char *doc, const char *base, pc_oa_t *oa)
{
    json_t *d = yaml(doc);
    ck_assert_msg(d, "parse: %s", err);
    pc_oa_opts_t o = {.base_path = base};
    int rc = pc_oa_import(d, &o, oa, err, sizeof(err));
    json_decref(d);
    return rc;
}

static void refused(const char *doc, const char *want)
{
    pc_oa_t oa;
    ck_assert_int_eq(import(doc, NULL, &oa), -1);
    ck_assert_msg(strstr(err, want), "error \"%s\" lacks \"%s\"", err, want);
    pc_oa_free(&oa);
}

static char *dump(const json_t *v)
{
    static char buf[8192];
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    snprintf(buf, sizeof(buf), "%s", s ? s : "(null)");
    free(s);
    return buf;
}

/* The op whose id is id. */
static const pc_oa_op_t *op(const pc_oa_t *oa, const char *id)
{
    for (size_t i = 0; i < oa->nops; i++)
        if (strcmp(oa->ops[i].id, id) == 0)
            return &oa->ops[i];
    ck_abort_msg("no operation %s", id);
    return NULL;
}

#define HEAD30 "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n"
#define HEAD31 "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n"

/* ---- YAML ----------------------------------------------------------------- */

START_TEST(test_yaml_scalars)
{
    json_t *d = yaml("a: true\nb: null\nc: 42\nd: -7\ne: 1.5\nf: '42'\ng: \"true\"\n"
                     "h: ~\ni: 0x1F\nj: 1e3\nk: yes\n200: ok\nl: |\n  text\nm: !!str 12\n");
    ck_assert_msg(d, "%s", err);
    ck_assert_str_eq(dump(d), "{\"200\":\"ok\",\"a\":true,\"b\":null,\"c\":42,\"d\":-7,\"e\":1.5,"
                              "\"f\":\"42\",\"g\":\"true\",\"h\":null,\"i\":31,\"j\":1000.0,"
                              "\"k\":\"yes\",\"l\":\"text\\n\",\"m\":\"12\"}");
    json_decref(d);
}
END_TEST

START_TEST(test_yaml_json_detected)
{
    json_t *d = yaml("  {\"a\": [1, 2]}");
    ck_assert_str_eq(dump(d), "{\"a\":[1,2]}");
    json_decref(d);
    ck_assert_ptr_null(yaml("{\"a\": 1, \"a\": 2}"));
    ck_assert_ptr_nonnull(strstr(err, "duplicate"));
}
END_TEST

START_TEST(test_yaml_refusals)
{
    static const struct { const char *doc, *why; } cases[] = {
        {"a: 1\na: 2\n", "line 2, column 1: duplicate key \"a\""},
        {"a: 1\n---\nb: 2\n", "a second document"},
        {"? [1, 2]\n: x\n", "a key must be a scalar"},
        {"base: &b {x: 1}\nc:\n  <<: *b\n", "merge keys"},
        {"a: !custom x\n", "tag"},
        {"a: .inf\n", "cannot be represented"},
        {"a: 99999999999999999999\n", "cannot be represented"},
        {"a: &x [*x]\n", "unknown or recursive alias"},
        {"a: *nothing\n", "unknown or recursive alias"},
        {"a: [1, 2\n", "line"},
        {"", "empty"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(!yaml(cases[i].doc), "case %zu parsed", i);
        ck_assert_msg(strstr(err, cases[i].why), "case %zu: \"%s\"", i, err);
    }
}
END_TEST

START_TEST(test_yaml_aliases)
{
    json_t *d = yaml("s: &s {type: string}\na: *s\nb: [*s, *s]\n");
    ck_assert_msg(d, "%s", err);
    ck_assert_str_eq(dump(json_object_get(d, "b")), "[{\"type\":\"string\"},{\"type\":\"string\"}]");
    ck_assert_ptr_eq(json_object_get(d, "a"), json_object_get(d, "s")); /* shared, not copied */
    json_decref(d);
}
END_TEST

/* Billion laughs: 9 levels of 10 aliases are 10^9 nodes once expanded,
 * from a document of a few hundred bytes. */
START_TEST(test_yaml_alias_bomb)
{
    char doc[2048] = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    for (char c = 'b'; c <= 'j'; c++) {
        size_t n = strlen(doc);
        snprintf(doc + n, sizeof(doc) - n, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n",
                 c, c, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
    }
    ck_assert_ptr_null(yaml(doc));
    ck_assert_msg(strstr(err, "larger than 100000 nodes"), "%s", err);
    /* Three levels (1,111 nodes) fit. */
    char *cut = strstr(doc, "d: ");
    *cut = '\0';
    json_t *d = yaml(doc);
    ck_assert_msg(d, "%s", err);
    json_decref(d);
}
END_TEST

START_TEST(test_yaml_depth)
{
    char doc[1024] = "";
    for (int i = 0; i < PC_YJ_MAX_DEPTH + 1; i++)
        strcat(doc, "[");
    ck_assert_ptr_null(yaml(doc));
    ck_assert_msg(strstr(err, "nested deeper"), "%s", err);
}
END_TEST

/* ---- the documents ------------------------------------------------------------ */

static char *fixture(const char *name, size_t *len)
{
    const char *src = getenv("PC_SRCDIR") ? getenv("PC_SRCDIR") : getenv("srcdir");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/fixtures/openapi/%s", src ? src : ".", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(path, sizeof(path), "%s/../tests/fixtures/openapi/%s", src ? src : ".", name);
        f = fopen(path, "rb");
    }
    ck_assert_msg(f, "%s", path);
    static char buf[1 << 20];
    *len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

START_TEST(test_petstore)
{
    pc_oa_t oa;
    size_t len;
    const char *text = fixture("petstore.yaml", &len);
    ck_assert_int_eq(import(text, NULL, &oa), 0);
    ck_assert_str_eq(oa.version, "3.0.0");
    ck_assert_str_eq(oa.base_path, "/v1");
    ck_assert_uint_eq(oa.nops, 3);
    ck_assert_str_eq(dump(oa.entries),
                     "[{\"id\":\"listPets\",\"methods\":[\"GET\"],\"path\":\"/v1/pets\"},"
                     "{\"id\":\"createPets\",\"methods\":[\"POST\"],\"path\":\"/v1/pets\"},"
                     "{\"id\":\"showPetById\",\"methods\":[\"GET\"],\"path\":\"/v1/pets/{petId}\"}]");
    ck_assert_str_eq(dump(op(&oa, "listPets")->sop),
                     "{\"query\":{\"properties\":{\"limit\":{\"format\":\"int32\",\"maximum\":100,"
                     "\"type\":\"integer\"}},\"type\":\"object\"}}");
    const pc_oa_op_t *create = op(&oa, "createPets");
    ck_assert(create->body);
    ck_assert_str_eq(dump(create->sop),
                     "{\"body\":{\"$defs\":{\"Pet\":{\"properties\":{\"id\":{\"format\":\"int64\","
                     "\"type\":\"integer\"},\"name\":{\"type\":\"string\"},\"tag\":{\"type\":"
                     "\"string\"}},\"required\":[\"id\",\"name\"],\"type\":\"object\"}},\"$ref\":"
                     "\"#/$defs/Pet\"},\"body_required\":true,\"content_types\":[\"application/json\"]}");
    ck_assert_str_eq(create->ptr, "/paths/~1pets/post");
    ck_assert_uint_eq(oa.nschemas, 1);
    ck_assert_uint_eq(json_array_size(oa.notes), 0);
    pc_oa_free(&oa);
}
END_TEST

/* Imports a fixture with these schemes left to the upstream; rc as pc_oa_import. */
static int import_fixture(const char *name, const char *base, const char *unverified,
                          pc_oa_t *oa)
{
    size_t len;
    json_t *d = yaml(fixture(name, &len));
    ck_assert_msg(d, "parse: %s", err);
    const char *const names[] = {unverified};
    pc_oa_opts_t o = {.base_path = base, .unverified = names, .nunverified = unverified ? 1 : 0};
    int rc = pc_oa_import(d, &o, oa, err, sizeof(err));
    json_decref(d);
    return rc;
}

/* The entry (one per operation here) whose id is id. */
static const json_t *entry(const pc_oa_t *oa, const char *id)
{
    for (size_t i = 0; i < json_array_size(oa->entries); i++) {
        const json_t *e = json_array_get(oa->entries, i);
        if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0)
            return e;
    }
    ck_abort_msg("no entry %s", id);
    return NULL;
}

/* How many notes contain s. */
static size_t notes_with(const pc_oa_t *oa, const char *s)
{
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(oa->notes); i++)
        n += strstr(json_string_value(json_array_get(oa->notes, i)), s) != NULL;
    return n;
}

/* The Swagger Petstore v3 (3.0.4): OAuth 2 scopes, an apiKey scheme, XML
 * and form bodies beside JSON, an octet-stream upload. */
START_TEST(test_petstore3)
{
    pc_oa_t oa;
    /* getInventory has only api_key: nothing the gateway can verify */
    ck_assert_int_eq(import_fixture("petstore3/openapi.yaml", NULL, NULL, &oa), -1);
    ck_assert_str_eq(err, "/paths/~1store~1inventory/get/security: no security requirement the "
                          "gateway can verify (apiKey \"api_key\")");
    ck_assert_msg(import_fixture("petstore3/openapi.yaml", NULL, "api_key", &oa) == 0, "%s", err);
    ck_assert_str_eq(oa.version, "3.0.4");
    ck_assert_str_eq(oa.base_path, "/api/v3"); /* https://petstore3.swagger.io/api/v3 */
    ck_assert_uint_eq(oa.nops, 19);
    ck_assert_uint_eq(json_array_size(oa.entries), 19);
    ck_assert_str_eq(dump(entry(&oa, "addPet")),
                     "{\"id\":\"addPet\",\"methods\":[\"POST\"],\"path\":\"/api/v3/pet\","
                     "\"scopes\":[\"read:pets\",\"write:pets\"]}");
    /* api_key or petstore_auth: the unverified api_key lets any token in */
    ck_assert_str_eq(dump(entry(&oa, "getPetById")),
                     "{\"id\":\"getPetById\",\"methods\":[\"GET\"],"
                     "\"path\":\"/api/v3/pet/{petId:-?[0-9]+}\"}");
    ck_assert_ptr_null(json_object_get(entry(&oa, "getInventory"), "scopes"));
    ck_assert_str_eq(dump(json_object_get(op(&oa, "findPetsByStatus")->sop, "query")),
                     "{\"properties\":{\"status\":{\"default\":\"available\",\"enum\":"
                     "[\"available\",\"pending\",\"sold\"],\"type\":\"string\"}},"
                     "\"type\":\"object\"}");
    const json_t *order = op(&oa, "placeOrder")->sop;
    ck_assert_str_eq(dump(json_object_get(order, "content_types")), "[\"application/json\"]");
    ck_assert_str_eq(dump(json_object_get(order, "body_required")), "false");
    /* example, xml and x- dropped, the 3.0 schema otherwise as written */
    ck_assert_str_eq(dump(json_object_get(json_object_get(json_object_get(order, "body"), "$defs"),
                                          "Order")),
                     "{\"properties\":{\"complete\":{\"type\":\"boolean\"},\"id\":{\"format\":"
                     "\"int64\",\"type\":\"integer\"},\"petId\":{\"format\":\"int64\",\"type\":"
                     "\"integer\"},\"quantity\":{\"format\":\"int32\",\"type\":\"integer\"},"
                     "\"shipDate\":{\"format\":\"date-time\",\"type\":\"string\"},\"status\":"
                     "{\"description\":\"Order Status\",\"enum\":[\"placed\",\"approved\","
                     "\"delivered\"],\"type\":\"string\"}},\"type\":\"object\"}");
    ck_assert_str_eq(op(&oa, "deleteUser")->path, "/api/v3/user/{username}");
    ck_assert(!op(&oa, "uploadFile")->body);
    ck_assert_uint_eq(oa.nbodies, 6);
    ck_assert_uint_eq(notes_with(&oa, "refused with 415, only JSON bodies are validated: "
                                      "application/xml, application/x-www-form-urlencoded"), 5);
    ck_assert_uint_eq(notes_with(&oa, "/paths/~1pet~1{petId}~1uploadImage/post/requestBody/"
                                      "content: accepted, not validated: "
                                      "application/octet-stream"), 1);
    ck_assert_uint_eq(notes_with(&oa, "apiKey \"api_key\" is not verified by the gateway"), 2);
    /* the gateway drops client headers named with '_' unless the listener allows them */
    const char *us = "header \"api_key\" holds '_': dropped before the upstream unless the "
                     "listener sets underscores_in_headers";
    ck_assert_uint_eq(notes_with(&oa, us), 2);
    ck_assert_uint_eq(notes_with(&oa, "/components/securitySchemes/api_key: header"), 1);
    ck_assert_uint_eq(notes_with(&oa, "/paths/~1pet~1{petId}/delete/parameters/0: header"), 1);
    ck_assert_uint_eq(json_array_size(oa.notes), 10);
    pc_oa_free(&oa);
}
END_TEST

/* The Redocly Museum API (3.1.0): http basic for the whole document,
 * webhooks, schemas with $ref siblings, formats. */
START_TEST(test_museum)
{
    pc_oa_t oa;
    ck_assert_int_eq(import_fixture("museum/openapi.yaml", NULL, NULL, &oa), -1);
    ck_assert_str_eq(err, "/security: no security requirement the gateway can verify "
                          "(http \"MuseumPlaceholderAuth\")");
    ck_assert_msg(import_fixture("museum/openapi.yaml", NULL, "MuseumPlaceholderAuth", &oa) == 0,
                  "%s", err);
    ck_assert_str_eq(oa.version, "3.1.0");
    ck_assert_str_eq(oa.base_path, "/_mock/docs/openapi/museum-api");
    pc_oa_free(&oa);
    ck_assert_int_eq(import_fixture("museum/openapi.yaml", "/museum", "MuseumPlaceholderAuth",
                                    &oa), 0);
    ck_assert_uint_eq(oa.nops, 8); /* the webhook is not an operation of the gateway's */
    ck_assert_str_eq(dump(entry(&oa, "getSpecialEvent")),
                     "{\"id\":\"getSpecialEvent\",\"methods\":[\"GET\"],"
                     "\"path\":\"/museum/special-events/{eventId:uuid}\"}");
    ck_assert_str_eq(op(&oa, "getTicketCode")->path, "/museum/tickets/{ticketId:uuid}/qr");
    ck_assert_str_eq(dump(json_object_get(op(&oa, "getMuseumHours")->sop, "query")),
                     "{\"properties\":{\"limit\":{\"default\":10,\"maximum\":30,\"type\":"
                     "\"integer\"},\"page\":{\"default\":1,\"type\":\"integer\"},\"startDate\":"
                     "{\"format\":\"date\",\"type\":\"string\"}},\"type\":\"object\"}");
    const json_t *buy = op(&oa, "buyMuseumTickets")->sop;
    ck_assert_str_eq(dump(json_object_get(buy, "body_required")), "true");
    const json_t *defs = json_object_get(json_object_get(buy, "body"), "$defs");
    /* 3.1: a $ref keeps its siblings; the closure of BuyMuseumTickets */
    const json_t *ticket = json_object_get(defs, "Ticket");
    ck_assert_str_eq(dump(json_object_get(json_object_get(ticket, "properties"), "ticketDate")),
                     "{\"$ref\":\"#/$defs/Date\",\"description\":\"Date when this ticket can be "
                     "used for museum entry.\"}");
    ck_assert_str_eq(dump(json_object_get(ticket, "required")), "[\"ticketType\",\"ticketDate\"]");
    ck_assert_str_eq(dump(json_object_get(defs, "Date")),
                     "{\"format\":\"date\",\"type\":\"string\"}");
    ck_assert_uint_eq(json_object_size(defs), 7); /* Buy..., Email, Ticket, TicketId, Date,
                                                     TicketType, EventId */
    ck_assert_uint_eq(oa.nbodies, 3);
    /* the document's security, used by all 8 operations, is said once */
    ck_assert_uint_eq(json_array_size(oa.notes), 1);
    ck_assert_str_eq(json_string_value(json_array_get(oa.notes, 0)),
                     "/security/0/MuseumPlaceholderAuth: http \"MuseumPlaceholderAuth\" is not "
                     "verified by the gateway (unverified_schemes): the upstream must check it");
    pc_oa_free(&oa);
}
END_TEST

/* ---- 3.0 translation ------------------------------------------------------------ */

static json_t *body_of(const char *schema_yaml, bool v30, pc_oa_t *oa)
{
    char doc[4096];
    snprintf(doc, sizeof(doc),
             "%s"
             "paths:\n  /x:\n    post:\n      operationId: op\n      requestBody:\n"
             "        content:\n          application/json:\n            schema: %s\n"
             "components:\n  schemas:\n    N: {type: string, nullable: true, x-tag: 1}\n"
             "    R: {type: object, required: [id, name], properties: {id: {type: integer, "
             "readOnly: true}, name: {type: string}}}\n",
             v30 ? HEAD30 : HEAD31, schema_yaml);
    int rc = import(doc, NULL, oa);
    ck_assert_msg(rc == 0, "%s", err);
    return json_object_get(oa->ops[0].sop, "body");
}

START_TEST(test_translate_30)
{
    static const struct { const char *in, *out; } cases[] = {
        {"{type: string, nullable: true}", "{\"type\":[\"string\",\"null\"]}"},
        {"{type: string, nullable: false}", "{\"type\":\"string\"}"},
        {"{type: string, enum: [a, b], nullable: true}",
         "{\"enum\":[\"a\",\"b\",null],\"type\":[\"string\",\"null\"]}"},
        {"{allOf: [{type: integer}], nullable: true}",
         "{\"anyOf\":[{\"allOf\":[{\"type\":\"integer\"}]},{\"type\":\"null\"}]}"},
        {"{type: number, minimum: 0, exclusiveMinimum: true}",
         "{\"exclusiveMinimum\":0,\"type\":\"number\"}"},
        {"{type: number, maximum: 9, exclusiveMaximum: false}",
         "{\"maximum\":9,\"type\":\"number\"}"},
        {"{type: string, example: x, x-foo: 1, discriminator: {propertyName: t}, xml: {}}",
         "{\"type\":\"string\"}"},
        {"{properties: {a: {type: string, nullable: true}}, items: {nullable: true, type: integer}}",
         "{\"items\":{\"type\":[\"integer\",\"null\"]},\"properties\":{\"a\":{\"type\":"
         "[\"string\",\"null\"]}}}"},
        {"{$ref: '#/components/schemas/N', description: ignored}",
         "{\"$defs\":{\"N\":{\"type\":[\"string\",\"null\"]}},\"$ref\":\"#/$defs/N\"}"},
        /* readOnly id is required in responses only */
        {"{$ref: '#/components/schemas/R'}",
         "{\"$defs\":{\"R\":{\"properties\":{\"id\":{\"readOnly\":true,\"type\":\"integer\"},"
         "\"name\":{\"type\":\"string\"}},\"required\":[\"name\"],\"type\":\"object\"}},"
         "\"$ref\":\"#/$defs/R\"}"},
        {"{enum: [1, 2]}", "{\"enum\":[1,2]}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pc_oa_t oa;
        json_t *b = body_of(cases[i].in, true, &oa);
        ck_assert_msg(!strcmp(dump(b), cases[i].out), "case %zu: %s", i, dump(b));
        pc_oa_free(&oa);
    }
}
END_TEST

START_TEST(test_translate_31_as_is)
{
    pc_oa_t oa;
    json_t *b = body_of("{type: [string, 'null'], exclusiveMinimum: 3, nullable: true, "
                        "$ref: '#/components/schemas/N'}", false, &oa);
    /* 3.1: no translation (nullable is an unknown keyword), $ref siblings kept */
    ck_assert_str_eq(dump(b), "{\"$defs\":{\"N\":{\"nullable\":true,\"type\":\"string\"}},"
                              "\"$ref\":\"#/$defs/N\",\"exclusiveMinimum\":3,\"nullable\":true,"
                              "\"type\":[\"string\",\"null\"]}");
    pc_oa_free(&oa);
}
END_TEST

START_TEST(test_bundle_closure)
{
    pc_oa_t oa;
    const char *doc = HEAD30
        "paths:\n  /x:\n    post:\n      requestBody:\n        content:\n"
        "          application/merge-patch+json:\n            schema: {$ref: '#/components/schemas/A'}\n"
        "components:\n  schemas:\n    A: {type: object, properties: {b: {$ref: '#/components/schemas/B'}}}\n"
        "    B: {type: array, items: {$ref: '#/components/schemas/A'}}\n"
        "    Unused: {type: string}\n";
    ck_assert_int_eq(import(doc, NULL, &oa), 0);
    const json_t *sop = oa.ops[0].sop;
    ck_assert_str_eq(dump(json_object_get(sop, "content_types")), "[\"application/merge-patch+json\"]");
    const json_t *defs = json_object_get(json_object_get(sop, "body"), "$defs");
    ck_assert_uint_eq(json_object_size(defs), 2); /* A and B (a cycle), not Unused */
    ck_assert_str_eq(dump(json_object_get(defs, "B")),
                     "{\"items\":{\"$ref\":\"#/$defs/A\"},\"type\":\"array\"}");
    ck_assert_str_eq(oa.ops[0].id, "POST /x");
    ck_assert_uint_eq(oa.nschemas, 2);
    pc_oa_free(&oa);
}
END_TEST

/* ---- parameters and the path template ---------------------------------------------- */

START_TEST(test_params)
{
    pc_oa_t oa;
    const char *doc = HEAD30
        "paths:\n"
        "  /orders/{id}/items/{n}/{slug}/{d}:\n"
        "    parameters:\n"
        "      - {name: id, in: path, required: true, schema: {type: string, format: uuid}}\n"
        "      - {name: n, in: path, required: true, schema: {type: integer, minimum: 0}}\n"
        "      - {name: slug, in: path, required: true, schema: {type: string, pattern: '^[a-z]+$'}}\n"
        "      - {name: d, in: path, required: true, schema: {type: integer}}\n"
        "      - {name: limit, in: query, schema: {type: string}}\n"
        "    get:\n"
        "      operationId: get\n"
        "      parameters:\n"
        "        - {name: limit, in: query, required: true, schema: {type: integer}}\n"
        "        - {name: tags, in: query, explode: false, schema: {type: array, items: {type: string}}}\n"
        "        - {name: X-Request-Tag, in: header, required: true, schema: {type: string}}\n"
        "        - {name: Accept, in: header, schema: {type: string}}\n"
        "        - $ref: '#/components/parameters/Q'\n"
        "components:\n  parameters:\n    Q: {name: q, in: query, schema: {$ref: '#/components/schemas/S'}}\n"
        "  schemas:\n    S: {type: string, maxLength: 5}\n";
    ck_assert_msg(import(doc, NULL, &oa) == 0, "%s", err);
    const pc_oa_op_t *o = &oa.ops[0];
    ck_assert_str_eq(o->path, "/orders/{id:uuid}/items/{n:int}/{slug}/{d:-?[0-9]+}");
    const json_t *sop = o->sop;
    ck_assert_str_eq(dump(json_object_get(sop, "path")),
                     "{\"properties\":{\"d\":{\"type\":\"integer\"},\"id\":{\"format\":\"uuid\","
                     "\"type\":\"string\"},\"n\":{\"minimum\":0,\"type\":\"integer\"},\"slug\":"
                     "{\"pattern\":\"^[a-z]+$\",\"type\":\"string\"}},\"required\":[\"id\",\"n\","
                     "\"slug\",\"d\"],\"type\":\"object\"}");
    /* the operation's limit overrides the path item's */
    ck_assert_str_eq(dump(json_object_get(sop, "query")),
                     "{\"$defs\":{\"S\":{\"maxLength\":5,\"type\":\"string\"}},\"properties\":"
                     "{\"limit\":{\"type\":\"integer\"},\"q\":{\"$ref\":\"#/$defs/S\"},\"tags\":"
                     "{\"items\":{\"type\":\"string\"},\"type\":\"array\"}},\"required\":"
                     "[\"limit\"],\"type\":\"object\"}");
    ck_assert_str_eq(dump(json_object_get(sop, "headers")),
                     "{\"properties\":{\"x-request-tag\":{\"type\":\"string\"}},\"required\":"
                     "[\"x-request-tag\"],\"type\":\"object\"}");
    ck_assert_uint_eq(oa.nparams[0], 4);
    ck_assert_uint_eq(oa.nparams[1], 3);
    ck_assert_uint_eq(oa.nparams[2], 1);
    ck_assert_msg(strstr(dump(oa.notes), "header \\\"Accept\\\" ignored"), "%s", dump(oa.notes));
    pc_oa_free(&oa);
}
END_TEST

START_TEST(test_param_refusals)
{
    static const struct { const char *params, *why; } cases[] = {
        {"[{name: f, in: query, style: deepObject, schema: {type: object}}]",
         "/paths/~1p~1{id}/get/parameters/1/style: \"deepObject\" is not supported"},
        {"[{name: c, in: cookie, schema: {type: string}}]",
         "/paths/~1p~1{id}/get/parameters/1/in: \"cookie\" parameters are not supported"},
        {"[{name: f, in: query, schema: {type: object}}]",
         "/paths/~1p~1{id}/get/parameters/1/schema: object parameters are not supported"},
        {"[{name: h, in: header, schema: {type: array}}]", "array header parameters"},
        {"[{name: f, in: query, content: {application/json: {}}}]",
         "/paths/~1p~1{id}/get/parameters/1/content: parameters described by content"},
        {"[{name: f, in: query, schema: {$ref: 'other.yaml#/S'}}]",
         "/paths/~1p~1{id}/get/parameters/1/schema/$ref: external reference \"other.yaml#/S\""},
        {"[{$ref: '#/components/parameters/Nope'}]",
         "/paths/~1p~1{id}/get/parameters/1/$ref: \"#/components/parameters/Nope\" does not exist"},
        {"[{name: x, in: path, required: true}]", "/paths/~1p~1{id}/get/parameters/1: \"x\" is not in the path"},
        {"[{name: id, in: path, schema: {type: string}}]",
         "/paths/~1p~1{id}/get/parameters/1/required: a path parameter must be required"},
        {"[{name: f, in: query, schema: {$ref: '#/paths'}}]",
         "only references to #/components/schemas/"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char doc[2048];
        snprintf(doc, sizeof(doc), HEAD30 "paths:\n  /p/{id}:\n    get:\n      parameters:\n"
                 "        - {name: id, in: path, required: true, schema: {type: string}}\n"
                 "        - %s\n", cases[i].params + 1);
        doc[strlen(doc) - 2] = '\n'; /* drop the closing ] */
        doc[strlen(doc) - 1] = '\0';
        refused(doc, cases[i].why);
    }
}
END_TEST

START_TEST(test_template_refusals)
{
    refused(HEAD30 "paths:\n  /a/{x}.json:\n    get: {parameters: [{name: x, in: path, required: true}]}\n",
            "/paths/~1a~1{x}.json: a parameter must be a whole path segment");
    refused(HEAD30 "paths:\n  /a/{x}:\n    get: {}\n",
            "/paths/~1a~1{x}/get: path parameter \"x\" is not declared");
    refused(HEAD30 "paths:\n  /a/{x-y}:\n    get: {parameters: [{name: x-y, in: path, required: true}]}\n",
            "path parameter name \"x-y\" is not supported");
    refused(HEAD30 "paths:\n  a:\n    get: {}\n", "/paths/a: a path must start with '/'");
    refused(HEAD30 "paths:\n  /a:\n    get: {operationId: o}\n    post: {operationId: o}\n",
            "/paths/~1a/post/operationId: \"o\" is used twice");
    refused(HEAD30 "paths:\n  /a:\n    get: {callback: {}}\n", "/paths/~1a/get/callback: is not an Operation field");
    refused(HEAD30 "paths:\n  /a:\n    $ref: 'x.yaml#/a'\n", "/paths/~1a/$ref: external reference");
    refused(HEAD30 "paths:\n  /p/{a}:\n    get: {parameters: [{name: a, in: path, required: true}]}\n"
            "  /p/{b}:\n    get: {parameters: [{name: b, in: path, required: true}]}\n",
            "/paths/~1p~1{b}/get: the same method and path shape as /paths/~1p~1{a}/get");
}
END_TEST

/* ---- servers ----------------------------------------------------------------------- */

START_TEST(test_servers)
{
    pc_oa_t oa;
    const char *doc = HEAD30
        "servers:\n  - url: 'https://{host}/api/{version}/'\n"
        "    variables: {host: {default: example.com}, version: {default: v2, enum: [v1, v2]}}\n"
        "  - url: /other\n"
        "paths:\n  /a:\n    get: {}\n";
    ck_assert_msg(import(doc, NULL, &oa) == 0, "%s", err);
    ck_assert_str_eq(oa.base_path, "/api/v2");
    ck_assert_str_eq(oa.ops[0].path, "/api/v2/a");
    ck_assert_msg(strstr(dump(oa.notes), "/servers/1: base path \\\"/other\\\" not served"), "%s",
                  dump(oa.notes));
    pc_oa_free(&oa);
    ck_assert_msg(import(doc, "/gw/", &oa) == 0, "%s", err);
    ck_assert_str_eq(oa.ops[0].path, "/gw/a");
    pc_oa_free(&oa);
    ck_assert_int_eq(import(HEAD30 "servers: [{url: /v1}]\npaths:\n  /a:\n    get: {}\n", NULL, &oa), 0);
    ck_assert_str_eq(oa.ops[0].path, "/v1/a");
    pc_oa_free(&oa);
    ck_assert_int_eq(import(HEAD30 "servers: [{url: 'http://h'}]\npaths:\n  /a:\n    get: {}\n", NULL, &oa), 0);
    ck_assert_str_eq(oa.ops[0].path, "/a");
    pc_oa_free(&oa);
    refused(HEAD30 "servers: [{url: 'https://h/{v}'}]\npaths: {}\n",
            "/servers/0/url: variable \"v\" has no default");
    refused(HEAD30 "servers: [{url: /v1}]\npaths:\n  /a:\n    get: {servers: [{url: /v2}]}\n",
            "/paths/~1a/get/servers/0: a base path (\"/v2\") other than the document's (\"/v1\")");
}
END_TEST

/* ---- security ------------------------------------------------------------------------ */

#define SEC_COMPONENTS \
    "components:\n  securitySchemes:\n" \
    "    oauth: {type: oauth2, flows: {clientCredentials: {tokenUrl: 'https://t', scopes: {}}}}\n" \
    "    oidc: {type: openIdConnect, openIdConnectUrl: 'https://o'}\n" \
    "    bearer: {type: http, scheme: bearer}\n" \
    "    key: {type: apiKey, in: header, name: X-Key}\n"

static const char *scopes_of(const pc_oa_t *oa)
{
    static char buf[1024];
    buf[0] = '\0';
    for (size_t i = 0; i < json_array_size(oa->entries); i++) {
        json_t *s = json_object_get(json_array_get(oa->entries, i), "scopes");
        strcat(buf, s ? dump(s) : "-");
        strcat(buf, ";");
    }
    return buf;
}

START_TEST(test_security)
{
    static const struct { const char *global, *op, *want; } cases[] = {
        {"[{oauth: [b, a]}]", NULL, "[\"a\",\"b\"];"},
        {"[{oauth: [a]}]", "[{oidc: [c]}]", "[\"c\"];"},
        {"[{oauth: [a]}]", "[]", "-;"},
        {"[{oauth: [a]}, {}]", NULL, "-;"},
        {"[{oauth: [a]}, {oidc: [b]}]", NULL, "[\"a\"];[\"b\"];"},
        {"[{oauth: [a], oidc: [b, a]}]", NULL, "[\"a\",\"b\"];"},
        {"[{bearer: []}]", NULL, "-;"},
        {"[{oauth: [a]}, {bearer: []}]", NULL, "-;"}, /* a scopeless way in: one entry */
        {"[{oauth: [a]}, {key: []}]", NULL, "[\"a\"];"},
        {NULL, NULL, "-;"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char doc[2048];
        snprintf(doc, sizeof(doc), HEAD30 "%s%s\npaths:\n  /a:\n    get: {%s%s}\n" SEC_COMPONENTS,
                 cases[i].global ? "security: " : "", cases[i].global ? cases[i].global : "",
                 cases[i].op ? "security: " : "", cases[i].op ? cases[i].op : "");
        pc_oa_t oa;
        ck_assert_msg(import(doc, NULL, &oa) == 0, "case %zu: %s", i, err);
        ck_assert_msg(!strcmp(scopes_of(&oa), cases[i].want), "case %zu: %s", i, scopes_of(&oa));
        ck_assert_uint_eq(oa.entry_op[json_array_size(oa.entries) - 1], 0);
        ck_assert_uint_eq(json_array_size(oa.lists), i == 4 ? 2 : 1);
        if (i == 8)
            ck_assert_msg(strstr(dump(oa.notes), "/security/1: refused: the gateway cannot verify "
                                 "apiKey \\\"key\\\""), "%s", dump(oa.notes));
        pc_oa_free(&oa);
    }
    refused(HEAD30 "security: [{key: []}]\npaths:\n  /a:\n    get: {}\n" SEC_COMPONENTS,
            "/security: no security requirement the gateway can verify (apiKey \"key\")");
    /* unless the operator leaves the scheme to the upstream, said at each use */
    json_t *d = yaml(HEAD30 "security: [{key: [], oauth: [a]}]\npaths:\n  /a:\n    get: {}\n"
                     SEC_COMPONENTS);
    static const char *const unverified[] = {"key"};
    pc_oa_opts_t o = {.unverified = unverified, .nunverified = 1};
    pc_oa_t oa;
    ck_assert_msg(pc_oa_import(d, &o, &oa, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(scopes_of(&oa), "[\"a\"];");
    ck_assert_msg(strstr(dump(oa.notes), "/security/0/key: apiKey \\\"key\\\" is not verified by "
                         "the gateway (unverified_schemes)"), "%s", dump(oa.notes));
    ck_assert_uint_eq(json_array_size(oa.notes), 1); /* X-Key: no '_' */
    pc_oa_free(&oa);
    json_decref(d);
    /* the document's requirements, met by each operation, are noted once */
    pc_oa_t two;
    ck_assert_int_eq(import(HEAD30 "security: [{oauth: [a]}, {key: []}]\npaths:\n  /a:\n"
                            "    get: {}\n    put: {}\n  /b:\n    get: {}\n" SEC_COMPONENTS,
                            NULL, &two), 0);
    ck_assert_uint_eq(two.nops, 3);
    ck_assert_str_eq(dump(two.notes), "[\"/security/1: refused: the gateway cannot verify apiKey "
                                      "\\\"key\\\"\"]");
    pc_oa_free(&two);
    refused(HEAD30 "paths:\n  /a:\n    get: {security: [{oauth: ['a b']}]}\n" SEC_COMPONENTS,
            "/paths/~1a/get/security/0/oauth: a scope is printable ASCII without space");
    refused(HEAD30 "paths:\n  /a:\n    get: {operationId: ''}\n",
            "/paths/~1a/get/operationId: must be a string of 1 to 256 bytes");
    refused(HEAD30 "paths:\n  /a:\n    get: {security: [{nope: []}]}\n" SEC_COMPONENTS,
            "/paths/~1a/get/security/0/nope: \"nope\" is not in /components/securitySchemes");
}
END_TEST

/* ---- versions and 3.1 dialect ------------------------------------------------------------ */

START_TEST(test_versions)
{
    refused("swagger: '2.0'\npaths: {}\n", "/openapi: Swagger 2.0 is not supported");
    refused("openapi: 4.0.0\npaths: {}\n", "/openapi: version \"4.0.0\" is not supported");
    refused("openapi: 3.0\npaths: {}\n", "/openapi: required"); /* a number, not a version string */
    refused(HEAD31 "jsonSchemaDialect: 'https://json-schema.org/draft/2019-09/schema'\n",
            "/jsonSchemaDialect: only the 2020-12 dialect");
    refused(HEAD31 "paths:\n  /a:\n    post:\n      requestBody:\n        content:\n"
            "          application/json: {schema: {properties: {a: {$id: 'https://x'}}}}\n",
            "/paths/~1a/post/requestBody/content/application~1json/schema/properties/a/$id: is not supported");
    refused(HEAD30 "paths: []\n", "/paths: must be an object");
    pc_oa_t oa;
    ck_assert_int_eq(import(HEAD31 "webhooks: {}\n", NULL, &oa), 0); /* 3.1 needs no paths */
    ck_assert_uint_eq(oa.nops, 0);
    pc_oa_free(&oa);
}
END_TEST

START_TEST(test_bodies)
{
    pc_oa_t oa;
    const char *doc = HEAD30
        "paths:\n  /up:\n    put:\n      requestBody:\n        content:\n"
        "          application/octet-stream: {}\n          text/plain: {}\n"
        "  /two:\n    post:\n      requestBody:\n        $ref: '#/components/requestBodies/B'\n"
        "components:\n  requestBodies:\n    B:\n      content:\n"
        "        application/json; charset=utf-8: {schema: {type: object}}\n"
        "        application/vnd.api+json: {schema: {type: object}}\n";
    ck_assert_msg(import(doc, NULL, &oa) == 0, "%s", err);
    const pc_oa_op_t *up = op(&oa, "PUT /up"), *two = op(&oa, "POST /two");
    ck_assert(!up->body);
    ck_assert_str_eq(dump(up->sop), "{}");
    ck_assert_msg(strstr(dump(oa.notes), "/paths/~1up/put/requestBody/content: accepted, not "
                         "validated: application/octet-stream, text/plain"), "%s", dump(oa.notes));
    ck_assert_str_eq(dump(two->sop), "{\"body\":{\"type\":\"object\"},\"body_required\":false,"
                     "\"content_types\":[\"application/json\",\"application/vnd.api+json\"]}");
    pc_oa_free(&oa);
    refused(HEAD30 "paths:\n  /a:\n    post:\n      requestBody:\n        content:\n"
            "          application/json: {schema: {type: object}}\n"
            "          application/problem+json: {schema: {type: string}}\n",
            "/paths/~1a/post/requestBody/content/application~1problem+json: a second JSON media type");
}
END_TEST

START_TEST(test_responses)
{
    size_t len;
    const char *text = fixture("petstore.yaml", &len);
    json_t *d = yaml(text);
    pc_oa_opts_t o = {.responses = true};
    pc_oa_t oa;
    ck_assert_msg(pc_oa_import(d, &o, &oa, err, sizeof(err)) == 0, "%s", err);
    json_decref(d);
    const json_t *r = op(&oa, "listPets")->responses;
    ck_assert_str_eq(dump(json_object_get(json_object_get(r, "200"), "$ref")), "\"#/$defs/Pets\"");
    ck_assert_uint_eq(json_object_size(json_object_get(json_object_get(r, "200"), "$defs")), 2);
    ck_assert_str_eq(dump(json_object_get(json_object_get(r, "default"), "$ref")),
                     "\"#/$defs/Error\"");
    ck_assert_uint_eq(json_object_size(op(&oa, "createPets")->responses), 1); /* 201: no body */
    ck_assert_uint_eq(oa.nresponses, 5);
    pc_oa_free(&oa);
    /* a readOnly property stays required in a response, not in the request */
    d = yaml(HEAD30 "paths:\n  /r:\n    put:\n      requestBody: {content: {application/json: "
             "{schema: {$ref: '#/components/schemas/R'}}}}\n      responses:\n        2xx:\n"
             "          content: {application/json: {schema: {$ref: '#/components/schemas/R'}}}\n"
             "components:\n  schemas:\n    R: {type: object, required: [id], properties: "
             "{id: {type: integer, readOnly: true}}}\n");
    ck_assert_msg(pc_oa_import(d, &o, &oa, err, sizeof(err)) == 0, "%s", err);
    const json_t *body = json_object_get(oa.ops[0].sop, "body");
    ck_assert_str_eq(dump(json_object_get(json_object_get(json_object_get(body, "$defs"), "R"),
                                          "required")), "[]");
    const json_t *resp = json_object_get(oa.ops[0].responses, "2XX");
    ck_assert_str_eq(dump(json_object_get(json_object_get(json_object_get(resp, "$defs"), "R"),
                                          "required")), "[\"id\"]");
    pc_oa_free(&oa);
    json_decref(d);
    d = yaml(HEAD30 "paths:\n  /r:\n    get: {responses: {'200': {$ref: '#/components/responses/No'}}}\n");
    ck_assert_int_eq(pc_oa_import(d, &o, &oa, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "/paths/~1r/get/responses/200/$ref: \"#/components/responses/No\" does "
                          "not exist in the document");
    pc_oa_free(&oa);
    json_decref(d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("openapi");
    TCase *y = tcase_create("yaml");
    tcase_add_test(y, test_yaml_scalars);
    tcase_add_test(y, test_yaml_json_detected);
    tcase_add_test(y, test_yaml_refusals);
    tcase_add_test(y, test_yaml_aliases);
    tcase_add_test(y, test_yaml_alias_bomb);
    tcase_add_test(y, test_yaml_depth);
    suite_add_tcase(s, y);
    TCase *d = tcase_create("import");
    tcase_add_test(d, test_petstore);
    tcase_add_test(d, test_petstore3);
    tcase_add_test(d, test_museum);
    tcase_add_test(d, test_translate_30);
    tcase_add_test(d, test_translate_31_as_is);
    tcase_add_test(d, test_bundle_closure);
    tcase_add_test(d, test_params);
    tcase_add_test(d, test_param_refusals);
    tcase_add_test(d, test_template_refusals);
    tcase_add_test(d, test_servers);
    tcase_add_test(d, test_security);
    tcase_add_test(d, test_versions);
    tcase_add_test(d, test_bodies);
    tcase_add_test(d, test_responses);
    suite_add_tcase(s, d);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
