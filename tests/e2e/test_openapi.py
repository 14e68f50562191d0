"""openapi plugin: routes generated from real documents in
tests/fixtures/openapi/ (the small Petstore, OpenAPI 3.0; the Swagger
Petstore v3, 3.0.4 with OAuth 2 scopes and an apiKey scheme; the Redocly
Museum API, 3.1 with http basic), driven through the real binary: what is
allowed reaches the upstream as sent, what is not never does; `-t` prints
the summary and refuses unsupported constructs with their JSON pointer."""
import json
import os

import pytest
import requests

from conftest import assert_problem, rl_check_config, upstream_conf
from mock_idp import KeyRing

FIXTURES = os.path.join(os.environ.get("PC_SRCDIR", "."), "tests", "fixtures", "openapi")
PETSTORE = os.path.join(FIXTURES, "petstore.yaml")
STORE = os.path.join(FIXTURES, "petstore3", "openapi.yaml")
MUSEUM = os.path.join(FIXTURES, "museum", "openapi.yaml")
EVENT = "dad4bce8-f5cb-4078-a211-995864315e39"
JSON = {"Content-Type": "application/json"}


def config(up, ring):
    return {
        # the Petstore v3's api_key header reaches the upstream only so
        "listen": [{"underscores_in_headers": True}],
        "upstreams": {"u": upstream_conf(up)},
        "plugins": {
            "auth": {"type": "jwt", "issuer": ring.issuer, "audiences": [ring.audience],
                     "keys": [{"jwks": ring.jwks(["ES256"])}]},
            "pets": {"type": "openapi", "document": {"file": PETSTORE}, "on_deny": "hide"},
            # api_key clients carry no token: the jwt plugin lets them on
            # without identity, the scopes still need one
            "auth_opt": {"type": "jwt", "issuer": ring.issuer, "audiences": [ring.audience],
                         "keys": [{"jwks": ring.jwks(["ES256"])}], "optional": True},
            # the base path is the servers' (/api/v3)
            "store": {"type": "openapi", "document": {"file": STORE},
                      "unverified_schemes": ["api_key"]},
            # http basic for everything: left to the upstream, no jwt
            "museum": {"type": "openapi", "document": {"file": MUSEUM}, "base_path": "/museum",
                       "unverified_schemes": ["MuseumPlaceholderAuth"]},
        },
        "routes": [
            {"name": "barrier", "match": {"path_prefix": "/__barrier__"}, "upstream": "u"},
            {"name": "store", "match": {"path_prefix": "/api/v3/"}, "upstream": "u",
             "plugins": ["auth_opt", "store"]},
            {"name": "museum", "match": {"path_prefix": "/museum/"}, "upstream": "u",
             "plugins": ["museum"]},
            {"name": "pets", "match": {"path_prefix": "/"}, "upstream": "u",
             "plugins": ["pets"]},
        ]}


@pytest.fixture(scope="module")
def ring():
    return KeyRing()


@pytest.fixture(scope="module")
def env(module_stack, ring):
    up = module_stack.upstream("u")
    g = module_stack.gateway(config(up, ring))
    return up, g


def bearer(ring, scope):
    return {"Authorization": "Bearer " + ring.token("ES256", scope=scope)}


def never_forwarded(up, g, send):
    """send() is answered by the gateway and nothing reaches the upstream."""
    mark = up.raw_mark()
    r = send()
    assert up.forwarded_since(mark, g) == b"", r.text
    return r


def forwarded(up, send):
    """send() reaches the upstream: (response, the request it recorded)."""
    mark = up.mark()
    r = send()
    assert r.status_code == 200, r.text
    got = up.since(mark)
    assert len(got) == 1, got
    return r, got[0]


# ---- Petstore (3.0) ---------------------------------------------------------------


def test_petstore_operations_forwarded(env):
    up, g = env
    _, seen = forwarded(up, lambda: requests.get(g.url + "/v1/pets?limit=10", timeout=5))
    assert (seen["method"], seen["target"]) == ("GET", "/v1/pets?limit=10")
    _, seen = forwarded(up, lambda: requests.get(g.url + "/v1/pets/rex", timeout=5))
    assert seen["target"] == "/v1/pets/rex"
    body = json.dumps({"id": 7, "name": "rex", "tag": "dog"})
    r, seen = forwarded(up, lambda: requests.post(
        g.url + "/v1/pets", data=body, headers={"Content-Type": "application/json"}, timeout=5))
    assert seen["method"] == "POST" and seen["body_len"] == len(body)
    assert r.json()["body"] == body


