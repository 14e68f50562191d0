/* plugins/schema/regex.c: compiling translated patterns with PCRE2 and
 * matching them with limits, from many threads (contract in regex.h).
 *
 * Per-thread state (one match data block of a single ovector pair: a
 * pattern only answers yes or no, and PCRE2 reports a match with a too
 * small ovector as success; plus a JIT stack, made on first need) hangs
 * off a pthread key whose destructor frees it when the thread exits. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define RE_DEFAULT_MATCH_LIMIT 100000u
#define RE_DEFAULT_DEPTH_LIMIT 1000u
/* JIT stack: enough for deep but sane patterns; beyond it the match fails
 * with a limit error instead of growing. */
#define RE_JIT_STACK_MIN (32u * 1024u)
#define RE_JIT_STACK_MAX (1024u * 1024u)
/* The interpreter's backtracking memory, in KiB. */
#define RE_HEAP_LIMIT_KIB 8192u

enum {
    RE_COMPILE_OPTS = PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_UNSET_BACKREF |
                      PCRE2_NEVER_BACKSLASH_C,
};

struct pc_regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
};

typedef struct re_tls {
    pcre2_match_data *md;
    pcre2_jit_stack *jit;
} re_tls_t;

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_key_err;

static void tls_free(void *p)
{
    re_tls_t *s = p;
    pcre2_match_data_free(s->md);
    pcre2_jit_stack_free(s->jit);
    free(s);
}

static void tls_init(void) { tls_key_err = pthread_key_create(&tls_key, tls_free); }

static re_tls_t *tls_get(void)
{
    if (pthread_once(&tls_once, tls_init) != 0 || tls_key_err != 0)
        return NULL;
    re_tls_t *s = pthread_getspecific(tls_key);
    if (s)
        return s;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->md = pcre2_match_data_create(1, NULL);
    if (!s->md || pthread_setspecific(tls_key, s) != 0) {
        pcre2_match_data_free(s->md);
        free(s);
        return NULL;
    }
    return s;
}

/* Called by JIT matching: this thread's stack (NULL: PCRE2's 32 KiB on
 * the machine stack, still bounded). */
static pcre2_jit_stack *jit_stack_cb(void *ud)
{
    (void)ud;
    re_tls_t *s = pthread_getspecific(tls_key);
    if (s && !s->jit)
        s->jit = pcre2_jit_stack_create(RE_JIT_STACK_MIN, RE_JIT_STACK_MAX, NULL);
    return s ? s->jit : NULL;
}

static pcre2_code *re_compile(const char *pattern, size_t len, bool syntax_only, char *err,
                              size_t errlen)
{
    char *pcre = pc_regex_translate(pattern, len, syntax_only, err, errlen);
    if (!pcre)
        return NULL;
    int code = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pcre, PCRE2_ZERO_TERMINATED, RE_COMPILE_OPTS,
                                   &code, &off, NULL);
    if (!re && err && errlen) {
        /* The offset is in the translation, not the pattern: say so. */
        PCRE2_UCHAR msg[120];
        if (pcre2_get_error_message(code, msg, sizeof msg) < 0)
            snprintf((char *)msg, sizeof msg, "error %d", code);
        snprintf(err, errlen, "%s (PCRE2)", (const char *)msg);
    }
    free(pcre);
    return re;
}

pc_regex_t *pc_regex_compile(const char *pattern, size_t len, uint32_t match_limit,
                             uint32_t depth_limit, char *err, size_t errlen)
{
    pc_regex_t *re = calloc(1, sizeof *re);
    if (!re) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return NULL;
    }
    re->code = re_compile(pattern, len, false, err, errlen);
    if (!re->code)
        goto fail;
    re->mctx = pcre2_match_context_create(NULL);
    if (!re->mctx) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        goto fail;
    }
    pcre2_set_match_limit(re->mctx, match_limit ? match_limit : RE_DEFAULT_MATCH_LIMIT);
    pcre2_set_depth_limit(re->mctx, depth_limit ? depth_limit : RE_DEFAULT_DEPTH_LIMIT);
    pcre2_set_heap_limit(re->mctx, RE_HEAP_LIMIT_KIB);
    /* Without JIT support (or out of executable memory) the interpreter
     * runs, with the same limits: nothing to report. */
    if (pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0)
        pcre2_jit_stack_assign(re->mctx, jit_stack_cb, NULL);
    return re;
fail:
    pc_regex_free(re);
    return NULL;
}

int pc_regex_match(const pc_regex_t *re, const char *s, size_t len)
{
    re_tls_t *tls = tls_get();
    if (!re || !tls)
        return -1;
    if (!s)
        s = "";   /* PCRE2 10.42 refuses a NULL subject even when empty */
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, tls->md, re->mctx);
    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

void pc_regex_free(pc_regex_t *re)
{
    if (!re)
        return;
    pcre2_match_context_free(re->mctx);
    pcre2_code_free(re->code);
    free(re);
}

bool pc_regex_valid(const char *pattern, size_t len)
{
    pcre2_code *re = re_compile(pattern, len, true, NULL, 0);
    pcre2_code_free(re);
    return re != NULL;
}
