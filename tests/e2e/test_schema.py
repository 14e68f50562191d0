"""The schema plugin: JSON Schema validation of request bodies, query, path
and headers, Content-Type, report mode, response validation (report only),
reload, and bad schemas at load (docs/filtering.md, "Request validation").

What the upstream received is checked on its raw bytes (forwarded_since):
an accepted body arrives byte-identical, a refused one never arrives."""
import json
import socket
import time

import pytest
import requests

from conftest import (TIME_FACTOR, free_port, rl_wait_for, assert_problem, read_response_bytes, parse_response, raw_request,
                      rl_check_config, rl_metric, upstream_conf)

ORDER = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "price", "items"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "minimum": 1, "maximum": 9007199254740992},
        "price": {"type": "number", "multipleOf": 0.01},
        "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
        "coupon": {"type": "string", "pattern": "^(a+)+$"},
        "email": {"type": "string", "format": "email"},
    },
    "$defs": {"item": {"type": "object", "required": ["sku"],
                       "properties": {"sku": {"type": "string", "minLength": 3}}}},
}

REF_SIBLING = {"$ref": "#/definitions/n", "maximum": 10,
               "definitions": {"n": {"type": "integer"}}}

VALID = b'{"id": 7, "price": 620.03, "items": [{"sku": "abc"}]}'


def plugins(schema_dir):
    return {
        "orders": {"type": "schema", "max_errors": 3,
                   "requests": {"POST": {"body": ORDER},
                                "PUT": {"body": {"$ref": "item.json"}}}},
        "filedir": {"type": "schema", "schema_dir": str(schema_dir),
                    "requests": {"POST": {"body": {"$ref": "item.json"}}}},
        "params": {"type": "schema",
                   "requests": {"GET": {
                       "query": {"type": "object", "additionalProperties": False,
                                 "properties": {"limit": {"type": "integer", "maximum": 100},
                                                "tag": {"type": "array",
                                                        "items": {"type": "string"}},
                                                "full": {"type": "boolean"}}},
                       "path": {"type": "object", "required": ["id"],
                                "properties": {"id": {"type": "integer", "minimum": 1}}},
                       "headers": {"type": "object", "required": ["X-Tenant"],
                                   "properties": {"X-Tenant": {"type": "string",
                                                               "pattern": "^[a-z]{3}$"}}}}}},
        "report": {"type": "schema", "mode": "report", "requests": {"POST": {"body": ORDER}}},
        # "$ref" beside "maximum": draft-07 ignores the sibling, 2020-12 applies both
        "d07": {"type": "schema", "draft": "draft-07", "requests": {"POST": {"body": REF_SIBLING}}},
        "d2020": {"type": "schema", "requests": {"POST": {"body": REF_SIBLING}}},
        "nofmt": {"type": "schema", "formats": False,
                  "requests": {"POST": {"body": {"properties": {"e": {"format": "email"}}}}}},
        "resp_ok": {"type": "schema", "requests": {},
                    "responses": {"200": {"type": "object", "required": ["method", "body"]}}},
        "resp_bad": {"type": "schema", "requests": {},
                     "responses": {"2XX": {"type": "object", "required": ["nope"]}}},
    }


def config(u, schema_dir):
    return {
        "upstreams": {"u": upstream_conf(u)},
        "plugins": plugins(schema_dir),
        "routes": [
            {"name": "orders", "match": {"path_prefix": "/orders"}, "upstream": "u",
             "plugins": ["orders"], "limits": {"max_body_bytes": 65536}},
            {"name": "filedir", "match": {"path_prefix": "/filedir"}, "upstream": "u",
             "plugins": ["filedir"]},
            {"name": "params", "match": {"path_template": "/items/{id}"}, "upstream": "u",
             "plugins": ["params"]},
            {"name": "report", "match": {"path_prefix": "/report"}, "upstream": "u",
             "plugins": ["report"]},
            {"name": "d07", "match": {"path_prefix": "/d07"}, "upstream": "u", "plugins": ["d07"]},
            {"name": "d2020", "match": {"path_prefix": "/d2020"}, "upstream": "u",
             "plugins": ["d2020"]},
            {"name": "nofmt", "match": {"path_prefix": "/nofmt"}, "upstream": "u",
             "plugins": ["nofmt"]},
            {"name": "resp_ok", "match": {"path_prefix": "/resp_ok"}, "upstream": "u",
             "plugins": ["resp_ok"]},
            {"name": "resp_bad", "match": {"path_prefix": "/resp_bad"}, "upstream": "u",
             "plugins": ["resp_bad"]},
            {"name": "plain", "match": {"path_prefix": "/"}, "upstream": "u"},
        ]}


