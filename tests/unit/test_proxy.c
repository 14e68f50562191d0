/* tests/unit/test_proxy.c: the proxy's header filter (gateway/upstream/proxy.c):
 * hop-by-hop headers are recognised in any case. */
#include <check.h>
#include <stdlib.h>

#include "upstream/proxy.h"

START_TEST(hop_by_hop_headers)
{
    ck_assert(pc_proxy_hop_by_hop("Connection", 10));
    ck_assert(pc_proxy_hop_by_hop("TRANSFER-ENCODING", 17));
    ck_assert(pc_proxy_hop_by_hop("keep-alive", 10));
    ck_assert(pc_proxy_hop_by_hop("Upgrade", 7));
    ck_assert(pc_proxy_hop_by_hop("TE", 2));
    ck_assert(!pc_proxy_hop_by_hop("Authorization", 13));
    ck_assert(!pc_proxy_hop_by_hop("Content-Type", 12));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxy");
    TCase *tc = tcase_create("proxy");
    tcase_add_test(tc, hop_by_hop_headers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