def test_petstore_unknown_operations_refused(env):
    up, g = env
    for method, path in (("DELETE", "/v1/pets/1"), ("GET", "/v1/owners"),
                         ("PUT", "/v1/pets"), ("GET", "/pets")):  # /pets: the base path is /v1
        r = never_forwarded(up, g, lambda: requests.request(method, g.url + path, timeout=5))
        assert_problem(r, 404)  # on_deny hide: the core's own unknown-route answer
        assert r.json()["type"].endswith("route.not_found"), r.text


def test_petstore_bad_query_400(env):
    up, g = env
    for q in ("limit=ten", "limit=101", "limit=1.5"):
        r = never_forwarded(up, g, lambda: requests.get(g.url + "/v1/pets?" + q, timeout=5))
        assert_problem(r, 400)
        errors = r.json()["errors"]
        assert errors and any("limit" in e.get("instance", "") for e in errors), errors


def test_petstore_bad_body_400_and_415(env):
    up, g = env
    post = lambda body, ctype="application/json": requests.post(  # noqa: E731
        g.url + "/v1/pets", data=body, headers={"Content-Type": ctype}, timeout=5)
    r = never_forwarded(up, g, lambda: post(json.dumps({"name": "rex"})))  # id is required
    assert_problem(r, 400)
    assert r.json()["errors"], r.text
    r = never_forwarded(up, g, lambda: post(json.dumps({"id": "seven", "name": "rex"})))
    assert_problem(r, 400)
    assert any("/id" in e.get("instance", "") for e in r.json()["errors"]), r.text
    r = never_forwarded(up, g, lambda: post("id=7", "text/plain"))
    assert_problem(r, 415)
    r = never_forwarded(up, g, lambda: requests.post(g.url + "/v1/pets", timeout=5))
    assert_problem(r, 400)  # requestBody.required


# ---- Swagger Petstore v3 (3.0.4, OAuth 2 scopes, apiKey) -------------------------------

BOTH = "read:pets write:pets"


def test_store_scopes(env, ring):
    up, g = env
    find = lambda headers: requests.get(  # noqa: E731
        g.url + "/api/v3/pet/findByTags?tags=a", headers=headers, timeout=5)
    _, seen = forwarded(up, lambda: find(bearer(ring, BOTH)))
    assert seen["target"] == "/api/v3/pet/findByTags?tags=a"
    for headers in (bearer(ring, "read:pets"), {}):  # petstore_auth asks for both scopes
        r = never_forwarded(up, g, lambda: find(headers))
        assert_problem(r, 403)
        assert r.json()["type"].endswith("allowlist.scope"), r.text
        assert 'error="insufficient_scope", scope="read:pets write:pets"' in \
            r.headers["WWW-Authenticate"]
    pet = json.dumps({"name": "doggie", "photoUrls": ["https://p/1"], "status": "available",
                      "category": {"id": 1, "name": "Dogs"}, "tags": [{"id": 2, "name": "t"}]})
    post = lambda scope: requests.post(  # noqa: E731
        g.url + "/api/v3/pet", data=pet, headers=dict(bearer(ring, scope), **JSON), timeout=5)
    r = never_forwarded(up, g, lambda: post("write:pets"))
    assert_problem(r, 403)
    _, seen = forwarded(up, lambda: post(BOTH))
    assert (seen["method"], seen["target"]) == ("POST", "/api/v3/pet")
    assert seen["body_len"] == len(pet)


