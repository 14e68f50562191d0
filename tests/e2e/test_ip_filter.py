"""ip_filter plugin with the real binary: allow and deny lists on the peer
address (127.0.0.1 vs 127.0.0.2, and ::1 on an IPv6 listener), the client
address taken from X-Forwarded-For only when the peer is a trusted proxy
(IPv6 and IPv4-mapped clients through it), report mode, the metric, the log
line, and config errors with their JSON paths. Every refusal is checked on
what the upstream received: nothing."""
import http.client
import json
import socket

import pytest
import requests

from conftest import (assert_problem, rl_check_config, rl_metric, rl_wait_for,
                      simple_config)

METRIC = "portcullis_ip_filter_requests_total"


def series(decision, reason):
    return 'decision="%s",reason="%s"' % (decision, reason)


def start(upstream, gateway, filt, listen=None):
    """Route /api through ip_filter "f"; every other path (the barrier) goes
    straight to the upstream."""
    u = upstream("u")
    cfg = simple_config(u, routes=[
        {"name": "api", "match": {"path_prefix": "/api"}, "upstream": "u", "plugins": ["f"]},
        {"name": "rest", "match": {"path_prefix": "/"}, "upstream": "u"},
    ])
    cfg["plugins"] = {"f": dict({"type": "ip_filter"}, **filt)}
    if listen is not None:
        cfg["listen"] = listen
    return u, gateway(cfg)


def get_from(src, port, path, headers=None, host="127.0.0.1"):
    """GET path from source address src: (status, headers, body bytes)."""
    c = http.client.HTTPConnection(host, port, timeout=10, source_address=(src, 0))
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def refused(u, g, status, reason, send):
    """send() is answered status problem+json with reason, and nothing of it
    reaches the upstream."""
    mark = u.raw_mark()
    doc = assert_problem(send(), status)
    assert doc["type"] == "urn:portcullis:problem:" + reason, doc
    assert u.forwarded_since(mark, g) == b""
    return doc


def forwarded(u, path, send, want_xff=None):
    """send() is answered 200 by the upstream, which saw path (and, when
    given, X-Forwarded-For)."""
    st, _, body = send()
    assert st == 200, body
    echo = json.loads(body)
    assert echo["target"] == path, echo
    seen = [r for r in u.requests() if r["path"] == path]
    assert len(seen) == 1, seen
    if want_xff is not None:
        xff = [v for k, v in seen[0]["headers"] if k.lower() == "x-forwarded-for"]
        assert xff == [want_xff], seen[0]["headers"]


def test_deny_list_on_the_peer_address(upstream, gateway):
    u, g = start(upstream, gateway, {"deny": ["127.0.0.2"]})
    forwarded(u, "/api/one", lambda: get_from("127.0.0.1", g.port, "/api/one"))
    refused(u, g, 403, "ip_filter.denied", lambda: get_from("127.0.0.2", g.port, "/api/two"))
    assert not [r for r in u.requests() if r["path"] == "/api/two"]
    assert rl_wait_for(lambda: "refused: ip_filter.denied (deny network 127.0.0.2/32)"
                       in g.log(), 5), g.log()[-2000:]
    assert "client=127.0.0.2" in g.log()
    assert rl_metric(g, METRIC, series("deny", "ip_filter.denied")) == 1
    assert rl_metric(g, METRIC, series("allow", "ip_filter.allowed")) == 1


def test_allow_list_refuses_everyone_else(upstream, gateway):
    u, g = start(upstream, gateway, {"allow": ["127.0.0.1/32"], "status": 404})
    forwarded(u, "/api/in", lambda: get_from("127.0.0.1", g.port, "/api/in"))
    refused(u, g, 404, "ip_filter.not_allowed", lambda: get_from("127.0.0.2", g.port, "/api/out"))
    # another route of the same gateway is not filtered
    st, _, _ = get_from("127.0.0.2", g.port, "/other")
    assert st == 200
    assert rl_metric(g, METRIC, series("deny", "ip_filter.not_allowed")) == 1


def test_deny_wins_over_allow(upstream, gateway):
    u, g = start(upstream, gateway, {"allow": ["127.0.0.0/8"], "deny": ["127.0.0.2"]})
    forwarded(u, "/api/a", lambda: get_from("127.0.0.1", g.port, "/api/a"))
    refused(u, g, 403, "ip_filter.denied", lambda: get_from("127.0.0.2", g.port, "/api/b"))


def ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no ::1 on this machine")
def test_ipv6_listener(upstream, gateway):
    listen = [{"address": "127.0.0.1"}, {"address": "::1"}]
    u, g = start(upstream, gateway, {"allow": ["::1"]}, listen=listen)
    p6 = g.config["listen"][1]["port"]
    forwarded(u, "/api/v6", lambda: get_from("::1", p6, "/api/v6", host="::1"))
    refused(u, g, 403, "ip_filter.not_allowed", lambda: get_from("127.0.0.1", g.port, "/api/v4"))


