"""No work for anonymous bodies (issue 23, item 7): a body is refused by its size per route class and by a count of
its containers and members before it is parsed, and a route that needs a login answers 401 before its body is
read. (What these cost is measured in tests/perf/test_anonymous_bench.py; here: status and error shape.)"""
from __future__ import annotations

from api.request_guard import ANONYMOUS_ITEMS, items_in

SHAPE = {"code", "message", "errors", "request_id"}


def _post(client, path, body: bytes, headers=None):
    return client.post(path, data=body, headers={"Content-Type": "application/json", **(headers or {})})


def test_a_4_mb_login_body_of_empty_objects_is_413(client):
    body = b"[" + b"{}," * (4 * 1024 * 1024 // 3) + b"{}]"
    r = _post(client, "/api/v1/auth/login", body)
    assert r.status_code == 413 and set(r.json) == SHAPE and r.json["code"] == "payload_too_large"
    assert "16384" in r.json["message"]


def test_a_million_keys_are_refused_anonymous_or_not(client, resident_headers):
    body = b"{" + b",".join(b'"k%d":1' % i for i in range(1_000_000)) + b"}"
    anonymous = _post(client, "/api/v1/auth/login", body)
    assert anonymous.status_code == 413 and set(anonymous.json) == SHAPE
    signed_in = _post(client, "/api/v1/applications", body, resident_headers)
    assert signed_in.status_code == 413 and set(signed_in.json) == SHAPE
    assert signed_in.json["code"] == "payload_too_large"
    assert signed_in.json["errors"][0]["code"] == "too_many_items" and signed_in.json["errors"][0]["path"] == ""


def test_a_small_login_body_with_many_containers_is_refused_before_parsing(client):
    body = b'{"username": "a", "password": "b", "x": [' + b"[]," * 1000 + b"[]]}"
    r = _post(client, "/api/v1/auth/login", body)
    assert r.status_code == 413 and r.json["errors"][0]["code"] == "too_many_items"
    assert r.json["errors"][0]["limit"] == ANONYMOUS_ITEMS


def test_a_route_that_needs_a_login_answers_401_before_reading_a_large_body(client):
    body = b"[" + b"{}," * (4 * 1024 * 1024 // 3) + b"{}]"
    for path in ("/api/v1/applications", "/api/v1/tasks/batch-complete", "/api/v1/designer/processes"):
        r = _post(client, path, body)
        assert r.status_code == 401 and set(r.json) == SHAPE and r.json["code"] == "unauthorized", path


def test_an_ordinary_login_still_works(client, make_staff):
    make_staff("clerk-chen", [])
    r = client.post("/api/v1/auth/login", json={"username": "clerk-chen", "password": "correct horse battery"})
    assert r.status_code == 200


def test_brackets_and_commas_inside_strings_are_not_counted():
    text = b'{"note": "' + b"{[,]}" * 10_000 + b'", "list": [1, 2, 3]}'
    assert items_in(text, 100) == 1 + 1 + 1 + 2          # the object, the list, one comma between members, two in it
    assert items_in(b'{"a": "\\"{[", "b": [1]}', 1) == 3  # an escaped quote does not end the string
    assert items_in(b"[1,2]", 100) == 2                   # under the limit: the raw count answers
