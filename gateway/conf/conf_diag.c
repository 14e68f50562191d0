/* gateway/conf/conf_diag.c: the load-time side of the config that is not the
 * schema itself: diagnostics (errors and warnings with their JSON path),
 * the pc_err_t sink handed to plugins, secrets ({"env"}, {"file"}, inline)
 * and the other files plugins load (pc_conf_file), and CIDR networks for
 * trusted proxies. Main thread only, except
 * pc_cidr_contains which is pure. */
#include "conf/conf_int.h"
#include "base/util.h"

#include <portcullis/plugin.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- diagnostics -------------------------------------------------------- */

static char *diag_vformat(const char *path, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static char *diag_vformat(const char *path, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    size_t plen = path && *path ? strlen(path) + 2 : 0;
    char *s = pc_xmalloc(plen + (size_t)n + 1);
    if (plen) {
        memcpy(s, path, plen - 2);
        memcpy(s + plen - 2, ": ", 2);
    }
    vsnprintf(s + plen, (size_t)n + 1, fmt, ap);
    return s;
}

static void diag_push(char ***arr, size_t *n, char *s)
{
    *arr = pc_xrealloc(*arr, (*n + 1) * sizeof(**arr));
    (*arr)[(*n)++] = s;
}

void pc_diag_error(pc_diag_t *d, const char *path, const char *fmt, ...)
{
    if (!d || d->nerrors > PC_DIAG_MAX_ERRORS)
        return;
    if (d->nerrors == PC_DIAG_MAX_ERRORS) {
        diag_push(&d->errors, &d->nerrors,
                  pc_xstrdup("too many errors; the rest are not shown"));
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    diag_push(&d->errors, &d->nerrors, diag_vformat(path, fmt, ap));
    va_end(ap);
}

void pc_diag_warn(pc_diag_t *d, const char *path, const char *fmt, ...)
{
    if (!d || d->nwarnings > PC_DIAG_MAX_ERRORS)
        return;
    if (d->nwarnings == PC_DIAG_MAX_ERRORS) {
        diag_push(&d->warnings, &d->nwarnings,
                  pc_xstrdup("too many warnings; the rest are not shown"));
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    diag_push(&d->warnings, &d->nwarnings, diag_vformat(path, fmt, ap));
    va_end(ap);
}

void pc_diag_note(pc_diag_t *d, const char *path, const char *fmt, ...)
{
    if (!d || d->nnotes > PC_DIAG_MAX_NOTES)
        return;
    if (d->nnotes == PC_DIAG_MAX_NOTES) {
        diag_push(&d->notes, &d->nnotes, pc_xstrdup("too many notes; the rest are not shown"));
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    diag_push(&d->notes, &d->nnotes, diag_vformat(path, fmt, ap));
    va_end(ap);
}

void pc_diag_print_notes(const pc_diag_t *d, FILE *out)
{
    for (size_t i = 0; d && i < d->nnotes; i++)
        fprintf(out, "note: %s\n", d->notes[i]);
}

void pc_diag_print(const pc_diag_t *d, FILE *out)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nerrors; i++)
        fprintf(out, "error: %s\n", d->errors[i]);
    for (size_t i = 0; i < d->nwarnings; i++)
        fprintf(out, "warning: %s\n", d->warnings[i]);
}

void pc_diag_free(pc_diag_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nerrors; i++)
        free(d->errors[i]);
    for (size_t i = 0; i < d->nwarnings; i++)
        free(d->warnings[i]);
    for (size_t i = 0; i < d->nnotes; i++)
        free(d->notes[i]);
    free(d->errors);
    free(d->warnings);
    free(d->notes);
    memset(d, 0, sizeof(*d));
}

/* ---- pc_err_t ----------------------------------------------------------- */

/* "<base>.<key>", or "<base><key>" when key starts with '[' (an index). */
static void err_path(const pc_err_t *err, const char *key, char *buf, size_t len)
{
    const char *base = err->base_path ? err->base_path : "";
    if (!key || !*key)
        snprintf(buf, len, "%s", base);
    else if (!*base)
        snprintf(buf, len, "%s", key);
    else
        snprintf(buf, len, "%s%s%s", base, key[0] == '[' ? "" : ".", key);
}

int pc_err_set(pc_err_t *err, const char *key, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->failed = 1;
    char path[512];
    err_path(err, key, path, sizeof(path));
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pc_diag_error(err->diag, path, "%s", msg);
    return -1;
}

static void err_warn(pc_err_t *err, const char *key, const char *msg)
{
    if (!err || !err->diag)
        return;
    char path[512];
    err_path(err, key, path, sizeof(path));
    pc_diag_warn(err->diag, path, "%s", msg);
}

void pc_conf_warn(pc_err_t *err, const char *key, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    err_warn(err, key, msg);
}

void pc_conf_note(pc_err_t *err, const char *key, const char *fmt, ...)
{
    if (!err || !err->diag)
        return;
    char path[512], msg[1024];
    err_path(err, key, path, sizeof(path));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pc_diag_note(err->diag, path, "%s", msg);
}

/* ---- secrets ------------------------------------------------------------ */

#define SECRET_FILE_MAX (64u * 1024u)

static int conf_open(const char *path, int flags)
{
    return open(path, flags);
}

pc_conf_open_fn pc_conf_open_hook = conf_open;

/* Reads the regular file at the absolute path file, at most max bytes, into
 * a NUL-terminated malloc'd buffer; what names it in messages ("secret
 * file"). *mode gets its permission bits. */
static char *file_read(const char *file, const char *what, size_t max, const char *key,
                       size_t *len, mode_t *mode, pc_err_t *err)
{
    if (file[0] != '/') {
        pc_err_set(err, key, "file: must be an absolute path");
        return NULL;
    }
    int fd = pc_conf_open_hook(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd == -1) {
        pc_err_set(err, key, "cannot open %s: %s", what, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        close(fd);
        pc_err_set(err, key, "%s is not a regular file", what);
        return NULL;
    }
    char *buf = pc_xmalloc(max + 1);
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1) {
            int e = errno;
            close(fd);
            free(buf);
            pc_err_set(err, key, "cannot read %s: %s", what, strerror(e));
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max)
            break;
    }
    close(fd);
    if (n > max) {
        free(buf);
        pc_err_set(err, key, "%s is larger than %zu bytes", what, max);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    *mode = st.st_mode;
    return buf;
}

static char *secret_from_file(const char *file, const char *key, size_t *len, pc_err_t *err)
{
    mode_t mode;
    size_t n;
    char *buf = file_read(file, "secret file", SECRET_FILE_MAX, key, &n, &mode, err);
    if (!buf)
        return NULL;
    if (n && buf[n - 1] == '\n') {
        n--;
        if (n && buf[n - 1] == '\r')
            n--;
    }
    if (n == 0) {
        free(buf);
        pc_err_set(err, key, "secret file is empty");
        return NULL;
    }
    if (mode & S_IROTH)
        err_warn(err, key, "secret file is readable by every user (chmod o-r)");
    buf[n] = '\0';
    *len = n;
    return buf;
}

char *pc_conf_file(const json_t *v, const char *key, size_t max, size_t *len, pc_err_t *err)
{
    const json_t *f = json_object_get(v, "file");
    size_t dummy;
    mode_t mode;
    if (!json_is_object(v) || json_object_size(v) != 1 || !json_is_string(f) ||
        json_string_length(f) == 0 || strlen(json_string_value(f)) != json_string_length(f)) {
        pc_err_set(err, key, "must be {\"file\": \"/path\"}");
        return NULL;
    }
    char what[96];
    snprintf(what, sizeof(what), "file \"%.80s\"", json_string_value(f));
    return file_read(json_string_value(f), what, max, key, len ? len : &dummy, &mode, err);
}

char *pc_conf_secret(const json_t *node, const char *key, size_t *len, pc_err_t *err)
{
    const json_t *v = node && key ? json_object_get(node, key) : node;
    return pc_conf_secret_value(v, key, len, err);
}

char *pc_conf_secret_value(const json_t *v, const char *key, size_t *len, pc_err_t *err)
{
    size_t dummy;
    if (!len)
        len = &dummy;
    *len = 0;
    if (!v) {
        pc_err_set(err, key, "required");
        return NULL;
    }
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        if (n == 0) {
            pc_err_set(err, key, "must not be empty");
            return NULL;
        }
        err_warn(err, key,
                 "secret written inline; prefer {\"env\": \"NAME\"} or {\"file\": \"/path\"}");
        *len = n;
        return pc_xstrndup(json_string_value(v), n);
    }
    if (!json_is_object(v) || json_object_size(v) != 1) {
        pc_err_set(err, key, "must be a string, {\"env\": \"NAME\"} or {\"file\": \"/path\"}");
        return NULL;
    }
    const json_t *env = json_object_get(v, "env");
    const json_t *file = json_object_get(v, "file");
    const json_t *src = env ? env : file;
    if (!src) {
        pc_err_set(err, key, "must be a string, {\"env\": \"NAME\"} or {\"file\": \"/path\"}");
        return NULL;
    }
    if (!json_is_string(src) || json_string_length(src) == 0 ||
        strlen(json_string_value(src)) != json_string_length(src)) {
        pc_err_set(err, key, "%s: must be a non-empty string", env ? "env" : "file");
        return NULL;
    }
    const char *name = json_string_value(src);
    if (file)
        return secret_from_file(name, key, len, err);
    for (const char *p = name; *p; p++) {
        if (*p == '=') {
            pc_err_set(err, key, "env: not a variable name");
            return NULL;
        }
    }
    const char *val = getenv(name);
    if (!val) {
        pc_err_set(err, key, "environment variable %.64s is not set", name);
        return NULL;
    }
    if (!*val) {
        pc_err_set(err, key, "environment variable %.64s is empty", name);
        return NULL;
    }
    *len = strlen(val);
    return pc_xstrdup(val);
}