@pytest.fixture(scope="module")
def env(module_stack, tmp_path_factory):
    d = tmp_path_factory.mktemp("schemas")
    (d / "item.json").write_text(json.dumps(
        {"type": "object", "required": ["sku"],
         "properties": {"sku": {"type": "string", "maxLength": 5}}}))
    u = module_stack.upstream("u")
    cfg = config(u, d)
    # PUT on /orders refers to a file without a schema_dir: refused at load
    cfg["plugins"]["orders"]["requests"].pop("PUT")
    g = module_stack.gateway(cfg)
    return u, g, d


def post(g, path, body, ctype="application/json", headers=None):
    h = {"Content-Type": ctype} if ctype else {}
    h.update(headers or {})
    return requests.post(g.url + path, data=body, headers=h, timeout=10 * TIME_FACTOR)


def forwarded(u, g, send):
    """Sends (send()) and returns (response, raw bytes the upstream got for it)."""
    m = u.raw_mark()
    r = send()
    return r, u.forwarded_since(m, g)


def body_of(raw):
    return raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""


def test_valid_body_forwarded_byte_identical(env):
    u, g, _ = env
    r, raw = forwarded(u, g, lambda: post(g, "/orders", VALID))
    assert r.status_code == 200, r.text
    assert body_of(raw) == VALID
    assert r.json()["body"] == VALID.decode()


def test_invalid_body_400_with_bounded_errors_nothing_forwarded(env):
    u, g, _ = env
    bad = b'{"id": 0, "price": "x", "items": [{"sku": "a"}, {"sku": 1}], "extra": 1}'
    r, raw = forwarded(u, g, lambda: post(g, "/orders", bad))
    doc = assert_problem(r, 400)
    assert doc["type"].endswith("schema.invalid")
    errs = doc["errors"]
    assert len(errs) == 3 and doc["errors_truncated"] is True, doc  # 5 faults, max_errors 3
    for e in errs:
        assert e["in"] == "body"
        assert e["instance"] == "" or e["instance"].startswith("/")
        assert e["keyword"] and e["message"] and "schema" in e
    assert raw == b""


def test_first_error_names_pointer_and_keyword(env):
    u, g, _ = env
    r = post(g, "/orders", b'{"id": 7, "price": 1, "items": [{"sku": "ab"}]}')
    doc = assert_problem(r, 400)
    e = doc["errors"][0]
    assert e["instance"] == "/items/0/sku" and e["keyword"] == "minLength", e


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "application/json; charset=iso-8859-1", "json", None])
def test_content_type_415(env, ctype):
    u, g, _ = env
    r, raw = forwarded(u, g, lambda: post(g, "/orders", VALID, ctype=ctype))
    doc = assert_problem(r, 415)
    assert doc["type"].endswith("schema.content_type")
    assert raw == b""


@pytest.mark.parametrize("ctype", ["application/json", "Application/JSON; charset=UTF-8",
                                   "application/json;charset=\"utf-8\""])
