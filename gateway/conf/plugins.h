/* gateway/conf/plugins.h: the registry of plugin types (static table, plus
 * the types the current config loaded from shared objects). Main thread. */
#ifndef PC_PLUGINS_H
#define PC_PLUGINS_H

#include <portcullis/plugin.h>

/* A built-in or registered type, else one from an object that the config
 * being loaded lists in "load" (conf/plugin_so.h); NULL if none. */
const pc_plugin_t *pc_plugin_find(const char *type);
/* Adds types at startup (the test binary registers its test plugins). */
void pc_plugins_register(const pc_plugin_t *const *extra);
/* Comma-separated list of the registered types, for `-h`. */
void pc_plugins_list(char *buf, size_t len);

/* The environment handed to start() (plugin.h: pc_env_*): what the
 * generation being started will run with. */
struct pc_env {
    unsigned workers;              /* worker threads that will call the hooks */
    unsigned generation;           /* the number it will be published as */
};

#endif
