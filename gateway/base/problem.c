/* gateway/base/problem.c: problem+json rendering. */
#include "base/problem.h"

#include <stdio.h>
#include <string.h>

const char *pc_status_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status >= 500 ? "Server Error" : status >= 400 ? "Client Error" : "Status";
    }
}

size_t pc_json_escape(char *buf, size_t len, const char *s, size_t slen)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < slen; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[6];
        size_t n = 0;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(tmp, "\\u00", 4);
            tmp[4] = hex[c >> 4];
            tmp[5] = hex[c & 15];
            n = 6;
        } else {
            tmp[0] = (char)c;
            n = 1;
        }
        if (o + n >= len)
            break;
        memcpy(buf + o, tmp, n);
        o += n;
    }
    if (len)
        buf[o < len ? o : len - 1] = '\0';
    return o;
}

size_t pc_problem_render(char *buf, size_t len, int status, const char *reason,
                         const char *detail, const char *request_id)
{
    char r[128], d[512], id[160];
    pc_json_escape(r, sizeof(r), reason ? reason : "error", strlen(reason ? reason : "error"));
    const char *det = detail ? detail : pc_status_phrase(status);
    pc_json_escape(d, sizeof(d), det, strlen(det));
    pc_json_escape(id, sizeof(id), request_id ? request_id : "", request_id ? strlen(request_id) : 0);
    int n = snprintf(buf, len,
                     "{\"type\":\"urn:portcullis:problem:%s\",\"title\":\"%s\",\"status\":%d,"
                     "\"detail\":\"%s\",\"request_id\":\"%s\"}",
                     r, pc_status_phrase(status), status, d, id);
    if (n < 0)
        return 0;
    return (size_t)n < len ? (size_t)n : len - 1;
}
