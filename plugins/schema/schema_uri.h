/* plugins/schema/schema_uri.h: RFC 3986 reference resolution for "$id" and
 * "$ref" (section 5.2, with dot-segment removal). No normalisation beyond
 * that: URIs are compared as strings, as JSON Schema does. */
#ifndef PC_SCHEMA_URI_H
#define PC_SCHEMA_URI_H

/* The target of ref against the absolute base, malloc'd (NULL: out of
 * memory). A ref with a scheme is taken as it is (dot segments removed). */
char *pc_uri_resolve(const char *base, const char *ref);

#endif
