/* bench/json_bench_simdjson.cpp: simdjson (DOM API) against pc_json_parse
 * on the schema workload's bodies, with bench/json_bench.c's method: the
 * same bodies (order, profile, events at 1K, 16K, 256K), the readers
 * interleaved within each round, ~20 ms of work per reader and round,
 * medians over rounds, ratios between medians.
 *
 * Opt-in only (C++ and libsimdjson): bench/json_bench_simdjson.sh builds
 * and runs it; neither make nor CI touches it.
 *
 * Readers, each on every body:
 *   pc-warm     pc_json_parse into a bump buffer reset per body (the
 *               "pc-warm" reader of json_bench.c: our reader alone).
 *   simd-dom    simdjson::dom::parser::parse on a body that already sits
 *               in a buffer with SIMDJSON_PADDING spare bytes; the parser
 *               is reused (one per worker, as a gateway would keep it).
 *   simd+copy   the same after a memcpy of the body into a reused padded
 *               buffer: the cost of a body buffer that is not padded.
 *   simd+walk   simd+copy, then a walk of the whole DOM that builds a
 *               pc_json_t tree in a bump buffer, as our contract needs:
 *               one node per value (type, length, double and int64 for
 *               numbers), arrays as item pointers, objects as members
 *               (key, length, pc_json_key_hash, value) plus, above 16
 *               members, the sorted index; duplicate keys refused (pairwise
 *               up to 16 members, else sort by (hash, length, bytes) and
 *               compare neighbours, as json_read.c does); depth, members
 *               and node limits checked. Strings and keys point into the
 *               parser's string buffer (not copied: cheaper than ours,
 *               which copies them into the arena), and number literals
 *               are NOT kept (the DOM has no offsets): the walk does less
 *               than the contract asks, so its figure is a lower bound. */
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

extern "C" {
#include "schema/json_read.h"
}

