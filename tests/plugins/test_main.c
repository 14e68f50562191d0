/* tests/plugins/test_main.c: the portcullis binary plus test-only plugins,
 * for the end-to-end tests of the plugin API. */
#include "main.h"
#include "conf/plugins.h"

extern const pc_plugin_t pc_plugin_test_async;
extern const pc_plugin_t pc_plugin_test_auth;

static const pc_plugin_t *const test_plugins[] = {&pc_plugin_test_async, &pc_plugin_test_auth,
                                                  NULL};

int main(int argc, char **argv)
{
    pc_plugins_register(test_plugins);
    return pc_main(argc, argv);
}
