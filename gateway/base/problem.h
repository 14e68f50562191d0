/* gateway/base/problem.h: RFC 9457 problem details, the body of every answer
 * the gateway itself gives. */
#ifndef PC_PROBLEM_H
#define PC_PROBLEM_H

#include <stddef.h>

const char *pc_status_phrase(int status);
/* Renders {"type","title","status","detail","request_id"} into buf and
 * returns its length (truncated safely if buf is too small). */
size_t pc_problem_render(char *buf, size_t len, int status, const char *reason,
                         const char *detail, const char *request_id);
/* JSON string escaping into buf (no quotes); returns bytes written. */
size_t pc_json_escape(char *buf, size_t len, const char *s, size_t slen);

#endif
