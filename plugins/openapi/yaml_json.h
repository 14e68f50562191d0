/* plugins/openapi/yaml_json.h: an OpenAPI document's bytes, JSON or YAML,
 * as a jansson tree.
 *
 * The format is told by content: a document whose first non-blank byte is
 * '{' is JSON (read by jansson, duplicate keys refused); anything else is
 * YAML 1.2, read with libyaml:
 *   - plain scalars are typed by the core schema: null (~, null, empty),
 *     true/false, integers (decimal, 0x, 0o), floats; quoted, literal and
 *     folded scalars are strings; the tags !!str !!int !!float !!bool
 *     !!null are honoured, any other tag is refused. .inf and .nan are
 *     refused (JSON has neither), so is an integer beyond 64 bits.
 *   - mapping keys must be scalars and are taken as their text, unresolved
 *     (`200:` is the key "200", as OpenAPI's responses expect); a key that
 *     is a mapping or a sequence is refused, so is the YAML 1.1 merge key
 *     "<<" (which 1.2 would read as a plain string, surprising its author).
 *   - duplicate keys, a second document and a recursive alias are refused.
 *   - anchors and aliases work; an alias shares the anchored tree. What a
 *     document costs is its size once every alias is expanded, and that is
 *     bounded by max_nodes (billion-laughs documents are refused before any
 *     expansion happens), as is the nesting depth (PC_YJ_MAX_DEPTH).
 * Errors are "line L, column C: text" in err.
 */
#ifndef PC_YAML_JSON_H
#define PC_YAML_JSON_H

#include <jansson.h>
#include <stddef.h>

#define PC_YJ_MAX_DEPTH 128

/* NULL with err set on any refusal. The result is owned by the caller. */
json_t *pc_yaml_to_json(const char *buf, size_t len, size_t max_nodes, char *err, size_t errlen);
/* JSON or YAML by content (see above). */
json_t *pc_doc_parse(const char *buf, size_t len, size_t max_nodes, char *err, size_t errlen);

#endif
