/* gateway/conf/plugin_so.h: plugin types from shared objects, the config's
 * "load" list (docs/plugins.md, "Loading a plugin").
 *
 * Main thread only: the config loader calls it, and the config loader runs
 * on the main thread (startup, SIGHUP, `portcullis -t`).
 *
 * An object once loaded is never unloaded. A generation that is still
 * serving requests may run its code, and no dlclose is worth tracking when
 * the last one ends. So a file at a path that is already loaded is not read
 * again, even if it changed on disk: upgrading a plugin takes a restart.
 */
#ifndef PC_PLUGIN_SO_H
#define PC_PLUGIN_SO_H

#include <stddef.h>

#include <jansson.h>
#include <portcullis/plugin.h>

/* The registry's lookup (pc_plugin_find), passed in rather than called so
 * that the registry, which asks this module last, and this module do not
 * depend on each other. */
typedef const pc_plugin_t *(*pc_plugin_so_lookup_fn)(const char *name);

/* Loads every path of list (the document's "load" array, NULL when it has
 * none) that is not loaded yet, and makes exactly the types of the listed
 * objects visible to pc_plugin_so_find until the next call: a document sees
 * the types it loads and no others, whatever an earlier document loaded.
 * An object is refused (and closed) when it is not a file, not a shared
 * object, has no pc_plugin_entry, was built for another PC_PLUGIN_ABI,
 * lacks a required hook, or its type name is taken: by another loaded
 * object, or by a type that registry (the built-in types) knows. Each
 * problem goes to err, the sink of the "load" key, as pc_err_set(err,
 * "[0]", ...) ("load[0]: ..."); returns how many there were. */
size_t pc_plugin_so_load(const json_t *list, pc_plugin_so_lookup_fn registry, pc_err_t *err);

/* The type called name from an object the last pc_plugin_so_load listed, or
 * NULL. The table lives as long as the process. */
const pc_plugin_t *pc_plugin_so_find(const char *name);

/* How objects are opened (dlopen). Tests and fuzzers may replace it; NULL
 * refuses every "load" (a fuzzer must not map this machine's libraries). */
typedef void *(*pc_plugin_so_open_fn)(const char *path, int flags);
extern pc_plugin_so_open_fn pc_plugin_so_open_hook;

#endif
