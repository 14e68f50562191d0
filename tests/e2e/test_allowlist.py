"""allowlist plugin end to end: the real gateway with the jwt plugin
(HS256 tokens made by python3-jwt, "optional" so anonymous requests reach
the allow-list too) in front of it, and the mock upstream, whose record
says what was forwarded. A refused request must never reach the upstream
(checked on its raw bytes behind a barrier request); method-override
headers must never reach it either."""
import json
import re
import threading
import time

import jwt as pyjwt
import pytest
import requests

from conftest import (TIME_FACTOR, assert_problem, parse_response, raw_request, rl_metric,
                      upstream_conf)

SECRET = b"0123456789abcdef0123456789abcdef-allowlist"
ISS = "https://idp.test"
AUD = "api"
UUID = "0b7f3c6e-1d2a-4c5b-9e8f-7a6b5c4d3e2f"
METRIC = "portcullis_allowlist_requests_total"


def token(**claims):
    now = int(time.time())
    body = {"iss": ISS, "aud": AUD, "iat": now, "exp": now + 600}
    body.update(claims)
    return pyjwt.encode(body, SECRET, algorithm="HS256", headers={"kid": "hs"})


def bearer(**claims):
    return {"Authorization": "Bearer " + token(**claims)}


def lists():
    return [
        {"name": "public", "entries": [
            {"id": "listItems", "methods": ["GET"], "path": "/v1/items"},
            {"id": "getItem", "methods": ["GET"], "path": "/v1/items/{id:int}"},
            {"id": "getOrder", "methods": ["GET"], "path": "/v1/orders/{id:uuid}"},
            {"id": "search", "methods": ["GET"], "path": "/v1/search/{q:[a-z]+(%20[a-z]+)*}",
             "query": {"params": {"limit": "int", "tag": {"type": "string", "repeat": True}}}},
            {"id": "ping", "methods": ["GET"], "path": "/v1/ping", "get_implies_head": True}]},
        {"name": "partner-a", "consumers": {"client_id": ["app-a"]}, "entries": [
            {"id": "putItem", "methods": ["PUT"], "path": "/v1/items/{id:int}",
             "scopes": ["items:write"]}]},
        {"name": "ops", "consumers": {"group": ["ops"], "subject": ["root"]}, "entries": [
            {"id": "changeItem", "methods": ["PUT", "DELETE"], "path": "/v1/items/{id:int}"}]},
    ]


def config(tmp_path, up, **al):
    sec = tmp_path / "hs.secret"
    sec.write_bytes(SECRET)
    sec.chmod(0o600)
    conf = {"type": "allowlist", "group_claim": "realm_access.roles", "lists": lists()}
    conf.update(al)
    return {
        "upstreams": {"u": upstream_conf(up)},
        "plugins": {
            "auth": {"type": "jwt", "optional": True, "issuer": [ISS], "audiences": [AUD],
                     "keys": [{"hmac": {"file": str(sec)}, "alg": "HS256", "kid": "hs"}]},
            "al": conf},
        "routes": [
            {"name": "barrier", "match": {"path_prefix": "/__barrier__"}, "upstream": "u"},
            {"name": "api", "match": {"path_prefix": "/v1"}, "upstream": "u",
             "plugins": ["auth", "al"]}],
    }


@pytest.fixture
def gw(gateway, upstream, tmp_path):
    def make(**al):
        up = upstream()
        g = gateway(config(tmp_path, up, **al))
        g.up = up
        return g
    return make


def raw(g, method, path, headers=()):
    """A request sent byte for byte (requests would normalise the path)."""
    head = "%s %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" % (method, path)
    for k, v in headers:
        head += "%s: %s\r\n" % (k, v)
    return parse_response(raw_request(g.port, (head + "\r\n").encode()))


def refused(g, method, path, status, reason, headers=()):
    """The request is refused with this problem and nothing reaches the upstream."""
    mark = g.up.raw_mark()
    st, hdrs, body = raw(g, method, path, headers)
    doc = assert_problem((st, hdrs, body), status)
    assert doc["type"] == "urn:portcullis:problem:" + reason, (method, path, doc)
    assert g.up.forwarded_since(mark, g) == b"", (method, path)
    return hdrs, doc


def allowed(g, method, path, headers=(), upstream_path=None):
    """The request is answered by the upstream, which received it as expected."""
    mark = g.up.mark()
    st, hdrs, body = raw(g, method, path, headers)
    assert st == 200, (method, path, st, body)
    got = g.up.since(mark)
    assert len(got) == 1, got
    assert got[0]["method"] == method
    assert got[0]["path"] == (upstream_path or path.split("?")[0]), got[0]
    return got[0]