def test_trusted_proxy_forwarded_for(upstream, gateway):
    """From the trusted proxy (127.0.0.1) X-Forwarded-For names the client;
    from anyone else (127.0.0.2) it is ignored: a spoofed header gets nobody
    in, and gets nobody refused."""
    filt = {"allow": ["198.51.100.0/24", "2001:db8::/32", "10.0.0.0/8"],
            "deny": ["198.51.100.66", "10.6.6.0/24"]}
    u, g = start(upstream, gateway, filt, listen=[{"trusted_proxies": ["127.0.0.1"]}])
    via = lambda ip: {"X-Forwarded-For": ip}  # noqa: E731
    forwarded(u, "/api/p1", lambda: get_from("127.0.0.1", g.port, "/api/p1", via("198.51.100.7")),
              want_xff="198.51.100.7, 127.0.0.1")
    refused(u, g, 403, "ip_filter.denied",
            lambda: get_from("127.0.0.1", g.port, "/api/p2", via("198.51.100.66")))
    refused(u, g, 403, "ip_filter.not_allowed",
            lambda: get_from("127.0.0.1", g.port, "/api/p3", via("203.0.113.9")))
    # the rightmost address that is not a trusted proxy is the client
    refused(u, g, 403, "ip_filter.not_allowed",
            lambda: get_from("127.0.0.1", g.port, "/api/p4", via("198.51.100.7, 203.0.113.9")))
    # IPv6 and IPv4-mapped clients behind the proxy
    forwarded(u, "/api/p5", lambda: get_from("127.0.0.1", g.port, "/api/p5", via("2001:db8::7")))
    forwarded(u, "/api/p6",
              lambda: get_from("127.0.0.1", g.port, "/api/p6", via("::ffff:10.1.2.3")))
    refused(u, g, 403, "ip_filter.denied",
            lambda: get_from("127.0.0.1", g.port, "/api/p7", via("::ffff:10.6.6.1")))
    # untrusted peer: its X-Forwarded-For is not believed
    refused(u, g, 403, "ip_filter.not_allowed",
            lambda: get_from("127.0.0.2", g.port, "/api/s1", via("198.51.100.7")))
    assert "client=127.0.0.2" in g.log()


def test_without_trusted_proxies_the_header_names_nobody(upstream, gateway):
    """Deny list only, no trusted proxies: X-Forwarded-For neither gets a
    client refused nor gets a denied one out."""
    u, g = start(upstream, gateway, {"deny": ["203.0.113.0/24", "127.0.0.2"]})
    forwarded(u, "/api/x", lambda: get_from("127.0.0.1", g.port, "/api/x",
                                            {"X-Forwarded-For": "203.0.113.5"}),
              want_xff="127.0.0.1")
    refused(u, g, 403, "ip_filter.denied",
            lambda: get_from("127.0.0.2", g.port, "/api/y", {"X-Forwarded-For": "198.51.100.1"}))


def test_report_mode_forwards_logs_and_counts(upstream, gateway):
    u, g = start(upstream, gateway, {"allow": ["127.0.0.1"], "deny": ["127.0.0.3"],
                                     "mode": "report"})
    forwarded(u, "/api/r1", lambda: get_from("127.0.0.2", g.port, "/api/r1"))
    forwarded(u, "/api/r2", lambda: get_from("127.0.0.3", g.port, "/api/r2"))
    forwarded(u, "/api/r3", lambda: get_from("127.0.0.1", g.port, "/api/r3"))
    assert rl_metric(g, METRIC, series("report_deny", "ip_filter.not_allowed")) == 1
    assert rl_metric(g, METRIC, series("report_deny", "ip_filter.denied")) == 1
    assert rl_metric(g, METRIC, series("allow", "ip_filter.allowed")) == 1
    assert rl_metric(g, METRIC, series("deny", "ip_filter.denied")) == 0
    log = g.log()
    assert "would refuse (report mode): ip_filter.not_allowed" in log, log[-2000:]
    assert "would refuse (report mode): ip_filter.denied (deny network 127.0.0.3/32)" in log


def test_metric_is_documented_in_metrics_page(upstream, gateway):
    u, g = start(upstream, gateway, {"deny": ["127.0.0.2"]})
    requests.get(g.url + "/api/m", timeout=10)
    page = g.metrics()
    assert "# TYPE %s counter" % METRIC in page, page


def test_config_errors_have_json_paths(tmp_path, upstream):
    u = upstream("u")

    def check(filt, want):
        cfg = simple_config(u, routes=[{"name": "api", "match": {"path_prefix": "/"},
                                        "upstream": "u", "plugins": ["f"]}])
        cfg["plugins"] = {"f": dict({"type": "ip_filter"}, **filt)}
        cfg["listen"] = [{"address": "127.0.0.1", "port": 1}]
        rc, err = rl_check_config(tmp_path, cfg)
        assert rc != 0 and want in err, err

    check({"allow": ["10.0.0.1/8"]}, 'plugins.f.allow[0]: "10.0.0.1/8" has bits set after the '
          'prefix length: did you mean 10.0.0.0/8?')
    check({"deny": ["10.0.0.0/8", "::ffff:10.0.0.0/104"]},
          'plugins.f.deny[1]: "::ffff:10.0.0.0/104" repeats deny[0]')
    check({"deny": ["fe80::1%eth0"]}, "plugins.f.deny[0]: \"fe80::1%eth0\": a zone id")
    check({"deny": ["2001:db8::/129"]}, "plugins.f.deny[0]: \"2001:db8::/129\": prefix length")
    check({"mode": "report"}, "plugins.f: nothing to filter")