/* ---- CIDR --------------------------------------------------------------- */

static const unsigned char v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int pc_cidr_parse(const char *s, pc_cidr_t *out)
{
    if (!s || !out)
        return -1;
    char buf[INET6_ADDRSTRLEN + 8];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n + 1);
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash) {
        *slash = '\0';
        const char *p = slash + 1;
        if (!*p || strlen(p) > 3)
            return -1;
        prefix = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return -1;
            prefix = prefix * 10 + (*p - '0');
        }
        if (slash[1] == '0' && slash[2])
            return -1; /* no leading zeros: "/08" */
    }
    pc_cidr_t c;
    memset(&c, 0, sizeof(c));
    if (inet_pton(AF_INET, buf, c.addr) == 1) {
        c.family = AF_INET;
        if (prefix > 32)
            return -1;
        c.prefix = prefix < 0 ? 32u : (unsigned)prefix;
    } else if (inet_pton(AF_INET6, buf, c.addr) == 1) {
        c.family = AF_INET6;
        if (prefix > 128)
            return -1;
        c.prefix = prefix < 0 ? 128u : (unsigned)prefix;
    } else {
        return -1;
    }
    unsigned bits = c.family == AF_INET ? 32u : 128u;
    for (unsigned i = c.prefix; i < bits; i++)
        if (c.addr[i / 8] & (0x80u >> (i % 8)))
            return -2;
    if (c.family == AF_INET6 && c.prefix >= 96 && memcmp(c.addr, v4mapped_prefix, 12) == 0) {
        /* ::ffff:10.0.0.0/104 is 10.0.0.0/8: stored so that it matches both
         * spellings of the client address. */
        memmove(c.addr, c.addr + 12, 4);
        memset(c.addr + 4, 0, 12);
        c.family = AF_INET;
        c.prefix -= 96;
    }
    *out = c;
    return 0;
}

static bool cidr_match(const pc_cidr_t *net, const unsigned char *a)
{
    unsigned full = net->prefix / 8, rest = net->prefix % 8;
    if (memcmp(net->addr, a, full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xffu << (8 - rest));
    return (net->addr[full] & mask) == (a[full] & mask);
}

bool pc_cidr_contains(const pc_cidr_t *nets, size_t n, const struct sockaddr *addr)
{
    if (!addr)
        return false;
    int family;
    const unsigned char *a;
    if (addr->sa_family == AF_INET) {
        family = AF_INET;
        a = (const unsigned char *)&((const struct sockaddr_in *)(const void *)addr)->sin_addr;
    } else if (addr->sa_family == AF_INET6) {
        a = ((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr.s6_addr;
        family = AF_INET6;
        if (memcmp(a, v4mapped_prefix, 12) == 0) {
            family = AF_INET;
            a += 12;
        }
    } else {
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (nets[i].family == family && cidr_match(&nets[i], a))
            return true;
    return false;
}