def test_deny_by_default_and_typed_path_tricks(gw):
    g = gw()
    allowed(g, "GET", "/v1/items")
    allowed(g, "GET", "/v1/items/42")
    allowed(g, "GET", "/v1/items/0")
    allowed(g, "GET", "/v1/items/%31%32", upstream_path="/v1/items/12")  # unreserved: decoded
    allowed(g, "GET", "/v1/items/9223372036854775807")
    allowed(g, "GET", "/v1/orders/" + UUID)
    allowed(g, "GET", "/v1/orders/" + UUID.upper())
    allowed(g, "GET", "/v1/search/red%20shoes?limit=5&tag=a&tag=b")
    for path in ("/v1/items/-1", "/v1/items/%2D1", "/v1/items/+1", "/v1/items/%2B1",
                 "/v1/items/01", "/v1/items/1e3", "/v1/items/1.0",
                 "/v1/items/99999999999999999999", "/v1/items/9223372036854775808",
                 "/v1/items/" + "1" * 4000, "/v1/items/", "/v1/items/1/", "/v1/items//",
                 "/v1/orders/%7B" + UUID + "%7D", "/v1/orders/" + UUID.replace("-", ""),
                 "/v1/search/Red", "/v1/search/red+shoes", "/v1/admin", "/v1",
                 "/v1/items/1/../../admin"):
        refused(g, "GET", path, 403, "allowlist.not_listed")
    refused(g, "POST", "/v1/items", 403, "allowlist.not_listed")
    refused(g, "GET", "/v1/search/red?limit=ten", 403, "allowlist.query")
    refused(g, "GET", "/v1/search/red?limit=1&limit=2", 403, "allowlist.query")
    refused(g, "GET", "/v1/search/red?debug=1", 403, "allowlist.query")
    refused(g, "GET", "/v1/search/red?tag=%zz", 403, "allowlist.query")
    assert "allowlist.not_listed, list=- entry=-" in g.log()


def test_consumers_scopes_and_one_path_in_several_lists(gw):
    g = gw()
    put = "/v1/items/7"
    # anonymous, and tokens without the claims a list needs: never a crash
    refused(g, "PUT", put, 403, "allowlist.consumer")
    refused(g, "PUT", put, 403, "allowlist.consumer", bearer(sub="x").items())
    refused(g, "PUT", put, 403, "allowlist.consumer",
            bearer(sub="x", client_id=["app-a"], realm_access={"roles": {"ops": 1}}).items())
    refused(g, "PUT", put, 403, "allowlist.consumer",
            bearer(sub="x", realm_access="ops").items())
    # app-a without the scope: 403 with RFC 6750's challenge
    hdrs, _ = refused(g, "PUT", put, 403, "allowlist.scope",
                      bearer(sub="x", client_id="app-a", scope="items:read").items())
    assert hdrs["www-authenticate"] == \
        'Bearer error="insufficient_scope", scope="items:write"', hdrs
    allowed(g, "PUT", put, bearer(sub="x", client_id="app-a", scope="items:read items:write")
            .items())
    allowed(g, "PUT", put, bearer(sub="x", azp="app-a", scp=["items:write"]).items())
    # the same path in several lists: app-a may not delete, ops may
    refused(g, "DELETE", put, 403, "allowlist.consumer",
            bearer(sub="x", client_id="app-a", scope="items:write").items())
    allowed(g, "DELETE", put, bearer(sub="x", realm_access={"roles": ["dev", "ops"]}).items())
    allowed(g, "PUT", put, bearer(sub="root").items())  # ops by subject, no scope needed there
    assert "allowlist.consumer, list=partner-a entry=putItem" in g.log()


def test_method_override_headers_are_stripped_and_the_parameter_refused(gw):
    g = gw()
    over = [("X-HTTP-Method-Override", "DELETE"), ("X-HTTP-Method", "DELETE"),
            ("X-Method-Override", "PUT")]
    rec = allowed(g, "GET", "/v1/items/1", over)
    names = {k.lower() for k, _ in rec["headers"]}
    assert not names & {"x-http-method-override", "x-http-method", "x-method-override"}, names
    # never acted on: a POST that claims to be a GET is a POST
    refused(g, "POST", "/v1/items/1", 403, "allowlist.not_listed",
            [("X-HTTP-Method-Override", "GET")])
    refused(g, "GET", "/v1/items/1?_method=DELETE", 403, "allowlist.method_override")
    refused(g, "GET", "/v1/items/1?%5Fmethod=DELETE", 403, "allowlist.method_override")


