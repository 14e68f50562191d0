/* gateway/http/router.c: host tables and a segment trie per host; see router.h
 * for the matching rules.
 *
 * Layout. Every trie node lives in one array and is named by its index. All
 * lookups by string go through a single open-addressing table keyed by
 * (tag, bytes): tag RT_TAG_HOST maps an exact host to its trie root,
 * RT_TAG_WILD maps a wildcard suffix ("example.com" for "*.example.com") to
 * its root, and RT_TAG_EDGE + n maps a literal segment to the child of node
 * n. The key bytes live in one string pool. The any-host root is node 0.
 * The table is filled at build time only, so a request cannot lengthen a
 * probe chain (no hash flooding through lookups).
 *
 * Host keys are hashed from the last byte to the first so that one pass
 * over the request host yields the hash of every label suffix: the cost of
 * the wildcard probes is linear in the host length. */
#include "http/router.h"

#include "base/util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define RT_NONE UINT32_MAX
#define RT_TAG_HOST 0u
#define RT_TAG_WILD 1u
#define RT_TAG_EDGE 2u /* + parent node index */
#define RT_FNV_BASIS 0xcbf29ce484222325ull
#define RT_FNV_PRIME 0x100000001b3ull

/* Route lists of a node, in the order they are tried at that node. */
enum rt_list {
    RT_L_EXACT,      /* path ends here, no params */
    RT_L_TMPL,       /* path ends here, template */
    RT_L_PREFIX_DIR, /* prefix written with a trailing slash: needs more */
    RT_L_PREFIX,     /* prefix without trailing slash */
    RT_L_COUNT
};

typedef struct rt_node {
    uint32_t parent;           /* RT_NONE for a root */
    uint32_t param;            /* child through a {param} edge, or RT_NONE */
    uint32_t list[RT_L_COUNT]; /* route list heads, RT_NONE when empty */
} rt_node_t;

typedef struct rt_route {
    void *route;
    unsigned methods; /* declared, never 0 */
    uint32_t next;    /* next route of the same node list */
    uint32_t nparams;
    char *path; /* own copy: param names point into it */
    uint32_t name_off[PC_ROUTER_MAX_PARAMS];
    uint32_t name_len[PC_ROUTER_MAX_PARAMS];
} rt_route_t;

typedef struct rt_slot {
    uint64_t hash; /* mixed with the tag */
    uint32_t tag;
    uint32_t val; /* RT_NONE marks an empty slot */
    uint32_t off; /* key bytes in the pool */
    uint32_t len;
} rt_slot_t;

struct pc_router {
    rt_node_t *nodes;
    uint32_t nnodes, cap_nodes;
    rt_route_t *routes;
    uint32_t nroutes, cap_routes;
    rt_slot_t *slots;
    size_t cap_slots, used_slots; /* cap is a power of two, or 0 */
    char *pool;
    size_t pool_len, pool_cap;
    size_t nwild; /* wildcard tables: lets match skip the suffix probes */
};

/* ---- methods ---------------------------------------------------------- */

static const char *const rt_method_names[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT",
};

unsigned pc_method_bit(const char *method)
{
    for (size_t i = 0; method && i < PC_ARRAY_LEN(rt_method_names); i++)
        if (strcmp(method, rt_method_names[i]) == 0)
            return 1u << i;
    return PC_M_OTHER;
}

size_t pc_methods_format(unsigned mask, char *buf, size_t len)
{
    size_t n = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < PC_ARRAY_LEN(rt_method_names); i++) {
        if (!(mask & (1u << i)))
            continue;
        const char *sep = n ? ", " : "";
        int w = snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0, "%s%s", sep,
                         rt_method_names[i]);
        n += (size_t)w;
    }
    return n;
}

/* A GET route also serves HEAD. */
static unsigned rt_effective(unsigned methods)
{
    return methods & PC_M_GET ? methods | PC_M_HEAD : methods;
}

/* ---- string table ----------------------------------------------------- */

