/* plugins/schema/formats.h: the JSON Schema "format" values that assert.
 *
 * Each check reads the whole string (len bytes, UTF-8, may contain NUL: a
 * NUL fails every format but regex, where it is a literal) and accepts exactly what its RFC's
 * grammar accepts, as the JSON-Schema-Test-Suite's optional/format tests
 * read them; docs/schema-formats.md has the table. In short:
 *   date-time, date, time   RFC 3339 section 5.6: ASCII digits only, real
 *                           month lengths and leap years, "T"/"Z" in
 *                           either case, a time always has an offset, a
 *                           leap second only where it is 23:59:60 in UTC
 *                           (the offset applied);
 *   duration                RFC 3339 appendix A (P1Y2M3DT4H5M6S, P2W; no
 *                           fractions, no sign, units in order);
 *   email                   RFC 5321 Mailbox: dot-atom or quoted local
 *                           part, then a hostname or an address literal
 *                           ([192.0.2.1], [IPv6:...]);
 *   hostname                RFC 1123 labels (letters, digits, inner
 *                           hyphens; 1-63 bytes; 253 in all, no trailing
 *                           dot); an "xn--" label must be a valid IDNA2008
 *                           A-label (RFC 5890-5892: Punycode, permitted
 *                           code points, CONTEXTJ/CONTEXTO rules; checked
 *                           with libidn2);
 *   ipv4                    dotted quad, 0-255, no leading zeros;
 *   ipv6                    RFC 4291 text forms incl. "::" and a trailing
 *                           dotted quad; no zone id, no brackets, no prefix;
 *   uri, uri-reference      RFC 3986 URI and URI-reference (ASCII only;
 *                           IP literals checked as above, reg-names as
 *                           written);
 *   uuid                    8-4-4-4-12 hex digits, any version or variant;
 *   regex                   an ECMA-262 pattern that pc_regex_compile takes.
 * Any other name is an annotation: pc_format_lookup gives UNKNOWN and
 * pc_format_check(UNKNOWN, ...) is true.
 *
 * Pure and thread-safe: no allocation except inside the regex and hostname
 * checks (freed before returning), no locale. */
#ifndef PC_FORMATS_H
#define PC_FORMATS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum pc_format {
    PC_FORMAT_UNKNOWN = 0,
    PC_FORMAT_DATE_TIME,
    PC_FORMAT_DATE,
    PC_FORMAT_TIME,
    PC_FORMAT_DURATION,
    PC_FORMAT_EMAIL,
    PC_FORMAT_HOSTNAME,
    PC_FORMAT_IPV4,
    PC_FORMAT_IPV6,
    PC_FORMAT_URI,
    PC_FORMAT_URI_REFERENCE,
    PC_FORMAT_UUID,
    PC_FORMAT_REGEX
} pc_format_t;

/* The format for a "format" keyword value; UNKNOWN for any other name. */
pc_format_t pc_format_lookup(const char *name);

/* True when s (len bytes) is valid for f; always true for UNKNOWN. */
bool pc_format_check(pc_format_t f, const char *s, size_t len);

#endif
