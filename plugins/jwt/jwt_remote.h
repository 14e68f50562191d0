/* plugins/jwt/jwt_remote.h: remote verification keys - a JWKS URL, or OIDC
 * discovery (<issuer>/.well-known/openid-configuration -> jwks_uri) - kept
 * fresh by the main thread.
 *
 * A key source fetches asynchronously with pc_fetch(NULL, ...) on the main
 * loop: startup never waits for the identity provider. It refreshes
 * - in the background: when the response's Cache-Control (s-maxage, else
 *   max-age; 300 s without one; min_refresh_s for no-cache/no-store) says,
 *   clamped to [min_refresh_s, max_refresh_s];
 * - after a failure: 1 s, then doubling, at most min_refresh_s apart, and
 *   the last good set is kept (stale) meanwhile, however long that takes;
 * - when a worker meets a kid it does not know: at most once per
 *   unknown_kid_refresh_s, process-wide (jwt_keysrc_want_refresh).
 * A fetched document byte-identical to the last one changes nothing; a
 * different one that loads becomes the current set and bumps the serial
 * (which invalidates every worker's cached verifications). A document that
 * does not load (bad JSON, no usable key) is a failure: the old set stays.
 *
 * Sharing: sources live in a main-thread registry keyed by their settings,
 * so a reload that keeps the same settings keeps the same source (no
 * refetch, no window without keys) and two plugin instances with the same
 * settings share one. jwt_keysrc_acquire/release are main-thread only;
 * the readers (serial, get, attempts, want_refresh) are for any thread.
 *
 * Readers: the current set is behind a mutex taken only when a reader sees
 * a new serial (an atomic load per request otherwise), so a worker keeps
 * its own reference and nothing is freed under it. A lone atomic pointer
 * is not enough: between loading it and taking a reference the main thread
 * could drop the last reference. */
#ifndef PC_JWT_REMOTE_H
#define PC_JWT_REMOTE_H

#include <stddef.h>

#include <portcullis/plugin.h>

#include "jwt_keys.h"

typedef struct jwt_remote_cfg {
    const char *jwks_url;         /* or NULL with discovery */
    const char *issuer;           /* discovery: fetch <issuer>/.well-known/openid-configuration */
    const char *default_alg;      /* for JWKS keys without "alg"; may be NULL */
    unsigned min_refresh_s, max_refresh_s, unknown_kid_refresh_s, timeout_ms;
} jwt_remote_cfg_t;

typedef struct jwt_keysrc jwt_keysrc_t;

/* Main thread (start()): the running source with these settings, or a new
 * one whose first fetch is scheduled at once. NULL with a message in err
 * when there is no main loop. */
jwt_keysrc_t *jwt_keysrc_acquire(const jwt_remote_cfg_t *cfg, char *err, size_t errlen);
/* Main thread (stop()): the last user stops its timers; a fetch in flight
 * finishes into nothing. */
void jwt_keysrc_release(jwt_keysrc_t *s);

/* Any thread. 0 until the first set loaded, then increases with every
 * change of set. */
unsigned jwt_keysrc_serial(jwt_keysrc_t *s);
/* The current set with a reference of the caller's (NULL before the first
 * load) and its serial. */
pc_jwk_set_t *jwt_keysrc_get(jwt_keysrc_t *s, unsigned *serial);
/* Counts finished refresh attempts, successful or not. */
unsigned jwt_keysrc_attempts(jwt_keysrc_t *s);
/* A worker met an unknown kid. Asks the main thread for a refresh if none
 * ran in the last unknown_kid_refresh_s. Returns 1 when a refresh is now
 * requested or running (the caller may wait for jwt_keysrc_attempts to
 * move), 0 when none will happen (rate limited). */
int jwt_keysrc_want_refresh(jwt_keysrc_t *s);

/* Any thread: k is signalled (pc_wake_signal) every time a refresh attempt
 * ends and when the source stops, so requests waiting for keys look again
 * at once. unwatch must come before pc_wake_free(k) and before the last
 * jwt_keysrc_release. */
void jwt_keysrc_watch(jwt_keysrc_t *s, pc_wake_t *k);
void jwt_keysrc_unwatch(jwt_keysrc_t *s, pc_wake_t *k);

/* The discovery document's URL for an issuer (malloc'd): the issuer without
 * a trailing '/', then "/.well-known/openid-configuration" (OIDC Discovery
 * §4). */
char *jwt_discovery_url(const char *issuer);

#endif
