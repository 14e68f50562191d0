/* fuzz/fuzz_openapi.c: an OpenAPI document from config, hostile: its bytes
 * (JSON or YAML, plugins/openapi/yaml_json.c) through the importer
 * (oa_import.c) into allow-list entries and schema_op nodes.
 *
 * Checked: a refused document says where (the message starts with a line
 * or a JSON pointer) and hands out nothing; an accepted one has one op per
 * entry index it lists, every template starts with '/' or is empty, every
 * node dumps (no cycles); the node budget bounds the work (an alias bomb is
 * refused before it is expanded); nothing leaks (ASan), nothing crashes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oa_import.h"
#include "yaml_json.h"

#define FZ_NODES 20000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024] = "";
    json_t *doc = pc_doc_parse((const char *)data, size, FZ_NODES, err, sizeof(err));
    if (!doc) {
        if (!err[0])
            abort();
        return 0;
    }
    pc_oa_t oa;
    pc_oa_opts_t opts = {.responses = size % 2 == 1}; /* half the runs read responses too */
    int rc = pc_oa_import(doc, &opts, &oa, err, sizeof(err));
    if (rc != 0) {
        if (err[0] != '/' || oa.nops != 0)
            abort();
    } else {
        for (size_t i = 0; i < json_array_size(oa.entries); i++)
            if (oa.entry_op[i] >= oa.nops)
                abort();
        for (size_t i = 0; i < oa.nops; i++) {
            if (oa.ops[i].path[0] != '/' && oa.ops[i].path[0] != '\0')
                abort();
            char *s = json_dumps(oa.ops[i].sop, JSON_COMPACT);
            if (!s)
                abort();
            free(s);
        }
    }
    pc_oa_free(&oa);
    json_decref(doc);
    return 0;
}
