/* tests/unit/test_hdr.c: header field rules, framing (smuggling shapes),
 * request ids, trace context, X-Forwarded-For resolution. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "http/hdr.h"

#define H(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

START_TEST(names_and_values)
{
    ck_assert(pc_hdr_name_ok("X-Good_Name.1", 13));
    ck_assert(!pc_hdr_name_ok("", 0));
    ck_assert(!pc_hdr_name_ok("Bad Name", 8));
    ck_assert(!pc_hdr_name_ok("X@", 2));
    ck_assert(!pc_hdr_name_ok("X:", 2));
    ck_assert(!pc_hdr_name_ok("X\x80", 2));
    ck_assert(pc_hdr_value_ok("a b\tc", 5));
    ck_assert(pc_hdr_value_ok("", 0));
    ck_assert(!pc_hdr_value_ok("a\rb", 3));
    ck_assert(!pc_hdr_value_ok("a\nb", 3));
    ck_assert(!pc_hdr_value_ok("a\0b", 3));
    ck_assert(!pc_hdr_value_ok("a\x7f", 2));
    ck_assert(pc_hdr_value_ok("caf\xc3\xa9", 5)); /* obs-text is allowed */
}
END_TEST

START_TEST(hop_by_hop_and_connection_lists)
{
    ck_assert(pc_hdr_hop_by_hop("Keep-Alive", 10));
    ck_assert(pc_hdr_hop_by_hop("Content-Length", 14));
    ck_assert(!pc_hdr_hop_by_hop("X-Keep-Alive", 12));
    ck_assert(pc_hdr_listed("close, X-Secret", "x-secret", 8));
    ck_assert(pc_hdr_listed("X-A,X-B", "X-B", 3));
    ck_assert(!pc_hdr_listed("X-Secrets", "X-Secret", 8));
    ck_assert(!pc_hdr_listed(NULL, "X", 1));
    ck_assert(!pc_hdr_listed(",,, ", "X", 1));
}
END_TEST

START_TEST(content_length_parse)
{
    int64_t v;
    ck_assert(pc_content_length_parse("0", &v) && v == 0);
    ck_assert(pc_content_length_parse("1048576", &v) && v == 1048576);
    ck_assert(!pc_content_length_parse("", &v));
    ck_assert(!pc_content_length_parse("-1", &v));
    ck_assert(!pc_content_length_parse("+1", &v));
    ck_assert(!pc_content_length_parse(" 1", &v));
    ck_assert(!pc_content_length_parse("1,1", &v));
    ck_assert(!pc_content_length_parse("0x10", &v));
    ck_assert(!pc_content_length_parse("99999999999999999999", &v));
}
END_TEST

static const char *framing(const pc_hdr_t *h, size_t n, pc_framing_t *f)
{
    return pc_hdr_check_framing(h, n, f);
}

START_TEST(framing_rules)
{
    pc_framing_t f;
    pc_hdr_t ok[] = {H("Host", "a"), H("Content-Length", "5")};
    ck_assert_ptr_null(framing(ok, 2, &f));
    ck_assert_int_eq(f.content_length, 5);
    ck_assert_str_eq(f.host, "a");

    pc_hdr_t cl_te[] = {H("Content-Length", "5"), H("Transfer-Encoding", "chunked")};
    ck_assert_str_eq(framing(cl_te, 2, &f), "request.length_and_chunked");
    pc_hdr_t two_cl[] = {H("Content-Length", "5"), H("content-length", "6")};
    ck_assert_str_eq(framing(two_cl, 2, &f), "request.conflicting_length");
    pc_hdr_t same_cl[] = {H("Content-Length", "5"), H("content-length", "5")};
    ck_assert_ptr_null(framing(same_cl, 2, &f));
    pc_hdr_t te_gzip[] = {H("Transfer-Encoding", "gzip, chunked")};
    ck_assert_str_eq(framing(te_gzip, 1, &f), "request.bad_transfer_encoding");
    pc_hdr_t te_two[] = {H("Transfer-Encoding", "chunked"), H("Transfer-Encoding", "chunked")};
    ck_assert_str_eq(framing(te_two, 2, &f), "request.bad_transfer_encoding");
    pc_hdr_t te_case[] = {H("Transfer-Encoding", "Chunked")};
    ck_assert_ptr_null(framing(te_case, 1, &f));
    ck_assert(f.chunked);
    pc_hdr_t two_host[] = {H("Host", "a"), H("Host", "b")};
    ck_assert_str_eq(framing(two_host, 2, &f), "request.duplicate_host");
    pc_hdr_t bad_cl[] = {H("Content-Length", "5 ")};
    ck_assert_str_eq(framing(bad_cl, 1, &f), "request.bad_content_length");
    pc_hdr_t bad_name[] = {H("X Y", "1")};
    ck_assert_str_eq(framing(bad_name, 1, &f), "request.bad_header_name");
    pc_hdr_t bad_value[] = {H("X", "a\rb")};
    ck_assert_str_eq(framing(bad_value, 1, &f), "request.bad_header_value");
}
END_TEST

