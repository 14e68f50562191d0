/* plugins/schema/regex_ecma.c: ECMA-262 ("u" flag) pattern syntax to PCRE2
 * syntax. One left-to-right pass; the rules are in regex.h. Every literal
 * that is not an ASCII letter or digit is written as \x{...}, so nothing in
 * the output can take a PCRE2-only meaning (POSIX classes, \Q, comments,
 * verbs) and the output is printable ASCII. */
#include "regex.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Output cap: the translation of \s or "." is longer than its input. */
#define TR_MAX_OUT (PC_REGEX_MAX_LEN * 16u)
#define TR_MAX_DEPTH 250

/* ECMA WhiteSpace + LineTerminator, as the body of a PCRE2 class. */
static const char ws_body[] = "\\x{9}-\\x{d}\\x{20}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}"
                              "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}";

typedef struct tr {
    const unsigned char *start, *p, *end;
    char *out;
    size_t len, cap;
    unsigned ngroups;                /* capturing groups in the pattern */
    unsigned depth;
    bool lookaround[TR_MAX_DEPTH];   /* per open group: an assertion */
    bool can_quantify;               /* the last item is a quantifiable atom */
    bool syntax_only;                /* lookbehinds become plain groups */
    bool failed;
    char *err;
    size_t errlen;
} tr_t;

static void tr_fail(tr_t *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    t->failed = true;
    if (!t->err || t->errlen == 0)
        return;
    int n = snprintf(t->err, t->errlen, "offset %zu: ", (size_t)(t->p - t->start));
    if (n < 0 || (size_t)n >= t->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->err + n, t->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void put(tr_t *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > TR_MAX_OUT) {
        tr_fail(t, "pattern too large once written for PCRE2");
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *o = realloc(t->out, cap);
        if (!o) {
            tr_fail(t, "out of memory");
            return;
        }
        t->out = o;
        t->cap = cap;
    }
    memcpy(t->out + t->len, s, n);
    t->len += n;
    t->out[t->len] = '\0';
}

static void puts_(tr_t *t, const char *s) { put(t, s, strlen(s)); }

static void put_cp(tr_t *t, uint32_t cp)
{
    char b[16];
    if ((cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')) {
        b[0] = (char)cp;
        put(t, b, 1);
    } else {
        int n = snprintf(b, sizeof b, "\\x{%x}", (unsigned)cp);
        put(t, b, (size_t)n);
    }
}

/* Decodes one UTF-8 code point at t->p; refuses invalid UTF-8. */
static uint32_t next_cp(tr_t *t)
{
    const unsigned char *p = t->p;
    size_t left = (size_t)(t->end - p);
    uint32_t c = p[0];
    size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
             : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0 || n > left) {
        tr_fail(t, "invalid UTF-8");
        return 0;
    }
    if (n > 1) {
        c &= 0x3fu >> (n - 1);
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                tr_fail(t, "invalid UTF-8");
                return 0;
            }
            c = c << 6 | (p[i] & 0x3fu);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            tr_fail(t, "invalid UTF-8");
            return 0;
        }
    }
    t->p += n;
    return c;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Reads exactly n hex digits; -1 when they are not there. */
static long read_hex(tr_t *t, int n)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        if (t->p >= t->end || hexval(*t->p) < 0)
            return -1;
        v = v * 16 + hexval(*t->p++);
    }
    return v;
}

/* After "\u": uHHHH (an escaped surrogate pair becomes one code point) or
 * u{H...}. Returns the code point, a lone surrogate as is, -1 on error. */
static long read_u(tr_t *t)
{
    if (t->p < t->end && *t->p == '{') {
        t->p++;
        long v = 0;
        int digits = 0;
        while (t->p < t->end && hexval(*t->p) >= 0) {
            v = v * 16 + hexval(*t->p++);
            digits++;
            if (v > 0x10ffff)
                return -1;
        }
        if (digits == 0 || t->p >= t->end || *t->p != '}')
            return -1;
        t->p++;
        return v;
    }
    long v = read_hex(t, 4);
    if (v >= 0xd800 && v <= 0xdbff && t->end - t->p >= 6 && t->p[0] == '\\' && t->p[1] == 'u') {
        const unsigned char *save = t->p;
        t->p += 2;
        long lo = read_hex(t, 4);
        if (lo >= 0xdc00 && lo <= 0xdfff)
            return 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
        t->p = save;
    }
    return v;
}