static uint64_t rt_mix(uint64_t h, uint32_t tag)
{
    h ^= (uint64_t)(tag + 1) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

/* FNV-1a over the bytes from last to first (see the file comment). */
static uint64_t rt_rhash(const char *s, size_t n)
{
    uint64_t h = RT_FNV_BASIS;
    while (n--)
        h = (h ^ (unsigned char)s[n]) * RT_FNV_PRIME;
    return h;
}

static uint32_t rt_find(const pc_router_t *rt, uint64_t h, uint32_t tag, const char *key,
                        size_t len)
{
    if (rt->cap_slots == 0)
        return RT_NONE;
    h = rt_mix(h, tag);
    size_t mask = rt->cap_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const rt_slot_t *s = &rt->slots[i];
        if (s->val == RT_NONE)
            return RT_NONE;
        if (s->hash == h && s->tag == tag && s->len == len &&
            memcmp(rt->pool + s->off, key, len) == 0)
            return s->val;
    }
}

static void rt_slot_put(rt_slot_t *slots, size_t cap, const rt_slot_t *in)
{
    size_t i = in->hash & (cap - 1);
    while (slots[i].val != RT_NONE)
        i = (i + 1) & (cap - 1);
    slots[i] = *in;
}

/* Keeps the load at or under one half so probe chains stay short. */
static void rt_table_grow(pc_router_t *rt)
{
    size_t cap = rt->cap_slots ? rt->cap_slots * 2 : 64;
    rt_slot_t *slots = pc_xmalloc(cap * sizeof(*slots));
    for (size_t i = 0; i < cap; i++)
        slots[i].val = RT_NONE;
    for (size_t i = 0; i < rt->cap_slots; i++)
        if (rt->slots[i].val != RT_NONE)
            rt_slot_put(slots, cap, &rt->slots[i]);
    free(rt->slots);
    rt->slots = slots;
    rt->cap_slots = cap;
}

static uint32_t rt_pool_add(pc_router_t *rt, const char *s, size_t n)
{
    PC_ASSERT(rt->pool_len + n < UINT32_MAX);
    if (rt->pool_len + n >= rt->pool_cap) { /* >=: never NULL, even for "" */
        rt->pool_cap = (rt->pool_len + n) * 2 + 256;
        rt->pool = pc_xrealloc(rt->pool, rt->pool_cap);
    }
    memcpy(rt->pool + rt->pool_len, s, n);
    rt->pool_len += n;
    return (uint32_t)(rt->pool_len - n);
}

/* The caller checked that the key is absent. */
static void rt_insert(pc_router_t *rt, uint64_t h, uint32_t tag, const char *key, size_t len,
                      uint32_t val)
{
    if ((rt->used_slots + 1) * 2 > rt->cap_slots)
        rt_table_grow(rt);
    rt_slot_t s = { rt_mix(h, tag), tag, val, rt_pool_add(rt, key, len), (uint32_t)len };
    rt_slot_put(rt->slots, rt->cap_slots, &s);
    rt->used_slots++;
}

static uint32_t rt_child(const pc_router_t *rt, uint32_t node, const char *seg, size_t len)
{
    return rt_find(rt, pc_hash64(seg, len), RT_TAG_EDGE + node, seg, len);
}

/* ---- building --------------------------------------------------------- */

static uint32_t rt_node_new(pc_router_t *rt, uint32_t parent)
{
    PC_ASSERT(rt->nnodes < RT_NONE - RT_TAG_EDGE - 1);
    if (rt->nnodes == rt->cap_nodes) {
        rt->cap_nodes = rt->cap_nodes ? rt->cap_nodes * 2 : 64;
        rt->nodes = pc_xrealloc(rt->nodes, rt->cap_nodes * sizeof(*rt->nodes));
    }
    rt_node_t *n = &rt->nodes[rt->nnodes];
    n->parent = parent;
    n->param = RT_NONE;
    for (int i = 0; i < RT_L_COUNT; i++)
        n->list[i] = RT_NONE;
    return rt->nnodes++;
}

pc_router_t *pc_router_new(void)
{
    pc_router_t *rt = pc_xcalloc(1, sizeof(*rt));
    rt_node_new(rt, RT_NONE); /* node 0: the any-host root */
    return rt;
}

