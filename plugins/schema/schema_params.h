/* plugins/schema/schema_params.h: the request's text turned into JSON for
 * the validator: the Content-Type check, strict percent-decoding, the
 * query string split into named values, and typing a value by the type its
 * schema declares (?limit=42 is the integer 42).
 *
 * Pure functions over bytes; memory comes from the caller's allocator (the
 * request arena), as for json_read.h.
 */
#ifndef PC_SCHEMA_PARAMS_H
#define PC_SCHEMA_PARAMS_H

#include "json_read.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- Content-Type ------------------------------------------------------- */

typedef enum pc_ctype_verdict {
    PC_CTYPE_OK = 0,       /* listed, and a JSON type with a UTF-8 (or no) charset */
    PC_CTYPE_UNLISTED,     /* not one of the list (or not a media type at all) */
    PC_CTYPE_CHARSET,      /* listed, but a charset other than UTF-8 (RFC 8259 §8.1) */
} pc_ctype_verdict_t;

/* Matches the header value against list[0..n) (media types, "type/subtype",
 * compared case-insensitively; parameters of the header are ignored but
 * for charset). *is_json is set when the matched type is application/json
 * or a "+json" type, whose body the validator reads. */
pc_ctype_verdict_t pc_ctype_match(const char *value, const char *const *list, size_t n,
                                  bool *is_json);

/* ---- decoding ----------------------------------------------------------- */

/* Percent-decodes s[0..len) into out (at least len + 1 bytes), NUL-
 * terminated; '+' is a space when plus_space (query strings,
 * application/x-www-form-urlencoded). Returns the decoded length, or -1 for
 * a '%' not followed by two hex digits, a decoded NUL, or bytes that are
 * not valid UTF-8. */
long pc_pct_decode(const char *s, size_t len, bool plus_space, char *out);

/* True when s[0..len) is valid UTF-8 (no overlong forms, no surrogates). */
bool pc_utf8_valid(const char *s, size_t len);

/* ---- typed values ------------------------------------------------------- */

typedef enum pc_ptype {
    PC_PT_STRING = 0,
    PC_PT_INTEGER,
    PC_PT_NUMBER,
    PC_PT_BOOLEAN,
    PC_PT_ARRAY,
} pc_ptype_t;

/* One property of a query/path/headers schema: its name and the type its
 * value is read as (for an array, item is the items' type). */
typedef struct pc_pdecl {
    const char *name;
    size_t nlen;
    pc_ptype_t type;
    pc_ptype_t item;
} pc_pdecl_t;

/* The declared type of a property schema: its "type" (a string, or the
 * first non-null entry of an array of types); anything else is a string. */
pc_ptype_t pc_ptype_of(const pc_json_t *prop_schema);

/* A JSON value for the text s (NUL-terminated, len bytes; must outlive the
 * value) read as type t: integer and number as a JSON number literal,
 * exactly (so "4x2", " 42" and "042" stay strings), boolean as true/false.
 * Text that is not of the type is a string, so the validator reports the
 * type error. Never NULL unless alloc fails. */
const pc_json_t *pc_pvalue(const char *s, size_t len, pc_ptype_t t, pc_json_alloc_fn alloc,
                           void *ud);

/* An array of the comma-separated parts of s, each read as item. */
const pc_json_t *pc_pvalue_csv(const char *s, size_t len, pc_ptype_t item, pc_json_alloc_fn alloc,
                               void *ud);

/* ---- the query string --------------------------------------------------- */

/* The object for a raw query string (without '?'; NULL or "" is {}):
 * "a=1&b=x&b=y". Names and values are percent-decoded strictly; a name
 * declared in decls[0..nd) is typed by it (an array collects repeated
 * names, or splits a single value at commas); a repeated name that is not
 * an array becomes an array of strings, so the validator refuses it; an
 * undeclared name is a string. Returns NULL with *bad_at set to the byte
 * offset of a malformed part (bad escape, invalid UTF-8, empty name). */
const pc_json_t *pc_query_object(const char *query, const pc_pdecl_t *decls, size_t nd,
                                 pc_json_alloc_fn alloc, void *ud, size_t *bad_at);

/* An object from n names and raw values (path parameters, headers): each
 * typed by its decl (decls[i] describes values[i]). Values are taken as
 * they are (the caller decodes). NULL only if alloc fails. */
const pc_json_t *pc_params_object(const pc_pdecl_t *decls, const char *const *values, size_t n,
                                  pc_json_alloc_fn alloc, void *ud);

#endif