namespace {

enum { MAX_BODIES = 8, MAX_ROUNDS = 101, MAX_BODY = 1 << 20 };

struct body {
    char *buf; /* len + SIMDJSON_PADDING bytes */
    size_t len;
};

/* One bump buffer, reset per body, for both trees. */
struct bump {
    char *mem = nullptr;
    size_t size = 0, used = 0;
} warm;

void *warm_alloc(void *, size_t n)
{
    n = (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    if (warm.size - warm.used < n)
        return nullptr;
    void *p = warm.mem + warm.used;
    warm.used += n;
    return p;
}

bool read_ours(const body &b)
{
    warm.used = 0;
    pc_json_error_t err;
    return pc_json_parse(b.buf, b.len, nullptr, warm_alloc, nullptr, &err) != nullptr;
}

simdjson::dom::parser parser;
char *padded;             /* reused copy target */
simdjson::dom::element root;

bool read_dom(const body &b)
{
    return parser.parse(reinterpret_cast<const uint8_t *>(b.buf), b.len, false).get(root) ==
           simdjson::SUCCESS;
}

bool read_copy(const body &b)
{
    memcpy(padded, b.buf, b.len);
    return parser.parse(reinterpret_cast<const uint8_t *>(padded), b.len, false).get(root) ==
           simdjson::SUCCESS;
}

/* ---- simd+walk: the DOM into a pc_json_t tree, with our checks ---- */

struct walk {
    unsigned depth = 0;
    uint32_t nodes = 0;
};

const unsigned MAX_DEPTH = 64;
const uint32_t MAX_MEMBERS = 100000, MAX_NODES = 1000000;

bool key_less(const pc_json_member_t *m, uint32_t a, uint32_t b)
{
    const pc_json_member_t *x = &m[a], *y = &m[b];
    if (x->khash != y->khash)
        return x->khash < y->khash;
    if (x->klen != y->klen)
        return x->klen < y->klen;
    return memcmp(x->key, y->key, x->klen) < 0;
}

bool key_eq(const pc_json_member_t *x, const pc_json_member_t *y)
{
    return x->khash == y->khash && x->klen == y->klen && memcmp(x->key, y->key, x->klen) == 0;
}

bool has_dup(const pc_json_member_t *m, uint32_t *idx, uint32_t n)
{
    if (!idx) {
        for (uint32_t j = 1; j < n; j++)
            for (uint32_t i = 0; i < j; i++)
                if (key_eq(&m[i], &m[j]))
                    return true;
        return false;
    }
    for (uint32_t i = 0; i < n; i++)
        idx[i] = i;
    std::stable_sort(idx, idx + n, [m](uint32_t a, uint32_t b) { return key_less(m, a, b); });
    for (uint32_t i = 1; i < n; i++)
        if (key_eq(&m[idx[i - 1]], &m[idx[i]]))
            return true;
    return false;
}

bool fill(walk &w, simdjson::dom::element e, pc_json_t *out);

bool fill_array(walk &w, simdjson::dom::array a, pc_json_t *out)
{
    size_t n = a.size();
    if (n == 0xFFFFFF) { /* saturated: count */
        n = 0;
        for (auto it = a.begin(); it != a.end(); ++it)
            n++;
    }
    if (n > MAX_MEMBERS)
        return false;
    auto items = static_cast<const pc_json_t **>(warm_alloc(nullptr, n * (sizeof(void *) + sizeof(pc_json_t))));
    if (!items)
        return false;
    auto vals = reinterpret_cast<pc_json_t *>(items + n);
    size_t i = 0;
    for (simdjson::dom::element c : a) {
        if (!fill(w, c, &vals[i]))
            return false;
        items[i] = &vals[i];
        i++;
    }
    out->type = PC_JSON_ARRAY;
    out->len = (uint32_t)n;
    out->u.items = items;
    return true;
}

bool fill_object(walk &w, simdjson::dom::object o, pc_json_t *out)
{
    size_t n = o.size();
    if (n == 0xFFFFFF) {
        n = 0;
        for (auto it = o.begin(); it != o.end(); ++it)
            n++;
    }
    if (n > MAX_MEMBERS)
        return false;
    bool indexed = n > PC_JSON_INDEX_MIN;
    size_t msize = n * sizeof(pc_json_member_t);
    size_t isize = indexed ? (n * sizeof(uint32_t) + 7u) & ~size_t{7} : 0;
    char *mem = static_cast<char *>(warm_alloc(nullptr, msize + isize + n * sizeof(pc_json_t)));
    if (!mem)
        return false;
    auto m = reinterpret_cast<pc_json_member_t *>(mem);
    uint32_t *idx = indexed ? reinterpret_cast<uint32_t *>(mem + msize) : nullptr;
    auto vals = reinterpret_cast<pc_json_t *>(mem + msize + isize);
    size_t i = 0;
    for (simdjson::dom::key_value_pair kv : o) {
        m[i].key = kv.key.data(); /* NUL-terminated in the parser's buffer */
        m[i].klen = (uint32_t)kv.key.size();
        m[i].khash = pc_json_key_hash(kv.key.data(), kv.key.size());
        m[i].value = &vals[i];
        if (!fill(w, kv.value, &vals[i]))
            return false;
        i++;
    }
    if (has_dup(m, idx, (uint32_t)n))
        return false;
    out->type = PC_JSON_OBJECT;
    out->len = (uint32_t)n;
    out->u.members = m;
    return true;
}

bool fill(walk &w, simdjson::dom::element e, pc_json_t *out)
{
    using simdjson::dom::element_type;
    if (++w.nodes > MAX_NODES)
        return false;
    out->num_flags = 0;
    out->len = 0;
    switch (e.type()) {
    case element_type::ARRAY:
    case element_type::OBJECT: {
        if (++w.depth > MAX_DEPTH)
            return false;
        bool ok = e.type() == element_type::ARRAY ? fill_array(w, e.get_array().value_unsafe(), out)
                                                  : fill_object(w, e.get_object().value_unsafe(), out);
        w.depth--;
        return ok;
    }
    case element_type::STRING: {
        std::string_view s = e.get_string().value_unsafe();
        out->type = PC_JSON_STRING;
        out->len = (uint32_t)s.size();
        out->u.str = s.data();
        return true;
    }
    case element_type::INT64:
        out->type = PC_JSON_NUMBER;
        out->num_flags = PC_JSON_NUM_INT | PC_JSON_NUM_I64;
        out->u.num.i = e.get_int64().value_unsafe();
        out->u.num.d = (double)out->u.num.i;
        out->u.num.text = nullptr;
        if (out->u.num.i < 0)
            out->num_flags |= PC_JSON_NUM_NEG;
        return true;
    case element_type::UINT64:
        out->type = PC_JSON_NUMBER;
        out->num_flags = PC_JSON_NUM_INT;
        out->u.num.d = (double)e.get_uint64().value_unsafe();
        out->u.num.text = nullptr;
        return true;
    case element_type::DOUBLE:
        out->type = PC_JSON_NUMBER;
        out->u.num.d = e.get_double().value_unsafe();
        out->u.num.text = nullptr;
        return true;
    case element_type::BOOL:
        out->type = e.get_bool().value_unsafe() ? PC_JSON_TRUE : PC_JSON_FALSE;
        return true;
    case element_type::NULL_VALUE:
        out->type = PC_JSON_NULL;
        return true;
    }
    return false;
}

/* Copies, parses and walks; the number of values seen goes to *nodes. */
bool walk_body(const body &b, uint32_t *nodes)
{
    if (!read_copy(b))
        return false;
    warm.used = 0;
    auto top = static_cast<pc_json_t *>(warm_alloc(nullptr, sizeof(pc_json_t)));
    walk w;
    bool ok = top && fill(w, root, top);
    *nodes = w.nodes;
    return ok;
}

bool read_walk(const body &b)
{
    uint32_t nodes;
    return walk_body(b, &nodes);
}

/* ---- checks that the walk does what it claims, before timing ---- */

uint32_t count(const pc_json_t *v)
{
    uint32_t n = 1;
    if (v->type == PC_JSON_ARRAY)
        for (uint32_t i = 0; i < v->len; i++)
            n += count(v->u.items[i]);
    else if (v->type == PC_JSON_OBJECT)
        for (uint32_t i = 0; i < v->len; i++)
            n += count(v->u.members[i].value);
    return n;
}

/* Same number of values as our tree; a duplicate key refused by both. */
bool check(const body &b)
{
    warm.used = 0;
    pc_json_error_t err;
    const pc_json_t *v = pc_json_parse(b.buf, b.len, nullptr, warm_alloc, nullptr, &err);
    uint32_t ours = v ? count(v) : 0, theirs = 0;
    return v && walk_body(b, &theirs) && ours == theirs;
}

bool check_dups()
{
    static const char *const docs[] = {
        R"({"a":1,"b":2,"\u0061":3})",
        R"({"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,)"
        R"("ka":10,"kb":11,"kc":12,"kd":13,"ke":14,"kf":15,"kg":16,"k3":17})",
    };
    for (const char *d : docs) {
        size_t len = strlen(d);
        body b{static_cast<char *>(calloc(len + simdjson::SIMDJSON_PADDING, 1)), len};
        memcpy(b.buf, d, len);
        bool dom = read_dom(b), walked = read_walk(b), ours = read_ours(b);
        free(b.buf);
        if (!dom || walked || ours)
            return false;
    }
    return true;
}

/* ---- the harness, as in json_bench.c ---- */

const struct {
    const char *name;
    bool (*fn)(const body &);
} readers[] = {
    {"pc-warm", read_ours},
    {"simd-dom", read_dom},
    {"simd+copy", read_copy},
    {"simd+walk", read_walk},
};
const size_t NREADERS = sizeof readers / sizeof *readers;

double now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

size_t load(const char *dir, const char *size, body *out)
{
    static const char *const kinds[] = {"order", "profile", "events"};
    size_t n = 0;
    for (const char *kind : kinds) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s-%s-valid.json", dir, kind, size);
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "json_bench_simdjson: %s missing (run make_workload.py first)\n", path);
            exit(2);
        }
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        if (len < 0 || len > MAX_BODY) {
            fprintf(stderr, "json_bench_simdjson: %s: not 0..%d bytes\n", path, (int)MAX_BODY);
            exit(2);
        }
        out[n].buf = static_cast<char *>(calloc((size_t)len + simdjson::SIMDJSON_PADDING, 1));
        out[n].len = fread(out[n].buf, 1, (size_t)len, f);
        fclose(f);
        n++;
    }
    return n;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s WORKLOAD_DIR [rounds]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 15;
    if (rounds < 1 || rounds > MAX_ROUNDS)
        rounds = 15;
    warm.size = 16u << 20;
    warm.mem = static_cast<char *>(malloc(warm.size));
    padded = static_cast<char *>(malloc(MAX_BODY + simdjson::SIMDJSON_PADDING));
    printf("simdjson %d.%d.%d, implementation %s\n", (int)simdjson::SIMDJSON_VERSION_MAJOR,
           (int)simdjson::SIMDJSON_VERSION_MINOR, (int)simdjson::SIMDJSON_VERSION_REVISION,
           simdjson::get_active_implementation()->name().c_str());
    if (!check_dups()) {
        fprintf(stderr, "json_bench_simdjson: duplicate keys not handled as expected\n");
        return 1;
    }
    static const char *const sizes[] = {"1k", "16k", "256k"};
    printf("%-6s %-11s %12s %10s %12s\n", "size", "reader", "ns/body", "MB/s", "x pc-warm");
    for (const char *size : sizes) {
        body bodies[MAX_BODIES];
        size_t nb = load(argv[1], size, bodies), bytes = 0;
        for (size_t i = 0; i < nb; i++) {
            bytes += bodies[i].len;
            if (!check(bodies[i])) {
                fprintf(stderr, "json_bench_simdjson: walk and pc_json_parse differ on body %zu of %s\n", i, size);
                return 1;
            }
            for (const auto &r : readers)
                if (!r.fn(bodies[i])) {
                    fprintf(stderr, "json_bench_simdjson: %s refuses body %zu of %s\n", r.name, i, size);
                    return 1;
                }
        }
        int iters = (int)(40e6 / (double)bytes) + 1;
        static double per[NREADERS][MAX_ROUNDS];
        for (int round = 0; round < rounds; round++)
            for (size_t r = 0; r < NREADERS; r++) {
                double t0 = now_ns();
                for (int it = 0; it < iters; it++)
                    for (size_t i = 0; i < nb; i++)
                        readers[r].fn(bodies[i]);
                per[r][round] = (now_ns() - t0) / ((double)iters * (double)nb);
            }
        double med[NREADERS];
        for (size_t r = 0; r < NREADERS; r++) {
            std::sort(per[r], per[r] + rounds);
            med[r] = per[r][rounds / 2];
        }
        for (size_t r = 0; r < NREADERS; r++)
            printf("%-6s %-11s %12.0f %10.0f %12.2f\n", size, readers[r].name, med[r],
                   (double)bytes / (double)nb / med[r] * 1e3, med[r] / med[0]);
        for (size_t i = 0; i < nb; i++)
            free(bodies[i].buf);
    }
    free(padded);
    free(warm.mem);
    return 0;
}