void pc_router_free(pc_router_t *rt)
{
    if (!rt)
        return;
    for (uint32_t i = 0; i < rt->nroutes; i++)
        free(rt->routes[i].path);
    free(rt->routes);
    free(rt->nodes);
    free(rt->slots);
    free(rt->pool);
    free(rt);
}

static int rt_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rt_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A spec parsed and validated before the router is touched. */
typedef struct rt_seg {
    size_t off, len;
    bool param;
} rt_seg_t;

typedef struct rt_spec {
    uint32_t host_tag; /* RT_TAG_HOST, RT_TAG_WILD, or RT_NONE for any host */
    size_t host_len;
    char host[PC_ROUTER_MAX_HOST];
    rt_seg_t segs[PC_ROUTER_MAX_DEPTH];
    size_t nsegs;
    enum rt_list list;
    unsigned methods;
    uint32_t nparams;
    uint32_t name_off[PC_ROUTER_MAX_PARAMS], name_len[PC_ROUTER_MAX_PARAMS];
} rt_spec_t;

static bool rt_label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* s is lower-case. Dotted labels, or "[v6]" when brackets are allowed. */
static bool rt_host_valid(const char *s, size_t n, bool brackets)
{
    if (n == 0)
        return false;
    if (brackets && s[0] == '[') {
        if (n < 3 || s[n - 1] != ']')
            return false;
        for (size_t i = 1; i + 1 < n; i++)
            if (!s[i] || !strchr("0123456789abcdef:.", s[i]))
                return false;
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        bool empty_label = s[i] == '.' && (i == 0 || i + 1 == n || s[i - 1] == '.');
        if (empty_label || (s[i] != '.' && !rt_label_char((unsigned char)s[i])))
            return false;
    }
    return true;
}

static void rt_lower(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
}

static int rt_parse_host(const char *host, rt_spec_t *p, char *err, size_t errlen)
{
    p->host_tag = RT_NONE;
    if (!host)
        return 0;
    const char *name = host;
    size_t n = strlen(host);
    p->host_tag = RT_TAG_HOST;
    if (n >= 2 && host[0] == '*' && host[1] == '.') {
        name += 2;
        n -= 2;
        p->host_tag = RT_TAG_WILD;
    }
    if (n == 0 || n > PC_ROUTER_MAX_HOST)
        return rt_fail(err, errlen, "host \"%s\": empty or too long (use NULL for any host)", host);
    rt_lower(p->host, name, n);
    p->host_len = n;
    if (!rt_host_valid(p->host, n, p->host_tag == RT_TAG_HOST))
        return rt_fail(err, errlen, "host \"%s\": not a host name or \"*.\" + host name", host);
    return 0;
}

static bool rt_name_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return n > 0;
}

/* Validates the "{name}" segment at path+off and records its name. */
static int rt_parse_param(const char *path, rt_seg_t *sg, rt_spec_t *p, char *err, size_t errlen)
{
    const char *s = path + sg->off;
    if (sg->len < 3 || s[sg->len - 1] != '}' || !rt_name_valid(s + 1, sg->len - 2))
        return rt_fail(err, errlen,
                       "path \"%s\": a param is a whole segment \"{name}\", name [A-Za-z0-9_]+",
                       path);
    if (p->nparams == PC_ROUTER_MAX_PARAMS)
        return rt_fail(err, errlen, "path \"%s\": more than %d params", path, PC_ROUTER_MAX_PARAMS);
    for (uint32_t i = 0; i < p->nparams; i++)
        if (p->name_len[i] == sg->len - 2 && memcmp(path + p->name_off[i], s + 1, sg->len - 2) == 0)
            return rt_fail(err, errlen, "path \"%s\": param \"%.*s\" used twice", path,
                           (int)(sg->len - 2), s + 1);
    p->name_off[p->nparams] = (uint32_t)sg->off + 1;
    p->name_len[p->nparams++] = (uint32_t)sg->len - 2;
    sg->param = true;
    return 0;
}