static bool is_syntax_char(int c)
{
    return c && strchr("^$\\.*+?()[]{}|/", c) != NULL;
}

/* General_Category values by every name ECMA accepts, to the short name
 * PCRE2 knows (PCRE2 10.42 has no long category names). */
static const char *const gc_names[][3] = {
    {"C", "Other", NULL}, {"Cc", "Control", "cntrl"}, {"Cf", "Format", NULL},
    {"Cn", "Unassigned", NULL}, {"Co", "Private_Use", NULL}, {"Cs", "Surrogate", NULL},
    {"L", "Letter", NULL}, {"LC", "Cased_Letter", NULL}, {"Ll", "Lowercase_Letter", NULL},
    {"Lm", "Modifier_Letter", NULL}, {"Lo", "Other_Letter", NULL},
    {"Lt", "Titlecase_Letter", NULL}, {"Lu", "Uppercase_Letter", NULL},
    {"M", "Mark", "Combining_Mark"}, {"Mc", "Spacing_Mark", NULL}, {"Me", "Enclosing_Mark", NULL},
    {"Mn", "Nonspacing_Mark", NULL}, {"N", "Number", NULL}, {"Nd", "Decimal_Number", "digit"},
    {"Nl", "Letter_Number", NULL}, {"No", "Other_Number", NULL}, {"P", "Punctuation", "punct"},
    {"Pc", "Connector_Punctuation", NULL}, {"Pd", "Dash_Punctuation", NULL},
    {"Pe", "Close_Punctuation", NULL}, {"Pf", "Final_Punctuation", NULL},
    {"Pi", "Initial_Punctuation", NULL}, {"Po", "Other_Punctuation", NULL},
    {"Ps", "Open_Punctuation", NULL}, {"S", "Symbol", NULL}, {"Sc", "Currency_Symbol", NULL},
    {"Sk", "Modifier_Symbol", NULL}, {"Sm", "Math_Symbol", NULL}, {"So", "Other_Symbol", NULL},
    {"Z", "Separator", NULL}, {"Zl", "Line_Separator", NULL}, {"Zp", "Paragraph_Separator", NULL},
    {"Zs", "Space_Separator", NULL},
};

static const char *gc_short(const char *v, size_t n)
{
    for (size_t i = 0; i < sizeof gc_names / sizeof gc_names[0]; i++)
        for (int j = 0; j < 3 && gc_names[i][j]; j++)
            if (strlen(gc_names[i][j]) == n && memcmp(gc_names[i][j], v, n) == 0)
                return gc_names[i][0];
    return NULL;
}

/* The binary properties ECMA-262 takes as a bare name (its table
 * "Binary Unicode property aliases"), long and short. PCRE2 would take
 * more (bare script names, loose spellings): those are refused here.
 * Assigned is spelled \P{Cn} below; PCRE2 10.42 lacks
 * Changes_When_NFKC_Casefolded, so it fails at compile. */
static const char *const binary_props[] = {
    "ASCII", "ASCII_Hex_Digit", "AHex", "Alphabetic", "Alpha", "Any", "Assigned",
    "Bidi_Control", "Bidi_C", "Bidi_Mirrored", "Bidi_M", "Case_Ignorable", "CI", "Cased",
    "Changes_When_Casefolded", "CWCF", "Changes_When_Casemapped", "CWCM",
    "Changes_When_Lowercased", "CWL", "Changes_When_NFKC_Casefolded", "CWKCF",
    "Changes_When_Titlecased", "CWT", "Changes_When_Uppercased", "CWU", "Dash",
    "Default_Ignorable_Code_Point", "DI", "Deprecated", "Dep", "Diacritic", "Dia", "Emoji",
    "Emoji_Component", "EComp", "Emoji_Modifier", "EMod", "Emoji_Modifier_Base", "EBase",
    "Emoji_Presentation", "EPres", "Extended_Pictographic", "ExtPict", "Extender", "Ext",
    "Grapheme_Base", "Gr_Base", "Grapheme_Extend", "Gr_Ext", "Hex_Digit", "Hex",
    "IDS_Binary_Operator", "IDSB", "IDS_Trinary_Operator", "IDST", "ID_Continue", "IDC",
    "ID_Start", "IDS", "Ideographic", "Ideo", "Join_Control", "Join_C",
    "Logical_Order_Exception", "LOE", "Lowercase", "Lower", "Math", "Noncharacter_Code_Point",
    "NChar", "Pattern_Syntax", "Pat_Syn", "Pattern_White_Space", "Pat_WS", "Quotation_Mark",
    "QMark", "Radical", "Regional_Indicator", "RI", "Sentence_Terminal", "STerm",
    "Soft_Dotted", "SD", "Terminal_Punctuation", "Term", "Unified_Ideograph", "UIdeo",
    "Uppercase", "Upper", "Variation_Selector", "VS", "White_Space", "space", "XID_Continue",
    "XIDC", "XID_Start", "XIDS",
};