def test_store_unverified_api_key(env, ring):
    up, g = env
    # getInventory: api_key only, left to the upstream; no token needed
    _, seen = forwarded(up, lambda: requests.get(g.url + "/api/v3/store/inventory",
                                                 headers={"api_key": "k1"}, timeout=5))
    assert seen["target"] == "/api/v3/store/inventory"
    assert ["api_key", "k1"] in seen["headers"]
    # getPetById: api_key or petstore_auth; the unverified api_key way lets anyone in
    _, seen = forwarded(up, lambda: requests.get(g.url + "/api/v3/pet/10",
                                                 headers={"api_key": "k2"}, timeout=5))
    assert seen["target"] == "/api/v3/pet/10" and ["api_key", "k2"] in seen["headers"]
    # deletePet: petstore_auth only, its api_key is a header parameter
    r = never_forwarded(up, g, lambda: requests.delete(g.url + "/api/v3/pet/10",
                                                       headers={"api_key": "k1"}, timeout=5))
    assert_problem(r, 403)


def test_store_typed_path_and_query(env, ring):
    up, g = env
    h = bearer(ring, BOTH)
    _, seen = forwarded(up, lambda: requests.get(g.url + "/api/v3/pet/-3", headers=h, timeout=5))
    assert seen["target"] == "/api/v3/pet/-3"  # {petId:-?[0-9]+}: an int64 may be negative
    for path in ("/api/v3/pet/rex", "/api/v3/store/order/1.5"):
        r = never_forwarded(up, g, lambda: requests.get(g.url + path, headers=h, timeout=5))
        assert_problem(r, 403)
        assert r.json()["type"].endswith("allowlist.not_listed"), r.text
    r = never_forwarded(up, g, lambda: requests.get(
        g.url + "/api/v3/pet/findByStatus?status=lost", headers=h, timeout=5))
    assert_problem(r, 400)  # the enum
    assert any(e.get("instance") == "/status" for e in r.json()["errors"]), r.text
    q = "tags=a&tags=b"
    _, seen = forwarded(up, lambda: requests.get(g.url + "/api/v3/pet/findByTags?" + q,
                                                 headers=h, timeout=5))
    assert seen["target"] == "/api/v3/pet/findByTags?" + q
    _, seen = forwarded(up, lambda: requests.get(g.url + "/api/v3/user/login?username=u&password=p",
                                                 timeout=5))
    assert seen["target"] == "/api/v3/user/login?username=u&password=p"


def test_store_bodies(env, ring):
    up, g = env
    order = lambda body, ctype="application/json": requests.post(  # noqa: E731
        g.url + "/api/v3/store/order", data=body, headers={"Content-Type": ctype}, timeout=5)
    good = json.dumps({"id": 10, "petId": 198772, "quantity": 7, "status": "approved",
                       "shipDate": "2025-02-01T09:00:00Z", "complete": True})
    _, seen = forwarded(up, lambda: order(good))
    assert seen["method"] == "POST" and seen["body_len"] == len(good)
    for body, instance in (({"status": "lost"}, "/status"), ({"quantity": "7"}, "/quantity"),
                           ({"shipDate": "tomorrow"}, "/shipDate")):
        r = never_forwarded(up, g, lambda: order(json.dumps(body)))
        assert_problem(r, 400)
        assert any(e.get("instance") == instance for e in r.json()["errors"]), r.text
    # XML and forms sit beside JSON in the document: refused, not unchecked
    for ctype, body in (("application/xml", "<order><id>10</id></order>"),
                        ("application/x-www-form-urlencoded", "id=10")):
        r = never_forwarded(up, g, lambda: order(body, ctype))
        assert_problem(r, 415)
    # an array of User; pet requires name and photoUrls
    users = json.dumps([{"username": "theUser", "userStatus": 1}])
    _, seen = forwarded(up, lambda: requests.post(g.url + "/api/v3/user/createWithList",
                                                  data=users, headers=JSON, timeout=5))
    assert seen["body_len"] == len(users)
    r = never_forwarded(up, g, lambda: requests.put(
        g.url + "/api/v3/pet", data=json.dumps({"name": "doggie"}),
        headers=dict(bearer(ring, BOTH), **JSON), timeout=5))
    assert_problem(r, 400)
    # uploadFile: octet-stream only, accepted unvalidated
    image = b"\x89PNG\r\n\x1a\n"
    _, seen = forwarded(up, lambda: requests.post(
        g.url + "/api/v3/pet/10/uploadImage?additionalMetadata=x", data=image,
        headers=dict(bearer(ring, BOTH), **{"Content-Type": "application/octet-stream"}),
        timeout=5))
    assert seen["body_len"] == len(image)