static int rt_parse_seg(const pc_route_spec_t *spec, rt_seg_t *sg, rt_spec_t *p, char *err,
                        size_t errlen)
{
    const char *s = spec->path + sg->off;
    sg->param = false;
    if (spec->kind == PC_MATCH_TEMPLATE && sg->len && s[0] == '{')
        return rt_parse_param(spec->path, sg, p, err, errlen);
    if (memchr(s, '{', sg->len) || memchr(s, '}', sg->len))
        return rt_fail(err, errlen, "path \"%s\": '{' or '}' outside a template param", spec->path);
    return 0;
}

static int rt_parse_path(const pc_route_spec_t *spec, rt_spec_t *p, char *err, size_t errlen)
{
    const char *path = spec->path;
    if (!path || path[0] != '/')
        return rt_fail(err, errlen, "path \"%s\": must start with '/'", path ? path : "(null)");
    size_t len = strlen(path);
    if (len >= UINT32_MAX)
        return rt_fail(err, errlen, "path too long");
    p->nsegs = 0;
    p->nparams = 0;
    for (size_t start = 1;;) {
        const char *slash = memchr(path + start, '/', len - start);
        size_t end = slash ? (size_t)(slash - path) : len;
        if (p->nsegs == PC_ROUTER_MAX_DEPTH)
            return rt_fail(err, errlen, "path \"%s\": more than %d segments", path,
                           PC_ROUTER_MAX_DEPTH);
        rt_seg_t *sg = &p->segs[p->nsegs++];
        sg->off = start;
        sg->len = end - start;
        if (rt_parse_seg(spec, sg, p, err, errlen) != 0)
            return -1;
        if (!slash)
            break;
        start = end + 1;
    }
    return 0;
}

/* A prefix's trailing empty segment is not matched, it only demands that
 * the request path goes on below the prefix. */
static void rt_pick_list(const pc_route_spec_t *spec, rt_spec_t *p)
{
    if (spec->kind == PC_MATCH_EXACT) {
        p->list = RT_L_EXACT;
    } else if (spec->kind == PC_MATCH_TEMPLATE) {
        p->list = RT_L_TMPL;
    } else if (p->segs[p->nsegs - 1].len == 0) {
        p->list = RT_L_PREFIX_DIR;
        p->nsegs--;
    } else {
        p->list = RT_L_PREFIX;
    }
}

static int rt_parse_spec(const pc_route_spec_t *spec, rt_spec_t *p, char *err, size_t errlen)
{
    if (spec->kind != PC_MATCH_EXACT && spec->kind != PC_MATCH_PREFIX &&
        spec->kind != PC_MATCH_TEMPLATE)
        return rt_fail(err, errlen, "unknown path kind %d", (int)spec->kind);
    if (spec->methods & ~(unsigned)PC_M_ALL)
        return rt_fail(err, errlen, "unknown method bits 0x%x",
                       spec->methods & ~(unsigned)PC_M_ALL);
    p->methods = spec->methods ? spec->methods : PC_M_ALL;
    if (rt_parse_host(spec->host, p, err, errlen) != 0 || rt_parse_path(spec, p, err, errlen) != 0)
        return -1;
    rt_pick_list(spec, p);
    return 0;
}

static uint32_t rt_host_root(pc_router_t *rt, const rt_spec_t *p)
{
    if (p->host_tag == RT_NONE)
        return 0;
    uint64_t h = rt_rhash(p->host, p->host_len);
    uint32_t root = rt_find(rt, h, p->host_tag, p->host, p->host_len);
    if (root == RT_NONE) {
        root = rt_node_new(rt, RT_NONE);
        rt_insert(rt, h, p->host_tag, p->host, p->host_len, root);
        rt->nwild += p->host_tag == RT_TAG_WILD;
    }
    return root;
}

static uint32_t rt_literal_child(pc_router_t *rt, uint32_t node, const char *seg, size_t len)
{
    uint32_t c = rt_child(rt, node, seg, len);
    if (c == RT_NONE) {
        c = rt_node_new(rt, node);
        rt_insert(rt, pc_hash64(seg, len), RT_TAG_EDGE + node, seg, len, c);
    }
    return c;
}

