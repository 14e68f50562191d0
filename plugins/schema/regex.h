/* plugins/schema/regex.h: JSON Schema patterns (ECMA-262 with the "u"
 * flag) run on PCRE2, bounded.
 *
 * A pattern is translated from ECMA-262 syntax into PCRE2 syntax, then
 * compiled in UTF mode (JIT when available). The translation keeps ECMA's
 * meaning where the two dialects differ:
 *   - \d \w \b and their negations are ASCII-only (PCRE2_UCP is not set);
 *   - \s is ECMA's WhiteSpace and LineTerminator set (U+0009-000D, U+0020,
 *     U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000,
 *     U+FEFF), spelled out as a class;
 *   - "." matches anything but \n \r U+2028 U+2029; "$" only at the very
 *     end (PCRE2_DOLLAR_ENDONLY); there are no flags, so no multiline;
 *   - \v is U+000B (PCRE2's \v is a class), \cX a control character,
 *     \xHH \uHHHH \u{H...} code points (an escaped surrogate pair is one
 *     code point; a lone surrogate never matches: UTF-8 cannot hold one);
 *   - "[]" matches nothing and "[^]" anything; "[" inside a class is a
 *     literal (no POSIX "[:alpha:]");
 *   - \p{...}: General_Category values by any name or alias ("Letter",
 *     "L", "gc=Lu", "digit"), Script=/sc=, Script_Extensions=/scx=, and
 *     ECMA's binary properties ("Alphabetic", "ASCII", "Any", "Assigned";
 *     not Changes_When_NFKC_Casefolded, which PCRE2 10.42 lacks); bare
 *     script names and loose spellings ("\p{Greek}", "\p{letter}") are
 *     refused as ECMA refuses them;
 *   - a backreference to a group not yet matched matches the empty string
 *     (PCRE2_MATCH_UNSET_BACKREF), one to a group that does not exist is
 *     refused.
 * Refused, as ECMA refuses them in "u" mode: identity escapes of
 * non-syntax characters (\a \e \z \Q \K \h \R ...), octal escapes, a lone
 * "{" "}" or "]", a quantifier after nothing, after a quantifier ("a**",
 * PCRE2's possessive "a*+") or after an assertion ("(?=a)*", "\b+"),
 * group syntax other than (?: (?= (?! (?<= (?<! (?<name>, a character
 * class escape as a range end ("[\d-z]"), and invalid UTF-8.
 * Refused although ECMA accepts them (PCRE2 10.42 limits): variable-length
 * lookbehind (PCRE2 says "lookbehind assertion is not fixed length"; the
 * "regex" format still calls such a pattern valid), a lone surrogate inside a class, group names that are not
 * ASCII words, counts above 65535, patterns longer than PC_REGEX_MAX_LEN
 * bytes or nested deeper than 250 groups.
 *
 * Matching is bounded: match_limit caps backtracking steps (JIT and
 * interpreter), depth_limit the interpreter's nesting, and the JIT stack is
 * at most 1 MiB. A match that hits a limit returns -1; the caller treats
 * that as a failed validation, never as a pass.
 *
 * Thread-safety: a compiled pc_regex_t is immutable; pc_regex_match may run
 * on it from any number of threads at once (each thread keeps its own
 * match data and JIT stack, freed when the thread exits). */
#ifndef PC_REGEX_H
#define PC_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pc_regex pc_regex_t;

/* Longest pattern accepted, in bytes. */
#define PC_REGEX_MAX_LEN (16u * 1024u)

/* Compiles an ECMA-262 pattern (UTF-8, len bytes, may contain NUL).
 * match_limit and depth_limit 0 mean 100000 and 1000. Returns NULL with a
 * message ("offset 3: invalid escape \a") in err (errlen bytes, may be 0). */
pc_regex_t *pc_regex_compile(const char *pattern, size_t len, uint32_t match_limit,
                             uint32_t depth_limit, char *err, size_t errlen);

/* 1 when the pattern matches anywhere in s (patterns are not anchored), 0
 * when it does not, -1 when a limit was hit or s is not valid UTF-8. */
int pc_regex_match(const pc_regex_t *re, const char *s, size_t len);

void pc_regex_free(pc_regex_t *re);

/* True when pattern is a valid ECMA-262 pattern (the "regex" format): it
 * translates, and PCRE2 compiles the translation with every lookbehind
 * read as a plain group (its body is checked, its length is not: ECMA
 * takes any lookbehind, PCRE2 10.42 runs only fixed-length ones, so such a
 * pattern is valid here although pc_regex_compile refuses it). */
bool pc_regex_valid(const char *pattern, size_t len);

/* The PCRE2 spelling of an ECMA-262 pattern, NUL-terminated, malloc'd
 * (free() it); NULL with a message in err when the pattern is refused.
 * syntax_only writes lookbehinds as plain groups (see pc_regex_valid).
 * Exposed for tests and the fuzzer. */
char *pc_regex_translate(const char *pattern, size_t len, bool syntax_only, char *err,
                         size_t errlen);

#endif
