/* gateway/conf/plugin_so.c: dlopens the shared objects of the config's "load"
 * list and checks each one's pc_plugin_entry before the registry
 * (conf/plugins.c) may hand its type to a config. See plugin_so.h for the
 * contract; main thread only.
 *
 * Every check happens here, at load time, so that `portcullis -t` catches
 * what startup would: a plugin that passes is as trusted as a built-in. */
#include "conf/plugin_so.h"
#include "base/list.h"
#include "base/util.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

pc_plugin_so_open_fn pc_plugin_so_open_hook = dlopen;

typedef struct loaded {
    pc_list_t link;
    char *real;                 /* realpath: the identity of the file */
    char *shown;                /* the path as the first config spelled it */
    const pc_plugin_t *type;    /* inside the object, which stays mapped */
    unsigned pass;              /* the last pc_plugin_so_load that listed it */
    size_t index;               /* its position in that list */
} loaded_t;

static pc_list_t objects = PC_LIST_INIT(objects);
static unsigned pass;

static loaded_t *by_real(const char *real)
{
    for (pc_list_t *n = objects.next; n != &objects; n = n->next) {
        loaded_t *o = pc_list_entry(n, loaded_t, link);
        if (strcmp(o->real, real) == 0)
            return o;
    }
    return NULL;
}

static loaded_t *by_name(const char *name)
{
    for (pc_list_t *n = objects.next; n != &objects; n = n->next) {
        loaded_t *o = pc_list_entry(n, loaded_t, link);
        if (strcmp(o->type->name, name) == 0)
            return o;
    }
    return NULL;
}

const pc_plugin_t *pc_plugin_so_find(const char *name)
{
    loaded_t *o = by_name(name);
    return o && o->pass == pass ? o->type : NULL;
}

/* An absolute path of printable ASCII (it is echoed in messages), resolved
 * to an existing regular file. Returns the malloc'd realpath or NULL. */
static char *resolve(const json_t *v, const char *key, pc_err_t *err)
{
    const char *path = json_string_value(v);
    if (!path || path[0] != '/') {
        pc_err_set(err, key, "must be the absolute path of a shared object");
        return NULL;
    }
    for (const char *s = path; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) {
            pc_err_set(err, key, "must be printable ASCII");
            return NULL;
        }
    }
    char *real = realpath(path, NULL);
    struct stat st;
    if (!real || stat(real, &st) == -1) {
        pc_err_set(err, key, "%.300s: %s", path, strerror(errno));
        free(real);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        pc_err_set(err, key, "%.300s: not a regular file", path);
        free(real);
        return NULL;
    }
    return real;
}

/* A type name as the config spells it: [a-z][a-z0-9_]{0,63}. */
static bool type_name_ok(const char *s)
{
    if (!s || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= 64 || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
                         s[n] == '_'))
            return false;
    return true;
}

#define KNOWN_FLAGS (PC_PLUGIN_NEEDS_BODY | PC_PLUGIN_AUTHENTICATES | PC_PLUGIN_SEES_RESPONSE_BODY)

/* The table must be one this gateway can run: abi first (the field every
 * ABI keeps in place), then the fields whose meaning that ABI fixes. */
static int check_table(const pc_plugin_t *t, const char *path, const char *key, pc_err_t *err)
{
    if (t->abi != PC_PLUGIN_ABI) {
        pc_err_set(err, key, "%.300s was built for plugin ABI %u, this gateway speaks %u", path,
                   t->abi, PC_PLUGIN_ABI);
        return -1;
    }
    const char *why = NULL;
    if (!type_name_ok(t->name))
        why = "its name must be 1 to 64 of [a-z0-9_], starting with a letter";
    else if (t->flags & ~(unsigned)KNOWN_FLAGS)
        why = "it sets flags this gateway does not know";
    else if (!t->conf_create)
        why = "conf_create is required (a plugin validates its configuration)";
    else if (!t->on_headers && !t->on_body && !t->on_response && !t->on_log)
        why = "it has no request hook (on_headers, on_body, on_response or on_log)";
    else if ((t->flags & PC_PLUGIN_NEEDS_BODY) && !t->on_body)
        why = "it sets PC_PLUGIN_NEEDS_BODY without on_body";
    else if (!t->worker_init != !t->worker_free)
        why = "worker_init and worker_free come as a pair";
    if (why) {
        pc_err_set(err, key, "%.300s: %s", path, why);
        return -1;
    }
    return 0;
}