/* Finds or creates the node for the spec's segments. */
static uint32_t rt_build_path(pc_router_t *rt, const char *path, const rt_spec_t *p)
{
    uint32_t node = rt_host_root(rt, p);
    for (size_t i = 0; i < p->nsegs; i++) {
        const rt_seg_t *sg = &p->segs[i];
        if (!sg->param) {
            node = rt_literal_child(rt, node, path + sg->off, sg->len);
        } else {
            if (rt->nodes[node].param == RT_NONE) {
                uint32_t c = rt_node_new(rt, node); /* may move rt->nodes */
                rt->nodes[node].param = c;
            }
            node = rt->nodes[node].param;
        }
    }
    return node;
}

static uint32_t rt_route_new(pc_router_t *rt, const pc_route_spec_t *spec, const rt_spec_t *p)
{
    if (rt->nroutes == rt->cap_routes) {
        rt->cap_routes = rt->cap_routes ? rt->cap_routes * 2 : 64;
        rt->routes = pc_xrealloc(rt->routes, rt->cap_routes * sizeof(*rt->routes));
    }
    rt_route_t *r = &rt->routes[rt->nroutes];
    r->route = spec->route;
    r->methods = p->methods;
    r->next = RT_NONE;
    r->path = pc_xstrdup(spec->path);
    r->nparams = p->nparams;
    memcpy(r->name_off, p->name_off, sizeof(r->name_off));
    memcpy(r->name_len, p->name_len, sizeof(r->name_len));
    return rt->nroutes++;
}

static int rt_duplicate(const pc_route_spec_t *spec, unsigned overlap, char *err, size_t errlen)
{
    static const char *const kinds[] = { "exact", "prefix", "template" };
    char methods[128];
    pc_methods_format(overlap, methods, sizeof(methods));
    return rt_fail(err, errlen, "duplicate route: host %s, %s path \"%s\": %s%s%s already taken",
                   spec->host ? spec->host : "(any)", kinds[spec->kind], spec->path, methods,
                   overlap & PC_M_OTHER && overlap != PC_M_OTHER ? ", " : "",
                   overlap & PC_M_OTHER ? "other methods" : "");
}

int pc_router_add(pc_router_t *rt, const pc_route_spec_t *spec, char *err, size_t errlen)
{
    PC_ASSERT(rt && spec);
    rt_spec_t p;
    if (rt_parse_spec(spec, &p, err, errlen) != 0)
        return -1;
    /* A duplicate sits on a node that existed already, so a refused add
     * creates nothing. */
    uint32_t node = rt_build_path(rt, spec->path, &p);
    uint32_t *head = &rt->nodes[node].list[p.list];
    for (uint32_t r = *head; r != RT_NONE; r = rt->routes[r].next)
        if (rt->routes[r].methods & p.methods)
            return rt_duplicate(spec, rt->routes[r].methods & p.methods, err, errlen);
    uint32_t r = rt_route_new(rt, spec, &p);
    rt->routes[r].next = *head;
    *head = r;
    return 0;
}

/* ---- matching --------------------------------------------------------- */

typedef struct rt_query {
    const pc_router_t *rt;
    const char *path;
    size_t pathlen;
    unsigned method;
    pc_route_result_t *res;
    uint32_t deep;  /* deepest node reached through literal edges only */
    bool deep_more; /* the path has segments left below deep */
} rt_query_t;

/* One level of the trie walk. The segment [pos, end) is the one consumed
 * below this node; pos > pathlen means the path ended at this node. */
enum rt_state { RT_F_LEAF, RT_F_LITERAL, RT_F_PARAM, RT_F_DONE };

typedef struct rt_frame {
    uint32_t node;
    enum rt_state state;
    size_t pos, end;
} rt_frame_t;

static void rt_frame_enter(const rt_query_t *q, rt_frame_t *f, uint32_t node, size_t pos)
{
    f->node = node;
    f->pos = pos;
    if (pos > q->pathlen) {
        f->state = RT_F_LEAF;
        f->end = pos;
        return;
    }
    const char *slash = memchr(q->path + pos, '/', q->pathlen - pos);
    f->end = slash ? (size_t)(slash - q->path) : q->pathlen;
    f->state = RT_F_LITERAL;
}

