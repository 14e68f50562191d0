/* tests/unit/suite_files.h: finding and reading the JSON-Schema-Test-Suite
 * (a checkout shared by every worktree, outside the repository).
 *
 * The suite root is $PC_SCHEMA_SUITE when set, else the first of
 * <srcdir>/../shared/conformance/JSON-Schema-Test-Suite and
 * <srcdir>/../../shared/conformance/JSON-Schema-Test-Suite (a worktree
 * one level further down) that exists; <srcdir> is $PC_SRCDIR (set by
 * make check) or the configure-time source directory. No suite is a test
 * failure, never a skip. */
#ifndef PC_TEST_SUITE_FILES_H
#define PC_TEST_SUITE_FILES_H

#include <jansson.h>
#include <stdbool.h>

/* The suite's root directory; aborts the running Check test when none. */
const char *suite_root(void);

/* tests/<rel> under the root, parsed (strings may hold NUL), or NULL when
 * the file does not exist; aborts the test when it exists but is broken. */
json_t *suite_load(const char *rel);

#endif