def test_content_type_accepted(env, ctype):
    u, g, _ = env
    r = post(g, "/orders", VALID, ctype=ctype)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("body,what", [
    (b'{"id": 7, "price": 1, "items": [], "id": 8}', "duplicate"),
    (b'{"id": 7, "price": 1, "items": [], "\\u0069d": 8}', "duplicate"),
    (b'{"id": 7, "price": 1, "items": [{"sku": "ab\xff"}]}', "utf"),
    (b'{"id": 7, "price": 1, "items": [{"sku": "\\ud800abc"}]}', "surrogate"),
    (b'{"id": 7, "price": 1, "items": [],}', "syntax"),
])
def test_malformed_body_400(env, body, what):
    u, g, _ = env
    r, raw = forwarded(u, g, lambda: post(g, "/orders", body))
    doc = assert_problem(r, 400)
    assert doc["type"].endswith("schema.body_malformed"), doc
    assert "at byte" in doc["detail"]
    assert raw == b""


def test_deep_nesting_refused_quickly(env):
    u, g, _ = env
    t0 = time.monotonic()
    r = post(g, "/orders", b"[" * 10000)
    assert time.monotonic() - t0 < 2 * TIME_FACTOR
    doc = assert_problem(r, 400)
    assert doc["type"].endswith("schema.body_malformed")


def test_oversized_413(env):
    u, g, _ = env
    body = b'{"id": 7, "price": 1, "items": [], "pad": "' + b"x" * 70000 + b'"}'
    r, raw = forwarded(u, g, lambda: post(g, "/orders", body))
    assert_problem(r, 413)
    assert raw == b""


def chunked_post(g, path, body):
    s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    try:
        head = ("POST %s HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" % path).encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7])
                          for i in range(0, len(body), 7))
        s.sendall(head + chunks + b"0\r\n\r\n")
        return parse_response(read_response_bytes(s, timeout=5 * TIME_FACTOR))
    finally:
        s.close()


def test_chunked_body_validated(env):
    u, g, _ = env
    (st, _, body), raw = forwarded(u, g, lambda: chunked_post(g, "/orders", VALID))
    assert st == 200, body
    assert VALID in raw.replace(b"\r\n", b"") or json.loads(body)["body"] == VALID.decode()
    bad = b'{"id": 7, "price": 1, "items": [{"sku": 5}]}'
    res, raw = forwarded(u, g, lambda: chunked_post(g, "/orders", bad))
    doc = assert_problem(res, 400)
    assert doc["errors"][0]["instance"] == "/items/0/sku"
    assert raw == b""


def test_chunked_oversized_413(env):
    u, g, _ = env
    body = b'{"id": 7, "price": 1, "items": [], "pad": "' + b"x" * 70000 + b'"}'
    res, raw = forwarded(u, g, lambda: chunked_post(g, "/orders", body))
    assert_problem(res, 413)
    assert raw == b""


def test_format_asserted(env):
    u, g, _ = env
    r, raw = forwarded(u, g, lambda: post(g, "/orders", b'{"id": 1, "price": 1, "items": [], '
                                                         b'"email": "not an address"}'))
    doc = assert_problem(r, 400)
    assert doc["errors"][0]["keyword"] == "format" and doc["errors"][0]["instance"] == "/email"
    assert raw == b""
    ok = b'{"id": 1, "price": 1, "items": [], "email": "a@example.com"}'
    assert post(g, "/orders", ok).status_code == 200


def test_draft_option_and_formats_off(env):
    u, g, _ = env
    # the dialect of a schema without "$schema": in draft-07 "$ref" hides its siblings
    assert post(g, "/d07", b"50").status_code == 200
    doc = assert_problem(post(g, "/d2020", b"50"), 400)
    assert doc["errors"][0]["keyword"] == "maximum", doc
    for path in ("/d07", "/d2020"):
        doc = assert_problem(post(g, path, b'"x"'), 400)
        assert doc["errors"][0]["keyword"] == "type", doc
    # "formats": false: format annotates only
    assert post(g, "/nofmt", b'{"e": "not an address"}').status_code == 200


def test_catastrophic_regex_answered_quickly(env):
    u, g, _ = env
    hostile = '{"id": 7, "price": 1, "items": [], "coupon": "%s!"}' % ("a" * 5000)
    t0 = time.monotonic()
    r, raw = forwarded(u, g, lambda: post(g, "/orders", hostile.encode()))
    assert time.monotonic() - t0 < 3 * TIME_FACTOR
    assert_problem(r, 400)
    assert raw == b""


