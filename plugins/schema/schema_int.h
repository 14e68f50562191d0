/* plugins/schema/schema_int.h: the compiled form of a JSON Schema, shared
 * by the compiler (schema_compile.c, schema_scan.c) and the validator
 * (schema_validate.c). Not part of the contract: schema.h is.
 *
 * A compiled schema is a graph of pc_snode_t. Each node holds its allowed
 * types as a bit mask (checked first, inline) and its other keywords as a
 * short array of pc_skw_t ordered cheapest first, each tagged with the one
 * instance type it applies to, so a node {"type": "string", "maxLength": 8}
 * costs one mask test and one length check. "$ref" is a pointer to the
 * target node, resolved at compile time; cycles through instance levels are
 * just cycles in the graph. Everything lives in the schema's arena.
 */
#ifndef PC_SCHEMA_INT_H
#define PC_SCHEMA_INT_H

#include "schema.h"
#include "formats.h"
#include "regex.h"

#include <stdint.h>

/* Instance type classes (one bit each); T_INT only in "type" masks. */
enum {
    PC_T_NULL = 1u << 0,
    PC_T_BOOL = 1u << 1,
    PC_T_NUM = 1u << 2,
    PC_T_STR = 1u << 3,
    PC_T_ARR = 1u << 4,
    PC_T_OBJ = 1u << 5,
    PC_T_INT = 1u << 6,
    PC_T_SET = 1u << 15, /* "type" is present (an empty list allows nothing) */
};

/* Deepest nesting of schema nodes one validation may enter; deeper is a
 * failure ("schema recursion too deep"), never a stack overflow. */
#define PC_SCHEMA_MAX_DEPTH 512u

typedef struct pc_snode pc_snode_t;

typedef enum pc_skw_op {
    PC_K_CONST,
    PC_K_ENUM,
    PC_K_MULOF,
    PC_K_MAX,
    PC_K_XMAX,
    PC_K_MIN,
    PC_K_XMIN,
    PC_K_MAXLEN,
    PC_K_MINLEN,
    PC_K_MAXITEMS,
    PC_K_MINITEMS,
    PC_K_MAXPROPS,
    PC_K_MINPROPS,
    PC_K_FORMAT,
    PC_K_PATTERN,
    PC_K_DEPREQ,
    PC_K_PROPS,
    PC_K_ITEMS,
    PC_K_UNIQUE,
    PC_K_CONTAINS,
    PC_K_REF,
    PC_K_DYNREF,
    PC_K_ALLOF,
    PC_K_ANYOF,
    PC_K_ONEOF,
    PC_K_NOT,
    PC_K_IF,
    PC_K_DEPSCH,
    PC_K_UNEVAL, /* unevaluatedProperties or unevaluatedItems: always last */
} pc_skw_op_t;

/* One entry of a "properties"/"required" hash table (open addressing;
 * key NULL marks an empty slot). */
typedef struct pc_sprop {
    const char *key;
    uint32_t klen;
    uint32_t khash;
    const pc_snode_t *s; /* "properties" subschema, or NULL (only required) */
    int32_t req;         /* bit in the required mask, or -1 */
} pc_sprop_t;

typedef struct pc_spat {
    pc_regex_t *re;
    const pc_snode_t *s;
} pc_spat_t;

/* properties, patternProperties, additionalProperties, propertyNames and
 * required, checked in one pass over the members. */
typedef struct pc_sprops {
    uint32_t mask; /* table size - 1; 0 with tab NULL: no names */
    pc_sprop_t *tab;
    uint32_t npat;
    pc_spat_t *pat;
    const pc_snode_t *addl;  /* additionalProperties, or NULL */
    const pc_snode_t *names; /* propertyNames, or NULL */
    uint32_t nreq;           /* required names; the first 64 have bits */
    const char **req;
    uint32_t *reqlen;
} pc_sprops_t;

typedef struct pc_sitems {
    uint32_t nprefix;
    const pc_snode_t **prefix;
    const pc_snode_t *rest; /* items (2020-12) / additionalItems, or NULL */
} pc_sitems_t;

typedef struct pc_scontains {
    const pc_snode_t *s;
    uint64_t min;
    uint64_t max; /* UINT64_MAX: none */
} pc_scontains_t;