START_TEST(request_ids)
{
    ck_assert(pc_request_id_ok("abcd-1234"));
    ck_assert(pc_request_id_ok("0123456789abcdef0123456789abcdef"));
    ck_assert(!pc_request_id_ok("short"));
    ck_assert(!pc_request_id_ok("has space 1234"));
    ck_assert(!pc_request_id_ok("quote\"1234567"));
    char long_id[200];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    ck_assert(!pc_request_id_ok(long_id));
}
END_TEST

START_TEST(trace_context)
{
    ck_assert(pc_traceparent_ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    ck_assert(!pc_traceparent_ok("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
    ck_assert(!pc_traceparent_ok("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
    ck_assert(!pc_traceparent_ok("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    ck_assert(!pc_traceparent_ok("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
    ck_assert(!pc_traceparent_ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"));
    ck_assert(pc_traceparent_ok("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"));
    ck_assert(!pc_traceparent_ok("garbage"));
}
END_TEST

static bool trusted_10(const char *ip, void *ctx)
{
    return strncmp(ip, "10.", 3) == 0;
}

START_TEST(forwarded_for)
{
    char out[64] = "peer";
    ck_assert(pc_xff_client("203.0.113.7, 10.0.0.2", trusted_10, NULL, out, sizeof(out)));
    ck_assert_str_eq(out, "203.0.113.7");
    ck_assert(pc_xff_client("1.1.1.1, 198.51.100.9, 10.0.0.1, 10.0.0.2", trusted_10, NULL, out,
                            sizeof(out)));
    ck_assert_str_eq(out, "198.51.100.9"); /* the client cannot choose 1.1.1.1 */
    strcpy(out, "peer");
    ck_assert(!pc_xff_client("10.0.0.1, 10.0.0.2", trusted_10, NULL, out, sizeof(out)));
    ck_assert(!pc_xff_client("not-an-ip, 10.0.0.2", trusted_10, NULL, out, sizeof(out)));
    ck_assert(!pc_xff_client("", trusted_10, NULL, out, sizeof(out)));
    ck_assert(!pc_xff_client(",", trusted_10, NULL, out, sizeof(out)));
    ck_assert_str_eq(out, "peer");
    ck_assert(pc_xff_client(" 2001:db8::1 ", trusted_10, NULL, out, sizeof(out)));
    ck_assert_str_eq(out, "2001:db8::1");
}
END_TEST

START_TEST(host_values)
{
    static const char *const good[] = {
        "", "a", "example.com", "example.com:8080", "EXAMPLE.com.", "127.0.0.1", "127.0.0.1:80",
        "[::1]", "[::1]:443", "[2001:db8::7]", "xn--bcher-kva.example", "a_b.example",
        "host:", "[::1]:", "host:65535", "a!$&'()*+,;=b",
    };
    static const char *const bad[] = {
        "a b", "a b/c@d", "a/b", "a@b", "user@host", "a\\b", "a%20b", "a%2fb", "[::1", "::1",
        "[::1]x", "[::1]:99999", "[fe80::1%25eth0]", "[v1.x]", "host:65536",
        "host:123456", "host:8a", "host:80:80", "a?b", "a#b", "<a>", "a\"b", "a\tb",
        "h\x80st", "a:b:c",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        ck_assert_msg(pc_host_ok(good[i], strlen(good[i])), "refused: %s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        ck_assert_msg(!pc_host_ok(bad[i], strlen(bad[i])), "accepted: %s", bad[i]);
    ck_assert(!pc_host_ok("a\0b", 3)); /* a NUL inside the value */
    char big[300];
    memset(big, 'a', sizeof(big));
    ck_assert(pc_host_ok(big, 255));
    ck_assert(!pc_host_ok(big, 256));
    ck_assert(!pc_host_ok(big, sizeof(big)));
}
END_TEST

START_TEST(loose_names)
{
    ck_assert(pc_hdr_is_loose("X_Auth_Subject", 14, "x-auth-subject"));
    ck_assert(pc_hdr_is_loose("x-auth_subject", 14, "X-Auth-Subject"));
    ck_assert(pc_hdr_is_loose("X-AUTH-SUBJECT", 14, "x-auth-subject"));
    ck_assert(pc_hdr_is_loose("x_forwarded_for", 15, "x-forwarded-for"));
    ck_assert(!pc_hdr_is_loose("X_Auth_Subjec", 13, "x-auth-subject"));
    ck_assert(!pc_hdr_is_loose("X.Auth.Subject", 14, "x-auth-subject"));
    ck_assert(!pc_hdr_is_loose("X-Auth-Subjects", 15, "x-auth-subject"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hdr");
    TCase *tc = tcase_create("hdr");
    tcase_add_test(tc, names_and_values);
    tcase_add_test(tc, hop_by_hop_and_connection_lists);
    tcase_add_test(tc, content_length_parse);
    tcase_add_test(tc, framing_rules);
    tcase_add_test(tc, request_ids);
    tcase_add_test(tc, trace_context);
    tcase_add_test(tc, forwarded_for);
    tcase_add_test(tc, host_values);
    tcase_add_test(tc, loose_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