static bool is_binary_prop(const char *v, size_t n)
{
    for (size_t i = 0; i < sizeof binary_props / sizeof binary_props[0]; i++)
        if (strlen(binary_props[i]) == n && memcmp(binary_props[i], v, n) == 0)
            return true;
    return false;
}

static bool key_is(const char *k, size_t n, const char *a, const char *b)
{
    return (strlen(a) == n && memcmp(k, a, n) == 0) || (strlen(b) == n && memcmp(k, b, n) == 0);
}

/* After "\p" or "\P" (neg): {Name} or {Key=Value}. */
static void tr_property(tr_t *t, bool neg)
{
    if (t->p >= t->end || *t->p != '{') {
        tr_fail(t, "\\p needs {name}");
        return;
    }
    const char *name = (const char *)++t->p, *eq = NULL;
    while (t->p < t->end && *t->p != '}') {
        unsigned char c = *t->p;
        if (c == '=' && !eq)
            eq = (const char *)t->p;
        else if (!(c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))) {
            tr_fail(t, "invalid property name");
            return;
        }
        t->p++;
    }
    if (t->p >= t->end || (const char *)t->p == name) {
        tr_fail(t, "invalid property name");
        return;
    }
    const char *close = (const char *)t->p++;
    const char *val = eq ? eq + 1 : name, *gc = NULL, *prefix = "";
    size_t vn = (size_t)(close - val);
    if (eq) {
        size_t kn = (size_t)(eq - name);
        if (key_is(name, kn, "General_Category", "gc"))
            gc = gc_short(val, vn);
        else if (key_is(name, kn, "Script", "sc"))
            prefix = "sc:";
        else if (key_is(name, kn, "Script_Extensions", "scx"))
            prefix = "scx:";
        else {
            tr_fail(t, "unknown property");
            return;
        }
        if (vn == 0 || (key_is(name, kn, "General_Category", "gc") && !gc)) {
            tr_fail(t, "unknown property value");
            return;
        }
    } else {
        gc = gc_short(val, vn);
        if (!gc && vn == 8 && memcmp(val, "Assigned", 8) == 0) {
            gc = "Cn";
            neg = !neg;
        } else if (!gc && !is_binary_prop(val, vn)) {
            tr_fail(t, "unknown property");
            return;
        }
    }
    puts_(t, neg ? "\\P{" : "\\p{");
    if (gc) {
        puts_(t, gc);
    } else {
        puts_(t, prefix);
        put(t, val, vn);
    }
    puts_(t, "}");
}

/* A code point from an escape that is the same inside and outside a
 * class: \t \n \v \f \r \0 \cX \xHH \u...; -1 when c is none of those,
 * -2 on a malformed one (already reported). */
static long tr_char_escape(tr_t *t, int c)
{
    switch (c) {
    case 't': return 0x09;
    case 'n': return 0x0a;
    case 'v': return 0x0b;
    case 'f': return 0x0c;
    case 'r': return 0x0d;
    case '0':
        if (t->p < t->end && *t->p >= '0' && *t->p <= '9') {
            tr_fail(t, "octal escapes are not allowed");
            return -2;
        }
        return 0;
    case 'c':
        if (t->p < t->end && ((*t->p | 0x20) >= 'a' && (*t->p | 0x20) <= 'z'))
            return *t->p++ & 0x1f;
        tr_fail(t, "\\c needs a letter");
        return -2;
    case 'x': {
        long v = read_hex(t, 2);
        if (v < 0)
            tr_fail(t, "\\x needs two hex digits");
        return v < 0 ? -2 : v;
    }
    case 'u': {
        long v = read_u(t);
        if (v < 0)
            tr_fail(t, "invalid \\u escape");
        return v < 0 ? -2 : v;
    }
    default:
        return -1;
    }
}

/* A group name at q, up to its ">": its length when it is an ASCII
 * identifier (PCRE2 takes no other), else 0 (reported). */
