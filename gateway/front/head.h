/* gateway/front/head.h: reading and checking a request's head on the
 * front end's first call. Worker thread; everything lands in r's arena. */
#ifndef PC_HEAD_H
#define PC_HEAD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/rng.h"
#include "conf/conf.h"
#include "lifecycle/request.h"

/* Reads method, version and every header of r's connection, takes the
 * client's request id and trace context (or makes an id), and resolves the
 * client address behind trusted proxies. Returns the header bytes, for the
 * limits; *malformed when the header block is not what MHD's parse shows. */
size_t pc_head_read(pc_request_t *r, const char *method, const char *version, bool *malformed);

/* Each returns 0, or -1 with a problem response set on r. */
int pc_head_check_limits(pc_request_t *r, const pc_limits_t *lim, size_t bytes);
/* The request line: the method is a token, and no NUL hides in the line. */
int pc_head_check_line(pc_request_t *r, const char *method, const char *url, const char *version);
/* The framing headers: one reading for every parser (smuggling), Host. */
int pc_head_check_framing(pc_request_t *r);
/* The target: length limit, no controls, absolute-form (its authority
 * replaces Host), the canonical path and the query. */
int pc_head_canonicalize(pc_request_t *r);
/* Once routed: the route's rules for the canonical path (double encoding). */
int pc_head_check_route_path(pc_request_t *r);

/* A fresh request id (32 hex digits and a NUL) from the worker's rng. */
void pc_head_new_id(pc_rng_t *rng, char id[33]);
/* The socket peer of conn as text ("" if unknown); len >= INET6_ADDRSTRLEN. */
struct MHD_Connection;
void pc_head_peer_ip(struct MHD_Connection *conn, char *buf, size_t len);

#endif
