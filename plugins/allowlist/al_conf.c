/* plugins/allowlist/al_conf.c: reads the allow-list's config (shape in
 * allowlist.h, table in docs/filtering.md) into lists, entries and one
 * segment trie over every entry of every list. */
#include "al_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AL_LIST_NAME_MAX 64

static const struct {
    const char *name;
    unsigned bit;
} al_methods[] = {
    {"GET", AL_M_GET},         {"HEAD", AL_M_HEAD},   {"POST", AL_M_POST},
    {"PUT", AL_M_PUT},         {"PATCH", AL_M_PATCH}, {"DELETE", AL_M_DELETE},
    {"OPTIONS", AL_M_OPTIONS}, {"TRACE", AL_M_TRACE}, {"CONNECT", AL_M_CONNECT},
};

unsigned al_method_bit(const char *m)
{
    for (size_t i = 0; i < sizeof(al_methods) / sizeof(al_methods[0]); i++)
        if (strcmp(m, al_methods[i].name) == 0)
            return al_methods[i].bit;
    return 0;
}

static const char *const al_modes[] = {"enforce", "report", NULL};
static const char *const al_on_deny[] = {"forbid", "hide", NULL};

static const pc_conf_field_t al_fields[] = {
    {.key = "mode", .type = PC_CONF_ENUM, .offset = offsetof(pc_allowlist_t, report),
     .values = al_modes},
    {.key = "on_deny", .type = PC_CONF_ENUM, .offset = offsetof(pc_allowlist_t, hide),
     .values = al_on_deny},
    {.key = "get_implies_head", .type = PC_CONF_BOOL,
     .offset = offsetof(pc_allowlist_t, get_implies_head)},
    {.key = "group_claim", .type = PC_CONF_STRING, .offset = offsetof(pc_allowlist_t, group_claim),
     .max = 256, .def_str = "groups"},
    {.key = "lists", .type = PC_CONF_ARRAY, .flags = PC_CONF_REQUIRED},
    {0},
};

static const pc_conf_field_t al_list_fields[] = {
    {.key = "name", .type = PC_CONF_TOKEN, .offset = offsetof(al_list_t, name),
     .flags = PC_CONF_REQUIRED, .max = AL_LIST_NAME_MAX},
    {.key = "consumers", .type = PC_CONF_OBJECT},
    {.key = "entries", .type = PC_CONF_ARRAY, .flags = PC_CONF_REQUIRED},
    {0},
};

static const pc_conf_field_t al_consumer_fields[] = {
    {.key = "client_id", .type = PC_CONF_STRINGS, .offset = offsetof(al_list_t, client_id)},
    {.key = "subject", .type = PC_CONF_STRINGS, .offset = offsetof(al_list_t, subject)},
    {.key = "group", .type = PC_CONF_STRINGS, .offset = offsetof(al_list_t, group)},
    {0},
};

static const pc_conf_field_t al_entry_fields[] = {
    {.key = "id", .type = PC_CONF_STRING, .offset = offsetof(al_entry_t, id), .max = 256},
    {.key = "methods", .type = PC_CONF_STRINGS, .offset = offsetof(al_entry_t, methods_in),
     .flags = PC_CONF_REQUIRED | PC_CONF_NONEMPTY | PC_CONF_SINGLE},
    {.key = "path", .type = PC_CONF_STRING, .offset = offsetof(al_entry_t, path),
     .flags = PC_CONF_REQUIRED, .max = 4096},
    {.key = "scopes", .type = PC_CONF_STRINGS, .offset = offsetof(al_entry_t, scopes),
     .flags = PC_CONF_SINGLE},
    {.key = "get_implies_head", .type = PC_CONF_ANY},
    {.key = "query", .type = PC_CONF_OBJECT},
    {0},
};

/* RFC 6750 §3 scope-token: %x21 / %x23-5B / %x5D-7E, so it fits a quoted
 * WWW-Authenticate parameter as is. */
static int al_scope_token_ok(const char *s)
{
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\')
            return 0;
    return 1;
}

static int al_entry_scopes(al_entry_t *e, const char *path, pc_err_t *err)
{
    size_t len = 1;
    for (size_t i = 0; i < e->scopes.n; i++) {
        if (!al_scope_token_ok(e->scopes.v[i]))
            return pc_err_set(err, path, "scope \"%s\": a scope is printable ASCII without "
                              "space, '\"' or '\\'", e->scopes.v[i]);
        len += strlen(e->scopes.v[i]) + 1;
    }
    e->scope_str = pc_xcalloc(1, len);
    for (size_t i = 0; i < e->scopes.n; i++) {
        if (i)
            strcat(e->scope_str, " ");
        strcat(e->scope_str, e->scopes.v[i]);
    }
    return 0;
}

static int al_entry_methods(pc_allowlist_t *al, al_entry_t *e, const json_t *node,
                            const char *path, pc_err_t *err)
{
    char p[512];
    snprintf(p, sizeof(p), "%.480s.methods", path);
    for (size_t i = 0; i < e->methods_in.n; i++) {
        unsigned bit = al_method_bit(e->methods_in.v[i]);
        if (!bit)
            return pc_err_set(err, p, "\"%s\" is not one of GET, HEAD, POST, PUT, PATCH, "
                              "DELETE, OPTIONS, TRACE, CONNECT", e->methods_in.v[i]);
        e->methods |= bit;
    }
    const json_t *h = json_object_get(node, "get_implies_head");
    snprintf(p, sizeof(p), "%.480s.get_implies_head", path);
    if (h && !json_is_boolean(h))
        return pc_err_set(err, p, "must be true or false");
    e->implies_head = h ? json_is_true(h) : -1;
    if ((e->implies_head == 1 || (e->implies_head < 0 && al->get_implies_head)) &&
        (e->methods & AL_M_GET))
        e->methods |= AL_M_HEAD;
    return 0;
}

