/* plugins/schema/format_net.c: ipv4, ipv6, hostname and email formats
 * (contract in formats.h). Hostname labels that claim to be A-labels
 * ("xn--") go to libidn2's registration check, which is the IDNA2008
 * validity test (Punycode round trip, code point properties, contextual
 * rules); hand-written Unicode tables would only drift from it. */
#include "formats_int.h"

#include <idn2.h>
#include <stdint.h>
#include <string.h>

#define HOSTNAME_MAX 253
#define LABEL_MAX 63
#define LOCAL_PART_MAX 64   /* RFC 5321 4.5.3.1.1 */

/* dec-octet "." dec-octet "." dec-octet "." dec-octet, no leading zeros */
bool pc_fmt_ipv4(const char *s, size_t len)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0 && (i >= len || s[i++] != '.'))
            return false;
        size_t start = i;
        int v = 0;
        while (i < len && pc_fmt_is_digit(s[i]) && i - start < 3)
            v = v * 10 + (s[i++] - '0');
        size_t n = i - start;
        if (n == 0 || v > 255 || (n > 1 && s[start] == '0'))
            return false;
    }
    return i == len;
}

/* RFC 4291 2.2: eight groups of 1-4 hex digits, one "::" standing for one
 * or more zero groups, the last two groups optionally a dotted quad. */
bool pc_fmt_ipv6(const char *s, size_t len)
{
    size_t i = 0;
    int groups = 0;
    bool gap = false;
    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        gap = true;
        i = 2;
    }
    while (i < len) {
        size_t start = i;
        while (i < len && pc_fmt_is_hex(s[i]) && i - start < 5)
            i++;
        if (i < len && s[i] == '.') {
            if (!pc_fmt_ipv4(s + start, len - start))
                return false;
            groups += 2;
            i = len;
            break;
        }
        if (i == start || i - start > 4)
            return false;
        groups++;
        if (i == len)
            break;
        if (s[i++] != ':' || i == len)
            return false;
        if (s[i] == ':') {
            if (gap)
                return false;
            gap = true;
            i++;
        }
    }
    return gap ? groups <= 7 : groups == 8;
}

/* An "xn--" label: a valid IDNA2008 A-label. The prefix is matched without
 * regard to case (DNS does not care), the rest as written: an uppercase
 * letter in the Punycode's basic part decodes to an uppercase, and so
 * disallowed, code point. */
static bool a_label_ok(const char *s, size_t n)
{
    char buf[LABEL_MAX + 1];
    memcpy(buf, "xn--", 4);
    memcpy(buf + 4, s + 4, n - 4);
    buf[n] = '\0';
    uint8_t *insert = NULL;
    int rc = idn2_register_u8(NULL, (const uint8_t *)buf, &insert, 0);
    idn2_free(insert);
    return rc == IDN2_OK;
}

/* RFC 1123 2.1 host names, labels as in RFC 952 minus the leading-letter
 * rule; no trailing dot. */
bool pc_fmt_hostname(const char *s, size_t len)
{
    if (len == 0 || len > HOSTNAME_MAX)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            if (!pc_fmt_is_alpha(s[i]) && !pc_fmt_is_digit(s[i]) && s[i] != '-')
                return false;
            continue;
        }
        size_t n = i - start;
        const char *l = s + start;
        if (n == 0 || n > LABEL_MAX || l[0] == '-' || l[n - 1] == '-')
            return false;
        if (n >= 4 && (l[0] | 0x20) == 'x' && (l[1] | 0x20) == 'n' && l[2] == '-' &&
            l[3] == '-' && !a_label_ok(l, n))
            return false;
        start = i + 1;
    }
    return true;
}

static bool is_atext(char c)
{
    return pc_fmt_is_alpha(c) || pc_fmt_is_digit(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Local-part = Dot-string / Quoted-string; returns its length, 0 when
 * there is none. */
static size_t local_part(const char *s, size_t len)
{
    size_t i = 0;
    if (len > 0 && s[0] == '"') {
        for (i = 1; i < len && s[i] != '"'; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '\\') {
                i++;
                c = i < len ? (unsigned char)s[i] : 0;
            }
            if (c < 32 || c > 126)
                return 0;
        }
        return i < len ? i + 1 : 0;
    }
    for (;;) {
        size_t start = i;
        while (i < len && is_atext(s[i]))
            i++;
        if (i == start)
            return 0;   /* empty atom: leading, trailing or double dot */
        if (i >= len || s[i] != '.')
            return i;
        i++;
    }
}

/* RFC 5321 4.1.2 Mailbox = Local-part "@" ( Domain / address-literal ) */
bool pc_fmt_email(const char *s, size_t len)
{
    size_t n = local_part(s, len);
    if (n == 0 || n > LOCAL_PART_MAX || n >= len || s[n] != '@')
        return false;
    const char *d = s + n + 1;
    size_t dn = len - n - 1;
    if (dn >= 2 && d[0] == '[' && d[dn - 1] == ']') {
        /* ABNF strings ignore case: "IPv6:" and "ipv6:" are one tag. */
        if (dn > 7 && (d[1] | 0x20) == 'i' && (d[2] | 0x20) == 'p' && (d[3] | 0x20) == 'v' &&
            d[4] == '6' && d[5] == ':')
            return pc_fmt_ipv6(d + 6, dn - 7);
        return pc_fmt_ipv4(d + 1, dn - 2);
    }
    return pc_fmt_hostname(d, dn);
}