def test_large_integer_not_rounded_into_validity(env):
    u, g, _ = env
    r = post(g, "/orders", b'{"id": 9007199254740993, "price": 1, "items": []}')
    doc = assert_problem(r, 400)
    assert doc["errors"][0]["instance"] == "/id" and doc["errors"][0]["keyword"] == "maximum"
    r = post(g, "/orders", b'{"id": 9007199254740992, "price": 1, "items": []}')
    assert r.status_code == 200, r.text


def test_multiple_of_decimal_exact(env):
    u, g, _ = env
    assert post(g, "/orders", b'{"id": 1, "price": 620.03, "items": []}').status_code == 200
    doc = assert_problem(post(g, "/orders", b'{"id": 1, "price": 620.031, "items": []}'), 400)
    assert doc["errors"][0]["keyword"] == "multipleOf"


def test_get_without_body_not_checked(env):
    u, g, _ = env
    r, raw = forwarded(u, g, lambda: requests.get(g.url + "/orders/list", timeout=5))
    assert r.status_code == 200 and raw.startswith(b"GET /orders/list ")


def test_ref_to_schema_dir_file(env):
    u, g, _ = env
    assert post(g, "/filedir", b'{"sku": "abc"}').status_code == 200
    doc = assert_problem(post(g, "/filedir", b'{"sku": "abcdef"}'), 400)
    assert doc["errors"][0]["keyword"] == "maxLength"
    # the location is relative to schema_dir: the gateway's paths stay its own
    assert doc["errors"][0]["schema"] == "item.json#/properties/sku/maxLength", doc


def get_item(g, path, tenant="abc"):
    h = {"X-Tenant": tenant} if tenant is not None else {}
    return requests.get(g.url + path, headers=h, timeout=5)


def test_query_typed(env):
    u, g, _ = env
    r, raw = forwarded(u, g, lambda: get_item(g, "/items/5?limit=42&tag=a&tag=b&full=true"))
    assert r.status_code == 200, r.text
    assert b"limit=42&tag=a&tag=b&full=true" in raw
    for q, kw in (("limit=4x2", "type"), ("limit=101", "maximum"), ("limit=042", "type"),
                  ("full=yes", "type"), ("other=1", "additionalProperties"),
                  ("limit=1&limit=2", "type")):
        r, raw = forwarded(u, g, lambda: get_item(g, "/items/5?" + q))
        doc = assert_problem(r, 400)
        assert doc["errors"][0]["in"] == "query" and doc["errors"][0]["keyword"] == kw, (q, doc)
        assert raw == b""
    # raw: requests would re-encode a bad escape
    for q in (b"limit=%zz", b"limit=%ff", b"=1"):
        res = parse_response(raw_request(g.port, b"GET /items/5?" + q + b" HTTP/1.1\r\nHost: a\r\n"
                                         b"X-Tenant: abc\r\nConnection: close\r\n\r\n"))
        doc = assert_problem(res, 400)
        assert doc["type"].endswith("schema.query_malformed"), (q, doc)


def test_path_param_and_header_schemas(env):
    u, g, _ = env
    doc = assert_problem(get_item(g, "/items/0"), 400)
    assert doc["errors"][0]["in"] == "path" and doc["errors"][0]["instance"] == "/id"
    doc = assert_problem(get_item(g, "/items/x"), 400)
    assert doc["errors"][0]["keyword"] == "type"
    doc = assert_problem(get_item(g, "/items/5", tenant="ABCD"), 400)
    assert doc["errors"][0]["in"] == "headers" and doc["errors"][0]["keyword"] == "pattern"
    doc = assert_problem(get_item(g, "/items/5", tenant=None), 400)
    assert doc["errors"][0]["keyword"] == "required"
    r = requests.get(g.url + "/items/5", headers={"x-tenant": "xyz"}, timeout=5)
    assert r.status_code == 200, r.text