/* Two entries of one list with one shape and a method in common: one of
 * them could never decide anything, which is a mistake in the config. */
static int al_entry_conflict(const pc_allowlist_t *al, size_t ei, const al_node_t *node,
                             const char *path, pc_err_t *err)
{
    size_t n;
    const size_t *c = al_node_cands(node, &n);
    const al_entry_t *e = &al->entries[ei];
    for (size_t i = 0; i < n; i++) {
        const al_entry_t *o = &al->entries[c[i]];
        if (c[i] != ei && o->list == e->list && (o->methods & e->methods))
            return pc_err_set(err, path, "same methods and path shape as \"%s\" (%s) in "
                              "list \"%s\"", o->path, o->id ? o->id : "no id",
                              al->lists[e->list].name);
    }
    return 0;
}

static int al_entry(pc_allowlist_t *al, size_t li, const json_t *node, const char *path,
                    pc_err_t *err)
{
    size_t ei = al->nentries++;
    al_entry_t *e = &al->entries[ei];
    char p[512], msg[256];

    e->list = li;
    if (!json_is_object(node))
        return pc_err_set(err, path, "must be an object with methods and path");
    if (pc_conf_parse(node, path, al_entry_fields, e, err) ||
        al_entry_methods(al, e, node, path, err) || al_entry_scopes(e, path, err))
        return -1;
    snprintf(p, sizeof(p), "%.480s.query", path);
    const json_t *q = json_object_get(node, "query");
    if (q && al_query_parse(q, p, &e->query, err))
        return -1;
    snprintf(p, sizeof(p), "%.480s.path", path);
    if (al_tmpl_parse(e->path, &e->tmpl, msg, sizeof(msg)))
        return pc_err_set(err, p, "%s", msg);
    return al_entry_conflict(al, ei, al_trie_insert(&al->trie, &e->tmpl, ei), p, err);
}

static int al_consumers(al_list_t *l, const json_t *v, const char *path, pc_err_t *err)
{
    l->everyone = v == NULL;
    if (!v)
        return 0;
    char p[512];
    snprintf(p, sizeof(p), "%.480s.consumers", path);
    if (pc_conf_parse(v, p, al_consumer_fields, l, err))
        return -1;
    if (l->client_id.n + l->subject.n + l->group.n == 0)
        return pc_err_set(err, p, "names no consumer (leave \"consumers\" out for everyone)");
    return 0;
}

static int al_list(pc_allowlist_t *al, size_t li, const json_t *node, const char *path,
                   pc_err_t *err)
{
    al_list_t *l = &al->lists[li];
    if (!json_is_object(node))
        return pc_err_set(err, path, "must be an object with name and entries");
    if (pc_conf_parse(node, path, al_list_fields, l, err) ||
        al_consumers(l, json_object_get(node, "consumers"), path, err))
        return -1;
    for (size_t i = 0; i < li; i++)
        if (strcmp(al->lists[i].name, l->name) == 0)
            return pc_err_set(err, path, "list \"%s\" is named twice", l->name);
    const json_t *entries = json_object_get(node, "entries");
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e) {
        char p[512];
        snprintf(p, sizeof(p), "%.400s.entries[%zu]", path, i);
        if (al_entry(al, li, e, p, err))
            return -1;
    }
    return 0;
}

/* Entries over all lists, for one allocation (the trie keeps indices). */
static size_t al_count_entries(const json_t *lists)
{
    size_t n = 0, i;
    json_t *l;
    json_array_foreach(lists, i, l)
        n += json_array_size(json_object_get(l, "entries"));
    return n;
}

int pc_allowlist_create(const json_t *node, pc_allowlist_t **out, pc_err_t *err)
{
    pc_allowlist_t *al = *out = pc_xcalloc(1, sizeof(*al));
    al_trie_init(&al->trie);
    if (pc_conf_parse(node, NULL, al_fields, al, err))
        return -1;
    const json_t *lists = json_object_get(node, "lists");
    if (json_array_size(lists) == 0)
        return pc_err_set(err, "lists", "must hold at least one list (deny everything is "
                          "better said with a route that has no upstream)");
    al->lists = pc_xcalloc(json_array_size(lists), sizeof(*al->lists));
    al->entries = pc_xcalloc(al_count_entries(lists) + 1, sizeof(*al->entries));
    size_t i;
    json_t *l;
    json_array_foreach(lists, i, l) {
        char p[64];
        snprintf(p, sizeof(p), "lists[%zu]", i);
        al->nlists++;
        if (al_list(al, i, l, p, err))
            return -1;
    }
    return 0;
}

void pc_allowlist_free(pc_allowlist_t *al)
{
    if (!al)
        return;
    al_trie_free(&al->trie); /* first: it borrows from the templates */
    for (size_t i = 0; i < al->nentries; i++) {
        al_entry_t *e = &al->entries[i];
        pc_conf_fields_free(al_entry_fields, e);
        free(e->scope_str);
        al_query_free(e->query);
        al_tmpl_free(&e->tmpl);
    }
    for (size_t i = 0; i < al->nlists; i++) {
        pc_conf_fields_free(al_list_fields, &al->lists[i]);
        pc_conf_fields_free(al_consumer_fields, &al->lists[i]);
    }
    free(al->entries);
    free(al->lists);
    pc_conf_fields_free(al_fields, al);
    free(al);
}