# ---- Museum API (3.1, http basic) ------------------------------------------------------


def test_museum_operations(env):
    up, g = env
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}  # MuseumPlaceholderAuth: the upstream's job
    _, seen = forwarded(up, lambda: requests.get(g.url + "/museum/museum-hours?startDate="
                                                 "2023-02-23&page=2&limit=15", headers=basic,
                                                 timeout=5))
    assert seen["target"] == "/museum/museum-hours?startDate=2023-02-23&page=2&limit=15"
    assert ["Authorization", basic["Authorization"]] in seen["headers"]
    for q, instance in (("limit=31", "/limit"), ("startDate=2023-02-30", "/startDate"),
                        ("page=two", "/page")):
        r = never_forwarded(up, g, lambda: requests.get(g.url + "/museum/museum-hours?" + q,
                                                        timeout=5))
        assert_problem(r, 400)
        assert any(e.get("instance") == instance for e in r.json()["errors"]), (q, r.text)
    _, seen = forwarded(up, lambda: requests.delete(g.url + "/museum/special-events/" + EVENT,
                                                    timeout=5))
    assert (seen["method"], seen["target"]) == ("DELETE", "/museum/special-events/" + EVENT)
    for method, path in (("GET", "/museum/special-events/42"),  # {eventId:uuid}
                         ("PUT", "/museum/special-events/" + EVENT),
                         ("POST", "/museum/publishNewEvent"),  # a webhook: not a route
                         ("GET", "/museum/_mock/docs/openapi/museum-api/museum-hours")):
        r = never_forwarded(up, g, lambda: requests.request(method, g.url + path, timeout=5))
        assert_problem(r, 403)


def test_museum_bodies(env):
    up, g = env
    tickets = lambda body: requests.post(  # noqa: E731
        g.url + "/museum/tickets", data=json.dumps(body), headers=JSON, timeout=5)
    good = {"ticketType": "event", "eventId": EVENT, "ticketDate": "2023-09-05",
            "email": "todd@example.com"}
    _, seen = forwarded(up, lambda: tickets(good))
    assert seen["target"] == "/museum/tickets" and seen["body_len"] == len(json.dumps(good))
    # allOf of an object and Ticket, whose properties are $refs with siblings (3.1)
    for bad, instance in ((dict(good, ticketType="vip"), "/ticketType"),
                          (dict(good, ticketDate="5 Sept"), "/ticketDate"),
                          (dict(good, eventId="42"), "/eventId"),
                          (dict(good, email="todd"), "/email"),
                          ({"ticketType": "general"}, "")):  # ticketDate is required
        r = never_forwarded(up, g, lambda: tickets(bad))
        assert_problem(r, 400)
        assert any(e.get("instance") == instance for e in r.json()["errors"]), (bad, r.text)
    r = never_forwarded(up, g, lambda: requests.post(g.url + "/museum/tickets", headers=JSON,
                                                     timeout=5))
    assert_problem(r, 400)  # requestBody.required
    patch = lambda body: requests.patch(  # noqa: E731
        g.url + "/museum/special-events/" + EVENT, data=json.dumps(body), headers=JSON, timeout=5)
    _, seen = forwarded(up, lambda: patch({"location": "On the beach.", "price": 15}))
    assert seen["method"] == "PATCH"
    r = never_forwarded(up, g, lambda: patch({"price": "free", "dates": ["2023-09-05"]}))
    assert_problem(r, 400)
    assert any(e.get("instance") == "/price" for e in r.json()["errors"]), r.text


# ---- portcullis -t -------------------------------------------------------------------