/* The route of list head that takes the method, or RT_NONE; collects the
 * methods seen for a possible 405. An explicit HEAD beats GET's HEAD. */
static uint32_t rt_pick(const rt_query_t *q, uint32_t head)
{
    const rt_route_t *routes = q->rt->routes;
    for (uint32_t r = head; r != RT_NONE; r = routes[r].next) {
        q->res->allowed |= rt_effective(routes[r].methods);
        if (routes[r].methods & q->method)
            return r;
    }
    if (q->method != PC_M_HEAD)
        return RT_NONE;
    for (uint32_t r = head; r != RT_NONE; r = routes[r].next)
        if (routes[r].methods & PC_M_GET)
            return r;
    return RT_NONE;
}

/* Param i of a template is the i-th {param} edge on the walk stack. */
static void rt_found(const rt_query_t *q, uint32_t r, const rt_frame_t *st, size_t sp)
{
    const rt_route_t *route = &q->rt->routes[r];
    pc_route_result_t *res = q->res;
    res->status = PC_ROUTE_FOUND;
    res->route = route->route;
    res->allowed = 0;
    res->nparams = 0;
    for (size_t k = 1; k <= sp && res->nparams < route->nparams; k++) {
        if (q->rt->nodes[st[k - 1].node].param != st[k].node)
            continue;
        pc_route_param_t *pp = &res->params[res->nparams];
        pp->name = route->path + route->name_off[res->nparams];
        pp->name_len = route->name_len[res->nparams];
        pp->value = q->path + st[k - 1].pos;
        pp->value_len = st[k - 1].end - st[k - 1].pos;
        res->nparams++;
    }
    PC_ASSERT(res->nparams == route->nparams);
}

static bool rt_leaf(const rt_query_t *q, const rt_frame_t *st, size_t sp)
{
    const rt_node_t *nd = &q->rt->nodes[st[sp].node];
    uint32_t r = rt_pick(q, nd->list[RT_L_EXACT]);
    if (r == RT_NONE)
        r = rt_pick(q, nd->list[RT_L_TMPL]);
    if (r == RT_NONE)
        return false;
    rt_found(q, r, st, sp);
    return true;
}

/* Next child of f to walk into: the literal one first, then the param one
 * (a param never takes an empty segment). Notes where the literal-only
 * descent stops, which the prefix pass starts from. */
static uint32_t rt_next_child(rt_query_t *q, rt_frame_t *f)
{
    if (f->state == RT_F_LITERAL) {
        f->state = RT_F_PARAM;
        uint32_t c = rt_child(q->rt, f->node, q->path + f->pos, f->end - f->pos);
        if (c != RT_NONE)
            return c;
        if (q->deep == RT_NONE) {
            q->deep = f->node;
            q->deep_more = true;
        }
    }
    if (f->state == RT_F_PARAM) {
        f->state = RT_F_DONE;
        if (f->end > f->pos)
            return q->rt->nodes[f->node].param;
    }
    return RT_NONE;
}

/* Exact and template routes: a depth-first walk, literal before param,
 * reaches full-path nodes in specificity order. The walk never goes deeper
 * than the trie, and every route is at most PC_ROUTER_MAX_DEPTH deep. */
static bool rt_walk(rt_query_t *q, uint32_t root)
{
    rt_frame_t st[PC_ROUTER_MAX_DEPTH + 1];
    size_t sp = 0;
    rt_frame_enter(q, &st[0], root, 1);
    for (;;) {
        rt_frame_t *f = &st[sp];
        if (f->state == RT_F_LEAF) {
            if (q->deep == RT_NONE) {
                q->deep = f->node;
                q->deep_more = false;
            }
            if (rt_leaf(q, st, sp))
                return true;
            f->state = RT_F_DONE;
        }
        uint32_t c = rt_next_child(q, f);
        if (c != RT_NONE) {
            PC_ASSERT(sp < PC_ROUTER_MAX_DEPTH);
            size_t next = f->end < q->pathlen ? f->end + 1 : q->pathlen + 1;
            rt_frame_enter(q, &st[++sp], c, next);
        } else if (sp-- == 0) {
            return false; /* rt_next_child is out of children only when DONE */
        }
    }
}

