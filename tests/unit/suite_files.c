/* tests/unit/suite_files.c: see suite_files.h. */
#include "suite_files.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#ifndef PC_TOP_SRCDIR
#define PC_TOP_SRCDIR "."
#endif

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *suite_root(void)
{
    static char root[4096];
    const char *env = getenv("PC_SCHEMA_SUITE");
    if (env && *env) {
        ck_assert_msg(is_dir(env), "PC_SCHEMA_SUITE=%s is not a directory", env);
        return env;
    }
    const char *src = getenv("PC_SRCDIR");
    if (!src || !*src)
        src = PC_TOP_SRCDIR;
    static const char *const ups[] = {"/..", "/../.."};
    for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) {
        snprintf(root, sizeof root, "%s%s/shared/conformance/JSON-Schema-Test-Suite", src, ups[i]);
        if (is_dir(root))
            return root;
    }
    ck_abort_msg("JSON-Schema-Test-Suite not found above %s (set PC_SCHEMA_SUITE)", src);
    return NULL;
}

json_t *suite_load(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/%s", suite_root(), rel);
    struct stat st;
    if (stat(path, &st) != 0)
        return NULL;
    json_error_t e;
    json_t *doc = json_load_file(path, JSON_ALLOW_NUL, &e);
    ck_assert_msg(doc != NULL, "%s:%d: %s", path, e.line, e.text);
    return doc;
}
