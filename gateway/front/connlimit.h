/* gateway/front/connlimit.h: connections per client IP, counted across all
 * workers. Any thread (accept and close of every worker). */
#ifndef PC_CONNLIMIT_H
#define PC_CONNLIMIT_H

#include <sys/socket.h>

/* Counts a new connection from addr: 0, or -1 when addr already has
 * `limit` open (nothing counted then). limit 0: no limit, nothing counted. */
int pc_connlimit_acquire(unsigned limit, const struct sockaddr *addr);
/* The connection from addr closed; the same limit as at acquire. */
void pc_connlimit_release(unsigned limit, const struct sockaddr *addr);

#endif