def test_check_prints_summary(env, ring, tmp_path):
    up, _ = env
    rc, err = rl_check_config(tmp_path, dict(config(up, ring), listen=[{"port": 1}]))
    assert rc == 0, err
    assert ('note: plugins.pets.document: OpenAPI 3.0.0: 3 operations (3 allow-list entries), '
            'base path "/v1"') in err, err
    assert 'note: plugins.pets.document: showPetById: GET /v1/pets/{petId}, path' in err, err
    assert ('note: plugins.store.document: OpenAPI 3.0.4: 19 operations (19 allow-list '
            'entries), base path "/api/v3"') in err, err
    assert ('note: plugins.store.document: findPetsByStatus: GET /api/v3/pet/findByStatus, '
            'query; scopes ["read:pets","write:pets"]') in err, err
    assert ('note: plugins.store.document: getPetById: GET /api/v3/pet/{petId:-?[0-9]+}, path; '
            'scopes anonymous') in err, err
    assert ('warning: plugins.store.document: /paths/~1store~1order/post/requestBody/content: '
            'refused with 415, only JSON bodies are validated: application/xml, '
            'application/x-www-form-urlencoded') in err, err
    assert ('warning: plugins.store.document: /paths/~1store~1inventory/get/security/0/api_key: '
            'apiKey "api_key" is not verified by the gateway (unverified_schemes)') in err, err
    assert ('warning: plugins.store.document: /components/securitySchemes/api_key: header '
            '"api_key" holds \'_\': dropped before the upstream unless the listener sets '
            'underscores_in_headers') in err, err
    assert ('note: plugins.museum.document: OpenAPI 3.1.0: 8 operations (8 allow-list entries), '
            'base path "/museum"') in err, err
    assert ('note: plugins.museum.document: getSpecialEvent: GET /museum/special-events/'
            '{eventId:uuid}, path; scopes anonymous') in err, err
    # the document's security, used by all 8 operations, is said once
    assert err.count('warning: plugins.museum.document: /security/0/MuseumPlaceholderAuth: http '
                     '"MuseumPlaceholderAuth" is not verified by the gateway') == 1, err


def check_doc(tmp_path, up, text, name="doc.yaml"):
    p = tmp_path / name
    p.write_text(text)
    cfg = {"listen": [{"port": 1}], "upstreams": {"u": upstream_conf(up)},
           "plugins": {"bad": {"type": "openapi", "document": {"file": str(p)}}},
           "routes": [{"name": "r", "match": {"path_prefix": "/"}, "upstream": "u",
                       "plugins": ["bad"]}]}
    return rl_check_config(tmp_path, cfg)


def test_check_refuses_unsupported_with_pointer(env, tmp_path):
    up, _ = env
    doc = ("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /pets:\n    get:\n"
           "      parameters:\n        - {name: f, in: query, style: deepObject, "
           "schema: {type: object}}\n")
    rc, err = check_doc(tmp_path, up, doc)
    assert rc == 1
    assert ('plugins.bad.document: /paths/~1pets/get/parameters/0/style: "deepObject" is not '
            'supported') in err, err
    rc, err = check_doc(tmp_path, up, "openapi: 3.0.3\npaths:\n  /a:\n    post:\n"
                        "      requestBody: {$ref: 'other.yaml#/B'}\n")
    assert rc == 1
    assert 'plugins.bad.document: /paths/~1a/post/requestBody/$ref: external reference' in err


def test_check_refuses_alias_bomb(env, tmp_path):
    up, _ = env
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for c in "bcdefghij":
        prev = chr(ord(c) - 1)
        lines.append("%s: &%s [%s]" % (c, c, ", ".join(["*" + prev] * 10)))
    rc, err = check_doc(tmp_path, up, "\n".join(lines) + "\n")
    assert rc == 1
    assert "plugins.bad.document: line" in err and "nodes once its aliases are expanded" in err


# ---- report mode -----------------------------------------------------------------------


def test_report_mode_forwards_and_counts(stack):
    up = stack.upstream("u")
    g = stack.gateway({
        "upstreams": {"u": upstream_conf(up)},
        "plugins": {"pets": {"type": "openapi", "document": {"file": PETSTORE},
                             "mode": "report"}},
        "routes": [{"name": "pets", "match": {"path_prefix": "/"}, "upstream": "u",
                    "plugins": ["pets"]}]})
    _, seen = forwarded(up, lambda: requests.delete(g.url + "/v1/pets/1", timeout=5))
    assert seen["method"] == "DELETE"
    body = json.dumps({"name": "no id"})
    _, seen = forwarded(up, lambda: requests.post(
        g.url + "/v1/pets", data=body, headers={"Content-Type": "application/json"}, timeout=5))
    assert seen["body_len"] == len(body)
    metrics = g.metrics()
    assert ('portcullis_allowlist_requests_total{list="",decision="report_deny",'
            'reason="allowlist.not_listed"} 1') in metrics, metrics
    assert 'portcullis_schema_requests_total{decision="reported",reason="schema.invalid"} 1' \
        in metrics, metrics


