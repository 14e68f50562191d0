/* plugins/schema/schema_cc.h: the compiler's working state, shared by
 * schema_scan.c (documents, identifiers, "$ref" resolution) and
 * schema_compile.c (keywords into nodes). Freed when compilation ends;
 * only the pc_schema_t and its arena outlive it.
 *
 * Compilation runs in two steps per document: a scan walks every
 * subschema (only through keywords that hold schemas, so an "$id" inside
 * "const" is data) and records its base URI, draft, resource, JSON pointer
 * and the identifiers it declares; then nodes are compiled from a worklist,
 * starting at the root, so only what is reachable is compiled, and a
 * "$ref" is a pointer to a node that may still be waiting in the list.
 */
#ifndef PC_SCHEMA_CC_H
#define PC_SCHEMA_CC_H

#include "schema_int.h"

/* Vocabularies in force; a custom metaschema's "$vocabulary" may drop the
 * first three, or add format-assertion ("format" then asserts). */
enum {
    PC_V_APPL = 1u << 0,
    PC_V_VALID = 1u << 1,
    PC_V_UNEVAL = 1u << 2,
    PC_V_FORMAT = 1u << 3,
    PC_V_ALL = PC_V_APPL | PC_V_VALID | PC_V_UNEVAL,
};

/* What the scan knows of one subschema (keyed by its tree node). */
typedef struct pc_rinfo {
    const pc_json_t *raw;
    const char *base;  /* absolute base URI, no fragment */
    const char *path;  /* JSON pointer in its document (other documents: "uri#ptr") */
    uint8_t draft;     /* pc_schema_draft_t */
    uint8_t vocab;     /* PC_V_* */
    pc_sres_t *res;
    pc_snode_t *node;  /* compiled, or waiting in the worklist */
} pc_rinfo_t;

typedef struct pc_udef {
    char *key; /* absolute URI ("uri" or "uri#anchor"), malloc'd */
    const pc_json_t *raw;
} pc_udef_t;

typedef struct pc_dyndef {
    pc_sres_t *res;
    const char *name;
    const pc_json_t *raw;
} pc_dyndef_t;

typedef struct pc_cc {
    pc_schema_t *s;
    const pc_schema_opts_t *opts;
    const char *root_uri;
    pc_rinfo_t **rtab; /* open addressing by node address */
    size_t rcap, rn;
    pc_udef_t *utab;   /* open addressing by URI */
    size_t ucap, un;
    pc_dyndef_t *dyn;
    size_t ndyn, capdyn;
    const char **dynref; /* anchor names some "$dynamicRef" resolves dynamically */
    size_t ndynref, capdynref;
    pc_rinfo_t **work;
    size_t nwork, capwork;
    pc_snode_t **all;    /* every node, for the cycle check */
    size_t nall, capall;
    size_t capregex;
    unsigned loads;      /* documents asked of the loader */
    char *err;
    size_t errlen;
    bool failed;
} pc_cc_t;

/* Records the first error ("<path>: <message>"); returns -1. */
int pc_cc_fail(pc_cc_t *c, const char *path, const char *kw, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Grows a vector of elem-sized items so that n+1 fit. */
int pc_cc_grow(void **v, size_t *cap, size_t n, size_t elem);

/* schema_scan.c */
int pc_cc_scan_doc(pc_cc_t *c, const pc_json_t *doc, const char *uri, int draft);
pc_rinfo_t *pc_cc_rinfo(pc_cc_t *c, const pc_json_t *raw);
/* The node for the "$ref" value ref written in the schema at ri. */
pc_snode_t *pc_cc_resolve(pc_cc_t *c, const pc_rinfo_t *ri, const char *kwpath, const char *ref);
/* The resource and fragment of a resolved "$dynamicRef": the anchor name
 * when it names a "$dynamicAnchor" of the resource it lands in, else NULL. */
const char *pc_cc_dyn_anchor(pc_cc_t *c, const pc_rinfo_t *ri, const char *ref);
void pc_cc_maps_free(pc_cc_t *c);

/* schema_compile.c */
pc_snode_t *pc_cc_node(pc_cc_t *c, pc_rinfo_t *ri);

/* Path of a child: parent path + "/" + the escaped key (arena). */
const char *pc_cc_path(pc_cc_t *c, const char *parent, const char *key, size_t klen);

#endif