def test_head_is_its_own_method(gw):
    g = gw()
    mark = g.up.raw_mark()
    st, _, _ = raw(g, "HEAD", "/v1/items/1")  # a HEAD answer has no problem body to read
    assert st == 403
    assert g.up.forwarded_since(mark, g) == b""
    allowed(g, "HEAD", "/v1/ping")  # the entry says get_implies_head
    g2 = gw(get_implies_head=True)
    allowed(g2, "HEAD", "/v1/items/1")


def test_hide_mode_looks_like_the_core_404(gw):
    g = gw(on_deny="hide")
    st, hdrs, body = raw(g, "GET", "/nowhere")  # no route at all: the core's own 404
    core = assert_problem((st, hdrs, body), 404)
    for path in ("/v1/admin", "/v1/items/-1"):
        hdrs2, doc = refused(g, "GET", path, 404, "route.not_found")
        assert {k: v for k, v in doc.items() if k != "request_id"} == \
            {k: v for k, v in core.items() if k != "request_id"}
        assert hdrs2["content-type"] == hdrs["content-type"]
    hdrs3, _ = refused(g, "PUT", "/v1/items/1", 404, "route.not_found",
                       bearer(sub="x", client_id="app-a").items())
    assert "www-authenticate" not in hdrs3  # nothing tells the API exists
    assert "deny GET /v1/admin: allowlist.not_listed" in g.log()


def test_report_mode_forwards_counts_and_logs(gw):
    g = gw(mode="report")
    before = rl_metric(g, METRIC, 'list="",decision="report_deny",reason="allowlist.not_listed"')
    rec = allowed(g, "DELETE", "/v1/admin", [("X-HTTP-Method-Override", "GET")])
    assert "x-http-method-override" not in {k.lower() for k, _ in rec["headers"]}
    allowed(g, "GET", "/v1/items/1?_method=PUT")
    after = rl_metric(g, METRIC, 'list="",decision="report_deny",reason="allowlist.not_listed"')
    assert after == before + 1
    assert rl_metric(g, METRIC, 'list="public",decision="report_deny",'
                     'reason="allowlist.method_override"') >= 1
    assert "report_deny DELETE /v1/admin: allowlist.not_listed" in g.log()
    assert rl_metric(g, METRIC, 'list="",decision="deny",reason="allowlist.not_listed"') == 0


def test_metrics_lines(gw):
    g = gw()
    allowed(g, "GET", "/v1/items/1")
    allowed(g, "GET", "/v1/items/2")
    refused(g, "GET", "/v1/nope", 403, "allowlist.not_listed")
    refused(g, "PUT", "/v1/items/1", 403, "allowlist.scope",
            bearer(sub="x", client_id="app-a").items())
    text = g.metrics()
    assert "# TYPE %s counter" % METRIC in text
    lines = [l for l in text.splitlines() if l.startswith(METRIC + "{")]
    want = {
        'list="public",decision="allow",reason="allowed"': 2,
        'list="",decision="deny",reason="allowlist.not_listed"': 1,
        'list="partner-a",decision="deny",reason="allowlist.scope"': 1,
    }
    for labels, n in want.items():
        assert "%s{%s} %d" % (METRIC, labels, n) in lines, lines


def test_reload_changes_a_list_under_load(gw):
    g = gw()
    path = "/v1/items/5"
    assert requests.get(g.url + path, timeout=5).status_code == 200
    seen, errors, stop = [], [], threading.Event()

    def client():
        s = requests.Session()
        while not stop.is_set():
            try:
                seen.append((time.monotonic(), s.get(g.url + path, timeout=10).status_code))
            except requests.RequestException as e:
                errors.append(repr(e))
    t = threading.Thread(target=client, daemon=True)
    t.start()
    time.sleep(0.3 * TIME_FACTOR)
    new = json.loads(json.dumps(g.config))
    new["plugins"]["al"]["lists"][0]["entries"] = [
        e for e in new["plugins"]["al"]["lists"][0]["entries"] if e["id"] != "getItem"]
    assert g.reload(new)
    reloaded = time.monotonic()
    time.sleep(0.3 * TIME_FACTOR)
    stop.set()
    t.join(15)
    assert not errors, errors[:3]
    statuses = [st for _, st in seen]
    assert set(statuses) <= {200, 403}, set(statuses)
    assert 200 in statuses and 403 in statuses
    # after the reload was seen live, only the new decision (a request sent
    # just before may still finish on the old generation: allow one)
    late = [st for ts, st in seen if ts > reloaded]
    assert late and late[1:] == [403] * (len(late) - 1), late[:10]
    mark = g.up.raw_mark()
    st, _, _ = raw(g, "GET", path)
    assert st == 403
    assert g.up.forwarded_since(mark, g) == b""
    assert re.search(r"generation 2 is live", g.log())