static size_t group_name(tr_t *t, const unsigned char *q)
{
    const unsigned char *n = q;
    while (q < t->end && (*q == '_' || (*q >= '0' && *q <= '9' && q > n) ||
                          ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z')))
        q++;
    if (q == n || q >= t->end || *q != '>') {
        tr_fail(t, "group names must be ASCII identifiers");
        return 0;
    }
    return (size_t)(q - n);
}

static bool is_surrogate(long cp) { return cp >= 0xd800 && cp <= 0xdfff; }

/* After "\k": <name>. PCRE2 refuses a name no group has. */
static void tr_named_ref(tr_t *t)
{
    size_t n = t->p < t->end && *t->p == '<' ? group_name(t, t->p + 1) : 0;
    if (n == 0) {
        tr_fail(t, "\\k needs <name>");
        return;
    }
    puts_(t, "\\k");
    put(t, (const char *)t->p, n + 2);
    t->p += n + 2;
}

/* "\1".."\9" and the digits after: a backreference, which in "u" mode
 * must name an existing group (a forward one is fine and matches empty). */
static void tr_number_ref(tr_t *t, int first)
{
    unsigned long n = (unsigned long)(first - '0');
    while (t->p < t->end && *t->p >= '0' && *t->p <= '9') {
        n = n * 10 + (unsigned long)(*t->p++ - '0');
        if (n > 100000)
            n = 100000;   /* saturate: any such number is refused below */
    }
    if (n > t->ngroups) {
        tr_fail(t, "backreference to a group that does not exist");
        return;
    }
    char b[24];
    int k = snprintf(b, sizeof b, "\\g{%lu}", n);
    put(t, b, (size_t)k);
}

/* "\" outside a class. */
static void tr_escape(tr_t *t)
{
    if (t->p >= t->end) {
        tr_fail(t, "\\ at end of pattern");
        return;
    }
    int c = *t->p++;
    long cp = tr_char_escape(t, c);
    if (cp == -2)
        return;
    t->can_quantify = true;
    if (cp >= 0) {
        if (is_surrogate(cp))
            puts_(t, "(?!)");   /* UTF-8 text never holds a lone surrogate */
        else
            put_cp(t, (uint32_t)cp);
        return;
    }
    if (is_syntax_char(c)) {
        put_cp(t, (uint32_t)c);
        return;
    }
    char two[2] = {'\\', (char)c};
    switch (c) {
    case 'b': case 'B':
        t->can_quantify = false;
        put(t, two, 2);
        return;
    case 'd': case 'D': case 'w': case 'W':
        put(t, two, 2);
        return;
    case 's': case 'S':
        puts_(t, c == 's' ? "[" : "[^");
        puts_(t, ws_body);
        puts_(t, "]");
        return;
    case 'p': case 'P':
        tr_property(t, c == 'P');
        return;
    case 'k':
        tr_named_ref(t);
        return;
    default:
        break;
    }
    if (c >= '1' && c <= '9') {
        tr_number_ref(t, c);
        return;
    }
    t->p--;
    tr_fail(t, "invalid escape \\%c", c >= 0x20 && c < 0x7f ? c : '?');
}

enum { ATOM_ERR = 0, ATOM_CP, ATOM_SET };

/* One class atom. A code point is returned in *cp, not written; a class
 * escape is written at once (\S only sets *has_S: see tr_class). */
static int class_atom(tr_t *t, long *cp, bool *has_S)
{
    if (*t->p != '\\') {
        *cp = next_cp(t);
        return t->failed ? ATOM_ERR : ATOM_CP;
    }
    t->p++;
    if (t->p >= t->end) {
        tr_fail(t, "\\ at end of pattern");
        return ATOM_ERR;
    }
    int c = *t->p++;
    long v = tr_char_escape(t, c);
    if (v == -2)
        return ATOM_ERR;
    if (v >= 0 || c == 'b' || c == '-' || is_syntax_char(c)) {
        *cp = v >= 0 ? v : c == 'b' ? 0x08 : c;
        return ATOM_CP;
    }
    char two[2] = {'\\', (char)c};
    switch (c) {
    case 'd': case 'D': case 'w': case 'W':
        put(t, two, 2);
        return ATOM_SET;
    case 's':
        puts_(t, ws_body);
        return ATOM_SET;
    case 'S':
        *has_S = true;
        return ATOM_SET;
    case 'p': case 'P':
        tr_property(t, c == 'P');
        return t->failed ? ATOM_ERR : ATOM_SET;
    default:
        t->p--;
        tr_fail(t, "invalid escape \\%c in a class", c >= 0x20 && c < 0x7f ? c : '?');
        return ATOM_ERR;
    }
}

static void class_cp(tr_t *t, long cp)
{
    if (is_surrogate(cp))
        tr_fail(t, "lone surrogate in a class is not supported");
    else
        put_cp(t, (uint32_t)cp);
}

/* Writes the class body (between the brackets); sets *has_S for \S. */
static void class_body(tr_t *t, bool *has_S)
{
    while (!t->failed) {
        if (t->p >= t->end) {
            tr_fail(t, "unterminated character class");
            return;
        }
        if (*t->p == ']') {
            t->p++;
            return;
        }
        long lo = 0, hi = 0;
        int kind = class_atom(t, &lo, has_S);
        bool range = t->end - t->p >= 2 && t->p[0] == '-' && t->p[1] != ']';
        if (kind == ATOM_ERR)
            return;
        if (!range) {
            if (kind == ATOM_CP)
                class_cp(t, lo);
            continue;
        }
        t->p++;
        if (kind != ATOM_CP || class_atom(t, &hi, has_S) != ATOM_CP) {
            tr_fail(t, "a class escape cannot end a range");
            return;
        }
        if (lo > hi) {
            tr_fail(t, "range out of order in character class");
            return;
        }
        class_cp(t, lo);
        puts_(t, "-");
        class_cp(t, hi);
    }
}

/* After "[". PCRE2 has no empty class and no class inside a class, so
 * "[]" and "[^]" are spelled differently and \S (ECMA's non-whitespace,
 * which cannot be written as a PCRE2 class escape) becomes an alternative:
 * [x\S] is (?:[x]|[^ws]) and [^x\S] is (?:(?![x])[ws]). */
static void tr_class(tr_t *t)
{
    bool neg = t->p < t->end && *t->p == '^';
    if (neg)
        t->p++;
    t->can_quantify = true;
    if (t->p < t->end && *t->p == ']') {
        t->p++;
        puts_(t, neg ? "[\\x{0}-\\x{10ffff}]" : "(?!)");
        return;
    }
    size_t open = t->len;
    bool has_S = false;
    class_body(t, &has_S);
    if (t->failed)
        return;
    size_t n = t->len - open;
    char *body = malloc(n + 1);
    if (!body) {
        tr_fail(t, "out of memory");
        return;
    }
    if (n > 0)
        memcpy(body, t->out + open, n);
    t->len = open;
    if (!has_S) {
        puts_(t, neg ? "[^" : "[");
        put(t, body, n);
        puts_(t, "]");
    } else {
        puts_(t, "(?:");
        if (n > 0) {
            puts_(t, neg ? "(?![" : "[");
            put(t, body, n);
            puts_(t, neg ? "])" : "]|");
        }
        puts_(t, neg ? "[" : "[^");
        puts_(t, ws_body);
        puts_(t, "])");
    }
    free(body);
}

/* After "(": the group kinds ECMA has. */
static void tr_group_open(tr_t *t)
{
    static const char *const kinds[] = {"?:", "?=", "?!", "?<=", "?<!"};
    bool look = false;
    size_t skip = 0;
    if (t->p < t->end && *t->p == '?') {
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && !skip; i++) {
            size_t k = strlen(kinds[i]);
            if ((size_t)(t->end - t->p) >= k && memcmp(t->p, kinds[i], k) == 0) {
                skip = k;
                look = i > 0;
            }
        }
        if (!skip && t->end - t->p >= 2 && t->p[1] == '<') {
            size_t n = group_name(t, t->p + 2);
            skip = n ? n + 3 : 0;   /* "?<" name ">" */
        }
        if (!skip) {
            tr_fail(t, "invalid group");
            return;
        }
    }
    if (t->depth >= TR_MAX_DEPTH) {
        tr_fail(t, "groups nested too deeply");
        return;
    }
    t->lookaround[t->depth++] = look;
    if (look && t->syntax_only && t->p[1] == '<')
        puts_(t, "(?:");
    else {
        puts_(t, "(");
        put(t, (const char *)t->p, skip);
    }
    t->p += skip;
    t->can_quantify = false;
}

/* "{" at t->p: {n}, {n,} or {n,m}; false (nothing consumed) otherwise. */
static bool read_count(tr_t *t, unsigned long *lo, unsigned long *hi)
{
    const unsigned char *q = t->p + 1;
    unsigned long v[2] = {0, 0};
    int nd[2] = {0, 0}, part = 0;
    bool comma = false;
    for (; q < t->end && *q != '}'; q++) {
        if (*q >= '0' && *q <= '9') {
            v[part] = v[part] * 10 + (unsigned long)(*q - '0');
            if (v[part] > 1000000)
                v[part] = 1000000;   /* saturate; PCRE2 refuses > 65535 */
            nd[part]++;
        } else if (*q == ',' && !comma && nd[0] > 0) {
            comma = true;
            part = 1;
        } else {
            return false;
        }
    }
    if (q >= t->end || nd[0] == 0)
        return false;
    *lo = v[0];
    *hi = comma ? (nd[1] ? v[1] : ~0ul) : v[0];
    t->p = q + 1;
    return true;
}

static void tr_quantifier(tr_t *t)
{
    unsigned char c = *t->p;
    const unsigned char *at = t->p;
    unsigned long lo = 0, hi = 0;
    if (c == '{') {
        if (!read_count(t, &lo, &hi)) {
            tr_fail(t, "lone { (write \\{)");
            return;
        }
        if (lo > hi) {
            tr_fail(t, "numbers out of order in {} quantifier");
            return;
        }
    } else {
        t->p++;
    }
    if (!t->can_quantify) {
        t->p = at;
        tr_fail(t, "nothing to repeat");
        return;
    }
    put(t, (const char *)at, (size_t)(t->p - at));
    if (t->p < t->end && *t->p == '?')
        put(t, (const char *)t->p++, 1);
    t->can_quantify = false;
}

static void tr_item(tr_t *t)
{
    unsigned char c = *t->p;
    switch (c) {
    case '^': case '$': case '|':
        put(t, (const char *)t->p++, 1);
        t->can_quantify = false;
        return;
    case '(':
        t->p++;
        tr_group_open(t);
        return;
    case ')':
        if (t->depth == 0) {
            tr_fail(t, "unmatched )");
            return;
        }
        t->p++;
        puts_(t, ")");
        t->can_quantify = !t->lookaround[--t->depth];
        return;
    case '*': case '+': case '?': case '{':
        tr_quantifier(t);
        return;
    case '}': case ']':
        tr_fail(t, "lone %c (escape it)", c);
        return;
    case '.':
        t->p++;
        puts_(t, "[^\\x{a}\\x{d}\\x{2028}\\x{2029}]");
        t->can_quantify = true;
        return;
    case '[':
        t->p++;
        tr_class(t);
        return;
    case '\\':
        t->p++;
        tr_escape(t);
        return;
    default: {
        uint32_t cp = next_cp(t);
        put_cp(t, cp);
        t->can_quantify = true;
    }
    }
}

/* Capturing groups: "(" not followed by "?", and "(?<name>". Escapes and
 * classes are skipped; the main pass refuses what is malformed. */
static unsigned count_groups(const unsigned char *p, const unsigned char *end)
{
    unsigned n = 0;
    bool in_class = false;
    for (; p < end; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }
        if (in_class) {
            in_class = *p != ']';
            continue;
        }
        if (*p == '[') {
            in_class = true;
            if (p + 1 < end && p[1] == '^')
                p++;
            if (p + 1 < end && p[1] == ']')
                p++;   /* "[]" or "[^]": the "]" closes it, handled next */
            continue;
        }
        if (*p != '(')
            continue;
        if (p + 1 >= end || p[1] != '?')
            n++;
        else if (end - p >= 4 && p[2] == '<' && p[3] != '=' && p[3] != '!')
            n++;
    }
    return n;
}

char *pc_regex_translate(const char *pattern, size_t len, bool syntax_only, char *err,
                         size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    tr_t *t = calloc(1, sizeof *t);
    if (!t) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->start = t->p = (const unsigned char *)pattern;
    t->end = t->p + len;
    t->err = err;
    t->errlen = errlen;
    t->syntax_only = syntax_only;
    if (len > PC_REGEX_MAX_LEN)
        tr_fail(t, "pattern longer than %u bytes", PC_REGEX_MAX_LEN);
    t->ngroups = count_groups(t->p, t->end);
    put(t, "", 0);
    while (!t->failed && t->p < t->end)
        tr_item(t);
    if (!t->failed && t->depth > 0)
        tr_fail(t, "missing )");
    char *out = t->out;
    if (t->failed) {
        free(out);
        out = NULL;
    }
    free(t);
    return out;
}