def test_consumers_restrict_every_operation(stack, ring):
    up = stack.upstream("u")
    g = stack.gateway({
        "upstreams": {"u": upstream_conf(up)},
        "plugins": {
            "auth": {"type": "jwt", "issuer": ring.issuer, "audiences": [ring.audience],
                     "keys": [{"jwks": ring.jwks(["ES256"])}]},
            "store": {"type": "openapi", "document": {"file": STORE}, "base_path": "/t",
                      "unverified_schemes": ["api_key"], "consumers": {"subject": ["carol"]}}},
        "routes": [{"name": "barrier", "match": {"path_prefix": "/__barrier__"}, "upstream": "u"},
                   {"name": "t", "match": {"path_prefix": "/t/"}, "upstream": "u",
                    "plugins": ["auth", "store"]}]})
    tok = lambda sub: {"Authorization": "Bearer " + ring.token("ES256", sub=sub, scope=BOTH)}  # noqa: E731
    for path in ("/t/pet/findByTags", "/t/store/inventory"):  # scopes, and none
        _, seen = forwarded(up, lambda: requests.get(g.url + path, headers=tok("carol"),
                                                     timeout=5))
        assert seen["target"] == path
    r = never_forwarded(up, g, lambda: requests.get(g.url + "/t/store/inventory",
                                                    headers=tok("alice"), timeout=5))
    assert_problem(r, 403)
    assert r.json()["type"].endswith("allowlist.consumer"), r.text


def test_check_consumers_path(env, tmp_path):
    up, _ = env
    cfg = {"listen": [{"port": 1}], "upstreams": {"u": upstream_conf(up)},
           "plugins": {"pets": {"type": "openapi", "document": {"file": PETSTORE},
                                "consumers": {"subject": "alice"}}},
           "routes": [{"name": "r", "match": {"path_prefix": "/"}, "upstream": "u",
                       "plugins": ["pets"]}]}
    rc, err = rl_check_config(tmp_path, cfg)
    assert rc == 1
    assert "plugins.pets.consumers.subject: " in err, err


# ---- 3.0 translation and parameters through the real engine ----------------------------

TREE_DOC = """\
openapi: 3.0.3
info: {title: tree, version: '1'}
servers: [{url: 'https://{host}/api/{v}', variables: {host: {default: h}, v: {default: v2}}}]
paths:
  /items/{slug}:
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string, pattern: '^[a-z]+$'}}
      - {name: X-Tenant, in: header, required: true, schema: {type: integer, minimum: 1}}
    put:
      operationId: putItem
      parameters:
        - {name: tags, in: query, schema: {type: array, items: {type: string, maxLength: 3}}}
      requestBody:
        required: true
        content:
          application/json: {schema: {$ref: '#/components/schemas/Node'}}
components:
  schemas:
    Node:
      type: object
      required: [id, name]
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string, nullable: true}
        weight: {type: number, minimum: 0, exclusiveMinimum: true}
        children: {type: array, items: {$ref: '#/components/schemas/Node'}}
"""