typedef struct pc_sdep {
    const char *key;
    uint32_t klen;
    uint32_t n;             /* dependentRequired: names */
    const char **names;
    uint32_t *lens;
    const pc_snode_t *s;    /* dependentSchemas */
} pc_sdep_t;

typedef struct pc_sif {
    const pc_snode_t *cond, *then_, *else_;
} pc_sif_t;

/* A schema resource (a document root or a subschema with "$id") and its
 * "$dynamicAnchor"s, for the dynamic scope of "$dynamicRef". */
typedef struct pc_sres {
    const char *uri;
    uint32_t ndyn;
    const char **dyn_name;
    const pc_snode_t **dyn_node;
} pc_sres_t;

typedef struct pc_sdyn {
    const pc_snode_t *target; /* the static resolution */
    const char *anchor;       /* dynamic anchor name, or NULL: plain $ref */
} pc_sdyn_t;

typedef struct pc_skw {
    uint8_t op;   /* pc_skw_op_t */
    uint8_t on;   /* the PC_T_* class it applies to; 0: any */
    const char *kw; /* keyword name for errors */
    union {
        const pc_json_t *num;
        struct {
            const pc_json_t *v;
            uint64_t m; /* v = m * 10^e, when fast (pc_dec_parse) */
            int32_t e;
            bool fast;
        } mul;
        uint64_t n;
        struct {
            const pc_json_t *const *v;
            uint32_t n;
        } vals;
        struct {
            pc_regex_t *re;
            const char *src;
        } pat;
        struct {
            pc_format_t f;
            const char *name;
        } fmt;
        struct {
            const pc_snode_t **s;
            uint32_t n;
        } list;
        struct {
            const pc_sdep_t *d;
            uint32_t n;
        } deps;
        const pc_snode_t *one;
        const pc_sprops_t *props;
        const pc_sitems_t *items;
        const pc_scontains_t *contains;
        const pc_sif_t *ifs;
        const pc_sdyn_t *dyn;
    } u;
} pc_skw_t;

enum { PC_SN_NORMAL = 0, PC_SN_TRUE, PC_SN_FALSE };

struct pc_snode {
    uint8_t kind;      /* PC_SN_* */
    uint8_t uneval;    /* PC_T_OBJ / PC_T_ARR: has unevaluated* for it */
    uint16_t types;    /* "type" mask with PC_T_SET; 0: any */
    uint32_t nkw;
    uint32_t id;       /* compile-time index (cycle check) */
    const pc_skw_t *kw;
    const pc_sres_t *res; /* the resource this node is in */
    const char *path;     /* schema location, for errors */
    const char *fkw;      /* for a false schema: the keyword that holds it */
    const char *fmsg;     /* ... and what to say */
};

/* Bump allocator for everything a compiled schema keeps. */
typedef struct pc_sarena_chunk pc_sarena_chunk_t;
typedef struct pc_sarena {
    pc_sarena_chunk_t *head;
    size_t used, cap;
} pc_sarena_t;

void *pc_sarena_alloc(pc_sarena_t *a, size_t size); /* zeroed; NULL: out of memory */
char *pc_sarena_strndup(pc_sarena_t *a, const char *s, size_t len);
void pc_sarena_free(pc_sarena_t *a);

struct pc_schema {
    pc_sarena_t arena;
    const pc_snode_t *root;
    bool has_dyn;       /* some "$dynamicRef" needs the dynamic scope */
    uint32_t nregex;
    pc_regex_t **regex; /* to free */
};

/* Error reporting (schema_err.c). The instance location is a chain of
 * frames on the validator's stack. */
typedef struct pc_ipath {
    const struct pc_ipath *up;
    const char *key; /* NULL: an array index */
    uint32_t klen;
    uint32_t idx;
} pc_ipath_t;

/* A decimal literal as m * 10^e with m below 10^18 (sign dropped); false
 * when it does not fit (then the exact pc_json_num_* path decides). */
bool pc_dec_parse(const char *s, uint32_t len, uint64_t *m, int32_t *e);

void pc_schema_err_fill(pc_schema_error_t *e, const pc_snode_t *n, const char *kw,
                        const pc_ipath_t *ip, const pc_json_t *x, const char *msg);
/* Writes at most cap-1 bytes of x as compact JSON, escaped, cut at a
 * character boundary. */
void pc_schema_excerpt(char *out, size_t cap, const pc_json_t *x);

#endif
