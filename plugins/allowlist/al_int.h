/* plugins/allowlist/al_int.h: the allow-list's compiled configuration,
 * shared by its files (al_conf.c builds it, al_query.c and al_decide.c
 * read it). Immutable once pc_allowlist_create returned, but for the
 * metric pointer set by pc_allowlist_start and the log throttle. */
#ifndef PC_AL_INT_H
#define PC_AL_INT_H

#include "allowlist.h"
#include "al_template.h"

#include <stdatomic.h>

#define AL_MAX_QUERY_PARAMS 64 /* rules in one entry's "query.params" */

typedef enum al_qtype { AL_Q_STRING = 0, AL_Q_INT, AL_Q_BOOL, AL_Q_UUID, AL_Q_PATTERN } al_qtype_t;

typedef struct al_qparam {
    char *name;           /* decoded */
    al_qtype_t type;
    char *pattern;        /* AL_Q_PATTERN */
    pcre2_code *re;
    bool repeat;          /* may appear more than once */
} al_qparam_t;

typedef struct al_query {
    al_qparam_t *v;
    size_t n;
    int unknown;          /* 0 refuse, 1 allow */
} al_query_t;

typedef struct al_entry {
    char *id;
    char *path;
    pc_conf_strings_t methods_in; /* as configured */
    unsigned methods;     /* AL_M_* bits, HEAD included when GET implies it */
    int implies_head;     /* -1 absent (the instance decides), 0, 1 */
    pc_conf_strings_t scopes;
    char *scope_str;      /* scopes joined by ' ', for WWW-Authenticate */
    json_t *query_in;     /* borrowed while parsing only */
    al_query_t *query;    /* NULL: the query is not checked */
    size_t list;
    al_tmpl_t tmpl;
} al_entry_t;

typedef struct al_list {
    char *name;
    bool everyone;        /* no "consumers" */
    pc_conf_strings_t client_id, subject, group;
} al_list_t;

struct pc_allowlist {
    int report;           /* mode "report" */
    int hide;             /* on_deny "hide" */
    bool get_implies_head;
    char *group_claim;
    al_list_t *lists;
    size_t nlists;
    al_entry_t *entries;  /* over all lists, config order */
    size_t nentries;
    al_trie_t trie;       /* candidate ids are entry indices */
    pc_metric_t *requests;
    _Atomic long limit_log; /* pc_log_every: a regex hit a limit */
};

enum {
    AL_M_GET = 1u << 0, AL_M_HEAD = 1u << 1, AL_M_POST = 1u << 2, AL_M_PUT = 1u << 3,
    AL_M_PATCH = 1u << 4, AL_M_DELETE = 1u << 5, AL_M_OPTIONS = 1u << 6,
    AL_M_TRACE = 1u << 7, AL_M_CONNECT = 1u << 8,
};

/* The AL_M_* bit of a method name (exact, uppercase), 0 for others. */
unsigned al_method_bit(const char *m);

/* Query checks (al_query.c). raw is pc_request_query's (may be NULL). */
/* 1 when some parameter's decoded name is "_method" (any case). */
int al_query_has_method(const char *raw);
/* 0 when raw meets q, -1 when not; patterns match in rx. scratch holds
 * strlen(raw) + 2 bytes (decoded names and values). */
int al_query_check(const al_query_t *q, const char *raw, al_rx_env_t *rx, char *scratch);
int al_query_parse(const json_t *v, const char *path, al_query_t **out, pc_err_t *err);
void al_query_free(al_query_t *q);

#endif