def test_translated_document_end_to_end(stack, tmp_path):
    doc = tmp_path / "tree.yaml"
    doc.write_text(TREE_DOC)
    up = stack.upstream("u")
    g = stack.gateway({
        "upstreams": {"u": upstream_conf(up)},
        "plugins": {"tree": {"type": "openapi", "document": {"file": str(doc)}}},
        "routes": [{"name": "barrier", "match": {"path_prefix": "/__barrier__"}, "upstream": "u"},
                   {"name": "r", "match": {"path_prefix": "/"}, "upstream": "u",
                    "plugins": ["tree"]}]})
    h = {"Content-Type": "application/json", "X-Tenant": "7"}
    put = lambda path, body, headers=h: requests.put(  # noqa: E731
        g.url + path, data=json.dumps(body), headers=headers, timeout=5)
    # readOnly id is not required in a request; nullable name; a recursive schema
    good = {"name": None, "weight": 0.5, "children": [{"name": "leaf", "children": []}]}
    _, seen = forwarded(up, lambda: put("/api/v2/items/abc?tags=a&tags=bc", good))
    assert seen["target"] == "/api/v2/items/abc?tags=a&tags=bc"
    assert seen["body_len"] == len(json.dumps(good))
    bad_cases = [
        ("/api/v2/items/abc", {"name": "x", "weight": 0}, "/weight"),        # exclusiveMinimum
        ("/api/v2/items/abc", {"name": "x", "children": [{"name": 5}]}, "/children/0/name"),
        ("/api/v2/items/abc", {"children": []}, ""),                          # name required
        ("/api/v2/items/ABC", good, "/slug"),                                 # the pattern
        ("/api/v2/items/abc?tags=long", good, "/tags/0"),
    ]
    for path, body, instance in bad_cases:
        r = never_forwarded(up, g, lambda: put(path, body))
        assert_problem(r, 400)
        assert any(e.get("instance") == instance for e in r.json()["errors"]), (path, r.text)
    r = never_forwarded(up, g, lambda: put("/api/v2/items/abc", good,
                                           {"Content-Type": "application/json"}))
    assert_problem(r, 400)  # X-Tenant is required
    r = never_forwarded(up, g, lambda: put("/items/abc", good))  # the servers' base path
    assert_problem(r, 403)


def test_unverified_schemes(stack, tmp_path):
    doc = tmp_path / "key.yaml"
    doc.write_text("openapi: 3.0.3\ninfo: {title: k, version: '1'}\nsecurity: [{key: []}]\n"
                   "paths:\n  /inventory:\n    get: {operationId: inv}\ncomponents:\n"
                   "  securitySchemes:\n    key: {type: apiKey, in: header, name: X-Key}\n")
    up = stack.upstream("u")
    base = {"listen": [{"port": 1}], "upstreams": {"u": upstream_conf(up)},
            "routes": [{"name": "r", "match": {"path_prefix": "/"}, "upstream": "u",
                        "plugins": ["k"]}]}
    cfg = dict(base, plugins={"k": {"type": "openapi", "document": {"file": str(doc)}}})
    rc, err = rl_check_config(tmp_path, cfg)
    assert rc == 1
    assert 'plugins.k.document: /security: no security requirement the gateway can verify ' \
           '(apiKey "key")' in err, err
    cfg["plugins"]["k"]["unverified_schemes"] = ["key"]
    rc, err = rl_check_config(tmp_path, cfg)
    assert rc == 0, err
    assert ('warning: plugins.k.document: /security/0/key: apiKey "key" is not verified by the '
            'gateway (unverified_schemes): the upstream must check it') in err, err
    del cfg["listen"]
    g = stack.gateway(cfg)
    _, seen = forwarded(up, lambda: requests.get(g.url + "/inventory",
                                                 headers={"X-Key": "k1"}, timeout=5))
    assert ["X-Key", "k1"] in seen["headers"]


def test_validate_responses_report_only(stack):
    up = stack.upstream("u")
    g = stack.gateway({
        "upstreams": {"u": upstream_conf(up)},
        "plugins": {"pets": {"type": "openapi", "document": {"file": PETSTORE},
                             "validate_responses": True}},
        "routes": [{"name": "pets", "match": {"path_prefix": "/"}, "upstream": "u",
                    "plugins": ["pets"]}]})
    # The mock answers its echo object: not the Pets array (200), not an
    # Error (default); the client gets it unchanged all the same.
    r = requests.get(g.url + "/v1/pets?limit=5", timeout=5)
    assert r.status_code == 200 and r.json()["target"] == "/v1/pets?limit=5"
    r = requests.get(g.url + "/v1/pets/rex?status=503", timeout=5)
    assert r.status_code == 503 and r.json()["target"] == "/v1/pets/rex?status=503"
    r = requests.post(g.url + "/v1/pets", data='{"id": 1, "name": "a"}',
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 200  # 200 is not declared by createPets (201, default): default
    metric = 'portcullis_schema_responses_total{decision="invalid"} '
    import time
    deadline = time.monotonic() + 5
    while metric + "3" not in g.metrics() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metric + "3" in g.metrics(), g.metrics()
    assert "response 200 does not match the document" in g.log(), g.log()