def test_report_mode_forwards_and_counts(env):
    u, g, _ = env
    label = 'decision="reported",reason="schema.invalid"'
    before = rl_metric(g, "portcullis_schema_requests_total", label)
    bad = b'{"id": 0, "price": 1, "items": []}'
    r, raw = forwarded(u, g, lambda: post(g, "/report", bad))
    assert r.status_code == 200
    assert body_of(raw) == bad
    assert rl_metric(g, "portcullis_schema_requests_total", label) == before + 1
    assert "report mode: would refuse 400 schema.invalid" in g.log()
    denied = 'decision="denied",reason="schema.invalid"'
    before = rl_metric(g, "portcullis_schema_requests_total", denied)
    post(g, "/orders", bad)
    assert rl_metric(g, "portcullis_schema_requests_total", denied) == before + 1


def test_response_validation_counted_response_unchanged(env):
    u, g, _ = env
    m = "portcullis_schema_responses_total"
    v0, i0, x0 = (rl_metric(g, m, 'decision="%s"' % d) for d in ("valid", "invalid", "malformed"))
    r = requests.post(g.url + "/resp_ok", data=b"hello", timeout=5)
    assert r.status_code == 200 and r.json()["body"] == "hello"
    r = requests.get(g.url + "/resp_bad?chunked=1", timeout=5)
    assert r.status_code == 200 and r.json()["method"] == "GET"
    # not JSON at all: the client still gets the upstream's exact bytes
    r = requests.get(g.url + "/resp_bad?size=70000", timeout=5)
    assert r.status_code == 200 and r.content == (bytes(range(256)) * 274)[:70000]
    # on_log runs once the client has the response: wait for it, boundedly
    assert rl_wait_for(lambda: rl_metric(g, m, 'decision="malformed"') == x0 + 1), g.metrics()
    assert rl_metric(g, m, 'decision="valid"') == v0 + 1
    assert rl_metric(g, m, 'decision="invalid"') == i0 + 1
    assert "response 200 does not match its schema" in g.log()


def test_reload_with_changed_schema(stack, tmp_path):
    u = stack.upstream("u")
    (tmp_path / "item.json").write_text('{"type": "object"}')
    cfg = config(u, tmp_path)
    cfg["plugins"]["orders"]["requests"].pop("PUT")
    g = stack.gateway(cfg)
    body = b'{"id": 50, "price": 1, "items": []}'
    assert post(g, "/orders", body).status_code == 200
    cfg["plugins"]["orders"]["requests"]["POST"]["body"]["properties"]["id"]["maximum"] = 10
    assert g.reload(cfg)
    doc = assert_problem(post(g, "/orders", body), 400)
    assert doc["errors"][0]["keyword"] == "maximum"


def check(tmp_path, u, plugin):
    return rl_check_config(tmp_path, {
        "listen": [{"address": "127.0.0.1", "port": free_port()}],
        "upstreams": {"u": upstream_conf(u)},
        "plugins": {"orders": plugin},
        "routes": [{"name": "r", "match": {"path_prefix": "/"}, "upstream": "u",
                    "plugins": ["orders"]}]})


def test_bad_schema_refused_with_json_path(stack, tmp_path):
    u = stack.upstream("u")
    rc, err = check(tmp_path, u, {"type": "schema", "requests": {"POST": {"body": {
        "type": "object", "properties": {"x": {"minimum": "ten"}}}}}})
    assert rc != 0
    assert "plugins.orders.requests.POST.body.properties.x.minimum" in err, err
    rc, err = check(tmp_path, u, {"type": "schema", "requests": {"POST": {"body": {
        "$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}}}}})
    assert rc != 0 and "plugins.orders.requests.POST.body" in err, err
    rc, err = check(tmp_path, u, {"type": "schema", "schema_dir": str(tmp_path),
                                  "requests": {"POST": {"body": {"$ref": "../etc/passwd"}}}})
    assert rc != 0 and "plugins.orders" in err and "schema_dir" in err, err
    rc, err = check(tmp_path, u, {"type": "schema", "requests": {"POST": {"body": ORDER}}})
    assert rc == 0, err
