/* gateway/http/path.h: the one canonical request path.
 *
 * Every plugin (whitelist, sensitive-op matching, audit) and the upstream see
 * only the canonical form, so two spellings that a backend could resolve to
 * the same resource must canonicalise to the same bytes, and spellings whose
 * meaning depends on the backend are refused instead of guessed at.
 *
 * Rules, applied in one left-to-right pass:
 *   - The path must start with '/' (asterisk-form and absolute-form are the
 *     caller's business). Empty input, or input over PC_PATH_MAX_IN bytes,
 *     is refused.
 *   - Escapes: a malformed escape ("%", "%4", "%zz") is refused. %00, %2F and
 *     %5C are refused. Escapes of unreserved characters (ALPHA DIGIT - . _ ~)
 *     are decoded; every other escape stays encoded with uppercase hex, so
 *     "%3a" becomes "%3A" and "%252F" stays "%252F" (never decoded twice).
 *   - Raw bytes: controls (0x01-0x1F, 0x7F) are refused, a raw NUL too, and a
 *     raw '\'. A raw '#' or '?' is refused (PC_PATH_BAD_CHAR): the caller
 *     must have split the query off already, and fragments never reach us.
 *     Raw characters that RFC 3986 does not allow in a path but that clients
 *     send anyway (space " < > [ ] ^ ` { | }) are accepted and
 *     percent-encoded, so the raw and the encoded spelling agree.
 *   - Bytes >= 0x80, raw or encoded, in any mix, must form valid UTF-8 (no
 *     overlong forms, no surrogates, nothing above U+10FFFF); they are
 *     emitted percent-encoded, so the output is printable ASCII.
 *   - Runs of '/' are merged. Then "." and ".." segments are removed as in
 *     RFC 3986 5.2.4 (after %2E was decoded to '.'); ".." at the root stays
 *     at the root. A trailing "/." or "/.." leaves a trailing '/'; any other
 *     trailing '/' is kept.
 *   - A segment that is "." or ".." followed by a raw ';' ("/..;/x") is
 *     refused (PC_PATH_DOT_PARAM): Tomcat and Jetty strip ";params" before
 *     resolving dot segments, so such a segment is a traversal for them and
 *     a plain name for everyone else.
 *
 * Not normalised: letter case, Unicode normalisation forms, and Windows
 * trailing dots or spaces. Routes in front of backends that fold these must
 * be configured with that in mind.
 */
#ifndef PC_PATH_H
#define PC_PATH_H

#include <stddef.h>

typedef enum pc_path_err {
    PC_PATH_OK = 0,
    PC_PATH_EMPTY,
    PC_PATH_NOT_ABSOLUTE,
    PC_PATH_BAD_ESCAPE,
    PC_PATH_ENCODED_SLASH,
    PC_PATH_NUL,
    PC_PATH_BACKSLASH,
    PC_PATH_BAD_UTF8,
    PC_PATH_CONTROL,
    PC_PATH_TOO_LONG,
    PC_PATH_BAD_CHAR,  /* raw '#' or '?' */
    PC_PATH_DOT_PARAM, /* "." or ".." segment carrying ";params" */
} pc_path_err_t;

/* Longest accepted input, in bytes. */
#define PC_PATH_MAX_IN (64u * 1024u)

/* Bytes the out buffer of pc_path_canonicalize() needs for an input of len
 * bytes: each input byte yields at most three output bytes (a raw byte that
 * gets percent-encoded), plus the terminating NUL. */
#define PC_PATH_OUT_SIZE(len) (3u * (size_t)(len) + 1u)

/* Canonicalise the path part of a request target. raw/len are the untrusted
 * bytes from the request line, without the query (see pc_path_split_query);
 * raw may be NULL only when len is 0. out must hold PC_PATH_OUT_SIZE(len)
 * bytes. On PC_PATH_OK, out holds the NUL-terminated canonical path and
 * *out_len its length; on refusal out is the empty string and *out_len is 0.
 * Canonical output is accepted again unchanged (idempotent). Pure function:
 * no allocation, no global state, callable from any thread. */
pc_path_err_t pc_path_canonicalize(const char *raw, size_t len, char *out, size_t *out_len);

/* True when a canonical path holds an encoded '%' followed by two hex
 * digits ("%252e"): a correct single encoding of the text "%2e", and a '.'
 * for an upstream that decodes twice. Refused by default (as WAFs do);
 * routes may allow it. Pure; canon is pc_path_canonicalize() output. */
int pc_path_double_encoded(const char *canon, size_t len);

/* Short, client-safe reason for a refusal; never NULL. */
const char *pc_path_strerror(pc_path_err_t e);

/* Length of the path part of "path?query": the index of the first '?', or
 * len when there is none. */
size_t pc_path_split_query(const char *target, size_t len);

#endif