/* Prefix routes: from the deepest literal node up to the root, so the
 * longest prefix comes first. */
static bool rt_prefixes(const rt_query_t *q)
{
    const rt_node_t *nodes = q->rt->nodes;
    bool more = q->deep_more;
    for (uint32_t n = q->deep; n != RT_NONE; n = nodes[n].parent, more = true) {
        uint32_t r = more ? rt_pick(q, nodes[n].list[RT_L_PREFIX_DIR]) : RT_NONE;
        if (r == RT_NONE)
            r = rt_pick(q, nodes[n].list[RT_L_PREFIX]);
        if (r != RT_NONE) {
            rt_found(q, r, NULL, 0);
            return true;
        }
    }
    return false;
}

/* Decides the request if any route of this host table matches the path. */
static bool rt_match_tree(rt_query_t *q, uint32_t root)
{
    q->deep = RT_NONE;
    if (rt_walk(q, root) || rt_prefixes(q))
        return true;
    if (q->res->allowed == 0)
        return false;
    q->res->status = PC_ROUTE_METHOD_NOT_ALLOWED;
    return true;
}

/* Lower-cases the request host into buf without port and trailing dot.
 * Returns its length, or 0 when it cannot name any configured host. */
static size_t rt_request_host(const char *host, size_t n, char *buf)
{
    if (!host || n == 0)
        return 0;
    const char *end = memchr(host, host[0] == '[' ? ']' : ':', n);
    if (host[0] == '[') {
        bool port_or_end = end && (end + 1 == host + n || end[1] == ':');
        n = port_or_end ? (size_t)(end - host) + 1 : 0;
    } else if (end) {
        n = (size_t)(end - host);
    }
    if (n > 1 && host[0] != '[' && host[n - 1] == '.')
        n--;
    if (n == 0 || n > PC_ROUTER_MAX_HOST)
        return 0;
    rt_lower(buf, host, n);
    return rt_host_valid(buf, n, true) ? n : 0;
}

/* Exact host, then wildcard suffixes longest first. One backwards pass
 * hashes every suffix; a suffix counts only after a '.', so the wildcard
 * never takes the bare domain. */
static bool rt_match_hosts(rt_query_t *q, const char *host, size_t n)
{
    uint32_t wild[PC_ROUTER_MAX_HOST / 2 + 1];
    size_t nwild = 0;
    uint64_t h = RT_FNV_BASIS;
    for (size_t i = n; i-- > 0;) {
        if (host[i] == '.' && q->rt->nwild) {
            uint32_t root = rt_find(q->rt, h, RT_TAG_WILD, host + i + 1, n - i - 1);
            if (root != RT_NONE)
                wild[nwild++] = root;
        }
        h = (h ^ (unsigned char)host[i]) * RT_FNV_PRIME;
    }
    uint32_t root = rt_find(q->rt, h, RT_TAG_HOST, host, n);
    if (root != RT_NONE && rt_match_tree(q, root))
        return true;
    while (nwild > 0)
        if (rt_match_tree(q, wild[--nwild]))
            return true;
    return false;
}

void pc_router_match(const pc_router_t *rt, const char *host, size_t hostlen, const char *path,
                     size_t pathlen, unsigned method_bit, pc_route_result_t *res)
{
    PC_ASSERT(rt && res && (path || pathlen == 0));
    PC_ASSERT(method_bit && !(method_bit & (method_bit - 1)) && method_bit <= PC_M_OTHER);
    res->status = PC_ROUTE_NOT_FOUND;
    res->route = NULL;
    res->allowed = 0;
    res->nparams = 0;
    if (pathlen == 0 || path[0] != '/')
        return;
    rt_query_t q = { rt, path, pathlen, method_bit, res, RT_NONE, false };
    char buf[PC_ROUTER_MAX_HOST];
    size_t n = rt_request_host(host, hostlen, buf);
    if (n && rt_match_hosts(&q, buf, n))
        return;
    rt_match_tree(&q, 0);
}
