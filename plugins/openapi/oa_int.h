/* plugins/openapi/oa_int.h: the importer's state shared by oa_import.c (the
 * document walk) and oa_op.c (one operation). Not for the plugin. */
#ifndef PC_OA_INT_H
#define PC_OA_INT_H

#include "oa_import.h"
#include "oa_schema.h"

typedef struct oa {
    pc_oas_t s;               /* schema translation and the error buffer */
    const json_t *doc;
    const pc_oa_opts_t *opts;
    pc_oa_t *out;
    char base[512];           /* "" or "/v1" */
    bool base_fixed;          /* from the config's base_path */
    json_t *op_ids;           /* operationIds seen */
    json_t *raw;              /* [[alternative, op, entry], ...] in document order */
    json_t *noted;            /* the notes' texts, so each is said once */
} oa_t;

/* ptr + "/" + tok (escaped) into buf; returns buf. */
const char *pc_oa_join(char *buf, size_t len, const char *ptr, const char *tok);
/* Adds "<ptr>: <text>" to the notes unless it is there already: the
 * document's own security, for one, is met once per operation using it. */
void pc_oa_note(oa_t *o, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Notes, at ptr, that header name (when it holds a '_') never reaches the
 * upstream unless the listener sets underscores_in_headers (docs/config.md):
 * the gateway drops such client headers by default. */
void pc_oa_note_underscore(oa_t *o, const char *ptr, const char *name);
int pc_oa_server_path(oa_t *o, const json_t *server, const char *ptr, char *out, size_t len);
int pc_oa_local_servers(oa_t *o, const json_t *node, const char *ptr);
/* One operation (method m of the path item at ptr): its schema_op node and
 * its allow-list entries. */
int pc_oa_operation(oa_t *o, const char *path, const json_t *item, const char *item_ptr,
                    const char *m, const json_t *op);
/* The scope sets any one of which lets a request of the operation at op_ptr
 * in: [[]] for anonymous (oa_security.c). NULL with the error set. */
json_t *pc_oa_security(oa_t *o, const char *op_ptr, const json_t *op);
/* The JSON responses' schemas of the operation at op_ptr (oa_resp.c):
 * {"200"|"2XX"|"default": schema}; NULL with the error set. */
json_t *pc_oa_responses(oa_t *o, const char *op_ptr, const json_t *op);
/* Takes op's members; entries added before pc_oa_add_op belong to it. */
void pc_oa_add_op(oa_t *o, pc_oa_op_t *op);
/* Takes entry, the operation's security alternative number alt. */
void pc_oa_add_entry(oa_t *o, json_t *entry, size_t alt);

#endif
