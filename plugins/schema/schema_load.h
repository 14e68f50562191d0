/* plugins/schema/schema_load.h: schemas from the config into compiled
 * validators, for the schema and openapi plugins.
 *
 * A schema in the config is a jansson value; it is dumped and read back
 * with the strict reader (json_read.h) so the compiled schema keeps the
 * numbers' literals. "$ref"s to other documents resolve against the
 * schema directory ("file:///abs/dir/"): a loader reads those files (regular
 * files under the directory, at most PC_SLOAD_FILE_MAX bytes, no ".."
 * segment, no symlink leading out) into the same long-lived memory.
 * Compile errors come back as JSON paths below the node's key
 * ("requests.POST.body.properties.x.minimum: must be a number").
 */
#ifndef PC_SCHEMA_LOAD_H
#define PC_SCHEMA_LOAD_H

#include "json_read.h"
#include "schema.h"

#include <portcullis/plugin.h>

#define PC_SLOAD_FILE_MAX (4u * 1024 * 1024)

/* Long-lived bump memory (the trees a compiled schema points into). */
typedef struct pc_slmem pc_slmem_t;
pc_slmem_t *pc_slmem_new(void);
void pc_slmem_free(pc_slmem_t *a);
/* A pc_json_alloc_fn over a pc_slmem_t (ud); aborts on OOM like pc_xmalloc. */
void *pc_slmem_alloc(void *ud, size_t size);

typedef struct pc_sload {
    pc_slmem_t *mem;        /* trees of the documents */
    const char *dir;         /* the schema directory, or NULL */
    char *dir_real;          /* its realpath */
    char *base_uri;          /* "file://<dir>/" or NULL */
    pc_schema_opts_t opts;   /* loader set to the directory's */
    struct sl_doc *docs;     /* files read so far (in mem), by URI */
} pc_sload_t;

/* dir may be NULL (no files). Returns 0, or -1 after pc_err_set(err, key). */
int pc_sload_init(pc_sload_t *l, const char *dir, bool formats, int default_draft,
                  const char *key, pc_err_t *err);
void pc_sload_free(pc_sload_t *l);

/* The config value v as a strict tree in l's memory, or NULL (err set on key). */
const pc_json_t *pc_sload_tree(pc_sload_t *l, const json_t *v, const char *key, pc_err_t *err);

/* Compiles the config value v (a schema) found at key; NULL after
 * pc_err_set naming the path inside v. *tree, if not NULL, gets the
 * tree (for reading declared property types). */
pc_schema_t *pc_sload_compile(pc_sload_t *l, const json_t *v, const char *key,
                              const pc_json_t **tree, pc_err_t *err);

/* Follows "$ref" from a schema node, through the same document (root) or a
 * file of the directory, up to a few hops; returns the node reached (node
 * itself without "$ref"), or NULL when it cannot be followed. For reading
 * what a parameter schema declares, not for validation. */
const pc_json_t *pc_sload_deref(pc_sload_t *l, const pc_json_t *root, const pc_json_t *node);

#endif