/* One name, one table, for the life of the process: a type name is taken
 * by a built-in type or by the first object that brought it. */
static int check_name_free(const pc_plugin_t *t, pc_plugin_so_lookup_fn registry,
                           const char *path, const char *key, pc_err_t *err)
{
    loaded_t *o = by_name(t->name);
    if (o) {
        pc_err_set(err, key, "%.300s: plugin type \"%s\" is already loaded from %.300s", path,
                   t->name, o->shown);
        return -1;
    }
    if (registry && registry(t->name)) { /* not an object's: by_name saw those */
        pc_err_set(err, key, "%.300s: plugin type \"%s\" is built in", path, t->name);
        return -1;
    }
    return 0;
}

/* Opens a file no earlier config loaded; NULL (and closed) unless its table
 * passes every check. */
static const pc_plugin_t *open_object(const char *real, pc_plugin_so_lookup_fn registry,
                                      const char *path, const char *key, pc_err_t *err)
{
    if (!pc_plugin_so_open_hook) {
        pc_err_set(err, key, "loading shared objects is disabled here");
        return NULL;
    }
    void *h = pc_plugin_so_open_hook(real, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        /* dlerror() names the file again ("/x.so: invalid ELF header"). */
        const char *e = dlerror();
        size_t n = strlen(real);
        if (e && strncmp(e, real, n) == 0 && strncmp(e + n, ": ", 2) == 0)
            e += n + 2;
        pc_err_set(err, key, "%.300s: cannot load: %.500s", path, e ? e : "dlopen failed");
        return NULL;
    }
    const pc_plugin_t *t = dlsym(h, PC_PLUGIN_ENTRY_SYMBOL);
    if (!t)
        pc_err_set(err, key, "%.300s: no symbol %s: not a portcullis plugin", path,
                   PC_PLUGIN_ENTRY_SYMBOL);
    else if (check_table(t, path, key, err) == 0 &&
             check_name_free(t, registry, path, key, err) == 0)
        return t;
    dlclose(h); /* nothing of it ran but its constructors */
    return NULL;
}

static size_t load_one(const json_t *v, size_t i, pc_plugin_so_lookup_fn registry, pc_err_t *err)
{
    char key[32];
    snprintf(key, sizeof(key), "[%zu]", i);
    char *real = resolve(v, key, err);
    if (!real)
        return 1;
    const char *path = json_string_value(v);
    loaded_t *o = by_real(real);
    if (o && o->pass == pass) {
        pc_err_set(err, key, "%.300s: the same file as load[%zu]", path, o->index);
        free(real);
        return 1;
    }
    if (!o) {
        const pc_plugin_t *t = open_object(real, registry, path, key, err);
        if (!t) {
            free(real);
            return 1;
        }
        o = pc_xcalloc(1, sizeof(*o));
        o->real = real;
        o->shown = pc_xstrdup(path);
        o->type = t;
        pc_list_push_back(&objects, &o->link);
    } else {
        free(real);
    }
    o->pass = pass;
    o->index = i;
    return 0;
}

size_t pc_plugin_so_load(const json_t *list, pc_plugin_so_lookup_fn registry, pc_err_t *err)
{
    pass++;
    size_t nerr = 0;
    for (size_t i = 0; i < json_array_size(list); i++)
        nerr += load_one(json_array_get(list, i), i, registry, err);
    return nerr;
}
